"""ops restore-db / remove-copy on AWS, against a real moto server: the RDS calls, their arguments and the checks
made before any of them (window, taken names, identifiers, snapshots)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.ops.backup import backup
from cdk_data_tier.app.ops.rds_restore import RESTORED_FROM_TAG
from cdk_data_tier.app.ops.restore_db import RestoreError, remove_copy, restorable_window, restore_database
from tests.app_code.conftest import REGION, cdk_outputs


def _network(aws: AwsTarget, env: str) -> dict[str, Any]:
    """What the Database stack gives an instance: a subnet group, a security group, a parameter group, a KMS key."""
    ec2, rds, kms = aws.client("ec2"), aws.client("rds"), aws.client("kms")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]
               ["SubnetId"] for i, az in ((1, "a"), (2, "b"))]
    rds.create_db_subnet_group(DBSubnetGroupName=f"{env}-isolated", DBSubnetGroupDescription="isolated",
                               SubnetIds=subnets)
    sg = ec2.create_security_group(GroupName=f"{env}-db", Description="db", VpcId=vpc)["GroupId"]
    key = kms.create_key(Description=f"{env} database")["KeyMetadata"]["Arn"]
    return {"subnet_group": f"{env}-isolated", "sg": sg, "key": key}


@pytest.fixture
def rds_env(aws, outputs_file):
    """A source RDS PostgreSQL instance as the stack makes it, and the Endpoints of its env."""
    env = f"t{uuid.uuid4().hex[:6]}"
    net = _network(aws, env)
    rds = aws.client("rds")
    rds.create_db_parameter_group(DBParameterGroupName=f"{env}-pg", DBParameterGroupFamily="postgres17",
                                  Description="db")
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-writer", Engine="postgres", DBInstanceClass="db.t4g.micro",
                           MasterUsername="dbadmin", MasterUserPassword="not-a-real-one-1", AllocatedStorage=20,
                           DBSubnetGroupName=net["subnet_group"], VpcSecurityGroupIds=[net["sg"]],
                           DBParameterGroupName=f"{env}-pg", StorageEncrypted=True, KmsKeyId=net["key"],
                           BackupRetentionPeriod=7, Port=5433)
    data = cdk_outputs(env, Database={"WriterEndpoint": f"{env}-writer.c9akciq32.{REGION}.rds.amazonaws.com"})
    del data[f"{env}-Dynamo"]  # ops backup would back the (absent) table up too
    endpoints = Endpoints.from_outputs_file(outputs_file(data))
    endpoints.aws = aws
    return env, endpoints, net


def _described(aws: AwsTarget, ident: str) -> dict[str, Any]:
    return dict(aws.client("rds").describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0])


def test_restore_to_latest_lands_beside_the_source_and_writes_its_outputs(aws, rds_env, tmp_path):
    env, endpoints, net = rds_env
    out = tmp_path / "copy" / "outputs.json"
    copy = restore_database(endpoints, target=f"{env}-copy", latest=True, outputs_path=out)
    made = _described(aws, f"{env}-copy")
    assert made["DBSubnetGroup"]["DBSubnetGroupName"] == net["subnet_group"]
    assert [g["VpcSecurityGroupId"] for g in made["VpcSecurityGroups"]] == [net["sg"]]
    assert made["DBParameterGroups"][0]["DBParameterGroupName"] == f"{env}-pg"
    assert made["KmsKeyId"] == net["key"] and made["StorageEncrypted"] is True
    assert made["MultiAZ"] is False and not made.get("PubliclyAccessible")
    tags = {t["Key"]: t["Value"] for t in aws.client("rds").list_tags_for_resource(
        ResourceName=made["DBInstanceArn"])["TagList"]}
    assert tags[RESTORED_FROM_TAG] == f"{env}-writer"
    # The copy's outputs: the Database stack points at it, the other stacks are the source's.
    written = json.loads(out.read_text())
    assert written[f"{env}-Database"]["WriterEndpoint"] == made["Endpoint"]["Address"]
    assert "ReaderEndpoints" not in written[f"{env}-Database"]
    assert written[f"{env}-Cache"] == endpoints.stacks[f"{env}-Cache"]
    assert Endpoints.from_outputs_file(out).database.writer.host == made["Endpoint"]["Address"]
    assert copy.kind == "rds-instance" and copy.source == f"{env}-writer"
    assert copy.remove_command == f"python -m app_code ops remove-copy --env {env} --target {env}-copy"


def test_a_time_inside_the_window_is_passed_as_restore_time(aws, rds_env, tmp_path):
    env, endpoints, _ = rds_env
    window = restorable_window(endpoints)
    moment = window.earliest + (window.latest - window.earliest) / 2
    copy = restore_database(endpoints, target=f"{env}-at", to_time=moment, outputs_path=tmp_path / "o.json")
    assert copy.restored_to == moment
    assert _described(aws, f"{env}-at")["DBInstanceStatus"] == "available"


def test_the_documented_limits_are_checked_before_any_call(aws, rds_env, tmp_path):
    env, endpoints, _ = rds_env
    window = restorable_window(endpoints)
    before = len(aws.client("rds").describe_db_instances()["DBInstances"])
    with pytest.raises(RestoreError, match="is before .* earliest restorable time"):
        restore_database(endpoints, target=f"{env}-early", to_time=window.earliest - timedelta(days=1))
    with pytest.raises(RestoreError, match="is after .* latest restorable time"):
        restore_database(endpoints, target=f"{env}-late", to_time=window.latest + timedelta(days=1))
    with pytest.raises(RestoreError, match=f"--target '{env}-writer' is already taken: DB instance"):
        restore_database(endpoints, target=f"{env}-writer", latest=True)
    for bad in ("1starts-with-digit", "double--hyphen", "trailing-", "x" * 64, "under_score"):
        with pytest.raises(RestoreError, match="is not a valid DB identifier"):
            restore_database(endpoints, target=bad, latest=True)
    with pytest.raises(RestoreError, match="no DB snapshot has that identifier"):
        restore_database(endpoints, target=f"{env}-snap", snapshot="nope")
    with pytest.raises(RestoreError, match="exactly one of"):
        restore_database(endpoints, target=f"{env}-two", latest=True, snapshot="x")
    assert len(aws.client("rds").describe_db_instances()["DBInstances"]) == before


def test_backup_then_restore_from_its_snapshot_then_remove_the_copy(aws, rds_env, tmp_path):
    env, endpoints, net = rds_env
    made = {b.what: b for b in backup(endpoints, label="drill")}
    snap = made["rds snapshot"].id
    assert snap == f"{env}-writer-drill"
    rds = aws.client("rds")
    arn = rds.describe_db_snapshots(DBSnapshotIdentifier=snap)["DBSnapshots"][0]["DBSnapshotArn"]
    assert {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]} == {
        "project": "cdk-data-tier", "env": env, "made-by": "app_code ops", "backup-label": "drill"}
    restore_database(endpoints, target=f"{env}-fromsnap", snapshot=snap, outputs_path=tmp_path / "o.json")
    assert _described(aws, f"{env}-fromsnap")["DBSubnetGroup"]["DBSubnetGroupName"] == net["subnet_group"]
    assert remove_copy(endpoints, target=f"{env}-fromsnap") == [
        f"deleted DB instance {env}-fromsnap (no final snapshot, automated backups too)"]
    assert not rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [f"{env}-fromsnap"]}])[
        "DBInstances"]
    # The source itself carries no restored-from tag: remove-copy refuses it.
    with pytest.raises(RestoreError, match="was not made by ops restore-db"):
        remove_copy(endpoints, target=f"{env}-writer")
    assert _described(aws, f"{env}-writer")["DBInstanceStatus"] == "available"


def test_aurora_restores_the_cluster_then_creates_its_writer(aws, outputs_file, tmp_path):
    env = f"t{uuid.uuid4().hex[:6]}"
    net = _network(aws, env)
    rds = aws.client("rds")
    rds.create_db_cluster_parameter_group(DBClusterParameterGroupName=f"{env}-cpg",
                                          DBParameterGroupFamily="aurora-postgresql16", Description="c")
    rds.create_db_cluster(DBClusterIdentifier=f"{env}-cluster", Engine="aurora-postgresql", EngineVersion="16.6",
                          MasterUsername="dbadmin", MasterUserPassword="not-a-real-one-1",
                          DBSubnetGroupName=net["subnet_group"], VpcSecurityGroupIds=[net["sg"]],
                          DBClusterParameterGroupName=f"{env}-cpg", StorageEncrypted=True, KmsKeyId=net["key"],
                          BackupRetentionPeriod=7, Port=5433)
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-writer", DBClusterIdentifier=f"{env}-cluster",
                           Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    cluster_endpoint = rds.describe_db_clusters(DBClusterIdentifier=f"{env}-cluster")["DBClusters"][0]["Endpoint"]
    data = cdk_outputs(env, Database={"WriterEndpoint": cluster_endpoint, "Engine": "aurora-postgresql"})
    del data[f"{env}-Dynamo"]
    endpoints = Endpoints.from_outputs_file(outputs_file(data))
    endpoints.aws = aws

    copy = restore_database(endpoints, target=f"{env}-pitr", latest=True, outputs_path=tmp_path / "a.json")
    made = rds.describe_db_clusters(DBClusterIdentifier=f"{env}-pitr")["DBClusters"][0]
    assert made["DBSubnetGroup"] == net["subnet_group"] and made["DBClusterParameterGroup"] == f"{env}-cpg"
    assert made["KmsKeyId"] == net["key"]
    assert [g["VpcSecurityGroupId"] for g in made["VpcSecurityGroups"]] == [net["sg"]]
    writer = _described(aws, f"{env}-pitr-instance-1")
    assert writer["DBClusterIdentifier"] == f"{env}-pitr" and writer["DBInstanceClass"] == "db.r6g.large"
    assert copy.kind == "aurora-cluster" and copy.endpoint.startswith(made["Endpoint"])

    snap = {b.what: b for b in backup(endpoints, label="drill")}["rds cluster snapshot"].id
    restore_database(endpoints, target=f"{env}-snap", snapshot=snap, outputs_path=tmp_path / "b.json")
    assert rds.describe_db_clusters(DBClusterIdentifier=f"{env}-snap")["DBClusters"][0]["KmsKeyId"] == net["key"]
    with pytest.raises(RestoreError, match=f"--target '{env}-snap' is already taken: a DB cluster"):
        restore_database(endpoints, target=f"{env}-snap", latest=True)

    assert remove_copy(endpoints, target=f"{env}-pitr") == [
        f"deleted DB instance {env}-pitr-instance-1", f"deleted DB cluster {env}-pitr (no final snapshot)"]
    assert not [c for c in rds.describe_db_clusters()["DBClusters"] if c["DBClusterIdentifier"] == f"{env}-pitr"]


def test_the_cli_prints_and_writes_the_copy(aws, rds_env, tmp_path, capsys, monkeypatch):
    env, endpoints, _ = rds_env
    monkeypatch.chdir(tmp_path)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(endpoints.stacks))
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws.endpoint_url or "")
    assert main(["ops", "restore-db", "--outputs", str(outputs), "--region", REGION, "--latest",
                 "--target", f"{env}-cli", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert Path(printed["outputs"]) == tmp_path / f"restore-{env}-cli" / "outputs.json"
    assert json.loads(Path(printed["outputs"]).read_text())[f"{env}-Database"]["WriterEndpoint"] == \
        _described(aws, f"{env}-cli")["Endpoint"]["Address"]
    assert main(["ops", "remove-copy", "--outputs", str(outputs), "--region", REGION, "--target", f"{env}-cli"]) == 0
