"""Teardown verification against a real moto server: leftovers made with boto3 the way cdk destroy leaves them.

Each test runs in an account of its own (MOTO_ACCOUNT_ID, read by the in-process server on every request),
so one test's leftovers are never another's. Names are the ones the synthesized dev and prod templates give:
`dev-database-writer`, CloudFormation's `<stack>-<LogicalId>-<suffix>` for unnamed resources, CDK's
`<env><Concern>...` for vaults and functions. Tagged leftovers carry the tags CloudFormation puts on what it
creates (stack name and logical id); untagged ones are found by name or prefix.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import uuid

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import AwsTarget
from cdk_data_tier.app.ops.teardown import Report, teardown_report
from cdk_data_tier.app.ops.teardown_plan import Plan

STACK_TAG, LOGICAL_ID_TAG = "aws:cloudformation:stack-name", "aws:cloudformation:logical-id"


def cfn_tags(stack: str, logical_id: str | None = None) -> list[dict[str, str]]:
    tags = [{"Key": STACK_TAG, "Value": stack}]
    return tags + ([{"Key": LOGICAL_ID_TAG, "Value": logical_id}] if logical_id else [])


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "9" + "".join(secrets.choice("0123456789") for _ in range(11))
    monkeypatch.setenv("MOTO_ACCOUNT_ID", value)
    return value


@pytest.fixture
def dev_plan(dev, account) -> Plan:
    return dataclasses.replace(Plan.from_assembly("dev", dev.outdir), account=account)


@pytest.fixture
def prod_plan(prod, account) -> Plan:
    return dataclasses.replace(Plan.from_assembly("prod", prod.outdir), account=account)


def target(plan: Plan, moto_url: str) -> AwsTarget:
    return AwsTarget(region=plan.region, endpoint_url=moto_url)


def found(plan: Plan, moto_url: str) -> tuple[Report, dict[str, tuple[str, str, str, str]]]:
    """The report, and id -> (kind, how_found, verdict, stack) of its items."""
    report = teardown_report(plan, target(plan, moto_url))
    return report, {i.id: (i.kind, i.how_found, i.verdict, i.stack) for i in report.items}


def reason(report: Report, ident: str) -> str:
    return next(i.reason for i in report.items if i.id == ident)


def writer(aws: AwsTarget, identifier: str, **extra) -> None:
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, Engine="postgres", DBInstanceClass="db.t4g.medium", MasterUsername="dbadmin",
        MasterUserPassword="not-a-real-one-1", AllocatedStorage=20, **extra)


# -- the plan the templates give -------------------------------------------------------------------

def test_the_plan_reads_names_and_policies_from_the_templates(dev_plan, prod_plan):
    assert dev_plan.region == "us-east-1" and prod_plan.region == "us-west-2"
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


def test_a_stack_still_there_and_what_is_still_tagged(dev_plan, moto_url):
    aws = target(dev_plan, moto_url)
    parameter = {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x", "Name": "/dev/marker"}}
    aws.client("cloudformation").create_stack(StackName="dev-Network",
                                              TemplateBody=json.dumps({"Resources": {"P": parameter}}))
    arn = aws.client("dynamodb").create_table(
        TableName="dev-Dynamo-AppTable853824C7-1A2B3C", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=cfn_tags("dev-Dynamo", "AppTable853824C7"))["TableDescription"]["TableArn"]
    report, items = found(dev_plan, moto_url)
    assert items["dev-Network"] == ("cloudformation stack", "name", "orphan", "dev-Network")
    table = next(i for i in report.items if i.arn == arn)
    assert (table.kind, table.how_found, table.verdict) == ("dynamodb table", "tag", "orphan")
    assert "DeletionPolicy Delete, per dynamo.removal" in table.reason


# -- one test per kind -----------------------------------------------------------------------------

def test_db_snapshots_by_source_name_tag_and_prefix(dev_plan, moto_url):
    aws = target(dev_plan, moto_url)
    rds = aws.client("rds")
    writer(aws, "dev-database-writer")
    rds.create_db_snapshot(DBInstanceIdentifier="dev-database-writer",  # what `ops backup` names
                           DBSnapshotIdentifier="dev-database-writer-app-code-20260101-000000")
    rds.create_db_snapshot(DBInstanceIdentifier="dev-database-writer", DBSnapshotIdentifier="tagged-by-cfn",
                           Tags=cfn_tags("dev-Database", "InstanceWriterE29BEFDF"))
    rds.delete_db_instance(DBInstanceIdentifier="dev-database-writer", FinalDBSnapshotIdentifier="final-one",
                           DeleteAutomatedBackups=True)
    writer(aws, "someone-elses-db")
    rds.create_db_snapshot(DBInstanceIdentifier="someone-elses-db", DBSnapshotIdentifier="dev-scratch-copy")
    rds.create_db_snapshot(DBInstanceIdentifier="someone-elses-db", DBSnapshotIdentifier="not-ours")
    report, items = found(dev_plan, moto_url)
    assert items["dev-database-writer-app-code-20260101-000000"] == ("db snapshot", "name", "orphan", "dev-Database")
    assert items["final-one"] == ("db snapshot", "name", "orphan", "dev-Database")
    assert items["tagged-by-cfn"] == ("db snapshot", "tag", "orphan", "dev-Database")
    assert items["dev-scratch-copy"][:3] == ("db snapshot", "prefix", "orphan")
    assert "not-ours" not in items
    assert "aws rds delete-db-snapshot --db-snapshot-identifier final-one" in reason(report, "final-one")


def test_a_retaining_envs_final_snapshot_is_expected_its_replicas_are_not(prod_plan, moto_url):
    aws = target(prod_plan, moto_url)
    rds = aws.client("rds")
    writer(aws, "prod-database-writer")
    writer(aws, "prod-database-replica-1")
    rds.delete_db_instance(DBInstanceIdentifier="prod-database-writer", FinalDBSnapshotIdentifier="prod-final")
    rds.create_db_snapshot(DBInstanceIdentifier="prod-database-replica-1", DBSnapshotIdentifier="replica-copy")
    report, items = found(prod_plan, moto_url)
    assert items["prod-final"] == ("db snapshot", "name", "expected", "prod-Database")
    assert "DeletionPolicy Snapshot, per database.removal" in reason(report, "prod-final")
    assert items["replica-copy"][2] == "orphan"


def test_db_cluster_snapshots(synth_variant, account, moto_url):
    aurora = synth_variant("prod", {"database": {"engine": "aurora-postgresql", "engine_version": "16.6",
                                                 "multi_az": None, "allocated_storage_gib": None,
                                                 "max_allocated_storage_gib": None}})
    plan = dataclasses.replace(Plan.from_assembly("prod", aurora.outdir), account=account)
    cluster = next(r for r in plan.of_type("AWS::RDS::DBCluster"))
    assert cluster.name == "prod-database" and cluster.policy == "Snapshot"
    rds = target(plan, moto_url).client("rds")
    rds.create_db_cluster(DBClusterIdentifier="prod-database", Engine="aurora-postgresql", MasterUsername="dbadmin",
                          MasterUserPassword="not-a-real-one-1")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="prod-database", DBClusterSnapshotIdentifier="prod-final")
    rds.create_db_cluster(DBClusterIdentifier="other", Engine="aurora-postgresql", MasterUsername="dbadmin",
                          MasterUserPassword="not-a-real-one-1")
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other", DBClusterSnapshotIdentifier="prod-scratch",
                                   Tags=cfn_tags("prod-Database"))
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other", DBClusterSnapshotIdentifier="not-ours")
    report, items = found(plan, moto_url)
    assert items["prod-final"] == ("db cluster snapshot", "name", "expected", "prod-Database")
    assert items["prod-scratch"] == ("db cluster snapshot", "tag", "orphan", "prod-Database")
    assert "not-ours" not in items


def test_retained_automated_backups_follow_delete_automated_backups(dev_plan, prod_plan, moto_url):
    for plan in (dev_plan, prod_plan):
        aws = target(plan, moto_url)
        writer(aws, f"{plan.env}-database-writer", BackupRetentionPeriod=7)
        aws.client("rds").delete_db_instance(DBInstanceIdentifier=f"{plan.env}-database-writer",
                                             SkipFinalSnapshot=True, DeleteAutomatedBackups=False)
    dev_report, dev_items = found(dev_plan, moto_url)
    prod_report, prod_items = found(prod_plan, moto_url)
    assert dev_items["dev-database-writer"] == ("db automated backup", "name", "orphan", "dev-Database")
    assert prod_items["prod-database-writer"] == ("db automated backup", "name", "expected", "prod-Database")
    assert "RDS deletes them after 14 days" in reason(prod_report, "prod-database-writer")


def test_cache_snapshots_by_the_groups_description(dev_plan, prod_plan, moto_url):
    for plan, name in ((dev_plan, "dev-ca-1x2y3z"), (prod_plan, "prod-ca-4u5v6w")):
        cache = target(plan, moto_url).client("elasticache")
        # CloudFormation invents the group's id; the description is the template's own.
        cache.create_replication_group(ReplicationGroupId=name, ReplicationGroupDescription=f"{plan.env} cache "
                                       "(valkey)", Engine="valkey", CacheNodeType="cache.t4g.micro", NumCacheClusters=2)
        cache.create_snapshot(ReplicationGroupId=name, SnapshotName=f"{name}-final")
        cache.delete_replication_group(ReplicationGroupId=name)
    cache = target(dev_plan, moto_url).client("elasticache")
    cache.create_replication_group(ReplicationGroupId="elsewhere", ReplicationGroupDescription="another app",
                                   Engine="valkey", CacheNodeType="cache.t4g.micro", NumCacheClusters=1)
    cache.create_snapshot(ReplicationGroupId="elsewhere", SnapshotName="dev-cache-by-hand")
    cache.create_snapshot(ReplicationGroupId="elsewhere", SnapshotName="not-ours")
    dev_report, dev_items = found(dev_plan, moto_url)
    _, prod_items = found(prod_plan, moto_url)
    assert dev_items["dev-ca-1x2y3z-final"] == ("cache snapshot", "name", "orphan", "dev-Cache")
    assert dev_items["dev-cache-by-hand"][:3] == ("cache snapshot", "prefix", "orphan")
    assert "not-ours" not in dev_items
    assert prod_items["prod-ca-4u5v6w-final"] == ("cache snapshot", "name", "expected", "prod-Cache")


def test_dynamodb_backups_by_table_name_and_by_a_tagged_tables_arn(dev_plan, prod_plan, moto_url):
    def table(plan, name, tags=()):
        ddb = target(plan, moto_url).client("dynamodb")
        ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk",
                         "KeyType": "HASH"}], AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         Tags=list(tags))
        return ddb.create_backup(TableName=name, BackupName=f"{name}-nightly")["BackupDetails"]["BackupArn"]

    table(dev_plan, "dev-Dynamo-AppTable853824C7-1A2B3C")
    target(dev_plan, moto_url).client("dynamodb").delete_table(TableName="dev-Dynamo-AppTable853824C7-1A2B3C")
    table(prod_plan, "prod-Dynamo-AppTable853824C7-9Z8Y7X", cfn_tags("prod-Dynamo", "AppTable853824C7"))
    # A table renamed by hand but still tagged: its backups belong to prod through its ARN.
    table(prod_plan, "orders-copy", cfn_tags("prod-Dynamo", "AppTable853824C7"))
    dev_report, dev_items = found(dev_plan, moto_url)
    prod_report, prod_items = found(prod_plan, moto_url)
    assert dev_items["dev-Dynamo-AppTable853824C7-1A2B3C-nightly"] == ("dynamodb backup", "name", "orphan",
                                                                      "dev-Dynamo")
    assert prod_items["prod-Dynamo-AppTable853824C7-9Z8Y7X-nightly"] == ("dynamodb backup", "name", "expected",
                                                                        "prod-Dynamo")
    assert prod_items["orders-copy-nightly"] == ("dynamodb backup", "arn", "expected", "prod-Dynamo")
    retained = next(i for i in prod_report.items if i.kind == "dynamodb table" and "9Z8Y7X" in i.id)
    assert (retained.how_found, retained.verdict) == ("tag", "expected")


def test_secrets_pending_deletion(dev_plan, prod_plan, moto_url):
    dev_sm = target(dev_plan, moto_url).client("secretsmanager")
    # Unnamed in the template: CloudFormation names it <LogicalId>-<suffix>; the description names the stack.
    dev_sm.create_secret(Name="SecretA720EF05-AbCdEfGhIjKl", SecretString="{}",
                         Description="Generated by the CDK for stack: dev-Database")
    dev_sm.delete_secret(SecretId="SecretA720EF05-AbCdEfGhIjKl", RecoveryWindowInDays=7)
    dev_sm.create_secret(Name="CacheAuthSecretB5146BA1-MnOpQrStUvWx", SecretString="{}",
                         Tags=cfn_tags("dev-Cache", "CacheAuthSecretB5146BA1"))
    dev_sm.create_secret(Name="SecretA720EF05-OtherEnvSecret", SecretString="{}",
                         Description="Generated by the CDK for stack: staging-Database")
    prod_sm = target(prod_plan, moto_url).client("secretsmanager")
    prod_sm.create_secret(Name="AppSecretFAB5164C-KeptKeptKept", SecretString="{}",
                          Tags=cfn_tags("prod-Database", "AppSecretFAB5164C"))
    prod_sm.create_secret(Name="SecretA720EF05-DeletedByHand", SecretString="{}",
                          Tags=cfn_tags("prod-Database", "SecretA720EF05"))
    prod_sm.delete_secret(SecretId="SecretA720EF05-DeletedByHand", RecoveryWindowInDays=30)
    dev_report, dev_items = found(dev_plan, moto_url)
    prod_report, prod_items = found(prod_plan, moto_url)
    assert dev_items["SecretA720EF05-AbCdEfGhIjKl"] == ("secret", "name", "expected", "dev-Database")
    assert "deletion scheduled on" in reason(dev_report, "SecretA720EF05-AbCdEfGhIjKl")
    assert dev_items["CacheAuthSecretB5146BA1-MnOpQrStUvWx"] == ("secret", "tag", "orphan", "dev-Cache")
    assert "SecretA720EF05-OtherEnvSecret" not in dev_items
    assert prod_items["AppSecretFAB5164C-KeptKeptKept"] == ("secret", "tag", "expected", "prod-Database")
    assert prod_items["SecretA720EF05-DeletedByHand"] == ("secret", "tag", "orphan", "prod-Database")
    assert "aws secretsmanager restore-secret" in reason(prod_report, "SecretA720EF05-DeletedByHand")


def test_kms_keys_pending_deletion(dev_plan, prod_plan, moto_url):
    dev_kms = target(dev_plan, moto_url).client("kms")
    tagged = dev_kms.create_key(Description="Encrypts the secret rotation function log group",
                                Tags=[{"TagKey": STACK_TAG, "TagValue": "dev-Database"}])["KeyMetadata"]["KeyId"]
    described = dev_kms.create_key(Description="Encrypts dev cache (valkey) at rest (nodes and snapshots)")
    described_id = described["KeyMetadata"]["KeyId"]
    alive = dev_kms.create_key(Description="Encrypts dev cache (valkey) at rest (nodes and snapshots)")
    stranger = dev_kms.create_key(Description="Encrypts the secret rotation function log group")
    for key in (tagged, described_id, stranger["KeyMetadata"]["KeyId"]):
        dev_kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    # prod keeps its admin secret, encrypted with a key someone scheduled for deletion: the secret is lost with it.
    prod = target(prod_plan, moto_url)
    doomed = prod.client("kms").create_key(Description="no description of ours")["KeyMetadata"]
    prod.client("secretsmanager").create_secret(Name="SecretA720EF05-KeptKeptKept", SecretString="{}",
                                                KmsKeyId=doomed["Arn"], Tags=cfn_tags("prod-Database",
                                                                                       "SecretA720EF05"))
    prod.client("kms").schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=30)
    dev_report, dev_items = found(dev_plan, moto_url)
    prod_report, prod_items = found(prod_plan, moto_url)
    assert dev_items[tagged] == ("kms key", "tag", "expected", "dev-Database")
    assert dev_items[described_id] == ("kms key", "name", "expected", "dev-Cache")
    assert alive["KeyMetadata"]["KeyId"] not in dev_items and stranger["KeyMetadata"]["KeyId"] not in dev_items
    assert prod_items[doomed["KeyId"]] == ("kms key", "arn", "orphan", "prod-Database")
    assert "kept secret SecretA720EF05-KeptKeptKept is encrypted with it" in reason(prod_report, doomed["KeyId"])
    assert prod_items["SecretA720EF05-KeptKeptKept"][2] == "expected"


def test_log_groups_the_stacks_own_and_those_services_create(dev_plan, prod_plan, moto_url):
    logs = target(dev_plan, moto_url).client("logs")
    logs.create_log_group(logGroupName="/aws/lambda/devDatabaseInstanceWriterRotationSingleUserDE7E4BE1",
                          tags={STACK_TAG: "dev-Database", LOGICAL_ID_TAG: "RotationFunctionLogsLogGroupB697B2B3"})
    logs.create_log_group(logGroupName="/aws/rds/instance/dev-database-writer/error")  # RDS, on first export
    logs.create_log_group(logGroupName="/aws/lambda/dev-Cache-CacheAuthRotationFunction163D-AbCdEf123456")
    logs.create_log_group(logGroupName="dev-Network-FlowLogsLogGroup9853A85F-QwErTy123")
    logs.create_log_group(logGroupName="/aws/rds/cluster/dev-database-old/postgresql")
    logs.create_log_group(logGroupName="/aws/lambda/somebody-else")
    target(prod_plan, moto_url).client("logs").create_log_group(
        logGroupName="/aws/rds/instance/prod-database-replica-1/postgresql")
    target(prod_plan, moto_url).client("logs").create_log_group(
        logGroupName="prod-Network-FlowLogsLogGroup9853A85F-ZxCvBn456")
    dev_report, items = found(dev_plan, moto_url)
    prod_report, prod_items = found(prod_plan, moto_url)
    lg = "log group"
    assert items["/aws/lambda/devDatabaseInstanceWriterRotationSingleUserDE7E4BE1"] == (lg, "tag", "orphan",
                                                                                       "dev-Database")
    assert items["/aws/rds/instance/dev-database-writer/error"] == (lg, "name", "orphan", "dev-Database")
    assert "RDS created it on first use" in reason(dev_report, "/aws/rds/instance/dev-database-writer/error")
    lambda_group = "/aws/lambda/dev-Cache-CacheAuthRotationFunction163D-AbCdEf123456"
    assert items[lambda_group] == (lg, "name", "orphan", "dev-Cache")
    assert "Lambda created it on first use" in reason(dev_report, lambda_group)
    assert items["dev-Network-FlowLogsLogGroup9853A85F-QwErTy123"] == (lg, "name", "orphan", "dev-Network")
    assert reason(dev_report, "dev-Network-FlowLogsLogGroup9853A85F-QwErTy123").startswith("VPC flow logs: ")
    assert items["/aws/rds/cluster/dev-database-old/postgresql"][1:3] == ("prefix", "orphan")
    assert "/aws/lambda/somebody-else" not in items
    assert prod_items["/aws/rds/instance/prod-database-replica-1/postgresql"] == (lg, "name", "expected",
                                                                                 "prod-Database")
    assert prod_items["prod-Network-FlowLogsLogGroup9853A85F-ZxCvBn456"][2] == "expected"


def test_backup_vaults(dev_plan, prod_plan, moto_url):
    target(prod_plan, moto_url).client("backup").create_backup_vault(
        BackupVaultName="prodDatabaseBackupPlanKeyedVaultCE8AF2BA",
        BackupVaultTags={STACK_TAG: "prod-Database", LOGICAL_ID_TAG: "BackupPlanKeyedVaultB1CE348C"})
    target(prod_plan, moto_url).client("backup").create_backup_vault(
        BackupVaultName="prodDynamoBackupPlanKeyedVault3F80FAE5")
    target(dev_plan, moto_url).client("backup").create_backup_vault(BackupVaultName="devDatabaseVaultFromBefore")
    prod_report, prod_items = found(prod_plan, moto_url)
    dev_report, dev_items = found(dev_plan, moto_url)
    assert prod_items["prodDatabaseBackupPlanKeyedVaultCE8AF2BA"] == ("backup vault", "tag", "expected",
                                                                     "prod-Database")
    assert prod_items["prodDynamoBackupPlanKeyedVault3F80FAE5"] == ("backup vault", "name", "expected",
                                                                   "prod-Dynamo")
    assert dev_items["devDatabaseVaultFromBefore"] == ("backup vault", "prefix", "orphan", "dev-Database")
    # moto has no ListRecoveryPointsByBackupVault (it answers 404): the report says those were not checked,
    # and a check with parts unchecked does not pass.
    assert [u.what for u in prod_report.unchecked] == [
        "recovery points of vault prodDatabaseBackupPlanKeyedVaultCE8AF2BA",
        "recovery points of vault prodDynamoBackupPlanKeyedVault3F80FAE5"]
    assert not prod_report.clean


def test_lambda_enis_by_function_name_and_by_the_tagged_vpc(dev_plan, moto_url):
    ec2 = target(dev_plan, moto_url).client("ec2")
    tagged_vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": cfn_tags("dev-Network", "Vpc8378EB38")}])["Vpc"]["VpcId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    tagged_subnet = ec2.create_subnet(VpcId=tagged_vpc, CidrBlock="10.10.1.0/24")["Subnet"]["SubnetId"]
    other_subnet = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.99.1.0/24")["Subnet"]["SubnetId"]
    uid = str(uuid.uuid4())

    def eni(subnet, description):
        return ec2.create_network_interface(SubnetId=subnet, Description=description)["NetworkInterface"][
            "NetworkInterfaceId"]

    by_name = eni(other_subnet, f"AWS Lambda VPC ENI-devDatabaseInstanceWriterRotationSingleUserDE7E4BE1-{uid}")
    generated = eni(other_subnet, f"AWS Lambda VPC ENI-dev-Cache-CacheAuthRotationFunction163D-AbCdEf123456-{uid}")
    in_vpc = eni(tagged_subnet, f"AWS Lambda VPC ENI-renamed-function-{uid}")
    stranger = eni(other_subnet, f"AWS Lambda VPC ENI-somebody-else-{uid}")
    plain = eni(tagged_subnet, "an instance's spare interface")
    report, items = found(dev_plan, moto_url)
    assert items[by_name] == ("network interface", "name", "orphan", "dev-Database")
    assert items[generated] == ("network interface", "name", "orphan", "dev-Cache")
    assert items[in_vpc] == ("network interface", "tag", "orphan", "dev-Network")
    assert stranger not in items and plain not in items
    assert f"subnet {other_subnet}" in reason(report, by_name)


def test_elastic_ips_by_tag_and_by_cdk_name(dev_plan, moto_url):
    ec2 = target(dev_plan, moto_url).client("ec2")

    def eip(tags):
        spec = [{"ResourceType": "elastic-ip", "Tags": tags}] if tags else []
        return ec2.allocate_address(Domain="vpc", TagSpecifications=spec)["AllocationId"]

    tagged = eip(cfn_tags("dev-Network", "VpcpublicSubnet1EIP411541E6"))
    named = eip([{"Key": "Name", "Value": "dev-Network/Vpc/publicSubnet2"}])
    stranger = eip([{"Key": "Name", "Value": "bastion of another team"}])
    report, items = found(dev_plan, moto_url)
    by_alloc = {k.split(" ")[0]: v for k, v in items.items()}
    assert by_alloc[tagged] == ("elastic ip", "tag", "orphan", "dev-Network")
    assert by_alloc[named] == ("elastic ip", "name", "orphan", "dev-Network")
    assert stranger not in by_alloc
    assert "unassociated, billed by the hour" in next(i.reason for i in report.items if i.id.startswith(tagged))


# -- a retaining environment, and the JSON ---------------------------------------------------------

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
