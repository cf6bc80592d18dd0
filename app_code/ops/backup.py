"""`ops backup`: an on-demand backup of every stateful part of an environment, named and tagged alike.

One run's backups share a label, the UTC time `yyyymmdd-hhmmss`: each is named `<source>-<label>` (the DB
instance or cluster, the replication group, the table) and, where the service tags backups, tagged
project/env/made-by/backup-label (app_code.ops.copies.tags):

| part | AWS | the twin |
|---|---|---|
| database | RDS snapshot (Aurora: cluster snapshot) | a base backup, or a dump (ops.restore_db.snapshot_database) |
| cache | ElastiCache create_snapshot of the replication group | an RDB of every shard (app_code.local.redis_snapshot) |
| table | DynamoDB create_backup (backups take no tags: the name carries the label) | moto's create_backup |
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from cdk_data_tier.app.endpoints import Endpoints, EndpointsError
from cdk_data_tier.app.errors import BadInput


@dataclass(frozen=True)
class Backup:
    what: str
    id: str
    detail: str
    ok: bool = True  # False: this part failed (detail says why); the other parts were still made


def backup_label(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")


def backup(endpoints: Endpoints, *, label: str | None = None) -> list[Backup]:
    """One backup of each stack present (the twin's kind when the endpoints are a twin's). A part that fails is
    returned as such, with its reason, and does not keep the others from being made."""
    from cdk_data_tier.app.ops.restore_db import snapshot_database, twin_dir_of

    label = label or backup_label()
    twin = twin_dir_of(endpoints)
    parts: list[tuple[str, str, Callable[[], Backup]]] = [
        ("Database", "database snapshot", lambda: Backup(*snapshot_database(endpoints, label=label))),
        ("Cache", "cache snapshot", lambda: _cache(endpoints, label, twin)),
        ("Dynamo", "dynamodb backup", lambda: _table(endpoints, label))]
    made: list[Backup] = []
    for suffix, what, make in parts:
        if f"{endpoints.env}-{suffix}" not in endpoints.stacks:
            continue
        try:
            made.append(make())
        except (BotoCoreError, ClientError, BadInput, EndpointsError, RuntimeError) as exc:
            made.append(Backup(what, "-", f"FAILED: {' '.join(str(exc).split())}", ok=False))
    return made


def _table(endpoints: Endpoints, label: str) -> Backup:
    table = endpoints.dynamo.table_name
    ddb = endpoints.aws.client("dynamodb")
    arn = ddb.create_backup(TableName=table, BackupName=f"{table}-{label}"[:255])["BackupDetails"]["BackupArn"]
    pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    return Backup("dynamodb backup", arn, f"table {table}, PITR {status}")


def _cache(endpoints: Endpoints, label: str, twin: Path | None) -> Backup:
    if twin is None:
        from cdk_data_tier.app.ops.cache_copy import snapshot

        snap = snapshot(endpoints, label=label)
        return Backup("elasticache snapshot", snap["SnapshotName"],
                      f"group {snap.get('ReplicationGroupId', '?')}, {snap.get('SnapshotStatus', '')}")
    from cdk_data_tier.app.local import redis_snapshot
    from cdk_data_tier.app.local.state import State

    state = State.load(twin)
    assert state is not None
    group = redis_snapshot.group_id(state)
    taken = redis_snapshot.take(state, f"{group}-{label}", source=group)
    keys = sum(s["keys"] for s in taken.shards)
    return Backup("cache snapshot", taken.name, f"{len(taken.shards)} shard RDB file(s), {keys} keys, "
                                                f"{taken.seconds:.2f}s")
