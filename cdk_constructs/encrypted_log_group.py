"""A CloudWatch Logs group encrypted with a rotating customer-managed KMS key (its own, or a shared one).

CloudWatch Logs encrypts with the key on the service's behalf, so the key policy must name the service; the
grant holds only under the encryption context of this one group (`kms:EncryptionContext:aws:logs:arn`). A
named group is named exactly; an unnamed one by the name CloudFormation generates for it,
`<stack name>-<logical ID>-<random suffix>`, so no other group of the account can use the key either.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
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
        """key: a key to share (another EncryptedLogGroup's); this group adds its own grant to its policy."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if key is None:
            key = kms.Key(
                self,
                "Key",
                description=f"Encrypts the {description} log group",
                enable_key_rotation=True,
                removal_policy=removal_policy,
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
        name = log_group_name or f"{stack.stack_name}-{stack.get_logical_id(cfn_log_group)}-*"
        key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                    service="logs", resource="log-group", resource_name=name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME)}},
            )
        )
