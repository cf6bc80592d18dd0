"""`ops backup`: an on-demand backup of every stateful part of an environment, named and tagged alike.

Every backup of one run is named `<env>-<UTC yyyymmdd-hhmmss>` (a name RDS, ElastiCache and DynamoDB all
accept) and, where the service tags backups, tagged project/env/made-by (app_code.ops.copies.tags):

| part | AWS | the twin |
|---|---|---|
| database | RDS snapshot (Aurora: cluster snapshot) | ops.restore_db's base backup |
| cache | ElastiCache create_snapshot of the replication group | an RDB of every shard (app_code.local.redis_snapshot) |
| table | DynamoDB create_backup (backups take no tags: the name carries env and time) | moto's create_backup |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops.copies import tags


@dataclass(frozen=True)
class Backup:
    what: str
    id: str
    detail: str


def backup_name(env: str, now: datetime | None = None) -> str:
    return f"{env}-{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}".lower()


def backup(endpoints: Endpoints, *, twin: Path | None = None, name: str | None = None) -> list[Backup]:
    """One backup of each stack present; the twin's parts when `twin` is its state directory."""
    name = name or backup_name(endpoints.env)
    made: list[Backup] = []
    if f"{endpoints.env}-Database" in endpoints.stacks:
        made.append(_database(endpoints, name, twin))
    if f"{endpoints.env}-Cache" in endpoints.stacks:
        made.append(_cache(endpoints, name, twin))
    if f"{endpoints.env}-Dynamo" in endpoints.stacks:
        made.append(_table(endpoints, name))
    return made


def _table(endpoints: Endpoints, name: str) -> Backup:
    table = endpoints.dynamo.table_name
    ddb = endpoints.aws.client("dynamodb")
    arn = ddb.create_backup(TableName=table, BackupName=name)["BackupDetails"]["BackupArn"]
    pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
    return Backup("dynamodb backup", arn, f"table {table}, PITR {status}")


def _cache(endpoints: Endpoints, name: str, twin: Path | None) -> Backup:
    if twin is None:
        from cdk_data_tier.app.ops.cache_copy import snapshot

        snap = snapshot(endpoints, name)
        return Backup("elasticache snapshot", snap["SnapshotName"],
                      f"group {snap.get('ReplicationGroupId', '?')}, {snap.get('SnapshotStatus', '')}")
    from cdk_data_tier.app.local import redis_snapshot
    from cdk_data_tier.app.local.state import State

    state = State.load(twin)
    assert state is not None
    snap = redis_snapshot.take(state, name, source=f"{endpoints.env}-Cache")
    keys = sum(s["keys"] for s in snap.shards)
    return Backup("cache snapshot", snap.name, f"{len(snap.shards)} shard RDB file(s), {keys} keys, "
                                               f"{snap.seconds:.2f}s")


def _database(endpoints: Endpoints, name: str, twin: Path | None) -> Backup:
    if twin is not None:
        return Backup("database backup", "-", "not taken on the twin here: the twin's base backups are "
                                              "ops.restore_db's")
    db = endpoints.database
    rds = endpoints.aws.client("rds")
    # RDS endpoints are <identifier>.<hash>.<region>.rds.amazonaws.com (Aurora: <cluster>.cluster-<hash>...).
    identifier = db.writer.host.split(".")[0]
    labels = tags(endpoints.env, source=identifier)
    if db.engine.startswith("aurora"):
        snap = rds.create_db_cluster_snapshot(DBClusterIdentifier=identifier, DBClusterSnapshotIdentifier=name,
                                              Tags=labels)["DBClusterSnapshot"]
        return Backup("rds cluster snapshot", snap["DBClusterSnapshotIdentifier"], snap.get("Status", ""))
    snap = rds.create_db_snapshot(DBInstanceIdentifier=identifier, DBSnapshotIdentifier=name,
                                  Tags=labels)["DBSnapshot"]
    return Backup("rds snapshot", snap["DBSnapshotIdentifier"], snap.get("Status", ""))
