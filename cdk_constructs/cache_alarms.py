"""CloudWatch alarms on every node of a replication group.

ElastiCache publishes engine metrics per node (dimension CacheClusterId), and node IDs follow from the
replication group's ID: `<group>-001` with cluster mode off, `<group>-0001-001` (shard-node) with it on.
Roles move on failover, so every node gets every alarm; ReplicationLag is only published by replicas
and missing data is not breaching.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, Fn
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from cdk_data_tier.constructs.cache_props import CachePropsError, ClusterMode


@dataclass(frozen=True)
class CacheAlarmThresholds:
    engine_cpu_percent: float = 90
    memory_percent: float = 80
    evictions_per_5_minutes: int = 1000
    connections: int = 5000
    replication_lag_seconds: float = 30

    def __post_init__(self) -> None:
        for name in ("engine_cpu_percent", "memory_percent"):
            if not 0 < getattr(self, name) <= 100:
                raise CachePropsError(f"{name}={getattr(self, name)} is not allowed: above 0, at most 100")
        for name in ("evictions_per_5_minutes", "connections", "replication_lag_seconds"):
            if getattr(self, name) <= 0:
                raise CachePropsError(f"{name}={getattr(self, name)} is not allowed: above 0")


def node_suffixes(cluster_mode: ClusterMode, shards: int, replicas_per_shard: int) -> list[str]:
    nodes = range(1, replicas_per_shard + 2)
    if cluster_mode == "disabled":
        return [f"{n:03d}" for n in nodes]
    return [f"{s:04d}-{n:03d}" for s in range(1, shards + 1) for n in nodes]


def node_alarms(scope: Construct, *, replication_group_id: str, suffixes: list[str], replicas_per_shard: int,
                thresholds: CacheAlarmThresholds) -> list[cloudwatch.Alarm]:
    alarms: list[cloudwatch.Alarm] = []
    minute, five = Duration.minutes(1), Duration.minutes(5)
    for suffix in suffixes:
        node = Fn.join("-", [replication_group_id, suffix])
        label = suffix.replace("-", "")

        def metric(name: str, statistic: str, period: Duration, node: str = node) -> cloudwatch.Metric:
            return cloudwatch.Metric(namespace="AWS/ElastiCache", metric_name=name, statistic=statistic,
                                     period=period, dimensions_map={"CacheClusterId": node})

        specs = [
            ("EngineCpu", f"engine CPU above {thresholds.engine_cpu_percent}% for 3 of 5 minutes",
             metric("EngineCPUUtilization", "Average", minute), thresholds.engine_cpu_percent, 5, 3),
            ("Memory", f"memory used by data above {thresholds.memory_percent}% for 3 of 5 minutes",
             metric("DatabaseMemoryUsagePercentage", "Average", minute), thresholds.memory_percent, 5, 3),
            ("Evictions", f"more than {thresholds.evictions_per_5_minutes} keys evicted in 5 minutes",
             metric("Evictions", "Sum", five), thresholds.evictions_per_5_minutes, 1, 1),
            ("Connections", f"more than {thresholds.connections} client connections for 5 minutes",
             metric("CurrConnections", "Maximum", minute), thresholds.connections, 5, 5),
        ]
        if replicas_per_shard > 0:
            specs.append(("ReplicationLag", f"replica more than {thresholds.replication_lag_seconds}s behind its "
                          "primary for 3 of 5 minutes", metric("ReplicationLag", "Maximum", minute),
                          thresholds.replication_lag_seconds, 5, 3))
        for name, what, m, threshold, periods, datapoints in specs:
            alarms.append(cloudwatch.Alarm(
                scope,
                f"Node{label}{name}",
                alarm_description=f"Cache node {suffix}: {what}",
                metric=m,
                threshold=threshold,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=periods,
                datapoints_to_alarm=datapoints,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ))
    return alarms
