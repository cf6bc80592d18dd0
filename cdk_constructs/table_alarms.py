"""CloudWatch alarms for a DynamoDB table: throttles, system errors, and consumed capacity near the ceiling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

# CloudWatch allows at most 10 metrics in an alarm's math expression: these are the operations a data
# workload issues (PartiQL and GetRecords stay out).
_OPERATIONS = [
    dynamodb.Operation.GET_ITEM, dynamodb.Operation.BATCH_GET_ITEM, dynamodb.Operation.TRANSACT_GET_ITEMS,
    dynamodb.Operation.QUERY, dynamodb.Operation.SCAN, dynamodb.Operation.PUT_ITEM, dynamodb.Operation.UPDATE_ITEM,
    dynamodb.Operation.DELETE_ITEM, dynamodb.Operation.BATCH_WRITE_ITEM, dynamodb.Operation.TRANSACT_WRITE_ITEMS,
]
_PERIOD = Duration.minutes(1)


@dataclass(frozen=True)
class CapacityCeiling:
    """The autoscaling maxima (units per second) of a provisioned table or GSI.

    Autoscaling keeps consumed capacity near its target share of whatever is provisioned, so an alarm on
    that share would always be quiet or always firing; what matters is consumption approaching the
    maximum autoscaling may provision, after which requests throttle.
    """

    read_units: int
    write_units: int


class TableAlarms(Construct):
    """`TableAlarms(self, "Alarms", table=t, ceilings={None: CapacityCeiling(100, 50), "gsi1": ...})`.

    `ceilings` maps an index name, or None for the base table, to its autoscaling maxima; leave it
    empty for on-demand tables, whose capacity has no ceiling to approach.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITableV2,
        throttle_threshold: int = 1,
        ceilings: Mapping[str | None, CapacityCeiling] | None = None,
        capacity_percent: int = 80,
    ) -> None:
        super().__init__(scope, construct_id)
        self._table = table
        # Any throttled event, on the table or any of its GSIs, throttles the request: one alarm covers all.
        self.alarms = [
            cloudwatch.Alarm(self, "ThrottledRequests", alarm_description="Requests throttled by DynamoDB",
                             metric=table.metric_throttled_requests_for_operations(operations=_OPERATIONS,
                                                                                   period=_PERIOD),
                             threshold=throttle_threshold, evaluation_periods=1,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
            cloudwatch.Alarm(self, "SystemErrors", alarm_description="DynamoDB returned HTTP 500s",
                             metric=table.metric_system_errors_for_operations(operations=_OPERATIONS, period=_PERIOD),
                             threshold=1, evaluation_periods=1,
                             treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING),
        ]
        for index, ceiling in (ceilings or {}).items():
            for kind, units in (("Read", ceiling.read_units), ("Write", ceiling.write_units)):
                self.alarms.append(self._near_ceiling(index, kind, units, capacity_percent))

    def _near_ceiling(self, index: str | None, kind: str, units: int, percent: int) -> cloudwatch.Alarm:
        dimensions = {"TableName": self._table.table_name}
        if index:
            dimensions["GlobalSecondaryIndexName"] = index
        consumed = cloudwatch.Metric(namespace="AWS/DynamoDB", metric_name=f"Consumed{kind}CapacityUnits",
                                     dimensions_map=dimensions, statistic="Sum", period=_PERIOD)
        # Consumed units are reported per minute; the ceiling is per second.
        per_second = cloudwatch.MathExpression(expression="consumed / 60", using_metrics={"consumed": consumed},
                                               label=f"Consumed{kind}UnitsPerSecond", period=_PERIOD)
        subject = f"index {index}" if index else "table"
        return cloudwatch.Alarm(
            self, f"Consumed{kind}NearCeiling" + (f"-{index}" if index else ""),
            alarm_description=f"Consumed {kind.lower()} capacity of the {subject} above {percent}% of its "
            f"autoscaling maximum ({units} units)",
            metric=per_second, threshold=units * percent / 100, evaluation_periods=5,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)

