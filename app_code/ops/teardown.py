"""Teardown verification: what `cdk destroy` left behind of an environment.

It asks the Resource Groups Tagging API for anything still tagged `aws:cloudformation:stack-name = <env>-<Stack>`:
CloudFormation tags every resource it creates that supports tags, and resources kept by a RETAIN or SNAPSHOT
policy keep the tag after the stack is gone.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdk_data_tier.app.endpoints import STACK_SUFFIXES, AwsTarget


@dataclass(frozen=True)
class Leftover:
    kind: str
    name: str
    stack: str


def teardown_report(env: str, aws: AwsTarget) -> list[Leftover]:
    stacks = [f"{env}-{suffix}" for suffix in STACK_SUFFIXES]
    left: list[Leftover] = []
    cfn = aws.client("cloudformation")
    for name in stacks:
        try:
            for stack in cfn.describe_stacks(StackName=name)["Stacks"]:
                if stack["StackStatus"] != "DELETE_COMPLETE":
                    left.append(Leftover("AWS::CloudFormation::Stack", name, f"{name} ({stack['StackStatus']})"))
        except cfn.exceptions.ClientError as exc:
            if "does not exist" not in str(exc):
                raise
    tagging = aws.client("resourcegroupstaggingapi")
    pages = tagging.get_paginator("get_resources").paginate(
        TagFilters=[{"Key": "aws:cloudformation:stack-name", "Values": stacks}])
    for page in pages:
        for res in page["ResourceTagMappingList"]:
            arn = res["ResourceARN"]
            stack = next(t["Value"] for t in res["Tags"] if t["Key"] == "aws:cloudformation:stack-name")
            left.append(Leftover(":".join(arn.split(":")[2:3]) or "unknown", arn, stack))
    return left
