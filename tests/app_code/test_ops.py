"""Teardown verification against a real moto server (backups and restores: test_restore_aws.py)."""

from __future__ import annotations

import json
import uuid

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.ops.teardown import teardown_report
from tests.app_code.conftest import REGION

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
