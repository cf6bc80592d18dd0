"""On-demand backups of an environment: a DynamoDB backup and an RDS snapshot (instance or Aurora cluster)."""

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
        db = endpoints.database
        rds = endpoints.aws.client("rds")
        # RDS endpoints are <identifier>.<hash>.<region>.rds.amazonaws.com (Aurora: <cluster>.cluster-<hash>...).
        identifier = db.writer.host.split(".")[0]
        if db.engine.startswith("aurora"):
            snap = rds.create_db_cluster_snapshot(DBClusterIdentifier=identifier,
                                                  DBClusterSnapshotIdentifier=f"{identifier}-{label}")
            made.append(Backup("rds cluster snapshot", snap["DBClusterSnapshot"]["DBClusterSnapshotIdentifier"],
                               snap["DBClusterSnapshot"].get("Status", "")))
        else:
            snap = rds.create_db_snapshot(DBInstanceIdentifier=identifier, DBSnapshotIdentifier=f"{identifier}-{label}")
            made.append(Backup("rds snapshot", snap["DBSnapshot"]["DBSnapshotIdentifier"],
                               snap["DBSnapshot"].get("Status", "")))
    return made
