"""Point-in-time recovery for the twin's moto, as DynamoDB does it: a restore gives back the table as it was then.

moto 5.2 answers RestoreTableToPointInTime with a copy of the source's items as they are *now*, whatever
RestoreDateTime says, and freezes LatestRestorableDateTime at the moment PITR was switched on. A restore drill
that wrote markers after the restore point would find them in the copy, and a restore to a time after the
switch-on would be refused by any client that checks the window. So the twin's moto process (moto_app) installs
this module: from the moment PITR is enabled on a table, every change to it is journaled (when, which key, the
item after the change), next to a copy of the items at switch-on; a restore replays the journal up to the
requested time into the new table. Every write path of moto's DynamoDB ends in Table.put_item, Table.delete_item
or DynamoDBBackend.update_item (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems, PartiQL),
which are wrapped here; a transaction that moto rolls back is taken out of the journal again.

DynamoDB's own limits hold: a restore time outside [EarliestRestorableDateTime, LatestRestorableDateTime] is
InvalidRestoreTimeException, a table without PITR PointInTimeRecoveryUnavailableException. Latest is "now"
(DynamoDB: typically five minutes behind), earliest the switch-on or RecoveryPeriodInDays back, whichever is later.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Key = tuple[str, str, str]  # (account, region, table name)


@dataclass
class Journal:
    enabled_at: float
    base: Any  # the table's items at switch-on (moto's structure: hash -> item, or hash -> {range: item})
    entries: list[tuple[float, Any, Any, Any]] = field(default_factory=list)  # (when, hash, range, item or None)

    def items_at(self, when: float, has_range: bool) -> Any:
        from collections import defaultdict

        items: Any = defaultdict(dict)
        for h, value in self.base.items():
            items[h] = copy.deepcopy(value)
        for at, h, r, item in self.entries:
            if at > when:
                break
            if has_range:
                if item is None:
                    items[h].pop(r, None)
                    if not items[h]:
                        items.pop(h)
                else:
                    items[h][r] = copy.deepcopy(item)
            elif item is None:
                items.pop(h, None)
            else:
                items[h] = copy.deepcopy(item)
        return items


JOURNALS: dict[Key, Journal] = {}
_LOCK = threading.RLock()
_INSTALLED = False


def _key(table: Any) -> Key:
    return (str(table.account_id), str(table.region_name), str(table.name))


def _record(table: Any, item: Any, *, deleted: bool = False) -> None:
    with _LOCK:
        journal = JOURNALS.get(_key(table))
        if journal is not None and item is not None:
            journal.entries.append((time.time(), item.hash_key, item.range_key,
                                    None if deleted else copy.deepcopy(item)))


def _window(table: Any, journal: Journal) -> tuple[float, float]:
    now = time.time()
    days = table.continuous_backups["PointInTimeRecoveryDescription"].get("RecoveryPeriodInDays", 35)
    return max(journal.enabled_at, now - float(days) * 86400), now


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def install() -> None:
    """Wrap moto's DynamoDB write paths and its PITR calls (once per process)."""
    global _INSTALLED
    if _INSTALLED:
        return
    from moto.dynamodb import exceptions as exc
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import RestoredPITTable, Table
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    class InvalidRestoreTime(exc.JsonRESTError):
        def __init__(self, message: str) -> None:
            super().__init__(exc.ERROR_TYPE_PREFIX + "InvalidRestoreTimeException", message)

    put_item, delete_item = Table.put_item, Table.delete_item
    update_item, transact = DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items
    update_backups, describe_backups = DynamoDBBackend.update_continuous_backups, \
        DynamoDBBackend.describe_continuous_backups
    delete_table, from_backup = DynamoDBBackend.delete_table, DynamoDBBackend.restore_table_from_backup

    def put(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = put_item(self, *args, **kwargs)
        _record(self, item)
        return item

    def delete(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = delete_item(self, *args, **kwargs)
        _record(self, item, deleted=True)
        return item

    def update(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = update_item(self, table_name, *args, **kwargs)
        _record(self.get_table(table_name), item)
        return item

    def transact_write(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        with _LOCK:
            names = {next(iter(op.values())).get("TableName") for op in transact_items}
            lengths = {k: len(j.entries) for k, j in JOURNALS.items() if k[2] in names}
            try:
                return transact(self, transact_items)
            except Exception:
                for k, n in lengths.items():  # moto put the tables back as they were: so does the journal
                    if k in JOURNALS:
                        del JOURNALS[k].entries[n:]
                raise

    def set_backups(self: Any, table_name: str, spec: dict[str, Any]) -> Any:
        out = update_backups(self, table_name, spec)
        table = self.get_table(table_name)
        with _LOCK:
            if spec.get("PointInTimeRecoveryEnabled"):
                if _key(table) not in JOURNALS:
                    desc = table.continuous_backups["PointInTimeRecoveryDescription"]
                    JOURNALS[_key(table)] = Journal(float(desc.get("EarliestRestorableDateTime") or time.time()),
                                                    copy.deepcopy(table.items))
            else:
                JOURNALS.pop(_key(table), None)
        return out

    def get_backups(self: Any, table_name: str) -> Any:
        out = describe_backups(self, table_name)
        table = self.get_table(table_name)
        journal = JOURNALS.get(_key(table))
        if journal is not None:
            earliest, latest = _window(table, journal)
            out["PointInTimeRecoveryDescription"].update(EarliestRestorableDateTime=earliest,
                                                         LatestRestorableDateTime=latest)
        return out

    def drop_table(self: Any, name: str) -> Any:
        table = delete_table(self, name)
        with _LOCK:
            JOURNALS.pop(_key(table), None)
        return table

    def restore_from_backup(self: Any, target: str, backup_arn: str) -> Any:
        if self.get_backup(backup_arn) is None:
            raise exc.BackupNotFoundException(backup_arn)
        return from_backup(self, target, backup_arn)

    def restore_to_time(handler: Any) -> Any:
        body = handler.body
        backend = handler.dynamodb_backend
        source_name = body.get("SourceTableName") or str(body.get("SourceTableArn", "")).rsplit("/", 1)[-1]
        target = body.get("TargetTableName")
        try:
            source = backend.get_table(source_name)
        except exc.ResourceNotFoundException:
            raise exc.SourceTableNotFoundException(source_name) from None
        if target in backend.tables:
            raise exc.TableAlreadyExistsException(target)
        with _LOCK:
            journal = JOURNALS.get(_key(source))
            if journal is None:
                raise exc.PointInTimeRecoveryUnavailable(source_name)
            earliest, latest = _window(source, journal)
            when = latest if body.get("UseLatestRestorableTime") else _epoch(body.get("RestoreDateTime"))
            if not earliest <= when <= latest:
                raise InvalidRestoreTime(f"RestoreDateTime {when} is not between EarliestRestorableDateTime "
                                         f"{earliest} and LatestRestorableDateTime {latest}")
            table = RestoredPITTable(target, account_id=backend.account_id,  # type: ignore[abstract]
                                     region=backend.region_name, source=source)
            table.items = journal.items_at(when, source.range_key_attr is not None)
        table.restore_date_time = datetime.fromtimestamp(when, UTC).replace(tzinfo=None)  # moto's naive UTC
        backend.tables[target] = table
        return DynamoResult(table.describe())

    Table.put_item, Table.delete_item = put, delete  # type: ignore[method-assign]
    DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items = update, transact_write  # type: ignore
    DynamoDBBackend.update_continuous_backups = set_backups  # type: ignore[method-assign,assignment]
    DynamoDBBackend.describe_continuous_backups = get_backups  # type: ignore[method-assign]
    DynamoDBBackend.delete_table = drop_table  # type: ignore[method-assign]
    DynamoDBBackend.restore_table_from_backup = restore_from_backup  # type: ignore[method-assign,assignment]
    DynamoHandler.restore_table_to_point_in_time = restore_to_time  # type: ignore[method-assign,assignment]
    _INSTALLED = True
