"""Reusable constructs of the data tier, for any CDK app: `from cdk_data_tier.constructs import ReplicatedDatabase`.

They know no environment names and read no config: every choice is a prop. The names below are the public
surface the version policy (docs/versioning.md) covers; the other modules are their parts.
"""

from cdk_data_tier.node_runtime import prefer_interpreter_node

# Before this package's own modules import aws_cdk (whose first import starts jsii's node): an app that imports
# these constructs first gets the venv's Node 24 even when the venv is not activated.
prefer_interpreter_node()

from cdk_data_tier.constructs.alarm_topic import AlarmTopic  # noqa: E402
from cdk_data_tier.constructs.aurora_database import AuroraDatabase  # noqa: E402
from cdk_data_tier.constructs.cache_alarms import CacheAlarmThresholds  # noqa: E402
from cdk_data_tier.constructs.cache_auth import CacheAuth  # noqa: E402
from cdk_data_tier.constructs.cache_props import CacheEngine, CacheLogDelivery, CachePropsError  # noqa: E402
from cdk_data_tier.constructs.cache_replication_group import CacheReplicationGroup  # noqa: E402
from cdk_data_tier.constructs.data_table import DataTable  # noqa: E402
from cdk_data_tier.constructs.database_alarms import AlarmThresholds  # noqa: E402
from cdk_data_tier.constructs.replicated_database import Backups, Observability, ReplicatedDatabase  # noqa: E402

__all__ = ["AlarmThresholds", "AlarmTopic", "AuroraDatabase", "Backups", "CacheAlarmThresholds", "CacheAuth",
           "CacheEngine", "CacheLogDelivery", "CachePropsError", "CacheReplicationGroup", "DataTable", "Observability",
           "ReplicatedDatabase"]
