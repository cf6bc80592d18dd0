"""AWS Backup vaults of the environment and the recovery points in them.

The stacks' vaults are named by CDK (`<env><Concern>BackupPlanKeyedVault<hash>`) and retained with the data
they back up; a vault that holds recovery points cannot be deleted anyway, so cdk destroy leaves it whatever
its policy. A recovery point is expected while its lifecycle (the plan rule's DeleteAfterDays) keeps it;
one past that date, or in a vault the config does not keep, is an orphan.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial

from cdk_data_tier.app.ops.teardown_items import Leftover, day, expected, live_verdict, orphan
from cdk_data_tier.app.ops.teardown_plan import Resource
from cdk_data_tier.app.ops.teardown_scan import Scan, Tie

VAULT = "AWS::Backup::BackupVault"


def vaults(scan: Scan) -> list[Leftover]:
    found = []
    for vault in scan.pages("backup", "list_backup_vaults", "BackupVaultList"):
        name, arn = vault["BackupVaultName"], vault["BackupVaultArn"]
        resource = scan.plan.find(name, VAULT)
        tie = scan.tie(arn, resource, name)
        if tie is None:
            continue
        resource = tie.resource or resource
        count = vault.get("NumberOfRecoveryPoints", 0)
        verdict = live_verdict(resource, f"aws backup delete-backup-vault --backup-vault-name {name}"
                                         f"{' (after its recovery points)' if count else ''}")
        found.append(Leftover("backup vault", name, arn, tie.stack, tie.how, verdict[0],
                              f"{verdict[1]}; {count} recovery point(s)",
                              uses=(vault["EncryptionKeyArn"],) if vault.get("EncryptionKeyArn") else ()))
        found += scan.guarded(f"recovery points of vault {name}", partial(_points, scan, name, resource, tie))
    return found


def _points(scan: Scan, vault: str, resource: Resource | None, tie: Tie) -> list[Leftover]:
    found = []
    retention = scan.plan.retention_days(resource) if resource else None
    for point in scan.pages("backup", "list_recovery_points_by_backup_vault", "RecoveryPoints",
                            BackupVaultName=vault):
        arn = point["RecoveryPointArn"]
        found.append(Leftover("recovery point", arn.rsplit(":", 1)[-1], arn, tie.stack, tie.how,
                              *point_verdict(point, vault, resource, retention, scan.now),
                              uses=(point["EncryptionKeyArn"],) if point.get("EncryptionKeyArn") else ()))
    return found


def point_verdict(point: dict, vault: str, resource: Resource | None, retention: int | None,
                  now: datetime) -> tuple[str, str]:
    """A recovery point (as ListRecoveryPointsByBackupVault gives it) is kept while its lifecycle keeps it, and
    only in a vault the config keeps."""
    arn = point["RecoveryPointArn"]
    delete_at = point.get("CalculatedLifecycle", {}).get("DeleteAt")
    if delete_at is None and retention and point.get("CreationDate"):
        delete_at = point["CreationDate"] + timedelta(days=retention)
    source = point.get("ResourceArn", "")
    delete = f"aws backup delete-recovery-point --backup-vault-name {vault} --recovery-point-arn {arn}"
    if resource is None or not resource.kept:
        return orphan(f"backup of {source} in a vault the config does not keep: {delete}")
    if delete_at is None:
        return orphan(f"backup of {source} with no lifecycle: it stays until deleted by hand ({delete})")
    if delete_at > now:
        return expected(f"backup of {source} within the plan's retention{f' ({retention} days)' if retention else ''}:"
                        f" AWS Backup deletes it on {day(delete_at)}")
    return orphan(f"backup of {source} past its retention ({day(delete_at)}) yet still here: {delete}")
