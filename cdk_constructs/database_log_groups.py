"""The CloudWatch log groups that RDS exports engine logs into, created before the database.

RDS writes to `/aws/rds/instance/<id>/<type>` (or `/aws/rds/cluster/<id>/<type>`) and creates the group
itself when it is missing: unencrypted, never expiring, and left behind by `cdk destroy`. Declaring the
groups here, with fixed database identifiers so their names are known before deploy, makes them
KMS-encrypted, retained for the configured days, and removed with the stack when that is the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from aws_cdk import ArnFormat, CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_data_tier.constructs.cfn_resource import cfn_resource


class DatabaseLogGroups(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kind: Literal["instance", "cluster"],
        identifiers: Sequence[str],
        log_types: Sequence[str],
        retention: logs.RetentionDays,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(self, "Key", description="Encrypts the exported database logs", enable_key_rotation=True,
                           removal_policy=removal_policy)
        # CloudWatch Logs uses the key on the service's behalf, and only for this database's log groups.
        self.key.add_to_resource_policy(iam.PolicyStatement(
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [stack.format_arn(
                service="logs", resource="log-group", resource_name=f"/aws/rds/{kind}/{identifier}/*",
                arn_format=ArnFormat.COLON_RESOURCE_NAME) for identifier in identifiers]}},
        ))
        self.log_groups: dict[str, logs.LogGroup] = {}
        for i, identifier in enumerate(identifiers):
            for log_type in log_types:
                name = f"/aws/rds/{kind}/{identifier}/{log_type}"
                self.log_groups[name] = logs.LogGroup(
                    self, f"{i}{log_type.title()}", log_group_name=name, retention=retention,
                    encryption_key=self.key, removal_policy=removal_policy)

    def before(self, *databases: Construct) -> None:
        """RDS must find the groups already there, and CloudFormation must delete them after the database.

        Only the database resources themselves wait: their children (the rotation application) need not.
        """
        for database in databases:
            resource = database.node.default_child
            assert isinstance(resource, CfnResource)
            for group in self.log_groups.values():
                resource.add_resource_dependency(cfn_resource(group))
