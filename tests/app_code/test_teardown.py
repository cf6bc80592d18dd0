"""Teardown verification against a real moto server: leftovers made with boto3 the way cdk destroy leaves them.

Names are the ones the synthesized dev and prod templates give: `dev-database-writer`, CloudFormation's
`<stack>-<LogicalId>-<suffix>` for unnamed resources, CDK's `<env><Concern>...` for vaults and functions.
Tagged leftovers carry the tags CloudFormation puts on what it creates (stack name and logical id); untagged
ones are found by name, ARN or prefix.

Every scenario lives in an account of its own (MOTO_ACCOUNT_ID, which the in-process server reads on every
request), so one scenario's leftovers are never another's. A fresh moto account costs seconds per service, so
the per-kind tests share two: one dev world and one prod world, each holding a leftover of every kind, scanned
once; the tests below each check their kind in those reports.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import AwsTarget
from cdk_data_tier.app.ops.teardown import Report, teardown_report
from cdk_data_tier.app.ops.teardown_plan import Plan
from cdk_data_tier.app.ops.teardown_vaults import point_verdict

STACK_TAG, LOGICAL_ID_TAG = "aws:cloudformation:stack-name", "aws:cloudformation:logical-id"


def cfn_tags(stack: str, logical_id: str | None = None) -> list[dict[str, str]]:
    tags = [{"Key": STACK_TAG, "Value": stack}]
    return tags + ([{"Key": LOGICAL_ID_TAG, "Value": logical_id}] if logical_id else [])


def new_account() -> str:
    return "9" + "".join(secrets.choice("0123456789") for _ in range(11))


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> str:
    value = new_account()
    monkeypatch.setenv("MOTO_ACCOUNT_ID", value)
    return value


def target(plan: Plan, moto_url: str) -> AwsTarget:
    return AwsTarget(region=plan.region, endpoint_url=moto_url)


@dataclass
class World:
    plan: Plan
    report: Report
    made: dict[str, str]  # what the makers named, for the assertions

    @property
    def items(self) -> dict[str, tuple[str, str, str, str]]:
        """id -> (kind, how_found, verdict, stack)."""
        return {i.id: (i.kind, i.how_found, i.verdict, i.stack) for i in self.report.items}

    def reason(self, ident: str) -> str:
        return next(i.reason for i in self.report.items if i.id == ident)


Maker = Callable[[AwsTarget, Plan], dict[str, str]]


def world(env: str, outdir, moto_url: str, makers: list[Maker]) -> Iterator[World]:
    with pytest.MonkeyPatch.context() as mp:
        account = new_account()
        mp.setenv("MOTO_ACCOUNT_ID", account)
        plan = dataclasses.replace(Plan.from_assembly(env, outdir), account=account)
        aws = target(plan, moto_url)
        made: dict[str, str] = {}
        for make in makers:
            made.update(make(aws, plan))
        yield World(plan, teardown_report(plan, aws), made)


def writer(aws: AwsTarget, identifier: str, **extra) -> None:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t4g.medium", MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-one-1", AllocatedStorage=20, **extra)


# -- leftovers of each kind, as the stacks name them -------------------------------------------------

def stacks_and_tags(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    if plan.env != "dev":
        return {}
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x", "Name": "/dev/marker"}}
    aws.client("cloudformation").create_stack(StackName="dev-Network",
                                              TemplateBody=json.dumps({"Resources": {"P": parameter}}))
    arn = aws.client("dynamodb").create_table(
        TableName="dev-Dynamo-AppTable853824C7-1A2B3C", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=cfn_tags("dev-Dynamo", "AppTable853824C7"))["TableDescription"]["TableArn"]
    return {"table": arn}


def db_snapshots(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    rds, env = aws.client("rds"), plan.env
    writer(aws, f"{env}-database-writer", BackupRetentionPeriod=7)
    writer(aws, f"{env}-database-replica-1")
    rds.create_db_snapshot(DBInstanceIdentifier=f"{env}-database-writer",  # what `ops backup` names
                           DBSnapshotIdentifier=f"{env}-database-writer-20260101-000000")
    rds.create_db_snapshot(DBInstanceIdentifier=f"{env}-database-writer", DBSnapshotIdentifier="tagged-by-cfn",
                           Tags=cfn_tags(f"{env}-Database", "InstanceWriterE29BEFDF"))
    rds.create_db_snapshot(DBInstanceIdentifier=f"{env}-database-replica-1", DBSnapshotIdentifier="replica-copy")
    # The final snapshot; RDS keeps the automated backups too (the retained ones are listed on their own).
    rds.delete_db_instance(DBInstanceIdentifier=f"{env}-database-writer", FinalDBSnapshotIdentifier="final-one",
                           DeleteAutomatedBackups=False)
    writer(aws, "someone-elses-db")
    rds.create_db_snapshot(DBInstanceIdentifier="someone-elses-db", DBSnapshotIdentifier=f"{env}-scratch-copy")
    rds.create_db_snapshot(DBInstanceIdentifier="someone-elses-db", DBSnapshotIdentifier="not-ours")
    return {}


def cache_snapshots(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    cache, group = aws.client("elasticache"), f"{plan.env}-ca-1x2y3z"
    # CloudFormation invents the group's id; the description is the template's own.
    cache.create_replication_group(ReplicationGroupId=group, ReplicationGroupDescription=f"{plan.env} cache (valkey)",
                                   Engine="valkey", CacheNodeType="cache.t4g.micro", NumCacheClusters=2)
    cache.create_snapshot(ReplicationGroupId=group, SnapshotName=f"{group}-final")
    cache.delete_replication_group(ReplicationGroupId=group)
    cache.create_replication_group(ReplicationGroupId="elsewhere", ReplicationGroupDescription="another app",
                                   Engine="valkey", CacheNodeType="cache.t4g.micro", NumCacheClusters=1)
    cache.create_snapshot(ReplicationGroupId="elsewhere", SnapshotName=f"{plan.env}-cache-by-hand")
    cache.create_snapshot(ReplicationGroupId="elsewhere", SnapshotName="not-ours")
    return {}


def dynamo_backups(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    ddb, env = aws.client("dynamodb"), plan.env

    def table(name: str, tags=()) -> None:
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk",
                         "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         Tags=list(tags))
        ddb.create_backup(TableName=name, BackupName=f"{name}-nightly")

    if env == "dev":  # the table itself is gone, its backup is not
        table("dev-Dynamo-AppTable853824C7-7G8H9I")
        ddb.delete_table(TableName="dev-Dynamo-AppTable853824C7-7G8H9I")
    else:  # prod retains the table, so its backups are its own; and a renamed copy, still tagged, by its ARN
        table("prod-Dynamo-AppTable853824C7-9Z8Y7X", cfn_tags("prod-Dynamo", "AppTable853824C7"))
        table("orders-copy", cfn_tags("prod-Dynamo", "AppTable853824C7"))
    return {}


def secrets_pending_deletion(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    sm = aws.client("secretsmanager")
    if plan.env == "dev":
        # Unnamed in the template: CloudFormation names it <LogicalId>-<suffix>; the description names the stack.
        sm.create_secret(Name="SecretA720EF05-AbCdEfGhIjKl", SecretString="{}",
                         Description="Generated by the CDK for stack: dev-Database")
        sm.delete_secret(SecretId="SecretA720EF05-AbCdEfGhIjKl", RecoveryWindowInDays=7)
        sm.create_secret(Name="CacheAuthSecretB5146BA1-MnOpQrStUvWx", SecretString="{}",
                         Tags=cfn_tags("dev-Cache", "CacheAuthSecretB5146BA1"))
        sm.create_secret(Name="SecretA720EF05-OtherEnvSecret", SecretString="{}",
                         Description="Generated by the CDK for stack: staging-Database")
    else:
        sm.create_secret(Name="AppSecretFAB5164C-KeptKeptKept", SecretString="{}",
                         Tags=cfn_tags("prod-Database", "AppSecretFAB5164C"))
        sm.create_secret(Name="SecretA720EF05-DeletedByHand", SecretString="{}",
                         Tags=cfn_tags("prod-Database", "SecretA720EF05"))
        sm.delete_secret(SecretId="SecretA720EF05-DeletedByHand", RecoveryWindowInDays=30)
    return {}


def kms_keys_pending_deletion(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    kms = aws.client("kms")
    if plan.env == "prod":
        # prod keeps its admin secret, encrypted with a key someone scheduled for deletion: the secret goes with it.
        doomed = kms.create_key(Description="no description of ours")["KeyMetadata"]
        aws.client("secretsmanager").create_secret(Name="SecretA720EF05-KeptKeptKept", SecretString="{}",
                                                   KmsKeyId=doomed["Arn"],
                                                   Tags=cfn_tags("prod-Database", "SecretA720EF05"))
        kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=30)
        return {"doomed": doomed["KeyId"]}
    made = {
        "tagged": kms.create_key(Description="Encrypts the secret rotation function log group",
                                 Tags=[{"TagKey": STACK_TAG, "TagValue": "dev-Database"}])["KeyMetadata"]["KeyId"],
        "described": kms.create_key(Description="Encrypts dev cache (valkey) at rest (nodes and snapshots)")[
            "KeyMetadata"]["KeyId"],
        "stranger": kms.create_key(Description="Encrypts the secret rotation function log group")["KeyMetadata"][
            "KeyId"],
    }
    for key in made.values():
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    made["alive"] = kms.create_key(Description="Encrypts dev cache (valkey) at rest (nodes and snapshots)")[
        "KeyMetadata"]["KeyId"]
    return made


def log_groups(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    logs = aws.client("logs")
    if plan.env == "prod":
        logs.create_log_group(logGroupName="/aws/rds/instance/prod-database-replica-1/postgresql")
        logs.create_log_group(logGroupName="prod-Network-FlowLogsLogGroup9853A85F-ZxCvBn456")
        return {}
    logs.create_log_group(logGroupName="/aws/lambda/devDatabaseInstanceWriterRotationSingleUserDE7E4BE1",
                          tags={STACK_TAG: "dev-Database", LOGICAL_ID_TAG: "RotationFunctionLogsLogGroupB697B2B3"})
    logs.create_log_group(logGroupName="/aws/rds/instance/dev-database-writer/error")  # RDS, on its first export
    logs.create_log_group(logGroupName="/aws/lambda/dev-Cache-CacheAuthRotationFunction163D-AbCdEf123456")
    logs.create_log_group(logGroupName="dev-Network-FlowLogsLogGroup9853A85F-QwErTy123")
    logs.create_log_group(logGroupName="/aws/rds/cluster/dev-database-old/postgresql")
    logs.create_log_group(logGroupName="/aws/lambda/somebody-else")
    return {}


def backup_vaults(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    backup = aws.client("backup")
    if plan.env == "prod":
        backup.create_backup_vault(
            BackupVaultName="prodDatabaseBackupPlanKeyedVaultCE8AF2BA",
            BackupVaultTags={STACK_TAG: "prod-Database", LOGICAL_ID_TAG: "BackupPlanKeyedVaultB1CE348C"})
        backup.create_backup_vault(BackupVaultName="prodDynamoBackupPlanKeyedVault3F80FAE5")
    else:
        backup.create_backup_vault(BackupVaultName="devDatabaseVaultFromBefore")
    return {}


def lambda_enis(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    if plan.env != "dev":
        return {}
    ec2 = aws.client("ec2")
    tagged_vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": cfn_tags("dev-Network", "Vpc8378EB38")}])["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    tagged_subnet = ec2.create_subnet(VpcId=tagged_vpc, CidrBlock="10.10.1.0/24")["Subnet"]["SubnetId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    uid = str(uuid.uuid4())

    def eni(subnet: str, description: str) -> str:
        return ec2.create_network_interface(SubnetId=subnet, Description=description)["NetworkInterface"][
            "NetworkInterfaceId"]

    return {
        "by_name": eni(other_subnet, f"AWS Lambda VPC ENI-devDatabaseInstanceWriterRotationSingleUserDE7E4BE1-{uid}"),
        "generated": eni(other_subnet, f"AWS Lambda VPC ENI-dev-Cache-CacheAuthRotationFunction163D-AbCdEf1234-{uid}"),
        "in_vpc": eni(tagged_subnet, f"AWS Lambda VPC ENI-renamed-function-{uid}"),
        "stranger": eni(other_subnet, f"AWS Lambda VPC ENI-somebody-else-{uid}"),
        "plain": eni(tagged_subnet, "an instance's spare interface"),
        "subnet": other_subnet,
    }


def elastic_ips(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    if plan.env != "dev":
        return {}
    ec2 = aws.client("ec2")

    def eip(tags: list[dict[str, str]]) -> str:
        return ec2.allocate_address(Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": tags}])[
            "AllocationId"]

    return {"eip_tagged": eip(cfn_tags("dev-Network", "VpcpublicSubnet1EIP411541E6")),
            "eip_named": eip([{"Key": "Name", "Value": "dev-Network/Vpc/publicSubnet2"}]),
            "eip_stranger": eip([{"Key": "Name", "Value": "bastion of another team"}])}


def made_by_ops(aws: AwsTarget, plan: Plan) -> dict[str, str]:
    """A database copy `ops restore-db` made and forgot, and a snapshot `ops backup` took, as they tag them."""
    if plan.env != "dev":
        return {}
    tags = [{"Key": "project", "Value": "cdk-data-tier"}, {"Key": "env", "Value": "dev"},
            {"Key": "made-by", "Value": "app_code ops"}]
    writer(aws, "restored-before-the-incident", Tags=tags)
    writer(aws, "unrelated-db")
    aws.client("rds").create_db_snapshot(DBInstanceIdentifier="unrelated-db", DBSnapshotIdentifier="labelled-copy",
                                         Tags=[*tags, {"Key": "backup-label", "Value": "20260101-000000"}])
    return {}


MAKERS: list[Maker] = [made_by_ops, stacks_and_tags, db_snapshots, cache_snapshots, dynamo_backups, secrets_pending_deletion,
                       kms_keys_pending_deletion, log_groups, backup_vaults, lambda_enis, elastic_ips]


@pytest.fixture(scope="module")
def dev_world(dev, moto_url) -> Iterator[World]:
    yield from world("dev", dev.outdir, moto_url, MAKERS)


@pytest.fixture(scope="module")
def prod_world(prod, moto_url) -> Iterator[World]:
    yield from world("prod", prod.outdir, moto_url, MAKERS)


# -- the plan the templates give -------------------------------------------------------------------

def test_copies_and_backups_app_code_made_by_their_tags(dev_world):
    assert dev_world.items["restored-before-the-incident"] == ("restored copy", "tag", "orphan", "dev-Database")
    assert dev_world.reason("restored-before-the-incident").endswith(
        "python -m app_code ops remove-copy --env dev --target restored-before-the-incident")
    assert dev_world.items["labelled-copy"] == ("db snapshot", "tag", "orphan", "dev-Database")
    assert "unrelated-db" not in dev_world.items


def test_the_plan_reads_names_and_policies_from_the_templates(dev, prod):
    dev_plan, prod_plan = Plan.from_assembly("dev", dev.outdir), Plan.from_assembly("prod", prod.outdir)
    assert (dev_plan.account, dev_plan.region) == ("111111111111", "us-east-1")
    assert (prod_plan.account, prod_plan.region) == ("222222222222", "us-west-2")
    assert dev_plan.named("dev-database-writer", "AWS::RDS::DBInstance").policy == "Delete"
    assert prod_plan.named("prod-database-writer", "AWS::RDS::DBInstance").policy == "Snapshot"
    assert prod_plan.named("prod-database-replica-1", "AWS::RDS::DBInstance").policy == "Delete"
    table = prod_plan.generated("prod-Dynamo-AppTable853824C7-1X2Y3Z", "AWS::DynamoDB::GlobalTable")
    assert table is not None and table.policy == "Retain"
    assert "devDatabaseInstanceWriterRotationSingleUserDE7E4BE1" in dev_plan.function_names
    assert dev_plan.stack_of_name("devDatabaseBackupPlanKeyedVault") == "dev-Database"
    assert dev_plan.generated("dev-Network-Flow-abc", "AWS::Logs::LogGroup") is None  # too short to be one


# -- a clean account, and the stacks themselves ----------------------------------------------------

def test_a_clean_account_reports_nothing_and_exits_0(dev, account, moto_url, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    assert main(["ops", "teardown-check", "--env", "dev", "--cdk-out", str(dev.outdir)]) == 0
    out, err = capsys.readouterr()
    assert f"dev in {account}/us-east-1: 0 orphan(s), 0 expected: nothing left behind" in out
    # moto's account is not the one cdk.json deploys dev to, and the check says so rather than pass silently.
    assert f"warning: checked account {account}, but cdk.json deploys dev to 111111111111" in err


def test_a_stack_still_there_and_what_is_still_tagged(dev_world):
    assert dev_world.items["dev-Network"] == ("cloudformation stack", "name", "orphan", "dev-Network")
    table = next(i for i in dev_world.report.items if i.arn == dev_world.made["table"])
    assert (table.kind, table.how_found, table.verdict) == ("dynamodb table", "tag", "orphan")
    assert "DeletionPolicy Delete, per dynamo.removal" in table.reason


# -- one test per kind -----------------------------------------------------------------------------

def test_db_snapshots_by_source_name_tag_and_prefix(dev_world, prod_world):
    items = dev_world.items
    assert items["dev-database-writer-20260101-000000"] == ("db snapshot", "name", "orphan", "dev-Database")
    assert items["final-one"] == ("db snapshot", "name", "orphan", "dev-Database")
    assert items["tagged-by-cfn"] == ("db snapshot", "tag", "orphan", "dev-Database")
    assert items["dev-scratch-copy"][:3] == ("db snapshot", "prefix", "orphan")
    assert "not-ours" not in items
    assert "aws rds delete-db-snapshot --db-snapshot-identifier final-one" in dev_world.reason("final-one")
    # prod keeps the writer's data: its final snapshot, and the snapshots `ops backup` took, are expected.
    assert prod_world.items["final-one"] == ("db snapshot", "name", "expected", "prod-Database")
    assert "DeletionPolicy Snapshot, per database.removal" in prod_world.reason("final-one")
    assert prod_world.items["prod-database-writer-20260101-000000"][2] == "expected"
    assert prod_world.items["replica-copy"][2] == "orphan"  # replicas are deleted, and so is what was copied


def test_db_cluster_snapshots(synth_variant, account, moto_url):
    aurora = synth_variant("prod", {"database": {"engine": "aurora-postgresql", "engine_version": "16.6",
                                                 "multi_az": None, "allocated_storage_gib": None,
                                                 "max_allocated_storage_gib": None}})
    plan = dataclasses.replace(Plan.from_assembly("prod", aurora.outdir), account=account)
    cluster = next(r for r in plan.of_type("AWS::RDS::DBCluster"))
    assert cluster.name == "prod-database" and cluster.policy == "Snapshot"
    rds = target(plan, moto_url).client("rds")
    for name in ("prod-database", "other"):
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="dbadmin",
                              MasterUserPassword="not-a-real-one-1")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="prod-database", DBClusterSnapshotIdentifier="prod-final")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other", DBClusterSnapshotIdentifier="prod-scratch",
                                   Tags=cfn_tags("prod-Database"))
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other", DBClusterSnapshotIdentifier="not-ours")
    items = {i.id: (i.kind, i.how_found, i.verdict, i.stack) for i in teardown_report(plan, target(plan, moto_url)).items}
    assert items["prod-final"] == ("db cluster snapshot", "name", "expected", "prod-Database")
    assert items["prod-scratch"] == ("db cluster snapshot", "tag", "orphan", "prod-Database")
    assert "not-ours" not in items


def test_retained_automated_backups_follow_delete_automated_backups(dev_world, prod_world):
    assert dev_world.items["dev-database-writer"] == ("db automated backup", "name", "orphan", "dev-Database")
    assert prod_world.items["prod-database-writer"] == ("db automated backup", "name", "expected", "prod-Database")
    assert "RDS deletes them after 14 days" in prod_world.reason("prod-database-writer")


def test_cache_snapshots_by_the_groups_description(dev_world, prod_world):
    assert dev_world.items["dev-ca-1x2y3z-final"] == ("cache snapshot", "name", "orphan", "dev-Cache")
    assert dev_world.items["dev-cache-by-hand"][:3] == ("cache snapshot", "prefix", "orphan")
    assert "not-ours" not in dev_world.items
    assert prod_world.items["prod-ca-1x2y3z-final"] == ("cache snapshot", "name", "expected", "prod-Cache")
    assert "DeletionPolicy Snapshot, per cache.removal" in prod_world.reason("prod-ca-1x2y3z-final")


def test_dynamodb_backups_by_table_name_and_by_a_tagged_tables_arn(dev_world, prod_world):
    assert dev_world.items["dev-Dynamo-AppTable853824C7-7G8H9I-nightly"] == ("dynamodb backup", "name", "orphan",
                                                                            "dev-Dynamo")
    assert prod_world.items["prod-Dynamo-AppTable853824C7-9Z8Y7X-nightly"] == ("dynamodb backup", "name",
                                                                              "expected", "prod-Dynamo")
    assert prod_world.items["orders-copy-nightly"] == ("dynamodb backup", "arn", "expected", "prod-Dynamo")
    retained = next(i for i in prod_world.report.items if i.kind == "dynamodb table" and "9Z8Y7X" in i.id)
    assert (retained.how_found, retained.verdict) == ("tag", "expected")


def test_secrets_pending_deletion(dev_world, prod_world):
    assert dev_world.items["SecretA720EF05-AbCdEfGhIjKl"] == ("secret", "name", "expected", "dev-Database")
    assert "deletion scheduled on" in dev_world.reason("SecretA720EF05-AbCdEfGhIjKl")
    assert dev_world.items["CacheAuthSecretB5146BA1-MnOpQrStUvWx"] == ("secret", "tag", "orphan", "dev-Cache")
    assert "SecretA720EF05-OtherEnvSecret" not in dev_world.items
    assert prod_world.items["AppSecretFAB5164C-KeptKeptKept"] == ("secret", "tag", "expected", "prod-Database")
    assert prod_world.items["SecretA720EF05-DeletedByHand"] == ("secret", "tag", "orphan", "prod-Database")
    assert "aws secretsmanager restore-secret" in prod_world.reason("SecretA720EF05-DeletedByHand")


def test_kms_keys_pending_deletion(dev_world, prod_world):
    made, items = dev_world.made, dev_world.items
    assert items[made["tagged"]] == ("kms key", "tag", "expected", "dev-Database")
    assert items[made["described"]] == ("kms key", "name", "expected", "dev-Cache")
    assert made["alive"] not in items and made["stranger"] not in items
    doomed = prod_world.made["doomed"]
    assert prod_world.items[doomed] == ("kms key", "arn", "orphan", "prod-Database")
    assert "kept secret SecretA720EF05-KeptKeptKept is encrypted with it" in prod_world.reason(doomed)
    assert prod_world.items["SecretA720EF05-KeptKeptKept"][2] == "expected"


def test_log_groups_the_stacks_own_and_those_services_create(dev_world, prod_world):
    items, lg = dev_world.items, "log group"
    assert items["/aws/lambda/devDatabaseInstanceWriterRotationSingleUserDE7E4BE1"] == (lg, "tag", "orphan",
                                                                                       "dev-Database")
    assert items["/aws/rds/instance/dev-database-writer/error"] == (lg, "name", "orphan", "dev-Database")
    assert "RDS created it on first use" in dev_world.reason("/aws/rds/instance/dev-database-writer/error")
    lambda_group = "/aws/lambda/dev-Cache-CacheAuthRotationFunction163D-AbCdEf123456"
    assert items[lambda_group] == (lg, "name", "orphan", "dev-Cache")
    assert "Lambda created it on first use" in dev_world.reason(lambda_group)
    assert items["dev-Network-FlowLogsLogGroup9853A85F-QwErTy123"] == (lg, "name", "orphan", "dev-Network")
    assert dev_world.reason("dev-Network-FlowLogsLogGroup9853A85F-QwErTy123").startswith("VPC flow logs: ")
    assert items["/aws/rds/cluster/dev-database-old/postgresql"][1:3] == ("prefix", "orphan")
    assert "/aws/lambda/somebody-else" not in items
    assert prod_world.items["/aws/rds/instance/prod-database-replica-1/postgresql"] == (lg, "name", "expected",
                                                                                       "prod-Database")
    assert prod_world.items["prod-Network-FlowLogsLogGroup9853A85F-ZxCvBn456"][2] == "expected"


def test_backup_vaults(dev_world, prod_world):
    assert prod_world.items["prodDatabaseBackupPlanKeyedVaultCE8AF2BA"] == ("backup vault", "tag", "expected",
                                                                           "prod-Database")
    assert prod_world.items["prodDynamoBackupPlanKeyedVault3F80FAE5"] == ("backup vault", "name", "expected",
                                                                         "prod-Dynamo")
    assert dev_world.items["devDatabaseVaultFromBefore"] == ("backup vault", "prefix", "orphan", "dev-Database")
    # moto has no ListRecoveryPointsByBackupVault (it answers 404): the report says those were not checked,
    # and a check with parts unchecked does not pass.
    assert [u.what for u in prod_world.report.unchecked] == [
        "recovery points of vault prodDatabaseBackupPlanKeyedVaultCE8AF2BA",
        "recovery points of vault prodDynamoBackupPlanKeyedVault3F80FAE5"]
    assert not prod_world.report.clean


def test_recovery_points_are_kept_within_the_plans_lifecycle(prod):
    # Without ListRecoveryPointsByBackupVault in moto, the verdict is checked on points shaped as that API
    # returns them; the listing itself is exercised against AWS only.
    plan = Plan.from_assembly("prod", prod.outdir)
    vault = plan.named("prodDatabaseBackupPlanKeyedVaultCE8AF2BA", "AWS::Backup::BackupVault")
    assert vault is not None and plan.retention_days(vault) == 35
    now = datetime(2026, 6, 1, tzinfo=UTC)
    arn = "arn:aws:backup:us-west-2:222222222222:recovery-point:1EB3B5E7-9EB0-435A-A80B-108B488B0D45"
    source = "arn:aws:rds:us-west-2:222222222222:db:prod-database-writer"
    fresh = {"RecoveryPointArn": arn, "ResourceArn": source, "CreationDate": now - timedelta(days=3),
             "CalculatedLifecycle": {"DeleteAt": now + timedelta(days=32)}}
    stale = {"RecoveryPointArn": arn, "ResourceArn": source, "CreationDate": now - timedelta(days=40)}
    verdict, why = point_verdict(fresh, vault.name, vault, 35, now)
    assert verdict == "expected" and why.endswith("within the plan's retention (35 days): AWS Backup deletes it on "
                                                  "2026-07-03")
    verdict, why = point_verdict(stale, vault.name, vault, 35, now)
    assert verdict == "orphan" and "past its retention (2026-05-27)" in why
    verdict, why = point_verdict(fresh, "devDatabaseVaultFromBefore", None, None, now)
    assert verdict == "orphan" and "in a vault the config does not keep" in why


def test_lambda_enis_by_function_name_and_by_the_tagged_vpc(dev_world):
    made, items = dev_world.made, dev_world.items
    assert items[made["by_name"]] == ("network interface", "name", "orphan", "dev-Database")
    assert items[made["generated"]] == ("network interface", "name", "orphan", "dev-Cache")
    assert items[made["in_vpc"]] == ("network interface", "tag", "orphan", "dev-Network")
    assert made["stranger"] not in items and made["plain"] not in items
    assert f"subnet {made['subnet']}" in dev_world.reason(made["by_name"])


def test_elastic_ips_by_tag_and_by_cdk_name(dev_world):
    made = dev_world.made
    by_alloc = {k.split(" ")[0]: v for k, v in dev_world.items.items()}
    assert by_alloc[made["eip_tagged"]] == ("elastic ip", "tag", "orphan", "dev-Network")
    assert by_alloc[made["eip_named"]] == ("elastic ip", "name", "orphan", "dev-Network")
    assert made["eip_stranger"] not in by_alloc
    tagged = next(i for i in dev_world.report.items if i.id.startswith(made["eip_tagged"]))
    assert "unassociated, billed by the hour" in tagged.reason


# -- a retaining environment passes, and the JSON --------------------------------------------------

def test_what_prod_retains_is_expected_and_the_check_passes(prod, account, moto_url, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    aws = AwsTarget(region="us-west-2", endpoint_url=moto_url)
    writer(aws, "prod-database-writer")
    aws.client("rds").delete_db_instance(DBInstanceIdentifier="prod-database-writer",
                                         FinalDBSnapshotIdentifier="prod-database-writer-final")
    aws.client("dynamodb").create_table(
        TableName="prod-Dynamo-AppTable853824C7-9Z8Y7X", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=cfn_tags("prod-Dynamo", "AppTable853824C7"))
    aws.client("logs").create_log_group(logGroupName="/aws/rds/instance/prod-database-writer/postgresql")
    aws.client("secretsmanager").create_secret(Name="SecretA720EF05-KeptKeptKept", SecretString="{}",
                                               Tags=cfn_tags("prod-Database", "SecretA720EF05"))
    key = aws.client("kms").create_key(Description="Encrypts the application table",
                                       Tags=[{"TagKey": STACK_TAG, "TagValue": "prod-Dynamo"},
                                             {"TagKey": LOGICAL_ID_TAG, "TagValue": "TableKeyF581D96F"}])
    assert main(["ops", "teardown-check", "--env", "prod", "--cdk-out", str(prod.outdir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["env"] == "prod" and report["region"] == "us-west-2" and report["orphans"] == 0
    verdicts = {i["id"].rsplit("/", 1)[-1]: (i["verdict"], i["how_found"]) for i in report["items"]}
    assert verdicts == {
        "prod-database-writer-final": ("expected", "name"),
        "prod-Dynamo-AppTable853824C7-9Z8Y7X": ("expected", "tag"),
        "postgresql": ("expected", "name"),
        "SecretA720EF05-KeptKeptKept": ("expected", "tag"),
        key["KeyMetadata"]["KeyId"]: ("expected", "tag"),
    }, verdicts


def test_the_json_shape_and_the_exit_code_on_an_orphan(dev, account, moto_url, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    AwsTarget(region="us-east-1", endpoint_url=moto_url).client("logs").create_log_group(
        logGroupName="/aws/rds/instance/dev-database-writer/error")
    assert main(["ops", "teardown-check", "--env", "dev", "--cdk-out", str(dev.outdir), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"env", "region", "account", "items", "orphans", "unchecked"}
    assert (report["env"], report["region"], report["account"], report["orphans"]) == ("dev", "us-east-1", account,
                                                                                       1)
    [item] = report["items"]
    assert set(item) == {"kind", "id", "arn", "stack", "how_found", "verdict", "reason"}
    assert (item["kind"], item["id"], item["stack"], item["how_found"], item["verdict"]) == (
        "log group", "/aws/rds/instance/dev-database-writer/error", "dev-Database", "name", "orphan")
    assert item["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:/aws/rds/instance/dev-database-writer/error"
