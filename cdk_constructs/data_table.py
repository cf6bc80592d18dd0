"""A production DynamoDB table (TableV2): PITR always on; deletion protection and retention unless told otherwise."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

# TableV2.grant_read_write_data's actions, on the table and its indexes.
_DATA_ACTIONS = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                 "dynamodb:DeleteItem", "dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:GetRecords",
                 "dynamodb:GetShardIterator", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
                 "dynamodb:UpdateItem"]
_KEY_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


class DataTable(Construct):
    """PITR has no off switch: a table that cannot be restored to a point in time is not production data.

    `table` is the TableV2 (grant and metric methods live there); `gsi_names` and `lsi_names` keep
    the declaration order, which is the order the endpoints contract lists them in.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        partition_key: dynamodb.Attribute,
        sort_key: dynamodb.Attribute | None = None,
        global_secondary_indexes: Sequence[dynamodb.GlobalSecondaryIndexPropsV2] = (),
        local_secondary_indexes: Sequence[dynamodb.LocalSecondaryIndexProps] = (),
        billing: dynamodb.Billing | None = None,
        pitr_recovery_days: int = 35,
        time_to_live_attribute: str | None = None,
        stream: dynamodb.StreamViewType | None = None,
        encryption_key: kms.IKey | None = None,
        deletion_protection: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.TableV2(
            self,
            "Table",
            partition_key=partition_key,
            sort_key=sort_key,
            global_secondary_indexes=list(global_secondary_indexes) or None,
            local_secondary_indexes=list(local_secondary_indexes) or None,
            billing=billing or dynamodb.Billing.on_demand(),
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True, recovery_period_in_days=pitr_recovery_days),
            time_to_live_attribute=time_to_live_attribute,
            dynamo_stream=stream,
            encryption=(dynamodb.TableEncryptionV2.customer_managed_key(encryption_key) if encryption_key
                        else dynamodb.TableEncryptionV2.dynamo_owned_key()),
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        self.gsi_names = [g.index_name for g in global_secondary_indexes]
        self.lsi_names = [i.index_name for i in local_secondary_indexes]
        self._key = encryption_key

    def grant_read_write_data(self, grantee: iam.IGrantable) -> None:
        """What TableV2.grant_read_write_data grants, except that the table's key works only through DynamoDB:
        the same role cannot take it elsewhere to decrypt or encrypt something else."""
        arns = [self.table.table_arn]
        if self.gsi_names or self.lsi_names:
            arns.append(f"{self.table.table_arn}/index/*")
        iam.Grant.add_to_principal(grantee=grantee, actions=_DATA_ACTIONS, resource_arns=arns)
        if self._key is not None:
            via = f"dynamodb.{Stack.of(self).region}.amazonaws.com"
            iam.Grant.add_to_principal(grantee=grantee, actions=_KEY_ACTIONS, resource_arns=[self._key.key_arn],
                                       conditions={"StringEquals": {"kms:ViaService": via}})
