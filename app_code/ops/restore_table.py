"""`ops restore-table`: the table restored into a new table beside it, to a point in time or from a backup.

The same boto3 calls run against AWS and against the twin, whose moto restores to the time asked for
(app_code.local.moto_pitr; plain moto copies the items as they are now). DynamoDB's limits are checked before
anything is asked of it, one line each: a target name DynamoDB would reject, a target that exists, a source
without point-in-time recovery, a time outside [EarliestRestorableDateTime, LatestRestorableDateTime], a backup
that does not exist or is not AVAILABLE.

The copy has the source's key schema, indexes, capacity and encryption; DynamoDB does not restore streams,
TTL, PITR, auto scaling, tags or alarms, so the copy's outputs carry no StreamArn.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.ops.copies import Copy, tags

TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
WAIT = {"Delay": 5, "MaxAttempts": 720}  # an hour: a restore takes minutes to hours, by the table's size


@dataclass(frozen=True)
class Point:
    """Exactly one of: a time, the latest restorable time, a backup."""

    to_time: datetime | None = None
    latest: bool = False
    backup_arn: str | None = None


def check_table_name(what: str, name: str) -> None:
    if not TABLE_NAME.match(name):
        raise BadInput(f"{what} {name!r} is not a valid DynamoDB table name: 3-255 letters, digits, '_', '-' or '.'")


def window(ddb: Any, table: str) -> tuple[datetime, datetime]:
    """[EarliestRestorableDateTime, LatestRestorableDateTime] of `table`; an error when PITR is off."""
    desc = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    pitr = desc.get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise BadInput(f"table {table} has point-in-time recovery "
                       f"{pitr.get('PointInTimeRecoveryStatus', 'DISABLED')}: enable it, or restore from a backup "
                       "(--backup ARN)")
    return pitr["EarliestRestorableDateTime"], pitr["LatestRestorableDateTime"]


def wait_restorable(ddb: Any, table: str, when: datetime, *, timeout: float = 900, interval: float = 10) -> None:
    """Until LatestRestorableDateTime has passed `when` (DynamoDB's trails the clock by about five minutes)."""
    deadline = time.monotonic() + timeout
    while window(ddb, table)[1] < when:
        if time.monotonic() > deadline:
            raise TimeoutError(f"table {table}: LatestRestorableDateTime still before {when:%Y-%m-%dT%H:%M:%SZ} "
                               f"after {timeout:.0f}s")
        time.sleep(interval)


def _absent(ddb: Any, target: str) -> None:
    try:
        ddb.describe_table(TableName=target)
    except ddb.exceptions.ResourceNotFoundException:
        return
    raise BadInput(f"--target {target}: a table of that name already exists")


def _backup(ddb: Any, arn: str) -> dict[str, Any]:
    try:
        desc = ddb.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]
    except (ddb.exceptions.BackupNotFoundException, ddb.exceptions.ClientError) as exc:
        if "ValidationException" in str(exc) or "BackupNotFound" in str(exc) or "ResourceNotFound" in str(exc):
            raise BadInput(f"--backup {arn}: no such DynamoDB backup") from None
        raise
    if desc.get("BackupStatus") != "AVAILABLE":
        raise BadInput(f"--backup {arn}: the backup is {desc.get('BackupStatus')}, not AVAILABLE")
    return dict(desc)


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def restore_table(endpoints: Endpoints, target: str, point: Point, *,
                  wait: dict[str, int] | None = None) -> tuple[Copy, dict[str, str]]:
    """Restore into `target` and wait until it is ACTIVE: the copy, and its outputs (TableName, TableArn)."""
    ddb = endpoints.aws.client("dynamodb")
    source = endpoints.dynamo.table_name
    check_table_name("--target", target)
    _absent(ddb, target)
    if point.backup_arn:
        backup = _backup(ddb, point.backup_arn)
        started = time.monotonic()
        ddb.restore_table_from_backup(TargetTableName=target, BackupArn=point.backup_arn)
        restored_to = f"backup {backup['BackupName']} of {_stamp(backup['BackupCreationDateTime'])}"
    else:
        earliest, latest = window(ddb, source)
        if point.to_time is not None and not earliest <= point.to_time <= latest:
            raise BadInput(f"--to-time {_stamp(point.to_time)}: outside the restorable window of table {source} "
                           f"({_stamp(earliest)} to {_stamp(latest)})")
        started = time.monotonic()
        when: dict[str, Any] = {"RestoreDateTime": point.to_time} if point.to_time else \
            {"UseLatestRestorableTime": True}
        ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target, **when)
        restored_to = ""
    ddb.get_waiter("table_exists").wait(TableName=target, WaiterConfig=wait or WAIT)
    desc = ddb.describe_table(TableName=target)["Table"]
    seconds = time.monotonic() - started
    if not restored_to:
        restored_to = _stamp(desc.get("RestoreSummary", {}).get("RestoreDateTime") or point.to_time or latest)
    ddb.tag_resource(ResourceArn=desc["TableArn"], Tags=tags(endpoints.env, **{"copy-of": source}))
    copy = Copy("table", target, restored_to, seconds=seconds,
                detail={"arn": desc["TableArn"], "source": source, "status": desc["TableStatus"]})
    return copy, {"TableName": target, "TableArn": desc["TableArn"]}


def remove_table(endpoints: Endpoints, name: str, *, wait: dict[str, int] | None = None) -> None:
    ddb = endpoints.aws.client("dynamodb")
    if name == endpoints.dynamo.table_name:
        raise BadInput(f"--target {name} is the environment's own table, not a copy")
    ddb.delete_table(TableName=name)
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig=wait or WAIT)
