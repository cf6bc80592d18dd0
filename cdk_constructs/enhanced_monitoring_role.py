"""The role RDS enhanced monitoring assumes to publish OS metrics, scoped to the one log group it writes.

CDK's default attaches the AWS managed AmazonRDSEnhancedMonitoringRole, which allows every `RDS*`
log group in every region; this customer-managed policy allows only `RDSOSMetrics` in this region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Acknowledgment, ArnFormat, Stack, Token, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct


class EnhancedMonitoringRole(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, instance_identifiers: Sequence[str]) -> None:
        """instance_identifiers: the DB instances that publish through this role (and no others may)."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not instance_identifiers:
            raise ValueError("instance_identifiers=[] is not allowed: name the instances that use the role")

        def log_group(name: str) -> str:
            return stack.format_arn(service="logs", resource="log-group", resource_name=name,
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)

        streams = log_group("RDSOSMetrics:log-stream:*")
        # Confused deputy: only RDS acting for these instances of this account may assume the role.
        instances = [stack.format_arn(service="rds", resource="db", resource_name=identifier,
                                      arn_format=ArnFormat.COLON_RESOURCE_NAME) for identifier in instance_identifiers]
        self.role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("monitoring.rds.amazonaws.com", conditions={
            "StringEquals": {"aws:SourceAccount": stack.account}, "ArnLike": {"aws:SourceArn": instances}}),
                             description="RDS enhanced monitoring publishes OS metrics to RDSOSMetrics")
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="RDS enhanced monitoring: the RDSOSMetrics log group only",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(actions=["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                                    resources=[log_group("RDSOSMetrics")]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
                             "logs:GetLogEvents"],
                    resources=[streams]),
            ],
        )
        # The finding names the resource the way cdk-nag renders it: pseudo parameters as <AWS::...>.
        rendered = ":".join(f"<{token}>" if Token.is_unresolved(value) else value for value, token in (
            ("arn", ""), (stack.partition, "AWS::Partition"), ("logs", ""), (stack.region, "AWS::Region"),
            (stack.account, "AWS::AccountId")))
        Validations.of(self.policy).acknowledge(Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{rendered}:log-group:RDSOSMetrics:log-stream:*]",
            reason="Rule is wrong here: enhanced monitoring names one stream per instance after its resource ID, "
            "which exists only after deploy; the wildcard stays inside the RDSOSMetrics log group.",
        ))
