"""CloudWatch alarms for the instances of an RDS database or Aurora cluster, keyed by instance identifier.

The identifiers are fixed strings (the constructs name their instances), so the alarms need no token
plumbing and read the same in the template as in the console.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from cdk_data_tier.constructs.alarm_topic import AlarmTopic

_GIB = 1024**3
_MIB = 1024**2


@dataclass(frozen=True)
class AlarmThresholds:
    cpu_percent: int = 80
    free_storage_gib: int = 5
    freeable_memory_mib: int = 256
    replica_lag_seconds: int = 60
    connections: int = 200
    evaluation_minutes: int = 5


class DatabaseAlarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        writer: str,
        replicas: Sequence[str],
        thresholds: AlarmThresholds,
        aurora: bool,
        topic: AlarmTopic | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self._t = thresholds
        self.alarms: list[cloudwatch.Alarm] = []
        # Aurora storage is the cluster volume, which grows by itself; what can run out is each
        # instance's local storage (temporary tables, sorts).
        storage_metric = "FreeLocalStorage" if aurora else "FreeStorageSpace"
        for label, identifier in [("Writer", writer)] + [(f"Replica{i + 1}", r) for i, r in enumerate(replicas)]:
            self._instance_alarms(label, identifier, storage_metric)
        for i, identifier in enumerate(replicas):
            # AuroraReplicaLag is in milliseconds, ReplicaLag in seconds.
            metric, scale = ("AuroraReplicaLag", 1000) if aurora else ("ReplicaLag", 1)
            self._alarm(f"Replica{i + 1}Lag", identifier, metric, cloudwatch.Stats.MAXIMUM,
                        thresholds.replica_lag_seconds * scale, cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        f"{identifier}: replica lag above {thresholds.replica_lag_seconds} s")
        if topic:
            topic.notify(*self.alarms)
        else:
            Validations.of(self).acknowledge(*[Acknowledgment(
                id=f"{pack}::{pack}-CloudWatchAlarmAction",
                reason="Deliberate trade-off: this database is configured without an alarm topic (alarm_topic: "
                "false); its alarms still change state in CloudWatch, where an operator's own routing picks them up.",
            ) for pack in ("HIPAA.Security", "NIST.800.53.R5")])

    def _instance_alarms(self, label: str, identifier: str, storage_metric: str) -> None:
        t = self._t
        above, below = (cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                        cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD)
        self._alarm(f"{label}Cpu", identifier, "CPUUtilization", cloudwatch.Stats.AVERAGE, t.cpu_percent, above,
                    f"{identifier}: CPU above {t.cpu_percent}%")
        self._alarm(f"{label}FreeStorage", identifier, storage_metric, cloudwatch.Stats.MINIMUM,
                    t.free_storage_gib * _GIB, below, f"{identifier}: {storage_metric} below {t.free_storage_gib} GiB")
        self._alarm(f"{label}FreeableMemory", identifier, "FreeableMemory", cloudwatch.Stats.MINIMUM,
                    t.freeable_memory_mib * _MIB, below, f"{identifier}: freeable memory below "
                    f"{t.freeable_memory_mib} MiB")
        self._alarm(f"{label}Connections", identifier, "DatabaseConnections", cloudwatch.Stats.MAXIMUM,
                    t.connections, above, f"{identifier}: more than {t.connections} connections")

    def _alarm(self, construct_id: str, identifier: str, metric_name: str, statistic: str, threshold: float,
               comparison: cloudwatch.ComparisonOperator, description: str) -> None:
        metric = cloudwatch.Metric(namespace="AWS/RDS", metric_name=metric_name, statistic=statistic,
                                   dimensions_map={"DBInstanceIdentifier": identifier}, period=Duration.minutes(1))
        self.alarms.append(cloudwatch.Alarm(
            self, construct_id, metric=metric, threshold=threshold, comparison_operator=comparison,
            evaluation_periods=self._t.evaluation_minutes, datapoints_to_alarm=self._t.evaluation_minutes,
            alarm_description=description, treat_missing_data=cloudwatch.TreatMissingData.MISSING,
        ))
