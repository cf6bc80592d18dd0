"""PrivateRotation in a bare Stack: rotation from isolated subnets, through a private Secrets Manager endpoint."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk.assertions import Template

from cdk_data_tier.constructs.private_rotation import PrivateRotation
from tests.unit.database_fixtures import ISOLATED, scaffold


def _template() -> tuple[cdk.Stack, PrivateRotation, Template]:
    s = scaffold()
    instance = rds.DatabaseInstance(
        s.stack, "Db", engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9),
        vpc=s.vpc, vpc_subnets=ISOLATED, port=5433, security_groups=[s.security_group],
        credentials=rds.Credentials.from_secret(s.secret, "dbadmin"), instance_type=ec2.InstanceType("t4g.medium"))
    rotation = PrivateRotation(s.stack, "Rotation", target=instance, port=5433, vpc=s.vpc, subnets=ISOLATED,
                               every=cdk.Duration.days(30), log_retention=logs.RetentionDays.ONE_MONTH,
                               removal_policy=cdk.RemovalPolicy.DESTROY)
    return s.stack, rotation, Template.from_stack(s.stack)


def _sg(stack: cdk.Stack, sg: ec2.ISecurityGroup) -> str:
    return stack.get_logical_id(sg.node.default_child)


def test_rotation_runs_every_30_days_through_the_private_endpoint() -> None:
    stack, rotation, template = _template()
    template.has_resource_properties("AWS::SecretsManager::RotationSchedule", {
        "RotationRules": {"ScheduleExpression": "rate(30 days)"}})
    template.has_resource_properties("AWS::EC2::VPCEndpoint", {
        "ServiceName": "com.amazonaws.us-east-1.secretsmanager", "PrivateDnsEnabled": False,
        "VpcEndpointType": "Interface"})
    (app,) = template.find_resources("AWS::Serverless::Application").values()
    params = app["Properties"]["Parameters"]
    assert params["endpoint"]["Fn::Join"][1][1] == {"Ref": stack.get_logical_id(rotation.endpoint.node.default_child)}
    assert params["vpcSecurityGroupIds"] == {"Fn::GetAtt": [_sg(stack, rotation.security_group), "GroupId"]}
    assert "kmsKeyArn" in params


def test_security_groups_open_only_what_rotation_needs_with_literal_ports() -> None:
    stack, rotation, template = _template()
    rotation_sg = _sg(stack, rotation.security_group)
    ingress = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupIngress").values()]
    egress = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()]
    from_rotation = sorted(r["FromPort"] for r in ingress
                           if r["SourceSecurityGroupId"] == {"Fn::GetAtt": [rotation_sg, "GroupId"]})
    assert from_rotation == [443, 5433]
    assert sorted((r["FromPort"], r["ToPort"]) for r in egress
                  if r["GroupId"] == {"Fn::GetAtt": [rotation_sg, "GroupId"]}) == [(443, 443), (5433, 5433)]
    rotation_group = template.find_resources("AWS::EC2::SecurityGroup")[rotation_sg]["Properties"]
    assert "0.0.0.0/0" not in str(rotation_group)


def test_function_log_group_is_declared_encrypted_before_the_function() -> None:
    stack, rotation, template = _template()
    (app_id, app), = template.find_resources("AWS::Serverless::Application").items()
    name = app["Properties"]["Parameters"]["functionName"]
    groups = template.find_resources("AWS::Logs::LogGroup", {"Properties": {"LogGroupName": f"/aws/lambda/{name}"}})
    (group_id, group), = groups.items()
    assert "KmsKeyId" in group["Properties"] and group["Properties"]["RetentionInDays"] == 30
    assert group_id in app["DependsOn"]


def test_an_app_user_secret_rotates_multi_user_with_the_admin_as_master() -> None:
    s = scaffold()
    instance = rds.DatabaseInstance(
        s.stack, "Db", engine=rds.DatabaseInstanceEngine.postgres(version=rds.PostgresEngineVersion.VER_17_9),
        vpc=s.vpc, vpc_subnets=ISOLATED, port=5433, security_groups=[s.security_group],
        credentials=rds.Credentials.from_secret(s.secret, "dbadmin"), instance_type=ec2.InstanceType("t4g.medium"))
    app_secret = rds.DatabaseSecret(s.stack, "AppSecret", username="app", encryption_key=s.key, master_secret=s.secret)
    PrivateRotation(s.stack, "Rotation", target=instance, port=5433, vpc=s.vpc, subnets=ISOLATED,
                    every=cdk.Duration.days(30), log_retention=logs.RetentionDays.ONE_MONTH,
                    removal_policy=cdk.RemovalPolicy.DESTROY, user_secrets={"AppUser": app_secret.attach(instance)})
    template = Template.from_stack(s.stack)
    apps = template.find_resources("AWS::Serverless::Application")
    assert len(apps) == 2
    (multi,) = [a for a in apps.values() if "masterSecretArn" in a["Properties"]["Parameters"]]
    admin_attachment = s.stack.get_logical_id(instance.secret.node.default_child)  # type: ignore[union-attr]
    assert multi["Properties"]["Parameters"]["masterSecretArn"] == {"Ref": admin_attachment}
    schedules = template.find_resources("AWS::SecretsManager::RotationSchedule")
    assert sorted(v["Properties"]["SecretId"]["Ref"].split("Attachment")[0] for v in schedules.values()) == \
        ["AppSecret", "Secret"]
    # Each function has its declared, encrypted log group.
    for app in apps.values():
        name = app["Properties"]["Parameters"]["functionName"]
        assert template.find_resources("AWS::Logs::LogGroup", {"Properties": {"LogGroupName": f"/aws/lambda/{name}"}})
