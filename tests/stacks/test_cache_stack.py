"""`<env>-Cache`: the endpoints contract, access, teardown, and the project's own checks where cdk-nag is blind.

cdk-nag's AwsSolutions-AEC5 passes any port when the engine is `valkey`, and AEC6 only knows AUTH tokens,
so the port and authentication checks below cover Valkey and RBAC across environments and variants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fixtures_synth import Synthesized

VARIANTS = {
    "dev-rbac": ("dev", {"cache": {"auth": "rbac", "username": "worker"}}),
    "dev-redis": ("dev", {"cache": {"engine": "redis", "engine_version": "7.1"}}),
    "prod-redis-rbac": ("prod", {"cache": {"engine": "redis", "engine_version": "7.1", "auth": "rbac"}}),
}


@pytest.fixture(scope="session", params=list(VARIANTS), ids=list(VARIANTS))
def variant(request: pytest.FixtureRequest, synth_variant: Callable[..., Synthesized]) -> Synthesized:
    env, overrides = VARIANTS[request.param]
    # The compliance gate runs here too: synth raises on any unacknowledged finding in the variant.
    return synth_variant(env, overrides)


@pytest.fixture(scope="session", params=["dev", "prod", *VARIANTS], ids=["dev", "prod", *VARIANTS])
def any_synth(request: pytest.FixtureRequest, synth_variant: Callable[..., Synthesized]) -> Synthesized:
    if request.param in ("dev", "prod"):
        return request.getfixturevalue(request.param)
    env, overrides = VARIANTS[request.param]
    return synth_variant(env, overrides)


def _resources(synth: Synthesized, kind: str) -> dict[str, Any]:
    return synth.template("Cache").find_resources(kind)


def _group(synth: Synthesized) -> tuple[str, dict[str, Any]]:
    groups = _resources(synth, "AWS::ElastiCache::ReplicationGroup")
    assert len(groups) == 1
    return next(iter(groups.items()))


def _from_network(value: Any) -> str:
    """The Network output a weak cross-stack reference reads."""
    return value["Fn::GetStackOutput"]["OutputName"]


def test_outputs_are_the_endpoints_contract(each_env: Synthesized) -> None:
    cfg = each_env.config.cache
    outputs = each_env.template_json("Cache")["Outputs"]
    group_id, _ = _group(each_env)
    expected = {"Endpoint", "Port", "ClusterMode", "TlsEnabled", "AuthSecretArn", "Engine"}
    if cfg.cluster_mode == "disabled":
        expected.add("ReaderEndpoint")
        assert outputs["Endpoint"]["Value"] == {"Fn::GetAtt": [group_id, "PrimaryEndPoint.Address"]}
        assert outputs["ReaderEndpoint"]["Value"] == {"Fn::GetAtt": [group_id, "ReaderEndPoint.Address"]}
    else:
        assert outputs["Endpoint"]["Value"] == {"Fn::GetAtt": [group_id, "ConfigurationEndPoint.Address"]}
    assert set(outputs) == expected
    assert outputs["Port"]["Value"] == str(cfg.port)
    assert outputs["ClusterMode"]["Value"] == cfg.cluster_mode
    assert outputs["TlsEnabled"]["Value"] == "true"
    assert outputs["Engine"]["Value"] == cfg.engine
    secrets = _resources(each_env, "AWS::SecretsManager::Secret")
    assert outputs["AuthSecretArn"]["Value"]["Ref"] in secrets


def test_topology_follows_config(each_env: Synthesized) -> None:
    cfg = each_env.config.cache
    _, group = _group(each_env)
    props = group["Properties"]
    assert props["ClusterMode"] == cfg.cluster_mode
    assert props["NumNodeGroups"] == cfg.shards
    assert props["ReplicasPerNodeGroup"] == cfg.replicas
    assert props["AutomaticFailoverEnabled"] is True
    assert props["MultiAZEnabled"] is True
    assert props["CacheNodeType"] == cfg.node_type
    assert (props["Engine"], props["EngineVersion"]) == (cfg.engine, cfg.engine_spec.version)
    assert props["SnapshotRetentionLimit"] == cfg.snapshot_retention_days
    assert props["SnapshotWindow"] == cfg.snapshot_window
    assert props["PreferredMaintenanceWindow"] == cfg.maintenance_window


def test_dev_is_one_primary_and_one_replica_and_prod_two_shards(dev: Synthesized, prod: Synthesized) -> None:
    assert {k: _group(dev)[1]["Properties"][k] for k in ("ClusterMode", "NumNodeGroups", "ReplicasPerNodeGroup")} == {
        "ClusterMode": "disabled", "NumNodeGroups": 1, "ReplicasPerNodeGroup": 1}
    assert {k: _group(prod)[1]["Properties"][k] for k in ("ClusterMode", "NumNodeGroups", "ReplicasPerNodeGroup")} == {
        "ClusterMode": "enabled", "NumNodeGroups": 2, "ReplicasPerNodeGroup": 1}


def test_nodes_live_in_the_isolated_subnets(each_env: Synthesized) -> None:
    (subnet_group,) = _resources(each_env, "AWS::ElastiCache::SubnetGroup").values()
    subnets = subnet_group["Properties"]["SubnetIds"]
    assert len(subnets) == each_env.config.network.az_count
    assert all("dataSubnet" in _from_network(s) for s in subnets)


def test_only_the_bastion_and_app_host_reach_the_port(each_env: Synthesized) -> None:
    port = each_env.config.cache.port
    group_id, group = _group(each_env)
    (sg_ref,) = group["Properties"]["SecurityGroupIds"]
    sg_id = sg_ref["Fn::GetAtt"][0]
    sg = _resources(each_env, "AWS::EC2::SecurityGroup")[sg_id]["Properties"]
    assert "SecurityGroupIngress" not in sg
    rules = [r for r in _resources(each_env, "AWS::EC2::SecurityGroupIngress").values()
             if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}]
    sources = sorted(_from_network(r["Properties"]["SourceSecurityGroupId"]) for r in rules)
    assert len(rules) == 2
    assert "AppHostSecurityGroup" in sources[0] and "BastionHostSecurityGroup" in sources[1]
    for rule in rules:
        props = rule["Properties"]
        assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", port, port)
        assert props["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}
        assert "CidrIp" not in props and "CidrIpv6" not in props


def test_app_host_reads_the_secret_through_a_policy_in_this_stack(each_env: Synthesized) -> None:
    outputs = each_env.template_json("Cache")["Outputs"]
    secret_id = outputs["AuthSecretArn"]["Value"]["Ref"]
    (policy,) = [p for p in _resources(each_env, "AWS::IAM::ManagedPolicy").values()
                 if "Fn::GetStackOutput" in p["Properties"]["Roles"][0]]
    assert "AppHostRole" in _from_network(policy["Properties"]["Roles"][0])
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Ref": secret_id}
    assert set(statement["Action"]) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    # Network must not learn about the cache: that would be a dependency cycle.
    assert "Cache" not in json.dumps(each_env.template_json("Network"))
    assert [s.stack_name for s in each_env.tier.cache.dependencies] == [f"{each_env.config.name}-Network"]


def test_logs_go_to_encrypted_groups_with_config_retention(each_env: Synthesized) -> None:
    _, group = _group(each_env)
    groups = _resources(each_env, "AWS::Logs::LogGroup")
    deliveries = group["Properties"]["LogDeliveryConfigurations"]
    assert sorted(d["LogType"] for d in deliveries) == ["engine-log", "slow-log"]
    for delivery in deliveries:
        log_group = groups[delivery["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]["Ref"]]["Properties"]
        assert log_group["RetentionInDays"] == each_env.config.cache.log_retention_days
        assert "KmsKeyId" in log_group


def test_every_alarm_notifies_the_encrypted_topic(each_env: Synthesized) -> None:
    cfg = each_env.config.cache
    alarms = _resources(each_env, "AWS::CloudWatch::Alarm")
    assert len(alarms) == cfg.shards * (cfg.replicas + 1) * 5
    (topic_id,) = _resources(each_env, "AWS::SNS::Topic")
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]


def test_dev_tears_down_clean_and_prod_takes_a_final_snapshot(dev: Synthesized, prod: Synthesized) -> None:
    for res in dev.template_json("Cache")["Resources"].values():
        assert res.get("DeletionPolicy", "Delete") == "Delete", res["Type"]
    _, group = _group(prod)
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Snapshot"
    # The snapshot is encrypted with the at-rest key, so the key outlives the group.
    key_id = group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
    assert _resources(prod, "AWS::KMS::Key")[key_id]["DeletionPolicy"] == "Retain"
    assert prod.tier.cache.termination_protection is True
    assert dev.tier.cache.termination_protection is False


def test_removal_follows_the_environment_when_unset(synth_variant: Callable[..., Synthesized]) -> None:
    synth = synth_variant("dev", {"cache": {"removal": None}, "removal": "retain"}, compliance=False)
    assert _group(synth)[1]["DeletionPolicy"] == "Snapshot"


# --- the project's own checks: AEC5 and AEC6 are blind to Valkey and RBAC ---------------------------------------

def _users(synth: Synthesized) -> Iterator[dict[str, Any]]:
    for user in _resources(synth, "AWS::ElastiCache::User").values():
        yield user["Properties"]


def _is_secret_reference(value: Any, secrets: dict[str, Any]) -> bool:
    parts = value["Fn::Join"][1]
    return (parts[0] == "{{resolve:secretsmanager:" and parts[1]["Ref"] in secrets
            and parts[2] == ":SecretString:password::}}")


def test_port_is_never_the_engine_default(any_synth: Synthesized) -> None:
    """ElastiCache.7 / AwsSolutions-AEC5, for Valkey as well as Redis OSS."""
    _, group = _group(any_synth)
    assert group["Properties"]["Port"] != 6379
    assert group["Properties"]["Port"] == any_synth.config.cache.port


def test_every_client_authenticates_over_tls_with_a_secret_credential(any_synth: Synthesized) -> None:
    """AwsSolutions-AEC3/AEC6 and ElastiCache.6, for AUTH tokens and RBAC alike; never a literal credential."""
    _, group = _group(any_synth)
    props = group["Properties"]
    secrets = _resources(any_synth, "AWS::SecretsManager::Secret")
    assert props["TransitEncryptionEnabled"] is True
    assert props["AtRestEncryptionEnabled"] is True and "Fn::GetAtt" in props["KmsKeyId"]
    if any_synth.config.cache.auth == "auth_token":
        assert _is_secret_reference(props["AuthToken"], secrets)
        assert "UserGroupIds" not in props
        return
    assert "AuthToken" not in props
    (group_ref,) = props["UserGroupIds"]
    user_group = _resources(any_synth, "AWS::ElastiCache::UserGroup")[group_ref["Ref"]]["Properties"]
    users = list(_users(any_synth))
    assert len(user_group["UserIds"]) == len(users) >= 1
    for user in users:
        assert user["AuthenticationMode"]["Type"] == "password"
        assert "NoPasswordRequired" not in user and "Passwords" not in user
        (password,) = user["AuthenticationMode"]["Passwords"]
        assert _is_secret_reference(password, secrets)
        # Only the app's user may be switched on.
        assert user["AccessString"].startswith("off ") or user["UserName"] == any_synth.config.cache.username


def test_the_rbac_app_user_is_confined_to_its_prefixes_without_dangerous_commands(any_synth: Synthesized) -> None:
    cfg = any_synth.config.cache
    users = list(_users(any_synth))
    if cfg.auth == "auth_token":
        assert users == []  # an AUTH token opens every key and command: docs/cache.md
        return
    (app,) = [u for u in users if u["UserName"] == cfg.username]
    rules = app["AccessString"].split()
    assert rules[0] == "on" and "+@dangerous" not in rules
    assert rules.index("-@dangerous") > rules.index("+@all")
    assert {r for r in rules if r.startswith(("~", "&"))} == {
        f"{kind}{prefix}*" for prefix in cfg.key_prefixes for kind in "~&"}
    # INFO is the one @dangerous command app_code sends (the server version).
    assert [r for r in rules if r.startswith("+") and not r.startswith("+@")] == ["+info"]


def test_every_secret_uses_a_rotating_customer_managed_key(any_synth: Synthesized) -> None:
    keys = _resources(any_synth, "AWS::KMS::Key")
    for secret in _resources(any_synth, "AWS::SecretsManager::Secret").values():
        key_id = secret["Properties"]["KmsKeyId"]["Fn::GetAtt"][0]
        assert keys[key_id]["Properties"]["EnableKeyRotation"] is True


def test_parameter_group_family_matches_the_engine(any_synth: Synthesized) -> None:
    cfg = any_synth.config.cache
    (pg,) = _resources(any_synth, "AWS::ElastiCache::ParameterGroup").values()
    assert pg["Properties"]["CacheParameterGroupFamily"] == {"valkey": "valkey8", "redis": "redis7"}[cfg.engine]
    assert pg["Properties"]["Properties"]["cluster-enabled"] == ("yes" if cfg.cluster_mode == "enabled" else "no")


def test_variants_pass_the_compliance_gate(variant: Synthesized) -> None:
    report = json.loads((variant.outdir / "validation-report.json").read_text())
    assert all(p["conclusion"] == "success" for p in report["pluginReports"])
    if variant.config.cache.auth == "rbac":
        acknowledged = {f["acknowledgedId"] for p in report["pluginReports"] for f in p.get("suppressedViolations", [])}
        assert "AwsSolutions::AwsSolutions-AEC6" in acknowledged


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert each_env.template_json("Cache") == snapshot
