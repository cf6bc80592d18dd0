"""A CloudWatch Logs group encrypted with its own rotating customer-managed KMS key."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct


class EncryptedLogGroup(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
        description: str,
        key: kms.IKey | None = None,
        log_group_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        region = Stack.of(self).region
        if key is None:
            key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the {description} log group",
                enable_key_rotation=True,
                removal_policy=removal_policy,
            )
            # CloudWatch Logs encrypts with the key on the service's behalf, so the key policy must name it.
            key.add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                    principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                    resources=["*"],
                )
            )
        self.key = key
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=log_group_name,
            retention=retention,
            encryption_key=key,
            removal_policy=removal_policy,
        )
        cfn_log_group = self.log_group.node.default_child
        assert isinstance(cfn_log_group, logs.CfnLogGroup)
        self.cfn_log_group = cfn_log_group
