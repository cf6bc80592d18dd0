"""Restores into a new resource beside the source: the table to a point in time."""

from __future__ import annotations

import time

from cdk_data_tier.app.endpoints import Endpoints


def restore_table_to_latest(endpoints: Endpoints, target: str, *, timeout: float = 600) -> dict:
    """Point-in-time restore of the table into `target` (a new table), waiting until it is ACTIVE."""
    ddb = endpoints.aws.client("dynamodb")
    ddb.restore_table_to_point_in_time(SourceTableName=endpoints.dynamo.table_name, TargetTableName=target,
                                       UseLatestRestorableTime=True)
    deadline = time.monotonic() + timeout
    while True:
        desc = ddb.describe_table(TableName=target)["Table"]
        if desc["TableStatus"] == "ACTIVE":
            return desc
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {target} still {desc['TableStatus']} after {timeout:.0f}s")
        time.sleep(2)
