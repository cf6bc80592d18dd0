"""CacheReplicationGroup in a bare Stack: both engines, both cluster modes, both auth modes, every props error."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticache as elasticache
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from cdk_data_tier.constructs.cache_replication_group import (
    CacheAlarmThresholds,
    CacheAuth,
    CacheEngine,
    CacheLogDelivery,
    CachePropsError,
    CacheReplicationGroup,
)

ENV = cdk.Environment(account="111111111111", region="us-east-1")


def _stack() -> tuple[cdk.Stack, ec2.Vpc]:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                                        ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)])
    return stack, vpc


def _build(**props: Any) -> tuple[cdk.Stack, CacheReplicationGroup]:
    stack, vpc = _stack()
    return stack, CacheReplicationGroup(stack, "Cache", vpc=vpc, **props)


def _template(**props: Any) -> Template:
    return Template.from_stack(_build(**props)[0])


def _group(template: Template) -> dict[str, Any]:
    groups = template.find_resources("AWS::ElastiCache::ReplicationGroup")
    assert len(groups) == 1
    return next(iter(groups.values()))


def _rotation_log_group(template: Template) -> str:
    """The credential rotation function's own log group: the one the function names."""
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    return str(function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"])


CASES = {
    "valkey-cluster-off": {"engine": CacheEngine.valkey(), "cluster_mode": "disabled", "shards": 1,
                           "replicas_per_shard": 2},
    "valkey-cluster-on": {"engine": CacheEngine.valkey(), "cluster_mode": "enabled", "shards": 3,
                          "replicas_per_shard": 1},
    "redis-cluster-off": {"engine": CacheEngine.redis(), "cluster_mode": "disabled", "shards": 1,
                          "replicas_per_shard": 1},
    "redis-cluster-on": {"engine": CacheEngine.redis(), "cluster_mode": "enabled", "shards": 2,
                         "replicas_per_shard": 2},
}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Template]:
    props = CASES[request.param]
    return props, _template(**props)


def test_shards_replicas_and_cluster_mode(case) -> None:
    props, template = case
    group = _group(template)["Properties"]
    assert group["ClusterMode"] == props["cluster_mode"]
    assert group["NumNodeGroups"] == props["shards"]
    assert group["ReplicasPerNodeGroup"] == props["replicas_per_shard"]
    assert group["Engine"] == props["engine"].name
    assert group["EngineVersion"] == props["engine"].version


def test_multi_az_and_automatic_failover_with_replicas(case) -> None:
    _, template = case
    group = _group(template)["Properties"]
    assert group["AutomaticFailoverEnabled"] is True
    assert group["MultiAZEnabled"] is True


def test_tls_and_at_rest_encryption_with_a_rotating_cmk(case) -> None:
    _, template = case
    group = _group(template)["Properties"]
    assert group["TransitEncryptionEnabled"] is True
    assert group["AtRestEncryptionEnabled"] is True
    key_id = group["KmsKeyId"]["Fn::GetAtt"][0]
    assert group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    key = template.find_resources("AWS::KMS::Key")[key_id]
    assert key["Properties"]["EnableKeyRotation"] is True


def test_auth_token_is_a_dynamic_reference_to_a_generated_secret(case) -> None:
    _, template = case
    group = _group(template)["Properties"]
    secrets = template.find_resources("AWS::SecretsManager::Secret")
    assert len(secrets) == 1
    secret_id, secret = next(iter(secrets.items()))
    assert group["AuthToken"] == {"Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": secret_id},
                                                    ":SecretString:password::}}"]]}
    generator = secret["Properties"]["GenerateSecretString"]
    # 16-128 printable characters without @ " / (ElastiCache's AUTH token rules); alphanumerics satisfy them.
    assert generator == {"ExcludePunctuation": True, "GenerateStringKey": "password", "IncludeSpace": False,
                         "PasswordLength": 64, "SecretStringTemplate": "{}"}
    assert "Fn::GetAtt" in secret["Properties"]["KmsKeyId"]
    assert "UserGroupIds" not in group


def test_no_literal_credential_anywhere(case) -> None:
    _, template = case
    text = json.dumps(template.to_json())
    assert '"AuthToken": "' not in text
    assert '"Passwords": ["' not in text


def test_parameter_group_family_matches_engine_and_cluster_mode(case) -> None:
    props, template = case
    pgs = template.find_resources("AWS::ElastiCache::ParameterGroup")
    assert len(pgs) == 1
    pg_id, pg = next(iter(pgs.items()))
    family = {"valkey": "valkey8", "redis": "redis7"}[props["engine"].name]
    assert pg["Properties"]["CacheParameterGroupFamily"] == family
    expected = "yes" if props["cluster_mode"] == "enabled" else "no"
    assert pg["Properties"]["Properties"] == {"cluster-enabled": expected}
    assert _group(template)["Properties"]["CacheParameterGroupName"] == {"Ref": pg_id}


def test_slow_and_engine_logs_go_to_encrypted_log_groups(case) -> None:
    _, template = case
    group = _group(template)
    deliveries = group["Properties"]["LogDeliveryConfigurations"]
    assert [d["LogType"] for d in deliveries] == ["slow-log", "engine-log"]
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    targets = {d["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]["Ref"] for d in deliveries}
    assert len(targets) == 2
    assert [g for g in log_groups if g not in targets] == [_rotation_log_group(template)]
    for delivery in deliveries:
        assert delivery["DestinationType"] == "cloudwatch-logs"
        assert delivery["LogFormat"] == "json"
        target = delivery["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]["Ref"]
        assert "KmsKeyId" in log_groups[target]["Properties"]
        assert log_groups[target]["Properties"]["RetentionInDays"] == 30
    policies = template.find_resources("AWS::Logs::ResourcePolicy")
    assert len(policies) == 1
    policy_id, policy = next(iter(policies.items()))
    assert "delivery.logs.amazonaws.com" in json.dumps(policy)
    assert policy_id in group["DependsOn"]


def test_default_port_is_not_the_engine_default(case) -> None:
    _, template = case
    assert _group(template)["Properties"]["Port"] == 6380


def test_subnet_group_uses_the_isolated_subnets(case) -> None:
    _, template = case
    subnet_groups = template.find_resources("AWS::ElastiCache::SubnetGroup")
    assert len(subnet_groups) == 1
    sg_id, sg = next(iter(subnet_groups.items()))
    assert all("dataSubnet" in s["Ref"] for s in sg["Properties"]["SubnetIds"])
    assert len(sg["Properties"]["SubnetIds"]) == 2
    assert _group(template)["Properties"]["CacheSubnetGroupName"] == {"Ref": sg_id}


def test_alarms_on_every_node(case) -> None:
    props, template = case
    nodes = props["shards"] * (props["replicas_per_shard"] + 1)
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    assert len(alarms) == nodes * 5
    metrics = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert metrics == {"EngineCPUUtilization", "DatabaseMemoryUsagePercentage", "Evictions", "CurrConnections",
                       "ReplicationLag"}
    suffixes = {a["Properties"]["Dimensions"][0]["Value"]["Fn::Join"][1][1] for a in alarms.values()}
    if props["cluster_mode"] == "disabled":
        assert suffixes == {f"{n:03d}" for n in range(1, nodes + 1)}
    else:
        assert "0001-001" in suffixes and f"{props['shards']:04d}-{props['replicas_per_shard'] + 1:03d}" in suffixes


def test_security_group_admits_the_default_port_from_peers_only() -> None:
    stack, vpc = _stack()
    cache = CacheReplicationGroup(stack, "Cache", vpc=vpc)
    peer = ec2.SecurityGroup(stack, "Peer", vpc=vpc)
    cache.connections.allow_default_port_from(peer, "peer")
    template = Template.from_stack(stack)
    sg_id = stack.get_logical_id(cache.security_group.node.default_child)
    template.has_resource_properties("AWS::EC2::SecurityGroupIngress", {
        "IpProtocol": "tcp", "FromPort": 6380, "ToPort": 6380,
        "GroupId": {"Fn::GetAtt": [sg_id, "GroupId"]},
        "SourceSecurityGroupId": {"Fn::GetAtt": [stack.get_logical_id(peer.node.default_child), "GroupId"]},
    })
    into_cache = [r for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()
                  if r["Properties"]["GroupId"] == {"Fn::GetAtt": [sg_id, "GroupId"]}]
    assert len(into_cache) == 1
    sg = template.find_resources("AWS::EC2::SecurityGroup")[sg_id]["Properties"]
    assert "SecurityGroupIngress" not in sg
    # A cache never opens connections: CDK's placeholder rule that matches no traffic is the only egress.
    assert [r["CidrIp"] for r in sg["SecurityGroupEgress"]] == ["255.255.255.255/32"]
    assert _group(template)["Properties"]["SecurityGroupIds"] == [{"Fn::GetAtt": [sg_id, "GroupId"]}]
    assert cache.connections.default_port.to_string() == "6380"


def test_custom_port_becomes_the_default_port() -> None:
    stack, cache = _build(port=7000)
    assert _group(Template.from_stack(stack))["Properties"]["Port"] == 7000
    assert cache.connections.default_port.to_string() == "7000"


def test_cluster_mode_on_fails_over_even_without_replicas_but_is_not_multi_az() -> None:
    group = _group(_template(cluster_mode="enabled", shards=2, replicas_per_shard=0))["Properties"]
    assert group["AutomaticFailoverEnabled"] is True
    assert group["MultiAZEnabled"] is False


def test_a_single_node_has_neither_failover_nor_replication_lag_alarms() -> None:
    template = _template(replicas_per_shard=0)
    group = _group(template)["Properties"]
    assert group["AutomaticFailoverEnabled"] is False
    assert group["MultiAZEnabled"] is False
    metrics = {a["Properties"]["MetricName"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()}
    assert "ReplicationLag" not in metrics


def test_endpoints_follow_cluster_mode() -> None:
    stack, off = _build()
    assert stack.resolve(off.endpoint_address) == {"Fn::GetAtt": ["Cache18F6EE16", "PrimaryEndPoint.Address"]}
    assert stack.resolve(off.reader_endpoint_address) == {"Fn::GetAtt": ["Cache18F6EE16", "ReaderEndPoint.Address"]}
    stack, on = _build(cluster_mode="enabled", shards=2)
    assert stack.resolve(on.endpoint_address) == {"Fn::GetAtt": ["Cache18F6EE16", "ConfigurationEndPoint.Address"]}
    assert on.reader_endpoint_address is None
    assert on.cluster_mode_enabled and not off.cluster_mode_enabled


@pytest.mark.parametrize("engine", [CacheEngine.valkey(), CacheEngine.redis()], ids=["valkey", "redis"])
def test_rbac_user_group_replaces_the_auth_token(engine: CacheEngine) -> None:
    stack, cache = _build(engine=engine, auth=CacheAuth.rbac(username="worker", access_string="on ~app:* +@read"))
    template = Template.from_stack(stack)
    group = _group(template)["Properties"]
    assert "AuthToken" not in group
    assert group["TransitEncryptionEnabled"] is True
    user_groups = template.find_resources("AWS::ElastiCache::UserGroup")
    assert len(user_groups) == 1
    ug_id, ug = next(iter(user_groups.items()))
    assert group["UserGroupIds"] == [{"Ref": ug_id}]
    assert ug["Properties"]["Engine"] == engine.name
    users = template.find_resources("AWS::ElastiCache::User")
    by_name = {u["Properties"]["UserName"]: u["Properties"] for u in users.values()}
    # Redis OSS user groups must hold a user named "default"; Valkey's need not, so none is made there.
    assert set(by_name) == ({"worker", "default"} if engine.name == "redis" else {"worker"})
    assert by_name["worker"]["AccessString"] == "on ~app:* +@read"
    if engine.name == "redis":
        assert by_name["default"]["AccessString"].startswith("off ")
    for user in by_name.values():
        assert user["Engine"] == engine.name
        assert user["AuthenticationMode"]["Type"] == "password"
        (password,) = user["AuthenticationMode"]["Passwords"]
        assert password["Fn::Join"][1][0] == "{{resolve:secretsmanager:"
        assert user["UserId"] == user["UserId"].lower() and len(user["UserId"]) <= 40
    assert sorted(u["Ref"] for u in ug["Properties"]["UserIds"]) == sorted(users)
    app_secret = stack.resolve(cache.auth_secret.secret_arn)["Ref"]
    generator = template.find_resources("AWS::SecretsManager::Secret")[app_secret]["Properties"]["GenerateSecretString"]
    assert json.loads(generator["SecretStringTemplate"]) == {"username": "worker"}
    assert by_name["worker"]["AuthenticationMode"]["Passwords"][0]["Fn::Join"][1][1] == {"Ref": app_secret}


def test_rbac_acknowledges_the_token_only_rules_on_the_group_itself() -> None:
    _, cache = _build(auth=CacheAuth.rbac())
    skips = cache.replication_group.get_metadata("checkov")["skip"]
    assert [s["id"] for s in skips] == ["CKV_AWS_31"]
    assert "wrong" in skips[0]["comment"]


def test_grant_read_auth_secret() -> None:
    stack, cache = _build()
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    cache.grant_read_auth_secret(role)
    template = Template.from_stack(stack)
    secret_ref = stack.resolve(cache.auth_secret.secret_arn)
    template.has_resource_properties("AWS::IAM::Policy", {
        "PolicyDocument": {"Statement": [
            Match.object_like({"Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                               "Resource": secret_ref}),
        ]},
    })
    # Decryption is granted on the secret's own key, and only through Secrets Manager.
    template.has_resource_properties("AWS::KMS::Key", {
        "Description": Match.string_like_regexp("credentials"),
        "KeyPolicy": {"Statement": Match.array_with([Match.object_like({
            "Action": "kms:Decrypt",
            "Principal": {"AWS": {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}},
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}},
        })])},
    })


def test_auth_off_without_tls_has_no_secret_and_grants_nothing() -> None:
    stack, cache = _build(auth=CacheAuth.none(), transit_encryption=False)
    role = iam.Role(stack, "Reader", assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"))
    assert cache.grant_read_auth_secret(role).success is False
    assert cache.auth_secret is None
    template = Template.from_stack(stack)
    group = _group(template)["Properties"]
    assert group["TransitEncryptionEnabled"] is False
    assert "AuthToken" not in group and "UserGroupIds" not in group
    assert template.find_resources("AWS::SecretsManager::Secret") == {}
    assert template.find_resources("AWS::IAM::Policy") == {}


def test_dev_style_teardown_deletes_everything() -> None:
    template = _template(removal_policy=cdk.RemovalPolicy.DESTROY)
    for res in template.to_json()["Resources"].values():
        assert res.get("DeletionPolicy", "Delete") == "Delete", res["Type"]


def test_snapshot_removal_takes_a_final_snapshot_and_keeps_what_decrypts_it() -> None:
    template = _template(removal_policy=cdk.RemovalPolicy.SNAPSHOT)
    group = _group(template)
    assert group["DeletionPolicy"] == group["UpdateReplacePolicy"] == "Snapshot"
    for kind in ("AWS::KMS::Key", "AWS::SecretsManager::Secret", "AWS::Logs::LogGroup"):
        for res in template.find_resources(kind).values():
            assert res["DeletionPolicy"] == "Retain", kind


def test_snapshots_windows_and_retention() -> None:
    group = _group(_template(snapshot_retention_days=35, snapshot_window="02:00-03:00",
                             maintenance_window="sat:22:00-sun:01:00"))["Properties"]
    assert group["SnapshotRetentionLimit"] == 35
    assert group["SnapshotWindow"] == "02:00-03:00"
    assert group["PreferredMaintenanceWindow"] == "sat:22:00-sun:01:00"


def test_custom_parameters_keep_cluster_enabled_in_step() -> None:
    template = _template(cluster_mode="enabled", shards=2,
                         parameters={"maxmemory-policy": "allkeys-lru", "cluster-enabled": "yes"})
    template.has_resource_properties("AWS::ElastiCache::ParameterGroup", {
        "Properties": {"maxmemory-policy": "allkeys-lru", "cluster-enabled": "yes"}})


def test_an_existing_parameter_group_or_default_group_name_is_used_as_given() -> None:
    stack, vpc = _stack()
    pg = elasticache.CfnParameterGroup(stack, "Own", cache_parameter_group_family="valkey8", description="own",
                                       properties={"cluster-enabled": "yes"})
    CacheReplicationGroup(stack, "Cache", vpc=vpc, cluster_mode="enabled", shards=2, parameter_group=pg)
    template = Template.from_stack(stack)
    assert len(template.find_resources("AWS::ElastiCache::ParameterGroup")) == 1
    assert _group(template)["Properties"]["CacheParameterGroupName"] == {"Ref": stack.get_logical_id(pg)}
    group = _group(_template(cluster_mode="enabled", shards=2, parameter_group="default.valkey8.cluster.on"))
    assert group["Properties"]["CacheParameterGroupName"] == "default.valkey8.cluster.on"


def test_log_delivery_and_alarms_can_be_tuned_or_turned_off() -> None:
    template = _template(log_delivery=CacheLogDelivery(retention_days=7, log_types=("slow-log",), log_format="text"),
                         alarm_thresholds=CacheAlarmThresholds(engine_cpu_percent=75))
    (delivery,) = _group(template)["Properties"]["LogDeliveryConfigurations"]
    assert (delivery["LogType"], delivery["LogFormat"]) == ("slow-log", "text")
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 7})
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "EngineCPUUtilization",
                                                                 "Threshold": 75})
    template = _template(log_delivery=None, alarm_thresholds=None)
    assert "LogDeliveryConfigurations" not in _group(template)["Properties"]
    assert list(template.find_resources("AWS::Logs::LogGroup")) == [_rotation_log_group(template)]
    assert template.find_resources("AWS::CloudWatch::Alarm") == {}


def _redis_pg(stack: cdk.Stack) -> elasticache.CfnParameterGroup:
    return elasticache.CfnParameterGroup(stack, "Pg", cache_parameter_group_family="redis7", description="x")


def _valkey_pg_cluster_off(stack: cdk.Stack) -> elasticache.CfnParameterGroup:
    return elasticache.CfnParameterGroup(stack, "Pg", cache_parameter_group_family="valkey8", description="x",
                                         properties={"cluster-enabled": "no"})


INVALID: dict[str, tuple[Callable[[], dict[str, Any]], str]] = {
    "cluster-mode-0-shards": (lambda: {"cluster_mode": "enabled", "shards": 0},
                              "shards=0 is not allowed: cluster mode 'enabled' needs 1 to 500 shards"),
    "cluster-off-2-shards": (lambda: {"shards": 2}, "shards=2 is not allowed: cluster mode 'disabled' has exactly 1"),
    "replicas-above-5": (lambda: {"replicas_per_shard": 6}, "replicas_per_shard=6 is not allowed: 0 to 5"),
    "negative-replicas": (lambda: {"replicas_per_shard": -1}, "replicas_per_shard=-1 is not allowed: 0 to 5"),
    "too-many-nodes": (lambda: {"cluster_mode": "enabled", "shards": 100, "replicas_per_shard": 5},
                       "shards=100 is not allowed with replicas_per_shard=5: 600 nodes, at most 500"),
    "failover-without-replicas": (lambda: {"replicas_per_shard": 0, "automatic_failover": True},
                                  "automatic_failover=True is not allowed without replicas"),
    "cluster-on-without-failover": (lambda: {"cluster_mode": "enabled", "automatic_failover": False},
                                    "automatic_failover=False is not allowed with cluster mode 'enabled'"),
    "multi-az-without-replicas": (lambda: {"replicas_per_shard": 0, "multi_az": True},
                                  "multi_az=True is not allowed without replicas"),
    "multi-az-without-failover": (lambda: {"multi_az": True, "automatic_failover": False},
                                  "multi_az=True is not allowed with automatic_failover=False"),
    "tls-off-with-auth-token": (lambda: {"transit_encryption": False},
                                "transit_encryption=False is not allowed with auth 'auth_token'"),
    "tls-off-with-rbac": (lambda: {"transit_encryption": False, "auth": CacheAuth.rbac()},
                          "transit_encryption=False is not allowed with auth 'rbac'"),
    "family-of-another-engine": (lambda: {"engine": CacheEngine("redis", "7.1", "valkey8")},
                                 "family='valkey8' is not allowed for redis 7.1: expected 'redis7'"),
    "family-of-another-version": (lambda: {"engine": CacheEngine("valkey", "7.2", "valkey8")},
                                  "family='valkey8' is not allowed for valkey 7.2: expected 'valkey7'"),
    "cluster-on-is-no-family": (lambda: {"engine": CacheEngine("redis", "7.1", "redis7.cluster.on")},
                                "family='redis7.cluster.on' is not allowed for redis 7.1: expected 'redis7'; "
                                "'.cluster.on' only ends the name of a default group"),
    "engine-version-too-old": (lambda: {"engine": CacheEngine.valkey("7.0")},
                               "engine_version='7.0' is not allowed: valkey 7.2 or later"),
    "unknown-engine": (lambda: {"engine": CacheEngine.of("memcached", "1.6")},
                       "engine='memcached' is not allowed: 'valkey' or 'redis'"),
    "default-group-without-cluster-on": (
        lambda: {"cluster_mode": "enabled", "parameter_group": "default.valkey8"},
        "parameter_group='default.valkey8' is not allowed for valkey 8.1 with cluster mode 'enabled': "
        "expected 'default.valkey8.cluster.on'"),
    "default-group-of-another-engine": (
        lambda: {"parameter_group": "default.redis7"},
        "parameter_group='default.redis7' is not allowed for valkey 8.1 with cluster mode 'disabled': "
        "expected 'default.valkey8'"),
    "own-group-of-another-family": (lambda: {"parameter_group": _redis_pg},
                                    "parameter_group family 'redis7' is not allowed for valkey 8.1: expected 'valkey8'"),
    "own-group-with-cluster-off": (lambda: {"cluster_mode": "enabled", "parameter_group": _valkey_pg_cluster_off},
                                   "parameter_group cluster-enabled='no' is not allowed with cluster mode 'enabled'"),
    "parameters-against-cluster-mode": (lambda: {"parameters": {"cluster-enabled": "yes"}},
                                        "parameters cluster-enabled='yes' is not allowed with cluster mode "
                                        "'disabled'"),
    "parameters-and-group": (lambda: {"parameters": {}, "parameter_group": "custom"},
                             "parameters is not allowed with parameter_group"),
    "retain": (lambda: {"removal_policy": cdk.RemovalPolicy.RETAIN},
               "removal_policy=RETAIN is not allowed: DESTROY or SNAPSHOT"),
    "ec2-node-type": (lambda: {"node_type": "t4g.micro"}, "node_type='t4g.micro' is not allowed: an ElastiCache"),
    "port-below-1024": (lambda: {"port": 80}, "port=80 is not allowed: 1024 to 65535"),
    "retention-above-35": (lambda: {"snapshot_retention_days": 36},
                           "snapshot_retention_days=36 is not allowed: 0 (no automatic snapshots) to 35"),
    "bad-snapshot-window": (lambda: {"snapshot_window": "3am"}, "snapshot_window='3am' is not allowed: hh24:mi"),
    "short-maintenance-window": (lambda: {"maintenance_window": "sun:05:00-sun:05:30"},
                                 "maintenance_window='sun:05:00-sun:05:30' is not allowed: at least 60 minutes"),
    "overlapping-windows": (lambda: {"snapshot_window": "23:30-00:30", "maintenance_window": "sun:00:00-sun:01:00"},
                            "snapshot_window='23:30-00:30' is not allowed: it overlaps maintenance_window"),
    "rbac-default-username": (lambda: {"auth": CacheAuth.rbac(username="default")},
                              "username='default' is not allowed"),
    "rbac-empty-access-string": (lambda: {"auth": CacheAuth.rbac(access_string=" ")},
                                 "access_string='' is not allowed"),
    "rbac-dangerous": (lambda: {"auth": CacheAuth.rbac(access_string="on ~* &* +@all +@dangerous")},
                       "access_string='on ~* &* +@all +@dangerous' is not allowed: no +@dangerous"),
    "rbac-all-without-dangerous-removed": (lambda: {"auth": CacheAuth.rbac(access_string="on ~* -@dangerous +@all")},
                                           "access_string='on ~* -@dangerous +@all' is not allowed: +@all must be "
                                           "followed by -@dangerous"),
    "rbac-glob-prefix": (lambda: {"auth": CacheAuth.rbac_for_prefixes("app", ["a*"])},
                         "key_prefixes[0]='a*' is not allowed"),
    "rbac-flushall": (lambda: {"auth": CacheAuth.rbac_for_prefixes("app", ["app:"], also_allow=["flushall"])},
                      "also_allow='flushall' is not allowed"),
    "alarm-percent-above-100": (lambda: {"alarm_thresholds": CacheAlarmThresholds(memory_percent=120)},
                                "memory_percent=120 is not allowed: above 0, at most 100"),
    "no-log-types": (lambda: {"log_delivery": CacheLogDelivery(log_types=())}, "log_types=() is not allowed"),
}


@pytest.mark.parametrize("name", list(INVALID))
def test_invalid_props_raise_one_clear_error_before_building_anything(name: str) -> None:
    make, expected = INVALID[name]
    stack, vpc = _stack()
    with pytest.raises(CachePropsError) as err:
        props = {k: (v(stack) if callable(v) else v) for k, v in make().items()}
        CacheReplicationGroup(stack, "Cache", vpc=vpc, **props)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(expected), message
    partial = stack.node.try_find_child("Cache")
    assert partial is None or partial.node.children == []


@pytest.mark.parametrize(("engine", "family"), [
    (CacheEngine.valkey("7.2"), "valkey7"), (CacheEngine.valkey("8.0"), "valkey8"), (CacheEngine.valkey(), "valkey8"),
    (CacheEngine.redis("6.2"), "redis6.x"), (CacheEngine.redis("7.0"), "redis7"), (CacheEngine.redis(), "redis7"),
])
def test_family_follows_engine_and_version(engine: CacheEngine, family: str) -> None:
    assert engine.family == family
    assert engine.default_parameter_group("enabled") == f"default.{family}.cluster.on"


def test_rbac_for_prefixes_confines_keys_and_channels_and_drops_dangerous_commands() -> None:
    auth = CacheAuth.rbac_for_prefixes("app", ["app_code:", "jobs:"], also_allow=["info"])
    assert auth.access_string == "on ~app_code:* ~jobs:* &app_code:* &jobs:* +@all -@dangerous +info"
    assert CacheAuth.rbac().access_string == "on ~* &* +@all -@dangerous"
