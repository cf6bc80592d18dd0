"""Copies of the data stores that outlive them: DB and cluster snapshots, retained automated backups, cache
snapshots and DynamoDB backups. Each belongs to the environment through its source: the database, cluster,
replication group or table the templates name, or one still tagged, or a name with the environment's prefix.

A copy is expected when the template keeps its source's data (DeletionPolicy Snapshot or Retain: a retaining
environment's final snapshots, and what it backed up before); in an environment that destroys its stores
every copy left is an orphan that costs storage until someone deletes it.
"""

from __future__ import annotations

from cdk_data_tier.app.ops.teardown_items import Leftover, expected, orphan
from cdk_data_tier.app.ops.teardown_plan import Resource
from cdk_data_tier.app.ops.teardown_scan import Scan, Tie

DB_INSTANCE, DB_CLUSTER = "AWS::RDS::DBInstance", "AWS::RDS::DBCluster"
CACHE_GROUP = "AWS::ElastiCache::ReplicationGroup"
TABLES = ("AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table")


def _copy_verdict(source: Resource | None, source_name: str, what: str, delete: str) -> tuple[str, str]:
    if source is not None and source.kept:
        return expected(f"{what} of {source_name}, whose data the config keeps: {source.why()}")
    if source is not None:
        return orphan(f"{what} of {source_name}, whose data the config does not keep ({source.why()}): {delete}")
    return orphan(f"{what} of {source_name or 'a source'} the templates do not hold: {delete}")


def _item(kind: str, ident: str, arn: str, tie: Tie, verdict: tuple[str, str], uses: tuple[str, ...] = ()):
    return Leftover(kind, ident, arn, tie.stack, tie.how, *verdict, uses=uses)


def db_snapshots(scan: Scan) -> list[Leftover]:
    """Manual snapshots (a final snapshot is one): automated ones go with their instance unless retained."""
    found = []
    for snap in scan.pages("rds", "describe_db_snapshots", "DBSnapshots", SnapshotType="manual"):
        source_name = snap.get("DBInstanceIdentifier", "")
        source = scan.plan.named(source_name, DB_INSTANCE)
        tie = scan.tie_from_tags(_tags(snap.get("TagList", []))) or \
            scan.tie(snap["DBSnapshotArn"], source, snap["DBSnapshotIdentifier"], source_name)
        if tie is None:
            continue
        verdict = _copy_verdict(source or tie.resource, source_name, "DB snapshot",
                                f"aws rds delete-db-snapshot --db-snapshot-identifier {snap['DBSnapshotIdentifier']}")
        found.append(_item("db snapshot", snap["DBSnapshotIdentifier"], snap["DBSnapshotArn"], tie, verdict,
                           _keys(snap.get("KmsKeyId"))))
    return found


def db_cluster_snapshots(scan: Scan) -> list[Leftover]:
    found = []
    for snap in scan.pages("rds", "describe_db_cluster_snapshots", "DBClusterSnapshots", SnapshotType="manual"):
        source_name = snap.get("DBClusterIdentifier", "")
        source = scan.plan.named(source_name, DB_CLUSTER)
        arn = snap["DBClusterSnapshotArn"]
        tie = scan.tie_from_tags(_tags(snap.get("TagList", []))) or \
            scan.tie(arn, source, snap["DBClusterSnapshotIdentifier"], source_name)
        if tie is None:
            continue
        ident = snap["DBClusterSnapshotIdentifier"]
        verdict = _copy_verdict(source or tie.resource, source_name, "cluster snapshot",
                                f"aws rds delete-db-cluster-snapshot --db-cluster-snapshot-identifier {ident}")
        found.append(_item("db cluster snapshot", ident, arn, tie, verdict, _keys(snap.get("KmsKeyId"))))
    return found


def db_automated_backups(scan: Scan) -> list[Leftover]:
    """Automated backups RDS retains after the instance is gone (DeleteAutomatedBackups false)."""
    found = []
    for backup in scan.pages("rds", "describe_db_instance_automated_backups", "DBInstanceAutomatedBackups"):
        source_name = backup.get("DBInstanceIdentifier", "")
        source = scan.plan.named(source_name, DB_INSTANCE)
        arn = backup.get("DBInstanceAutomatedBackupsArn", "")
        tie = scan.tie(arn, source, source_name)
        if tie is None:
            continue
        days = source.props.get("BackupRetentionPeriod") if source else None
        keeps = source is not None and source.props.get("DeleteAutomatedBackups") is False
        delete = f"aws rds delete-db-instance-automated-backup --dbi-resource-id {backup.get('DbiResourceId', '?')}"
        verdict = expected(f"automated backups of {source_name}, retained as its template says "
                           f"(DeleteAutomatedBackups false): RDS deletes them after {days or '?'} days") if keeps \
            else orphan(f"automated backups of {source_name} the config does not retain: {delete}")
        found.append(_item("db automated backup", source_name, arn, tie, verdict, _keys(backup.get("KmsKeyId"))))
    return found


def cache_snapshots(scan: Scan) -> list[Leftover]:
    found = []
    for snap in scan.pages("elasticache", "describe_snapshots", "Snapshots"):
        group = snap.get("ReplicationGroupId") or snap.get("CacheClusterId") or ""
        # The group's id is CloudFormation's invention; its description is the template's own.
        source = scan.plan.named(group, CACHE_GROUP) or \
            scan.plan.described(snap.get("ReplicationGroupDescription", ""), CACHE_GROUP)
        arn = snap.get("ARN", "")
        tie = scan.tie(arn, source, snap["SnapshotName"], group)
        if tie is None:
            continue
        verdict = _copy_verdict(source or tie.resource, group, f"{snap.get('SnapshotSource', '')} cache snapshot",
                                f"aws elasticache delete-snapshot --snapshot-name {snap['SnapshotName']}")
        found.append(_item("cache snapshot", snap["SnapshotName"], arn, tie, verdict, _keys(snap.get("KmsKeyId"))))
    return found


def dynamo_backups(scan: Scan) -> list[Leftover]:
    """On-demand (USER) and SYSTEM backups; AWS Backup's own are recovery points, listed with their vault."""
    found = []
    for backup in scan.pages("dynamodb", "list_backups", "BackupSummaries", BackupType="ALL"):
        if backup.get("BackupType") == "AWS_BACKUP":
            continue
        table = backup.get("TableName", "")
        source = scan.plan.find(table, *TABLES)
        tie = scan.tie(backup["BackupArn"], source, table, backup.get("BackupName", ""))
        if tie is None and backup.get("TableArn", "") in scan.tagged:  # a backup of a table still tagged
            tie = Tie("arn", scan.tagged[backup["TableArn"]][0], None)
        if tie is None:
            continue
        verdict = _copy_verdict(source or _tagged_resource(scan, backup.get("TableArn", "")), table,
                                f"{backup.get('BackupType', '').lower()} backup",
                                f"aws dynamodb delete-backup --backup-arn {backup['BackupArn']}")
        found.append(_item("dynamodb backup", backup.get("BackupName", ""), backup["BackupArn"], tie, verdict))
    return found


def _tagged_resource(scan: Scan, arn: str) -> Resource | None:
    hit = scan.tag_of(arn) if arn else None
    return hit[1] if hit else None


def _tags(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t.get("Key", ""): t.get("Value", "") for t in tags}


def _keys(reference: str | None) -> tuple[str, ...]:
    return (reference,) if reference else ()
