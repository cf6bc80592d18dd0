"""`<env>-Dynamo`: the application table, its indexes and alarms; the app host may read and write it."""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic
from cdk_constructs.data_table import CapacityCeiling, DataTable
from cdk_constructs.local_grantee import LocalGrantee
from stacks.config import EnvConfig
from stacks.dynamo_config import AutoscaledCapacity, KeyAttribute
from stacks.network_stack import NetworkStack


def _attr(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=dynamodb.AttributeType(
        {"S": "STRING", "N": "NUMBER", "B": "BINARY"}[key.type]))


def _autoscaled(cap: AutoscaledCapacity | None) -> dynamodb.Capacity | None:
    if cap is None:
        return None
    return dynamodb.Capacity.autoscaled(min_capacity=cap.min, max_capacity=cap.max,
                                        target_utilization_percent=cap.target_utilization)


class DynamoStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: EnvConfig, network: NetworkStack,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        cfg = config.dynamo
        removal = RemovalPolicy.RETAIN if cfg.removal == "retain" else RemovalPolicy.DESTROY
        key = None
        if cfg.encryption == "customer_managed":
            key = kms.Key(self, "TableKey", description="Encrypts the application table", enable_key_rotation=True,
                          removal_policy=removal)
        billing = dynamodb.Billing.on_demand()
        ceiling = None
        if cfg.billing == "provisioned":
            assert cfg.read_capacity and cfg.write_capacity  # guaranteed by DynamoConfig
            billing = dynamodb.Billing.provisioned(read_capacity=_autoscaled(cfg.read_capacity),
                                                   write_capacity=_autoscaled(cfg.write_capacity))
            ceiling = CapacityCeiling(cfg.read_capacity.max, cfg.write_capacity.max, cfg.capacity_alarm_percent)
        gsis = [
            dynamodb.GlobalSecondaryIndexPropsV2(
                index_name=g.name, partition_key=_attr(g.partition_key),
                sort_key=_attr(g.sort_key) if g.sort_key else None,
                projection_type=dynamodb.ProjectionType(g.projection),
                non_key_attributes=list(g.non_key_attributes) or None,
                # Provisioned tables give every GSI its own autoscaling; it defaults to the table's.
                read_capacity=_autoscaled(g.read_capacity or cfg.read_capacity) if cfg.billing == "provisioned"
                else None,
                write_capacity=_autoscaled(g.write_capacity or cfg.write_capacity) if cfg.billing == "provisioned"
                else None,
            )
            for g in cfg.gsis
        ]
        lsis = [
            dynamodb.LocalSecondaryIndexProps(
                index_name=i.name, sort_key=_attr(i.sort_key), projection_type=dynamodb.ProjectionType(i.projection),
                non_key_attributes=list(i.non_key_attributes) or None)
            for i in cfg.lsis
        ]
        alarms = AlarmTopic(self, "Alarms", description=f"{config.name} DynamoDB", removal_policy=removal)
        self.table = DataTable(
            self,
            "App",
            partition_key=_attr(cfg.partition_key),
            sort_key=_attr(cfg.sort_key) if cfg.sort_key else None,
            global_secondary_indexes=gsis,
            local_secondary_indexes=lsis,
            billing=billing,
            pitr_recovery_days=cfg.pitr_recovery_days,
            time_to_live_attribute=cfg.ttl_attribute,
            stream=dynamodb.StreamViewType(cfg.stream) if cfg.stream else None,
            encryption_key=key,
            deletion_protection=cfg.deletion_protection,
            removal_policy=removal,
            alarm_topic=alarms,
            throttle_alarm_threshold=cfg.throttle_alarm_threshold,
            capacity_ceiling=ceiling,
        )
        grantee = LocalGrantee(self, "AppHostAccess", role=network.app_role, description="app_code's table access")
        self.table.table.grant_read_write_data(grantee)
        table_id = self.get_logical_id(self.table.table.node.default_child)
        Validations.of(grantee).acknowledge(Acknowledgment(
            id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{table_id}.Arn>/index/*]",
            reason="Rule is wrong here: the wildcard covers only the indexes of this one table, as "
            "grant_read_write_data scopes it; app_code queries every index, and no other table is reachable.",
        ))
        if key:
            Validations.of(grantee).acknowledge(*[Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Action::kms:{action}*]",
                reason="Rule is wrong here: the grant's action wildcard only spans the variants of one KMS "
                "operation (e.g. GenerateDataKeyWithoutPlaintext), on the table's own key and no other.",
            ) for action in ("GenerateDataKey", "ReEncrypt")])

        table = self.table.table
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
        if cfg.stream:
            CfnOutput(self, "StreamArn", value=table.table_stream_arn or "")
