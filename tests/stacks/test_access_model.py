"""The access model across the whole tier: who can read which secret, checked over every policy and key policy.

A security review asks it of the tier, not of one stack: the app host's role is granted in four templates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures_synth import Synthesized
from tests.stacks.access_model import (
    egress_edges,
    key_policy_statements,
    names_principal,
    network_id,
    role_statements,
)

_AURORA = {"multi_az": None, "allocated_storage_gib": None, "max_allocated_storage_gib": None}
TIERS = {
    "dev-aurora-postgresql": ("dev", {"database": {"engine": "aurora-postgresql", **_AURORA}}),
    "dev-mysql-rbac": ("dev", {"database": {"engine": "mysql", "engine_version": "8.4.8", "port": 3307},
                               "cache": {"auth": "rbac"}}),
}


@pytest.fixture(scope="session", params=["dev", "prod", *TIERS], ids=["dev", "prod", *TIERS])
def tier(request: pytest.FixtureRequest, synth_variant: Callable[..., Synthesized]) -> Synthesized:
    if request.param in ("dev", "prod"):
        return request.getfixturevalue(request.param)
    env, overrides = TIERS[request.param]
    return synth_variant(env, overrides)


def _db_id(synth: Synthesized, construct: Any) -> str:
    return synth.tier.database.get_logical_id(construct.node.default_child)


def _covers(resource: Any, logical_id: str) -> bool:
    if isinstance(resource, str):
        return resource == "*" or resource.startswith("arn:") and resource.endswith("*")
    return resource in ({"Ref": logical_id}, {"Fn::GetAtt": [logical_id, "Arn"]})


def test_the_app_role_cannot_read_the_admin_secret(tier: Synthesized) -> None:
    app_role = network_id(tier, tier.tier.network.app_role)
    database = tier.tier.database
    admin, app, key = _db_id(tier, database.secret), _db_id(tier, database.app_secret), _db_id(tier, database.key)
    statements = list(role_statements(tier, app_role))
    assert statements, "the app role has policies to inspect"
    reads = [s for s in statements if s.allows("secretsmanager:GetSecretValue")]
    assert reads
    for statement in reads:
        assert not any(_covers(r, admin) for r in statement.resources), (statement.source, statement.body)
    assert any(s.stack == "Database" and {"Ref": app} in s.resources for s in reads)
    # Whatever may decrypt with the database's key does so only for the app user's secret.
    for statement in statements:
        if statement.allows("kms:Decrypt") and any(_covers(r, key) for r in statement.resources):
            context = statement.body.get("Condition", {}).get("StringEquals", {})
            assert context.get("kms:EncryptionContext:SecretARN") == {"Ref": app}, statement.body
    for statement in key_policy_statements(tier):
        if statement.stack == "Database" and statement.source == key:
            assert not names_principal(tier, statement, app_role), statement.body


def test_the_admin_secret_is_read_only_by_its_rotations_and_the_bootstrap(tier: Synthesized) -> None:
    """No resource policy opens it, and the only identity policy naming it is the bastion's bootstrap grant
    (the rotation functions get theirs inside AWS's rotation applications, from the template's parameters)."""
    database = tier.tier.database
    admin = _db_id(tier, database.secret)
    attachment = tier.tier.database.get_logical_id(database.secret.node.find_child("Attachment").node.default_child)
    resources = tier.template_json("Database")["Resources"]
    for res in resources.values():
        if res["Type"] == "AWS::SecretsManager::ResourcePolicy":
            assert all(s["Effect"] == "Deny" for s in res["Properties"]["ResourcePolicy"]["Statement"])
    holders = {
        lid for lid, res in resources.items() if res["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
        for body in res["Properties"]["PolicyDocument"]["Statement"]
        if any(r in ({"Ref": admin}, {"Ref": attachment}) or r == "*"
               for r in (body["Resource"] if isinstance(body["Resource"], list) else [body["Resource"]]))
        and any(a.startswith("secretsmanager:") for a in _actions(body))}
    assert [h.split("Policy")[0] for h in holders] == ["BootstrapAccess"]
    bastion_role = network_id(tier, tier.tier.network.bastion_role)
    assert any(_covers(r, admin) for s in role_statements(tier, bastion_role)
               if s.allows("secretsmanager:GetSecretValue") for r in s.resources)


def _actions(body: dict[str, Any]) -> list[str]:
    actions = body.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def test_the_hosts_reach_https_and_their_data_stores_ports_only(tier: Synthesized) -> None:
    network, database, cache = tier.tier.network, tier.tier.database, tier.tier.cache
    db_port, cache_port = tier.config.database.port, tier.config.cache.port
    db_sg = f"Database:{database.get_logical_id(database.security_group.node.default_child)}"
    assert cache.security_group is not None
    cache_sg = f"Cache:{cache.get_logical_id(cache.security_group.node.default_child)}"
    expected = {("Network", "0.0.0.0/0", 443, 443), ("Database", db_sg, db_port, db_port),
                ("Cache", cache_sg, cache_port, cache_port)}
    for host in (network.app_security_group, network.bastion_security_group):
        assert egress_edges(tier, network_id(tier, host)) == expected
