"""`<env>-Dynamo`: the application table, its indexes and alarms; the app host may read and write it."""

from __future__ import annotations

from typing import Any, cast

from aws_cdk import Acknowledgment, CfnElement, CfnOutput, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_backup as backup
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic
from cdk_data_tier.constructs.backup_plan import BackupPlan
from cdk_data_tier.constructs.data_table import DataTable
from cdk_data_tier.constructs.local_grantee import LocalGrantee
from cdk_data_tier.constructs.table_alarms import CapacityCeiling, TableAlarms
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.dynamo_config import AutoscaledCapacity, DynamoConfig, KeyAttribute
from cdk_data_tier.stacks.network_stack import NetworkStack

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}


def _attr(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def _maybe_attr(key: KeyAttribute | None) -> dynamodb.Attribute | None:
    return _attr(key) if key else None


def _billing(cfg: DynamoConfig) -> dynamodb.Billing:
    if cfg.billing == "on_demand":
        return dynamodb.Billing.on_demand()
    assert cfg.read_capacity and cfg.write_capacity  # DynamoConfig requires both when billing is provisioned
    return dynamodb.Billing.provisioned(read_capacity=_autoscaled(cfg.read_capacity),
                                        write_capacity=_autoscaled(cfg.write_capacity))


def _autoscaled(cap: AutoscaledCapacity) -> dynamodb.Capacity:
    return dynamodb.Capacity.autoscaled(min_capacity=cap.min, max_capacity=cap.max,
                                        target_utilization_percent=cap.target_utilization)


def _maybe_autoscaled(cap: AutoscaledCapacity | None) -> dynamodb.Capacity | None:
    return _autoscaled(cap) if cap else None


def _ceilings(cfg: DynamoConfig) -> dict[str | None, CapacityCeiling]:
    """The autoscaling maxima of the table and of each GSI (which inherits the table's unless it sets its own)."""
    if cfg.billing == "on_demand":
        return {}
    assert cfg.read_capacity and cfg.write_capacity
    ceilings: dict[str | None, CapacityCeiling] = {
        None: CapacityCeiling(read_units=cfg.read_capacity.max, write_units=cfg.write_capacity.max)}
    for g in cfg.gsis:
        ceilings[g.name] = CapacityCeiling(read_units=(g.read_capacity or cfg.read_capacity).max,
                                           write_units=(g.write_capacity or cfg.write_capacity).max)
    return ceilings


class DynamoStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, network: NetworkStack,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config.dynamo
        # EnvConfig has resolved both from the environment's removal unless the config set them.
        assert cfg.removal is not None and cfg.deletion_protection is not None
        removal = RemovalPolicy.RETAIN if cfg.removal == "retain" else RemovalPolicy.DESTROY
        key = None
        if cfg.encryption == "customer_managed":
            key = kms.Key(self, "TableKey", description="Encrypts the application table", enable_key_rotation=True,
                          removal_policy=removal)

        self.table = DataTable(
            self,
            "App",
            partition_key=_attr(cfg.partition_key),
            sort_key=_maybe_attr(cfg.sort_key),
            global_secondary_indexes=[
                dynamodb.GlobalSecondaryIndexPropsV2(
                    index_name=g.name, partition_key=_attr(g.partition_key), sort_key=_maybe_attr(g.sort_key),
                    projection_type=dynamodb.ProjectionType(g.projection),
                    non_key_attributes=list(g.non_key_attributes) or None,
                    # Unset, TableV2 gives the GSI the table's autoscaling.
                    read_capacity=_maybe_autoscaled(g.read_capacity),
                    write_capacity=_maybe_autoscaled(g.write_capacity),
                )
                for g in cfg.gsis
            ],
            local_secondary_indexes=[
                dynamodb.LocalSecondaryIndexProps(
                    index_name=i.name, sort_key=_attr(i.sort_key),
                    projection_type=dynamodb.ProjectionType(i.projection),
                    non_key_attributes=list(i.non_key_attributes) or None)
                for i in cfg.lsis
            ],
            billing=_billing(cfg),
            pitr_recovery_days=cfg.pitr_recovery_days,
            time_to_live_attribute=cfg.ttl_attribute,
            stream=dynamodb.StreamViewType(cfg.stream) if cfg.stream else None,
            encryption_key=key,
            deletion_protection=cfg.deletion_protection,
            removal_policy=removal,
        )
        table = self.table.table

        if cfg.backup_plan_retention_days:
            BackupPlan(self, "BackupPlan", resources=[backup.BackupResource.from_arn(table.table_arn)],
                       description=f"{config.name} table", retention=Duration.days(cfg.backup_plan_retention_days),
                       start_hour_utc=cfg.backup_plan_start_hour_utc, selection_name="Table")

        topic = AlarmTopic(self, "Alarms", description=f"{config.name} DynamoDB", removal_policy=removal,
                           emails=config.notifications.emails, https_urls=config.notifications.https_urls)
        self.alarms = TableAlarms(self, "TableAlarms", table=table, throttle_threshold=cfg.throttle_alarm_threshold,
                                  ceilings=_ceilings(cfg), capacity_percent=cfg.capacity_alarm_percent)
        topic.notify(*self.alarms.alarms)

        grantee = LocalGrantee(self, "AppHostAccess", role=network.app_role, description="app_code's table access")
        self.table.grant_read_write_data(grantee)
        self._acknowledge_grant(grantee, has_indexes=bool(cfg.gsis or cfg.lsis), has_key=key is not None)

        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "TableArn", value=table.table_arn)
        CfnOutput(self, "PartitionKey", value=cfg.partition_key.name)
        # CloudFormation rejects empty output values, so absent means "none".
        if cfg.sort_key:
            CfnOutput(self, "SortKey", value=cfg.sort_key.name)
        if self.table.gsi_names:
            CfnOutput(self, "GsiNames", value=",".join(self.table.gsi_names))
        if self.table.lsi_names:
            CfnOutput(self, "LsiNames", value=",".join(self.table.lsi_names))
        # TableV2 hands out a StreamArn attribute even with no stream, so config decides.
        stream_arn = table.table_stream_arn if cfg.stream else None
        if stream_arn:
            CfnOutput(self, "StreamArn", value=stream_arn)

    def _acknowledge_grant(self, grantee: LocalGrantee, *, has_indexes: bool, has_key: bool) -> None:
        acks = []
        if has_indexes:
            table_id = self.get_logical_id(cast(CfnElement, self.table.table.node.default_child))
            acks.append(Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
                reason="Rule is wrong here: the wildcard covers only the indexes of this one table, as "
                "grant_read_write_data scopes it; app_code queries every index, and no other table is reachable.",
            ))
        if has_key:
            acks += [Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Action::kms:{action}*]",
                reason="Rule is wrong here: the grant's action wildcard only spans the variants of one KMS "
                "operation (e.g. GenerateDataKeyWithoutPlaintext), on the table's own key and no other.",
            ) for action in ("GenerateDataKey", "ReEncrypt")]
        if acks:
            Validations.of(grantee).acknowledge(*acks)

