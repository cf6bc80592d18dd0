"""On-demand backups of an environment: a DynamoDB backup and a database snapshot (RDS instance or Aurora cluster;
on the twin a base backup or a dump, app_code.ops.restore_db.snapshot_database)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from cdk_data_tier.app.endpoints import Endpoints


@dataclass(frozen=True)
class Backup:
    what: str
    id: str
    detail: str


def backup(endpoints: Endpoints, *, label: str | None = None) -> list[Backup]:
    """An on-demand DynamoDB backup and an RDS snapshot (instance or Aurora cluster); PITR status alongside."""
    label = label or datetime.now(UTC).strftime("app-code-%Y%m%d-%H%M%S")
    made: list[Backup] = []
    if f"{endpoints.env}-Dynamo" in endpoints.stacks:
        table = endpoints.dynamo.table_name
        ddb = endpoints.aws.client("dynamodb")
        arn = ddb.create_backup(TableName=table, BackupName=f"{table}-{label}"[:255])["BackupDetails"]["BackupArn"]
        pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
        status = pitr.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus", "DISABLED")
        made.append(Backup("dynamodb backup", arn, f"PITR {status}"))
    if f"{endpoints.env}-Database" in endpoints.stacks:
        from cdk_data_tier.app.ops.restore_db import snapshot_database

        # The twin: a base backup (PostgreSQL) or a dump at a binlog position (MariaDB); AWS: an RDS snapshot, or
        # an Aurora cluster snapshot. `ops restore-db --snapshot <id>` restores either.
        what, ident, detail = snapshot_database(endpoints, label=label)
        made.append(Backup(what, ident, detail))
    return made
