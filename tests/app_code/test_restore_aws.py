"""The AWS side of backups and of table and cache restores, against moto's server: what the calls carry (the source
group's settings, the snapshot, the tags), the limits checked before any call, and the copies' outputs files.

moto's DescribeCacheClusters leaves out two fields AWS returns for a cluster in a VPC, SecurityGroups and
CacheParameterGroup; a botocore hook adds them as AWS shapes them, and a test shows the restore refuses to go on
without security groups (the copy would land in the VPC's default one).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.ops import cache_copy
from cdk_data_tier.app.ops.backup import backup
from tests.app_code.conftest import REGION, cdk_outputs

FAST = {"Delay": 0, "MaxAttempts": 2}
SG, PARAMS = "sg-0cache1234567890", "dev-cache-params"
AWS_FIELDS = {"on": True}  # whether DescribeCacheClusters gets the fields moto leaves out


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Every (operation, parameters) sent; DescribeCacheClusters answered with the fields AWS adds."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = AwsTarget.client

    def complete(parsed: dict[str, Any], **_: Any) -> None:
        for cluster in parsed.get("CacheClusters", []) if AWS_FIELDS["on"] else []:
            cluster.setdefault("SecurityGroups", [{"SecurityGroupId": SG, "Status": "active"}])
            cluster.setdefault("CacheParameterGroup", {"CacheParameterGroupName": PARAMS,
                                                       "ParameterApplyStatus": "in-sync"})

    def client(self, service, **kwargs):
        made = original(self, service, **kwargs)
        made.meta.events.register("provide-client-params.*.*", lambda params, model, **_: seen.append(
            (model.name, dict(params))))
        made.meta.events.register("after-call.elasticache.DescribeCacheClusters",
                                  lambda parsed, **kw: complete(parsed))
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    return seen


def _group(aws: AwsTarget, env: str, *, cluster: bool, rbac: bool = False) -> dict[str, Any]:
    ec = aws.client("elasticache")
    shape = {"NumNodeGroups": 2, "ReplicasPerNodeGroup": 1, "ClusterMode": "enabled"} if cluster else \
        {"NumCacheClusters": 2, "ReplicasPerNodeGroup": 1}  # moto counts members by the latter
    auth = {"UserGroupIds": [f"{env}-users"]} if rbac else {"AuthToken": "a-token-of-sixteen-or-more"}
    group = ec.create_replication_group(
        ReplicationGroupId=f"{env}-cache", ReplicationGroupDescription="the stack's", CacheNodeType="cache.t4g.small",
        Engine="valkey", EngineVersion="8.0", CacheSubnetGroupName=f"{env}-subnets", SecurityGroupIds=[SG],
        CacheParameterGroupName=PARAMS, TransitEncryptionEnabled=True, AtRestEncryptionEnabled=True,
        KmsKeyId=f"arn:aws:kms:{REGION}:111111111111:key/cache", Port=6380, AutomaticFailoverEnabled=True,
        MultiAZEnabled=True, **shape, **auth)["ReplicationGroup"]
    # moto keeps no member clusters of its own: the first, as ElastiCache reports it.
    ec.create_cache_cluster(CacheClusterId=group["MemberClusters"][0], ReplicationGroupId=f"{env}-cache",
                            CacheNodeType="cache.t4g.small", Engine="valkey", EngineVersion="8.0",
                            CacheSubnetGroupName=f"{env}-subnets", CacheParameterGroupName=PARAMS)
    return dict(ec.describe_replication_groups(ReplicationGroupId=f"{env}-cache")["ReplicationGroups"][0])


def _cache_endpoints(aws, outputs_file, env: str, group: dict[str, Any], *, cluster: bool) -> tuple[Endpoints, Any]:
    sm = aws.client("secretsmanager")
    arn = sm.create_secret(Name=f"{env}/cache/auth", SecretString=json.dumps(
        {"password": "a-token-of-sixteen-or-more"}))["ARN"]
    host = group["ConfigurationEndpoint"]["Address"] if cluster else group["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    path = outputs_file(cdk_outputs(env, Cache={"Endpoint": host, "ClusterMode": "enabled" if cluster else "disabled",
                                                "AuthSecretArn": arn}))
    endpoints = Endpoints.from_outputs_file(path)
    endpoints.aws = aws
    return endpoints, path


@pytest.mark.parametrize("cluster", [True, False], ids=["cluster-mode", "replica-set-rbac"])
def test_restore_cache_creates_a_sibling_group_from_the_snapshot(aws, moto_url, outputs_file, calls, monkeypatch,
                                                                   tmp_path, capsys, cluster):
    env = f"t{uuid.uuid4().hex[:6]}"
    group = _group(aws, env, cluster=cluster, rbac=not cluster)
    endpoints, path = _cache_endpoints(aws, outputs_file, env, group, cluster=cluster)
    snap = cache_copy.snapshot(endpoints, label="20250501-120000")
    assert snap["ReplicationGroupId"] == f"{env}-cache"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setattr(cache_copy, "WAIT", FAST)
    target, written = f"{env}-cache-copy", tmp_path / "copy" / "outputs.json"

    assert main(["ops", "restore-cache", "--outputs", str(path), "--snapshot", snap["SnapshotName"],
                 "--target", target, "--out", str(written)]) == 0

    sent = next(p for op, p in calls if op == "CreateReplicationGroup" and p["ReplicationGroupId"] == target)
    expected = {"ReplicationGroupId": target, "SnapshotName": snap["SnapshotName"], "CacheNodeType": "cache.t4g.small",
                "Engine": "valkey", "EngineVersion": "8.0", "CacheSubnetGroupName": f"{env}-subnets",
                "SecurityGroupIds": [SG], "CacheParameterGroupName": PARAMS, "TransitEncryptionEnabled": True,
                "AtRestEncryptionEnabled": True, "KmsKeyId": f"arn:aws:kms:{REGION}:111111111111:key/cache",
                "Port": 6380, "AutomaticFailoverEnabled": True, "MultiAZEnabled": True}
    expected |= {"NumNodeGroups": 2, "ReplicasPerNodeGroup": 1, "AuthToken": "a-token-of-sixteen-or-more"} \
        if cluster else {"NumCacheClusters": 2, "UserGroupIds": [f"{env}-users"]}
    assert {k: sent.get(k) for k in expected} == expected
    assert ("AuthToken" in sent) == cluster  # RBAC and an AUTH token exclude each other
    assert {t["Key"]: t["Value"] for t in sent["Tags"]} == {"project": "cdk-data-tier", "env": env,
                                                            "made-by": "app_code ops", "copy-of": f"{env}-cache"}
    assert any(op == "DescribeReplicationGroups" and p.get("ReplicationGroupId") == target for op, p in calls)
    made = aws.client("elasticache").describe_replication_groups(ReplicationGroupId=target)["ReplicationGroups"][0]
    copy = Endpoints.from_outputs_file(written)
    host = made["ConfigurationEndpoint"]["Address"] if cluster else made["NodeGroups"][0]["PrimaryEndpoint"]["Address"]
    assert copy.cache.endpoint.host == host and copy.cache.port == 6380
    assert f"remove:  python -m app_code ops remove-copy --outputs {path} --target {target}" in capsys.readouterr().out


def test_restore_cache_checks_before_creating(aws, outputs_file, calls, monkeypatch):
    env = f"t{uuid.uuid4().hex[:6]}"
    group = _group(aws, env, cluster=True)
    endpoints, _ = _cache_endpoints(aws, outputs_file, env, group, cluster=True)
    from cdk_data_tier.app.errors import BadInput

    with pytest.raises(BadInput, match=r"^--snapshot nope: no such ElastiCache snapshot$"):
        cache_copy.restore(endpoints, "nope", f"{env}-copy")
    with pytest.raises(BadInput, match=rf"^--target {env}-cache: a replication group of that name already exists$"):
        cache_copy.restore(endpoints, "nope", f"{env}-cache")
    snap = cache_copy.snapshot(endpoints, label="s1")
    monkeypatch.setitem(AWS_FIELDS, "on", False)
    with pytest.raises(RuntimeError, match="reports no security groups"):
        cache_copy.restore(endpoints, snap["SnapshotName"], f"{env}-copy")
    assert not any(op == "CreateReplicationGroup" and p["ReplicationGroupId"] == f"{env}-copy" for op, p in calls)


def test_restore_table_on_aws_sends_the_restore_calls_and_checks_the_window(aws, moto_url, outputs_file, calls,
                                                                          monkeypatch, tmp_path, capsys):
    env = f"t{uuid.uuid4().hex[:6]}"
    ddb = aws.client("dynamodb")
    table = f"{env}-catalog"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk",
                     "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    path = outputs_file(cdk_outputs(env, Dynamo={"TableName": table}))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    base = ["ops", "restore-table", "--outputs", str(path)]

    assert main([*base, "--latest", "--target", f"{table}-copy"]) == 2  # PITR is off
    assert capsys.readouterr().err.strip() == (f"app_code ops: table {table} has point-in-time recovery DISABLED: "
                                               "enable it, or restore from a backup (--backup ARN)")
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName=table, Item={"pk": {"S": "PRODUCT#1"}})
    window = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"][
        "PointInTimeRecoveryDescription"]
    from cdk_data_tier.app.ops.restore_db import iso

    when = iso(window["EarliestRestorableDateTime"])
    written = tmp_path / "copy.json"
    assert main([*base, "--to-time", when, "--target", f"{table}-copy", "--out", str(written)]) == 0
    sent = next(p for op, p in calls if op == "RestoreTableToPointInTime")
    assert sent["SourceTableName"] == table and iso(sent["RestoreDateTime"]) == when
    assert ("TagResource", {"ResourceArn": f"arn:aws:dynamodb:{REGION}:123456789012:table/{table}-copy",
                            "Tags": [{"Key": "project", "Value": "cdk-data-tier"}, {"Key": "env", "Value": env},
                                     {"Key": "made-by", "Value": "app_code ops"},
                                     {"Key": "copy-of", "Value": table}]}) in calls
    assert Endpoints.from_outputs_file(written).dynamo.table_name == f"{table}-copy"
    arn = ddb.create_backup(TableName=table, BackupName=f"{env}-b")["BackupDetails"]["BackupArn"]
    assert main([*base, "--backup", arn, "--target", f"{table}-copy2", "--out",
                 str(tmp_path / "copy2.json")]) == 0
    assert ("RestoreTableFromBackup", {"TargetTableName": f"{table}-copy2", "BackupArn": arn}) in calls
    capsys.readouterr()
    assert main(["ops", "remove-copy", "--outputs", str(path), "--target", f"{table}-copy2"]) == 0
    assert f"{table}-copy2" not in ddb.list_tables()["TableNames"]
    assert main(["ops", "remove-copy", "--outputs", str(path), "--target", table]) == 2
    assert capsys.readouterr().err.strip() == f"app_code ops: --target {table} is the environment's own table, not a copy"


def test_backup_on_aws_names_and_tags_every_part_alike(aws, outputs_file, calls):
    env = f"t{uuid.uuid4().hex[:6]}"
    group = _group(aws, env, cluster=True)
    endpoints, _ = _cache_endpoints(aws, outputs_file, env, group, cluster=True)
    ddb, rds = aws.client("dynamodb"), aws.client("rds")
    ddb.create_table(TableName=f"{env}-catalog", BillingMode="PAY_PER_REQUEST", KeySchema=[
        {"AttributeName": "pk", "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-database-primary", Engine="postgres",
                           DBInstanceClass="db.t3.micro", MasterUsername="dbadmin",
                           MasterUserPassword="not-a-real-one-1", AllocatedStorage=20)
    label = "20250501-120000"
    made = {b.what: b for b in backup(endpoints, label=label)}
    assert made["rds snapshot"].id == f"{env}-database-primary-{label}"
    assert made["elasticache snapshot"].id == f"{env}-cache-{label}"
    assert made["dynamodb backup"].id.startswith(f"arn:aws:dynamodb:{REGION}:")
    assert ddb.describe_backup(BackupArn=made["dynamodb backup"].id)["BackupDescription"]["BackupDetails"][
        "BackupName"] == f"{env}-catalog-{label}"
    labels = {"project": "cdk-data-tier", "env": env, "made-by": "app_code ops", "backup-label": label}
    snap_arn = rds.describe_db_snapshots(DBSnapshotIdentifier=made["rds snapshot"].id)["DBSnapshots"][0][
        "DBSnapshotArn"]
    assert labels.items() <= {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(
        ResourceName=snap_arn)["TagList"]}.items()
    ec_arn = aws.client("elasticache").describe_snapshots(SnapshotName=made["elasticache snapshot"].id)[
        "Snapshots"][0]["ARN"]
    assert labels.items() <= {t["Key"]: t["Value"] for t in aws.client("elasticache").list_tags_for_resource(
        ResourceName=ec_arn)["TagList"]}.items()
