"""Policies for the VPC's S3 and DynamoDB gateway endpoints: this account's resources, plus what AWS hosts for us.

A gateway endpoint's default policy lets anything in the VPC reach any bucket or table of any account, which
is also the way out for data copied with someone else's credentials. Scoped to this account, the endpoints
still have to admit the AWS-owned buckets that the hosts read as anonymous or cross-account clients: the
Amazon Linux 2023 repositories that dnf installs from, and the buckets SSM Agent and Patch Manager download
documents, agent updates and patch baseline snapshots from. In a region S3 traffic from the VPC takes the
endpoint whether or not there is a NAT gateway, so these exceptions are what keeps patching working.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

# "SSM Agent communications with AWS managed S3 buckets" and "Amazon S3 buckets for patching operations"
# in the Systems Manager user guide; the Windows- and macOS-only buckets are left out.
_SSM_BUCKETS = ("aws-ssm-{region}", "amazon-ssm-{region}", "amazon-ssm-packages-{region}", "{region}-birdwatcher-prod",
                "aws-ssm-document-attachments-{region}", "patch-baseline-snapshot-{region}",
                "aws-patch-manager-{region}-*")
# The AL2023 repository bucket ends in a fixed suffix per partition (al2023-repos-<region>-de612dc2 in aws).
_AL2023_REPOS = "al2023-repos-{region}-*"
# DynamoDB actions that name no table: listing, and the limits/endpoint calls the SDKs make.
_DYNAMODB_UNSCOPED = ("dynamodb:ListTables", "dynamodb:ListBackups", "dynamodb:ListExports", "dynamodb:ListImports",
                      "dynamodb:DescribeLimits", "dynamodb:DescribeEndpoints")


def ssm_agent_buckets(region: str) -> list[str]:
    return [bucket.format(region=region) for bucket in _SSM_BUCKETS]


def s3_endpoint_statements(*, account: str, region: str, partition: str = "aws") -> list[iam.PolicyStatement]:
    aws_owned = [f"arn:{partition}:s3:::{bucket}/*"
                 for bucket in (_AL2023_REPOS.format(region=region), *ssm_agent_buckets(region))]
    return [
        iam.PolicyStatement(sid="ThisAccountsBuckets", principals=[iam.AnyPrincipal()], actions=["s3:*"],
                            resources=["*"], conditions={"StringEquals": {"aws:ResourceAccount": account}}),
        iam.PolicyStatement(sid="AmazonLinuxAndSystemsManagerBuckets", principals=[iam.AnyPrincipal()],
                            actions=["s3:GetObject"], resources=aws_owned),
    ]


def dynamodb_endpoint_statements(*, account: str, region: str, partition: str = "aws") -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(sid="ThisAccountsTables", principals=[iam.AnyPrincipal()], actions=["dynamodb:*"],
                            resources=[f"arn:{partition}:dynamodb:{region}:{account}:*"]),
        iam.PolicyStatement(sid="CallsNamingNoTable", principals=[iam.AnyPrincipal()],
                            actions=list(_DYNAMODB_UNSCOPED), resources=["*"]),
    ]
