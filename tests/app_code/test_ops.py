"""Backups, point-in-time restore and teardown verification against a real moto server."""

from __future__ import annotations

import json
import uuid

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops.backup import backup
from cdk_data_tier.app.ops.restore import restore_table_to_latest
from cdk_data_tier.app.ops.teardown import teardown_report
from tests.app_code.conftest import REGION, cdk_outputs

STACK_TAG = "aws:cloudformation:stack-name"


def test_teardown_check_lists_what_a_stack_left_behind(aws):
    env = f"t{uuid.uuid4().hex[:6]}"
    assert teardown_report(env, aws) == []
    # What a RETAIN policy leaves: the resource, still tagged by CloudFormation with its stack's name.
    arn = aws.client("dynamodb").create_table(
        TableName=f"{env}-catalog", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        Tags=[{"Key": STACK_TAG, "Value": f"{env}-Dynamo"}])["TableDescription"]["TableArn"]
    aws.client("cloudformation").create_stack(StackName=f"{env}-Network", TemplateBody=json.dumps(
        {"Resources": {"P": {"Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x", "Name": f"/{env}/marker"}}}}))
    left = {(item.kind, item.name, item.stack) for item in teardown_report(env, aws)}
    assert ("dynamodb", arn, f"{env}-Dynamo") in left
    assert ("AWS::CloudFormation::Stack", f"{env}-Network", f"{env}-Network (CREATE_COMPLETE)") in left


def test_the_cli_exit_code_says_whether_anything_is_left(moto_url, monkeypatch):
    env = f"t{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    assert main(["ops", "teardown-check", "--env", env, "--region", REGION]) == 0
    from cdk_data_tier.app.endpoints import AwsTarget

    AwsTarget(region=REGION, endpoint_url=moto_url).client("secretsmanager").create_secret(
        Name=f"{env}-db", SecretString="{}", Tags=[{"Key": STACK_TAG, "Value": f"{env}-Database"}])
    assert main(["ops", "teardown-check", "--env", env, "--region", REGION]) == 1


def test_backup_and_point_in_time_restore_of_the_table(aws, outputs_file):
    env = f"t{uuid.uuid4().hex[:6]}"
    ddb, rds = aws.client("dynamodb"), aws.client("rds")
    table = f"{env}-catalog"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    ddb.update_continuous_backups(TableName=table,
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.put_item(TableName=table, Item={"pk": {"S": "PRODUCT#1"}})
    rds.create_db_instance(DBInstanceIdentifier=f"{env}-primary", Engine="postgres", DBInstanceClass="db.t3.micro",
                           MasterUsername="dbadmin", MasterUserPassword="not-a-real-one-1", AllocatedStorage=20)
    data = cdk_outputs(env, Dynamo={"TableName": table},
                       Database={"WriterEndpoint": f"{env}-primary.c9akciq32.{REGION}.rds.amazonaws.com"})
    endpoints = Endpoints.from_outputs_file(outputs_file(data))
    endpoints.aws = aws
    made = {b.what: b for b in backup(endpoints, label="nightly")}
    assert made["dynamodb backup"].id.startswith(f"arn:aws:dynamodb:{REGION}:") and \
        made["dynamodb backup"].detail == "PITR ENABLED"
    assert made["rds snapshot"].id == f"{env}-primary-nightly"
    assert rds.describe_db_snapshots(DBSnapshotIdentifier=f"{env}-primary-nightly")["DBSnapshots"]
    restored = restore_table_to_latest(endpoints, f"{table}-restored")
    assert restored["TableStatus"] == "ACTIVE"
    assert ddb.get_item(TableName=f"{table}-restored", Key={"pk": {"S": "PRODUCT#1"}}).get("Item")
