"""Database restore on AWS: a new RDS instance (or Aurora cluster plus a writer) beside the source.

RDS instance: restore_db_instance_to_point_in_time (RestoreTime or UseLatestRestorableTime) or
restore_db_instance_from_db_snapshot. Aurora: restore_db_cluster_to_point_in_time or
restore_db_cluster_from_snapshot, then create_db_instance for its writer (a restored cluster has no instance).
The copy lands in the source's DB subnet group, VPC security groups and parameter group (Aurora: cluster and
instance parameter groups) and KMS key: the cluster calls take KmsKeyId; instance restores keep the source's
(or the snapshot's) key, which is checked afterwards. It is single-AZ, not publicly accessible, without
deletion protection, and tagged `app-code:restored-from`, the tag `remove-copy` insists on before it deletes.
boto3's waiters (db_instance_available, db_cluster_available) wait for it.

RDS's documented limits are checked before any call: a time inside [EarliestRestorableTime,
LatestRestorableTime], a target identifier that is valid and not taken, a snapshot that exists and is available.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops.copies import tags as copy_tags
from cdk_data_tier.app.ops.restore_model import (
    Echo,
    RestoredCopy,
    RestoreError,
    RestoreFailed,
    RestoreWindow,
    aware,
    check_identifier,
    check_in_window,
    iso,
)

RESTORED_FROM_TAG = "app-code:restored-from"
AWS_DELAY_S, AWS_ATTEMPTS = 30, 120  # RDS restores take 10-60 minutes
LOCAL_DELAY_S, LOCAL_ATTEMPTS = 1, 60  # moto answers at once


def _rds(endpoints: Endpoints) -> Any:
    return endpoints.aws.client("rds")


def _waiter_config(endpoints: Endpoints) -> dict[str, int]:
    local = bool(endpoints.aws.endpoint_url)
    return {"Delay": LOCAL_DELAY_S if local else AWS_DELAY_S, "MaxAttempts": LOCAL_ATTEMPTS if local else AWS_ATTEMPTS}


def source_identifier(endpoints: Endpoints) -> str:
    """RDS endpoints are <identifier>.<hash>.<region>.rds.amazonaws.com (Aurora: <cluster>.cluster-<hash>...)."""
    return endpoints.database.writer.host.split(".")[0]


def _aurora(endpoints: Endpoints) -> bool:
    return endpoints.database.engine.startswith("aurora")


def _instance(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return dict(rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0])
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def _cluster(rds: Any, identifier: str) -> dict[str, Any] | None:
    try:
        return dict(rds.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"][0])
    except rds.exceptions.DBClusterNotFoundFault:
        return None


def _source(endpoints: Endpoints) -> dict[str, Any]:
    rds, ident = _rds(endpoints), source_identifier(endpoints)
    found = _cluster(rds, ident) if _aurora(endpoints) else _instance(rds, ident)
    if found is None:
        kind = "DB cluster" if _aurora(endpoints) else "DB instance"
        raise RestoreError(f"{endpoints.source}: the Database stack's writer {endpoints.database.writer.host} names "
                           f"{kind} {ident!r}, which RDS does not know")
    return found


def window_on_aws(endpoints: Endpoints) -> RestoreWindow:
    return _window(endpoints, _source(endpoints))


def _window(endpoints: Endpoints, source: dict[str, Any]) -> RestoreWindow:
    ident = str(source["DBClusterIdentifier"] if _aurora(endpoints) else source["DBInstanceIdentifier"])
    if not source.get("BackupRetentionPeriod"):
        raise RestoreError(f"{ident} has automated backups off (BackupRetentionPeriod 0): point-in-time restore "
                           "needs them; restore a --snapshot instead")
    latest = source.get("LatestRestorableTime")
    earliest = source.get("EarliestRestorableTime")  # clusters report it; instances through their automated backups
    if earliest is None and not _aurora(endpoints):
        earliest = _instance_earliest(_rds(endpoints), ident, source)
    if latest is None or earliest is None:
        raise RestoreError(f"{ident} reports no restorable window yet (its first automated backup is not done)")
    return RestoreWindow(aware(earliest), aware(latest))


def _instance_earliest(rds: Any, ident: str, source: dict[str, Any]) -> datetime | None:
    backups = rds.describe_db_instance_automated_backups(DBInstanceIdentifier=ident)["DBInstanceAutomatedBackups"]
    earliest = [b["RestoreWindow"]["EarliestTime"] for b in backups if b.get("RestoreWindow", {}).get("EarliestTime")]
    if earliest:
        return min(earliest)
    # The first automated snapshot starts the window (what RestoreWindow reports once AWS fills it in).
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=ident, SnapshotType="automated")["DBSnapshots"]
    times = [s["SnapshotCreateTime"] for s in snaps if s.get("SnapshotCreateTime")]
    return min(times) if times else source.get("InstanceCreateTime")


def _check_free(rds: Any, target: str, *, aurora: bool) -> str | None:
    """The writer instance's identifier for Aurora (None otherwise), after checking every name is free."""
    writer = f"{target}-instance-1" if aurora else None
    if writer is not None:
        check_identifier(writer, "--target (with -instance-1 for the Aurora writer)")
        if _cluster(rds, target) is not None:
            raise RestoreError(f"--target {target!r} is already taken: a DB cluster has that identifier")
    for name in filter(None, (target, writer)):
        if _instance(rds, name) is not None:
            raise RestoreError(f"--target {target!r} is already taken: DB instance {name!r} exists")
    return writer


def _snapshot(rds: Any, snapshot: str, *, aurora: bool) -> dict[str, Any]:
    try:
        if aurora:
            found = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot)["DBClusterSnapshots"][0]
        else:
            found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"][0]
    except (rds.exceptions.DBSnapshotNotFoundFault, rds.exceptions.DBClusterSnapshotNotFoundFault):
        kind = "DB cluster snapshot" if aurora else "DB snapshot"
        raise RestoreError(f"--snapshot {snapshot!r}: no {kind} has that identifier") from None
    if found.get("Status") != "available":
        raise RestoreError(f"--snapshot {snapshot!r} is {found.get('Status')}, not available yet")
    return dict(found)


def restore_on_aws(endpoints: Endpoints, *, target: str, to_time: datetime | None, latest: bool,
                   snapshot: str | None, outputs_path: Path | None, echo: Echo) -> RestoredCopy:
    started = time.monotonic()
    rds, aurora = _rds(endpoints), _aurora(endpoints)
    source = _source(endpoints)
    ident = source_identifier(endpoints)
    writer = _check_free(rds, target, aurora=aurora)
    outputs = Path(outputs_path) if outputs_path else Path.cwd() / f"restore-{target}" / "outputs.json"
    if outputs.exists():
        raise RestoreError(f"--out {outputs} already exists: pick another file or remove it")
    point: dict[str, Any]
    if snapshot is not None:
        snap = _snapshot(rds, snapshot, aurora=aurora)
        created = snap.get("SnapshotCreateTime") or snap.get("OriginalSnapshotCreateTime")
        if created is None:
            raise RestoreError(f"--snapshot {snapshot!r} has no creation time yet: wait until it is available")
        restored_to = aware(created)
        point = {}
    else:
        win = _window(endpoints, source)
        if latest:
            restored_to, point = win.latest, {"UseLatestRestorableTime": True}
        else:
            assert to_time is not None
            check_in_window(to_time, win, ident)
            restored_to = to_time
            point = {"RestoreToTime" if aurora else "RestoreTime": to_time}
    tags = [{"Key": RESTORED_FROM_TAG, "Value": ident}, {"Key": "app-code:env", "Value": endpoints.env},
            {"Key": "app-code:restored-to", "Value": iso(restored_to)}]
    echo(f"restoring {target} from {ident} ({f'snapshot {snapshot}' if snapshot else iso(restored_to)})")
    if aurora:
        assert writer is not None
        endpoint = _restore_cluster(endpoints, rds, source, target, writer, snapshot, point, tags, echo)
    else:
        endpoint = _restore_instance(endpoints, rds, source, target, snapshot, point, tags, echo)
    _write_outputs(endpoints, outputs, endpoint)
    remove = f"python -m app_code ops remove-copy --env {endpoints.env} --target {target}"
    return RestoredCopy(target=target, kind="aurora-cluster" if aurora else "rds-instance", source=ident,
                        restored_to=restored_to, outputs_path=outputs, endpoint=f"{endpoint[0]}:{endpoint[1]}",
                        seconds=time.monotonic() - started, remove_command=remove)


def _restore_instance(endpoints: Endpoints, rds: Any, source: dict[str, Any], target: str, snapshot: str | None,
                      point: dict[str, Any], tags: list[dict[str, str]], echo: Echo) -> tuple[str, int]:
    common = {"DBSubnetGroupName": source["DBSubnetGroup"]["DBSubnetGroupName"],
              "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])],
              "DBInstanceClass": source["DBInstanceClass"], "Port": source["Endpoint"]["Port"],
              "MultiAZ": False, "PubliclyAccessible": False, "DeletionProtection": False, "CopyTagsToSnapshot": True,
              "EnableIAMDatabaseAuthentication": bool(source.get("IAMDatabaseAuthenticationEnabled")), "Tags": tags}
    groups = [g["DBParameterGroupName"] for g in source.get("DBParameterGroups", [])]
    if groups:
        common["DBParameterGroupName"] = groups[0]
    if snapshot is not None:
        rds.restore_db_instance_from_db_snapshot(DBInstanceIdentifier=target, DBSnapshotIdentifier=snapshot, **common)
    else:
        rds.restore_db_instance_to_point_in_time(SourceDBInstanceIdentifier=source["DBInstanceIdentifier"],
                                                 TargetDBInstanceIdentifier=target, **point, **common)
    echo(f"waiting for DB instance {target} (db_instance_available)")
    try:
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=target,
                                                     WaiterConfig=_waiter_config(endpoints))
    except Exception as err:
        _delete_instance(endpoints, rds, target)
        raise RestoreFailed(f"DB instance {target} did not become available ({err}); it was deleted") from None
    made = _instance(rds, target) or {}
    if source.get("KmsKeyId") and made.get("KmsKeyId") != source["KmsKeyId"] and snapshot is None:
        raise RestoreFailed(f"DB instance {target} is encrypted with {made.get('KmsKeyId')}, not the source's "
                               f"{source['KmsKeyId']}: remove it (ops remove-copy) and report this")
    return made["Endpoint"]["Address"], int(made["Endpoint"]["Port"])


def _restore_cluster(endpoints: Endpoints, rds: Any, source: dict[str, Any], target: str, writer: str,
                     snapshot: str | None, point: dict[str, Any], tags: list[dict[str, str]],
                     echo: Echo) -> tuple[str, int]:
    common = {"DBSubnetGroupName": source["DBSubnetGroup"],
              "VpcSecurityGroupIds": [g["VpcSecurityGroupId"] for g in source.get("VpcSecurityGroups", [])],
              "DBClusterParameterGroupName": source["DBClusterParameterGroup"], "Port": source["Port"],
              "DeletionProtection": False, "CopyTagsToSnapshot": True, "Tags": tags,
              "EnableIAMDatabaseAuthentication": bool(source.get("IAMDatabaseAuthenticationEnabled")),
              **({"KmsKeyId": source["KmsKeyId"]} if source.get("KmsKeyId") else {})}
    if snapshot is not None:
        rds.restore_db_cluster_from_snapshot(DBClusterIdentifier=target, SnapshotIdentifier=snapshot,
                                             Engine=source["Engine"], EngineVersion=source["EngineVersion"], **common)
    else:
        rds.restore_db_cluster_to_point_in_time(DBClusterIdentifier=target,
                                                SourceDBClusterIdentifier=source["DBClusterIdentifier"],
                                                RestoreType="full-copy", **point, **common)
    config = _waiter_config(endpoints)
    try:
        echo(f"waiting for DB cluster {target} (db_cluster_available)")
        rds.get_waiter("db_cluster_available").wait(DBClusterIdentifier=target, WaiterConfig=config)
        member = _writer_of(rds, source)
        rds.create_db_instance(DBInstanceIdentifier=writer, DBClusterIdentifier=target, Engine=source["Engine"],
                               DBInstanceClass=member["DBInstanceClass"], PubliclyAccessible=False, Tags=tags,
                               **({"DBParameterGroupName": member["DBParameterGroups"][0]["DBParameterGroupName"]}
                                  if member.get("DBParameterGroups") else {}))
        echo(f"waiting for its writer {writer} (db_instance_available)")
        rds.get_waiter("db_instance_available").wait(DBInstanceIdentifier=writer, WaiterConfig=config)
    except Exception as err:
        _delete_cluster(endpoints, rds, target)
        raise RestoreFailed(f"DB cluster {target} did not become available with a writer ({err}); it was "
                               "deleted") from None
    made = _cluster(rds, target) or {}
    return made["Endpoint"], int(made["Port"])


def _writer_of(rds: Any, cluster: dict[str, Any]) -> dict[str, Any]:
    ident = next((m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")),
                 None)
    found = _instance(rds, ident) if ident else None
    if found is None:
        raise RestoreError(f"DB cluster {cluster['DBClusterIdentifier']} has no writer instance to copy the class of")
    return found


def _write_outputs(endpoints: Endpoints, outputs: Path, endpoint: tuple[str, int]) -> None:
    stacks = {name: dict(values) for name, values in endpoints.stacks.items()}
    database = stacks[f"{endpoints.env}-Database"]
    database.update(WriterEndpoint=endpoint[0], Port=str(endpoint[1]))
    database.pop("ReaderEndpoints", None)  # the copy has no readers
    outputs.parent.mkdir(parents=True, exist_ok=True)
    outputs.write_text(json.dumps(stacks, indent=2) + "\n")


# -- removal ----------------------------------------------------------------------------------------
def remove_on_aws(endpoints: Endpoints, *, target: str, echo: Echo) -> list[str]:
    """Delete a copy restore_on_aws made: the instance (Aurora: its instances, then the cluster), without a final
    snapshot and with its automated backups; anything without the restored-from tag is refused."""
    rds = _rds(endpoints)
    cluster = _cluster(rds, target) if _aurora(endpoints) else None
    found = cluster or _instance(rds, target)
    if found is None:
        raise RestoreError(f"--target {target!r}: no DB {'cluster' if _aurora(endpoints) else 'instance'} has that "
                           "identifier")
    arn = found.get("DBClusterArn") or found.get("DBInstanceArn")
    tags = {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}
    if RESTORED_FROM_TAG not in tags:
        raise RestoreError(f"--target {target!r} was not made by ops restore-db (no {RESTORED_FROM_TAG} tag): "
                           "not deleted")
    if cluster is not None:
        removed = _delete_cluster(endpoints, rds, target)
    else:
        removed = _delete_instance(endpoints, rds, target)
    for line in removed:
        echo(line)
    return removed


def _delete_instance(endpoints: Endpoints, rds: Any, ident: str, *, in_cluster: bool = False) -> list[str]:
    try:
        # Aurora instances take no final-snapshot arguments: the cluster's deletion decides about snapshots.
        extra = {} if in_cluster else {"SkipFinalSnapshot": True, "DeleteAutomatedBackups": True}
        rds.delete_db_instance(DBInstanceIdentifier=ident, **extra)
    except rds.exceptions.DBInstanceNotFoundFault:
        return []
    rds.get_waiter("db_instance_deleted").wait(DBInstanceIdentifier=ident, WaiterConfig=_waiter_config(endpoints))
    return [f"deleted DB instance {ident}" + ("" if in_cluster else " (no final snapshot, automated backups too)")]


def _delete_cluster(endpoints: Endpoints, rds: Any, ident: str) -> list[str]:
    cluster = _cluster(rds, ident)
    if cluster is None:
        return []
    removed = []
    for member in cluster.get("DBClusterMembers", []):
        removed += _delete_instance(endpoints, rds, member["DBInstanceIdentifier"], in_cluster=True)
    rds.delete_db_cluster(DBClusterIdentifier=ident, SkipFinalSnapshot=True)
    rds.get_waiter("db_cluster_deleted").wait(DBClusterIdentifier=ident, WaiterConfig=_waiter_config(endpoints))
    return [*removed, f"deleted DB cluster {ident} (no final snapshot)"]


# -- snapshots --------------------------------------------------------------------------------------
def snapshot_on_aws(endpoints: Endpoints, *, label: str) -> tuple[str, str, str]:
    """An RDS snapshot (Aurora: a cluster snapshot) named <identifier>-<label>, tagged with the env and label."""
    rds, ident = _rds(endpoints), source_identifier(endpoints)
    name = f"{ident}-{label}"[:255]
    tags = copy_tags(endpoints.env, **{"backup-label": label})  # as the cache snapshot's and the table backup's
    if _aurora(endpoints):
        snap = rds.create_db_cluster_snapshot(DBClusterIdentifier=ident, DBClusterSnapshotIdentifier=name,
                                              Tags=tags)["DBClusterSnapshot"]
        return "rds cluster snapshot", snap["DBClusterSnapshotIdentifier"], snap.get("Status", "")
    snap = rds.create_db_snapshot(DBInstanceIdentifier=ident, DBSnapshotIdentifier=name, Tags=tags)["DBSnapshot"]
    return "rds snapshot", snap["DBSnapshotIdentifier"], snap.get("Status", "")
