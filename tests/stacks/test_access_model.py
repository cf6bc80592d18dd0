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


def test_service_grants_on_keys_are_scoped_to_this_accounts_resources(tier: Synthesized) -> None:
    """CloudWatch Logs only under one log group's encryption context; CloudWatch only for this account's alarms."""
    account, region = tier.config.account, tier.config.region
    seen = set()
    for statement in key_policy_statements(tier):
        principal = statement.body.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else None
        if service is None:
            continue
        seen.add(service)
        condition = statement.body.get("Condition", {})
        if service == f"logs.{region}.amazonaws.com":
            arns = condition["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
            for arn in arns if isinstance(arns, list) else [arns]:
                prefix = f"arn:aws:logs:{region}:{account}:log-group:"
                name = arn.removeprefix(prefix)
                assert arn.startswith(prefix) and name not in ("*", "/*"), arn
                # One group: an exact name, a database's own export groups, or the name CloudFormation generates.
                assert "*" not in name or name.startswith((f"{statement.stack_name(tier)}-", "/aws/rds/")), arn
        elif service == "cloudwatch.amazonaws.com":
            assert condition == {"StringEquals": {"aws:SourceAccount": account}}, statement.body
        else:
            assert condition, (service, statement.body)
    assert {f"logs.{region}.amazonaws.com", "cloudwatch.amazonaws.com"} <= seen


def test_service_roles_trust_only_this_accounts_flow_logs_and_databases(tier: Synthesized) -> None:
    account = tier.config.account
    trusted = {}
    for concern in ("Network", "Database"):
        for res in tier.template_json(concern)["Resources"].values():
            if res["Type"] != "AWS::IAM::Role":
                continue
            for statement in res["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                service = statement["Principal"].get("Service")
                if service in ("vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com"):
                    trusted[service] = statement.get("Condition", {})
    assert set(trusted) == {"vpc-flow-logs.amazonaws.com", "monitoring.rds.amazonaws.com"}
    for service, condition in trusted.items():
        assert condition["StringEquals"] == {"aws:SourceAccount": account}, service
        arns = condition["ArnLike"]["aws:SourceArn"]
        assert all(f":{account}:" in arn for arn in (arns if isinstance(arns, list) else [arns])), service
    identifier = tier.tier.database.stack_name.lower()
    monitored = trusted["monitoring.rds.amazonaws.com"]["ArnLike"]["aws:SourceArn"]
    assert all(arn.split(":db:")[1].startswith(f"{identifier}-") for arn in monitored)


def test_the_app_host_uses_the_table_key_only_through_dynamodb(synth_variant: Callable[..., Synthesized],
                                                               prod: Synthesized) -> None:
    assert prod.config.dynamo.encryption == "customer_managed"
    app_role = network_id(prod, prod.tier.network.app_role)
    kms = [s for s in role_statements(prod, app_role) if s.stack == "Dynamo" and any(
        a.startswith("kms:") for a in s.actions)]
    assert kms
    for statement in kms:
        assert statement.body["Condition"] == {
            "StringEquals": {"kms:ViaService": f"dynamodb.{prod.config.region}.amazonaws.com"}}


def test_every_function_logs_to_a_declared_encrypted_group_with_retention(tier: Synthesized) -> None:
    """Also CDK's own custom-resource providers, whose implicit groups would be unencrypted and kept forever."""
    functions = 0
    for concern in ("Network", "Database", "Dynamo", "Cache"):
        resources = tier.template_json(concern)["Resources"]
        groups = {lid: r["Properties"] for lid, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
        for res in resources.values():
            if res["Type"] == "AWS::Lambda::Function":
                group = groups[res["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
            elif res["Type"] == "AWS::Serverless::Application":  # AWS's rotation functions, named up front
                name = f"/aws/lambda/{res['Properties']['Parameters']['functionName']}"
                (group,) = [g for g in groups.values() if g.get("LogGroupName") == name]
            else:
                continue
            functions += 1
            assert "KmsKeyId" in group and group["RetentionInDays"] > 0
    assert functions >= 3  # the default-SG provider, two database rotations (and the cache's)


def test_every_alarm_topic_notifies_every_configured_target(tier: Synthesized) -> None:
    targets = sorted([("email", e) for e in tier.config.notifications.emails]
                     + [("https", u) for u in tier.config.notifications.https_urls])
    assert targets
    topics = 0
    for concern in ("Database", "Dynamo", "Cache"):
        resources = tier.template_json(concern)["Resources"]
        for topic_id in [lid for lid, r in resources.items() if r["Type"] == "AWS::SNS::Topic"]:
            topics += 1
            subscribed = sorted((r["Properties"]["Protocol"], r["Properties"]["Endpoint"]) for r in resources.values()
                                if r["Type"] == "AWS::SNS::Subscription"
                                and r["Properties"]["TopicArn"] == {"Ref": topic_id})
            assert subscribed == targets, (concern, topic_id)
    assert topics == 3


def test_database_events_reach_the_alarm_topic(tier: Synthesized) -> None:
    database = tier.tier.database
    resources = tier.template_json("Database")["Resources"]
    (topic_id,) = [lid for lid, r in resources.items() if r["Type"] == "AWS::SNS::Topic"]
    subscriptions = {r["Properties"]["SourceType"]: r for r in resources.values()
                     if r["Type"] == "AWS::RDS::EventSubscription"}
    aurora = tier.config.database.aurora
    assert set(subscriptions) == ({"db-instance", "db-cluster"} if aurora else {"db-instance"})
    instances = subscriptions["db-instance"]["Properties"]
    assert instances["SourceIds"] == database.database.instance_identifiers
    assert instances["EventCategories"] == ["failover", "failure", "low storage", "configuration change"]
    assert all(s["Properties"]["SnsTopicArn"] == {"Ref": topic_id} and s["Properties"]["Enabled"] is True
               for s in subscriptions.values())
    # RDS rejects subscriptions to sources that do not exist yet.
    writer = [lid for lid, r in resources.items() if r["Type"] in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")]
    assert set(writer) <= set(subscriptions["db-instance"]["DependsOn"])
    if aurora:
        assert subscriptions["db-cluster"]["Properties"]["EventCategories"] == [
            "failover", "failure", "configuration change"]
    # RDS may publish, encrypted, but only for these sources of this account.
    (policy,) = [r["Properties"]["PolicyDocument"]["Statement"] for r in resources.values()
                 if r["Type"] == "AWS::SNS::TopicPolicy"]
    (rds_publish,) = [s for s in policy if s.get("Principal") == {"Service": "events.rds.amazonaws.com"}]
    assert rds_publish["Condition"]["StringEquals"] == {"aws:SourceAccount": tier.config.account}
    assert len(rds_publish["Condition"]["ArnLike"]["aws:SourceArn"]) == len(instances["SourceIds"]) + int(aurora)
    key = resources[[lid for lid, r in resources.items() if lid.startswith("AlarmsKey")][0]]
    assert any(s.get("Principal") == {"Service": "events.rds.amazonaws.com"} and s["Condition"] == rds_publish[
        "Condition"] for s in key["Properties"]["KeyPolicy"]["Statement"])
