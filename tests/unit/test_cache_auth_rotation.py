"""CacheAuthRotation as CacheReplicationGroup wires it, in a bare Stack."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk.assertions import Template

from cdk_data_tier.constructs.cache_props import CachePropsError
from cdk_data_tier.constructs.cache_replication_group import CacheAuth, CacheReplicationGroup

ENV = cdk.Environment(account="123456789012", region="us-east-1")


def _build(**props: Any) -> tuple[cdk.Stack, CacheReplicationGroup, Template]:
    stack = cdk.Stack(cdk.App(), "Bare", env=ENV)
    vpc = ec2.Vpc(stack, "Vpc", availability_zones=["us-east-1a", "us-east-1b"], nat_gateways=0,
                  subnet_configuration=[ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                                        ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)])
    cache = CacheReplicationGroup(stack, "Cache", vpc=vpc, **props)
    return stack, cache, Template.from_stack(stack)


def _id(stack: cdk.Stack, construct: Any) -> str:
    return stack.get_logical_id(construct.node.default_child)


def _function(template: Template) -> dict[str, Any]:
    (function,) = template.find_resources("AWS::Lambda::Function").values()
    return function["Properties"]


def _statements(template: Template, stack: cdk.Stack, cache: CacheReplicationGroup) -> list[dict[str, Any]]:
    assert cache.auth_rotation is not None
    policy = template.find_resources("AWS::IAM::ManagedPolicy")[_id(stack, cache.auth_rotation.access.policy)]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_auth_token_rotates_every_30_days_by_default_through_a_function_of_its_own() -> None:
    stack, cache, template = _build()
    group_id = _id(stack, cache)
    template.has_resource_properties("AWS::SecretsManager::RotationSchedule", {
        "SecretId": {"Ref": _id(stack, cache.auth_secret)}, "RotationRules": {"ScheduleExpression": "rate(30 days)"}})
    function = _function(template)
    assert function["Environment"]["Variables"]["MODE"] == "auth_token"
    assert function["Environment"]["Variables"]["REPLICATION_GROUP_ID"] == {"Ref": group_id}
    assert function["Runtime"] == "python3.14" and function["ReservedConcurrentExecutions"] == 1
    assert function["Timeout"] == 900 and "KmsKeyArn" in function
    modify = [s for s in _statements(template, stack, cache) if "elasticache:ModifyReplicationGroup" in s["Action"]]
    (statement,) = modify
    assert statement["Resource"] == {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"},
                                                       ":elasticache:us-east-1:123456789012:replicationgroup:",
                                                       {"Ref": group_id}]]}


def test_rbac_rotates_the_app_users_password_not_the_group() -> None:
    stack, cache, template = _build(auth=CacheAuth.rbac(username="app"))
    users = template.find_resources("AWS::ElastiCache::User", {"Properties": {"UserName": "app"}})
    (user_id,) = users
    variables = _function(template)["Environment"]["Variables"]
    assert variables["MODE"] == "rbac" and variables["USER_ID"] == {"Ref": user_id}
    assert "REPLICATION_GROUP_ID" not in variables
    actions = {a for s in _statements(template, stack, cache) for a in ([s["Action"]] if isinstance(
        s["Action"], str) else s["Action"]) if a.startswith("elasticache:")}
    assert actions == {"elasticache:DescribeUsers", "elasticache:ModifyUser"}


def test_the_function_reaches_only_its_own_private_endpoints() -> None:
    stack, cache, template = _build()
    assert cache.auth_rotation is not None
    rotation_sg = _id(stack, cache.auth_rotation.security_group)
    endpoints = template.find_resources("AWS::EC2::VPCEndpoint")
    assert sorted(e["Properties"]["ServiceName"] for e in endpoints.values()) == [
        "com.amazonaws.us-east-1.elasticache", "com.amazonaws.us-east-1.secretsmanager"]
    assert all(e["Properties"]["PrivateDnsEnabled"] is False for e in endpoints.values())
    egress = [r["Properties"] for r in template.find_resources("AWS::EC2::SecurityGroupEgress").values()
              if r["Properties"]["GroupId"] == {"Fn::GetAtt": [rotation_sg, "GroupId"]}]
    assert len(egress) == 2 and all((r["FromPort"], r["ToPort"]) == (443, 443) for r in egress)
    endpoint_sgs = {sg["Fn::GetAtt"][0] for e in endpoints.values() for sg in e["Properties"]["SecurityGroupIds"]}
    assert {r["DestinationSecurityGroupId"]["Fn::GetAtt"][0] for r in egress} == endpoint_sgs
    variables = _function(template)["Environment"]["Variables"]
    assert {"SECRETS_MANAGER_ENDPOINT", "ELASTICACHE_ENDPOINT"} <= set(variables)
    vpc_config = _function(template)["VpcConfig"]
    assert len(vpc_config["SubnetIds"]) == 2
    assert all("dataSubnet" in s["Ref"] for s in vpc_config["SubnetIds"])


def test_only_this_secret_may_invoke_the_function_and_every_grant_is_a_managed_policy() -> None:
    stack, cache, template = _build()
    (permission,) = template.find_resources("AWS::Lambda::Permission").values()
    assert permission["Properties"]["Principal"] == "secretsmanager.amazonaws.com"
    assert permission["Properties"]["SourceAccount"] == "123456789012"
    assert permission["Properties"]["SourceArn"] == {"Ref": _id(stack, cache.auth_secret)}
    assert template.find_resources("AWS::IAM::Policy") == {}
    role = template.find_resources("AWS::IAM::Role")
    assert all("ManagedPolicyArns" not in r["Properties"] and "Policies" not in r["Properties"]
               for r in role.values())
    wildcards = [s for s in _statements(template, stack, cache) if s["Resource"] == "*"]
    assert wildcards == [{"Action": ["secretsmanager:GetRandomPassword", "ec2:DescribeNetworkInterfaces",
                                     "ec2:DescribeSubnets"], "Effect": "Allow", "Resource": "*"}]


def test_rotation_can_be_tuned_or_turned_off_and_is_absent_without_auth() -> None:
    _, _, template = _build(auth_rotation_days=7)
    template.has_resource_properties("AWS::SecretsManager::RotationSchedule",
                                     {"RotationRules": {"ScheduleExpression": "rate(7 days)"}})
    for props in ({"auth_rotation_days": None}, {"auth": CacheAuth.none(), "transit_encryption": False}):
        _, cache, template = _build(**props)
        assert cache.auth_rotation is None
        assert template.find_resources("AWS::Lambda::Function") == {}
        assert template.find_resources("AWS::SecretsManager::RotationSchedule") == {}


@pytest.mark.parametrize("days", [0, 366, -1])
def test_rotation_days_out_of_range_is_one_clear_error(days: int) -> None:
    with pytest.raises(CachePropsError, match=f"auth_rotation_days={days} is not allowed: 1 to 365"):
        _build(auth_rotation_days=days)
