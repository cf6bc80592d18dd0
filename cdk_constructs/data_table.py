"""A production DynamoDB table (TableV2) with PITR, deletion protection and alarms on by default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.alarm_topic import AlarmTopic


@dataclass(frozen=True)
class CapacityCeiling:
    """The autoscaling maxima the consumed-capacity alarms measure against."""

    read_units: int
    write_units: int
    percent: int = 80


class DataTable(Construct):
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
        alarm_topic: AlarmTopic | None = None,
        throttle_alarm_threshold: int = 1,
        capacity_ceiling: CapacityCeiling | None = None,
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
        self.alarms = self._alarms(throttle_alarm_threshold, capacity_ceiling)
        if alarm_topic:
            alarm_topic.notify(*self.alarms)

    def _alarms(self, throttles: int, ceiling: CapacityCeiling | None) -> list[cloudwatch.Alarm]:
        period = Duration.minutes(1)
        ops = [dynamodb.Operation.GET_ITEM, dynamodb.Operation.PUT_ITEM, dynamodb.Operation.UPDATE_ITEM,
               dynamodb.Operation.DELETE_ITEM, dynamodb.Operation.QUERY, dynamodb.Operation.SCAN,
               dynamodb.Operation.BATCH_WRITE_ITEM, dynamodb.Operation.TRANSACT_WRITE_ITEMS]
        alarms = [
            cloudwatch.Alarm(self, "ThrottledRequests", alarm_description="Requests throttled by DynamoDB",
                             metric=self.table.metric_throttled_requests_for_operations(operations=ops, period=period),
                             threshold=throttles, evaluation_periods=1,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
            cloudwatch.Alarm(self, "SystemErrors", alarm_description="DynamoDB returned HTTP 500s",
                             metric=self.table.metric_system_errors_for_operations(operations=ops, period=period),
                             threshold=1, evaluation_periods=1,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
        ]
        if ceiling:
            for label, metric, units in (
                ("Read", self.table.metric_consumed_read_capacity_units(period=period), ceiling.read_units),
                ("Write", self.table.metric_consumed_write_capacity_units(period=period), ceiling.write_units),
            ):
                per_second = cloudwatch.MathExpression(expression="consumed / 60", using_metrics={"consumed": metric},
                                                       label=f"Consumed{label}UnitsPerSecond", period=period)
                alarms.append(cloudwatch.Alarm(
                    self, f"Consumed{label}NearCeiling",
                    alarm_description=f"Consumed {label.lower()} capacity above {ceiling.percent}% of the "
                    f"autoscaling maximum ({units} units)",
                    metric=per_second, threshold=units * ceiling.percent / 100, evaluation_periods=5,
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING))
        return alarms
