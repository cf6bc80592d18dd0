"""restore: a backup proves itself only by a restore that gives back the right data.

1. markers at t1: rows in the database, items in the table, keys in the cache;
2. a snapshot of the cache; then a wait;
3. other markers at t2;
4. the database and the table restored to a time between t1 and t2, the cache from the snapshot (taken between
   them), each into a new copy with its own outputs file (app_code.ops);
5. each copy read through its outputs file: every t1 marker must be there, no t2 marker.

The copies are removed at the end, and the markers taken out of the source. `wrong=True` is the protection
switched off: the restores go to the latest restorable time and the snapshot is taken after t2, and the check
reports the t2 markers present. On AWS the drill waits until the restore point is restorable (RDS and DynamoDB
trail the clock by about five minutes) and for the snapshot to be available.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints

MARKERS = 10
GAP_S = 1.0  # between the last t1 and the first t2 write; the restore point is in its middle
WINDOW_TIMEOUT_S = {True: 60.0, False: 900.0}  # (twin?) until the restore point is restorable
PHASES = ("t1", "t2")


@dataclass
class Part:
    restored_to: str = ""
    t1_present: bool = False
    t2_absent: bool = False
    seconds: float = 0.0
    found: dict[str, int] = field(default_factory=dict)  # phase -> markers of it in the copy
    copy: str = ""
    outputs: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.t1_present and self.t2_absent

    def to_json(self) -> dict[str, Any]:
        out = {"restored_to": self.restored_to, "t1_present": self.t1_present, "t2_absent": self.t2_absent,
               "seconds": round(self.seconds, 2), "found": self.found, "markers": MARKERS, "copy": self.copy,
               "outputs": self.outputs}
        return out | ({"error": self.error} if self.error else {})


@dataclass
class RestoreReport:
    target: str
    between: str  # the restore point asked for
    t1: str
    t2: str
    parts: dict[str, Part] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.parts) and all(p.ok for p in self.parts.values())

    def to_json(self) -> dict[str, Any]:
        return {**{name: part.to_json() for name, part in self.parts.items()}, "drill": "restore",
                "target": self.target, "between": self.between, "t1": self.t1, "t2": self.t2, "ok": self.ok}


def _iso(moment: datetime) -> str:
    from cdk_data_tier.app.ops.restore_db import iso

    return iso(moment)


# -- markers in each store ----------------------------------------------------------------------------
class Markers:
    """Write, count and delete the drill's markers in the source's stores (clients kept open for the run) or in
    a copy's (clients opened for the count)."""

    def __init__(self, run: str, source: Endpoints) -> None:
        self.run = run
        self.source = source
        self._sql: Any = None
        self._cache: Any = None

    def keys(self, phase: str) -> list[str]:
        return [f"{phase}-{n:03d}" for n in range(MARKERS)]

    def close(self) -> None:
        if self._sql is not None:
            self._sql.close()
        if self._cache is not None:
            self._cache.close()

    # database
    def sql(self, endpoints: Endpoints) -> Any:
        """The writer alone: markers are written and read back there, never through a lagging replica."""
        import dataclasses

        from cdk_data_tier.app.sql import Credentials, SqlClient, SqlSettings

        if endpoints is self.source and self._sql is not None:
            return self._sql
        db = dataclasses.replace(endpoints.database, readers=())
        # The app user's login, as every workload: it holds DML on the bootstrap's tables, never DDL.
        creds = Credentials.from_secret(endpoints.secret(db.app_login_arn), db.database_name, db.app_login_arn)
        client = SqlClient(db, creds, SqlSettings(ca_bundle=endpoints.aws.ca_bundle)).open()
        if endpoints is self.source:
            self._sql = client
        return client

    def _in_transaction(self, endpoints: Endpoints, fn: Callable[[Any], Any]) -> Any:
        client = self.sql(endpoints)
        try:
            return client.transaction(fn)
        finally:
            if client is not self._sql:
                client.close()

    def write_rows(self, endpoints: Endpoints, phase: str) -> None:
        def insert(conn: Any) -> None:
            with conn.cursor() as cur:
                for key in self.keys(phase):
                    cur.execute(f"INSERT INTO {_ledger(endpoints)} (key_, run, seq) VALUES (%s, %s, 0)",
                                (key, self.run))
        self._in_transaction(endpoints, insert)

    def count_rows(self, endpoints: Endpoints) -> dict[str, int]:
        def count(conn: Any) -> list[Any]:
            with conn.cursor() as cur:
                cur.execute(f"SELECT key_ FROM {_ledger(endpoints)} WHERE run = %s", (self.run,))
                return list(cur.fetchall())
        rows = self._in_transaction(endpoints, count)
        return _by_phase(str(r[0] if not isinstance(r, dict) else r["key_"]) for r in rows)

    def delete_rows(self, endpoints: Endpoints) -> None:
        def delete(conn: Any) -> None:
            with conn.cursor() as cur:
                cur.execute(f"DELETE FROM {_ledger(endpoints)} WHERE run = %s", (self.run,))
        self._in_transaction(endpoints, delete)

    # table
    def _item_keys(self, endpoints: Endpoints, phase: str) -> list[dict[str, Any]]:
        d = endpoints.dynamo
        keys = []
        for key in self.keys(phase):
            item = {d.partition_key: {"S": f"DRILL#restore#{self.run}#{key}"}}
            if d.sort_key:
                item[d.sort_key] = {"S": "marker"}
            keys.append(item)
        return keys

    def write_items(self, endpoints: Endpoints, phase: str) -> None:
        ddb = endpoints.aws.client("dynamodb")
        for key in self._item_keys(endpoints, phase):
            ddb.put_item(TableName=endpoints.dynamo.table_name, Item={**key, "drill": {"S": "restore"}})

    def count_items(self, endpoints: Endpoints) -> dict[str, int]:
        ddb = endpoints.aws.client("dynamodb")
        found = {}
        for phase in PHASES:
            found[phase] = sum(1 for key in self._item_keys(endpoints, phase) if ddb.get_item(
                TableName=endpoints.dynamo.table_name, Key=key, ConsistentRead=True).get("Item"))
        return found

    def delete_items(self, endpoints: Endpoints) -> None:
        ddb = endpoints.aws.client("dynamodb")
        for phase in PHASES:
            for key in self._item_keys(endpoints, phase):
                ddb.delete_item(TableName=endpoints.dynamo.table_name, Key=key)

    # cache
    def cache(self, endpoints: Endpoints) -> Any:
        from cdk_data_tier.app.cache import CacheAuth, connect

        if endpoints is self.source and self._cache is not None:
            return self._cache
        client = connect(endpoints.cache, CacheAuth.from_endpoints(endpoints), ca_bundle=endpoints.aws.ca_bundle)
        if endpoints is self.source:
            self._cache = client
        return client

    def _cache_keys(self, phase: str) -> list[str]:
        # Under the app's key prefix (an RBAC user reaches no other keys), spread over every shard's slots.
        return [f"app_code:drill:restore:{self.run}:{key}" for key in self.keys(phase)]

    def write_keys(self, endpoints: Endpoints, phase: str) -> None:
        client = self.cache(endpoints)
        for key in self._cache_keys(phase):
            client.set(key, phase)

    def count_keys(self, endpoints: Endpoints) -> dict[str, int]:
        client = self.cache(endpoints)
        try:
            return {phase: sum(1 for key in self._cache_keys(phase) if client.exists(key)) for phase in PHASES}
        finally:
            if client is not self._cache:
                client.close()

    def delete_keys(self, endpoints: Endpoints) -> None:
        client = self.cache(endpoints)
        for key in (*self._cache_keys("t1"), *self._cache_keys("t2")):
            client.delete(key)


def _ledger(endpoints: Endpoints) -> str:
    """The drills' ledger table, made by the bootstrap (the app user runs no DDL): markers are its rows, seq 0."""
    from cdk_data_tier.app.sql import MySql, Postgres

    return (Postgres() if endpoints.database.family == "postgres" else MySql()).drill_effects


def _by_phase(markers: Any) -> dict[str, int]:
    found = dict.fromkeys(PHASES, 0)
    for marker in markers:
        phase = marker.split("-", 1)[0]
        found[phase] = found.get(phase, 0) + 1
    return found


# -- the drill ----------------------------------------------------------------------------------------
def run(endpoints: Endpoints, *, twin: Path | None, wrong: bool = False,
        echo: Callable[[str], None] = lambda _: None) -> RestoreReport:
    env = endpoints.env
    parts = [p for p, suffix in (("database", "Database"), ("table", "Dynamo"), ("cache", "Cache"))
             if f"{env}-{suffix}" in endpoints.stacks]
    markers = Markers(uuid.uuid4().hex[:8], endpoints)
    name = f"drill-{markers.run}"
    writes = {"database": markers.write_rows, "table": markers.write_items, "cache": markers.write_keys}
    made: list[tuple[str, str]] = []  # (part, copy name) to remove at the end
    snapshot: str | None = None
    try:
        for part in parts:
            writes[part](endpoints, "t1")
        t1 = datetime.now(UTC)
        echo(f"t1 markers written ({MARKERS} per store), {_iso(t1)}")
        if "cache" in parts and not wrong:
            snapshot = _snapshot(endpoints, twin, name)
        time.sleep(max(0.0, GAP_S - (datetime.now(UTC) - t1).total_seconds()))
        between = t1 + timedelta(seconds=GAP_S / 2)
        t2 = datetime.now(UTC)
        for part in parts:
            writes[part](endpoints, "t2")
        # The restorable window trails the clock: a restore waits until it reaches the point asked for (the
        # latest time: past the t2 markers, or "latest" would be an older point and hide the mistake).
        after_t2 = datetime.now(UTC)
        echo(f"t2 markers written, {_iso(t2)}; restoring to {'the latest time' if wrong else _iso(between)}")
        if "cache" in parts and wrong:
            snapshot = _snapshot(endpoints, twin, name)
        report = RestoreReport(target=f"twin {twin}" if twin else f"AWS {env}", between=_iso(between), t1=_iso(t1),
                               t2=_iso(t2))
        restores = {"database": _database, "table": _table, "cache": _cache}
        for part in parts:
            copy_name = f"{name}-{'db' if part == 'database' else part}"
            outcome = Part(copy=copy_name)
            report.parts[part] = outcome
            try:
                restores[part](endpoints, twin, copy_name, after_t2 if wrong else between, snapshot, wrong, outcome,
                               made)
                _verify(part, markers, outcome)
            except Exception as exc:  # noqa: BLE001 - a part that cannot be restored is reported, the others go on
                outcome.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            echo(f"{part}: {json.dumps(outcome.to_json())}")
        return report
    finally:
        _clean_up(endpoints, twin, markers, parts, made, snapshot, echo)
        markers.close()


def _snapshot(endpoints: Endpoints, twin: Path | None, name: str) -> str:
    if twin is not None:
        from cdk_data_tier.app.local import redis_snapshot
        from cdk_data_tier.app.local.state import State

        state = State.load(twin)
        assert state is not None
        return redis_snapshot.take(state, name, source=redis_snapshot.group_id(state)).name
    from cdk_data_tier.app.ops import cache_copy

    snap = cache_copy.snapshot(endpoints, label=name)
    _wait_snapshot(endpoints, snap["SnapshotName"])
    return str(snap["SnapshotName"])


def _wait_snapshot(endpoints: Endpoints, name: str, timeout: float = 1800) -> None:
    ec = endpoints.aws.client("elasticache")
    deadline = time.monotonic() + timeout
    while ec.describe_snapshots(SnapshotName=name)["Snapshots"][0]["SnapshotStatus"] != "available":
        if time.monotonic() > deadline:
            raise TimeoutError(f"ElastiCache snapshot {name} not available after {timeout:.0f}s")
        time.sleep(15)


def _database(endpoints: Endpoints, twin: Path | None, copy: str, when: datetime, snapshot: str | None,
              wrong: bool, outcome: Part, made: list[tuple[str, str]]) -> None:
    """Restore to `when` (wrong: to the latest time, once the window has reached `when`)."""
    from cdk_data_tier.app.ops.restore_db import restorable_window, restore_database

    _wait(lambda: restorable_window(endpoints).latest >= when, WINDOW_TIMEOUT_S[twin is not None],
          f"database restorable past {_iso(when)}")
    restored = restore_database(endpoints, target=copy, to_time=None if wrong else when, latest=wrong)
    made.append(("database", copy))
    outcome.restored_to, outcome.seconds, outcome.outputs = _iso(restored.restored_to), restored.seconds, \
        str(restored.outputs_path)


def _table(endpoints: Endpoints, twin: Path | None, copy: str, when: datetime, snapshot: str | None,
           wrong: bool, outcome: Part, made: list[tuple[str, str]]) -> None:
    from cdk_data_tier.app.ops.restore_table import Point, wait_restorable
    from cdk_data_tier.app.ops.restores import table_copy

    wait_restorable(endpoints.aws.client("dynamodb"), endpoints.dynamo.table_name, when,
                    timeout=WINDOW_TIMEOUT_S[twin is not None], interval=0.2 if twin else 10)
    restored = table_copy(endpoints, copy, Point(latest=True) if wrong else Point(to_time=when), twin=twin)
    made.append(("table", copy))
    outcome.restored_to, outcome.seconds, outcome.outputs = restored.restored_to, restored.seconds, \
        str(restored.outputs_file)


def _cache(endpoints: Endpoints, twin: Path | None, copy: str, when: datetime, snapshot: str | None,
           wrong: bool, outcome: Part, made: list[tuple[str, str]]) -> None:
    from cdk_data_tier.app.ops.restores import cache_copy

    assert snapshot is not None
    restored = cache_copy(endpoints, snapshot, copy, twin=twin)
    made.append(("cache", copy))
    outcome.restored_to, outcome.seconds, outcome.outputs = restored.restored_to, restored.seconds, \
        str(restored.outputs_file)


def _verify(part: str, markers: Markers, outcome: Part) -> None:
    """Read the copy through its own outputs file: what `run ... --outputs` would reach."""
    copy = Endpoints.from_outputs_file(Path(outcome.outputs))
    count = {"database": markers.count_rows, "table": markers.count_items, "cache": markers.count_keys}[part]
    outcome.found = count(copy)
    outcome.t1_present = outcome.found.get("t1", 0) == MARKERS
    outcome.t2_absent = outcome.found.get("t2", 0) == 0


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f}s")
        time.sleep(0.2)


def _clean_up(endpoints: Endpoints, twin: Path | None, markers: Markers, parts: list[str],
              made: list[tuple[str, str]], snapshot: str | None, echo: Callable[[str], None]) -> None:
    from cdk_data_tier.app.ops.remove_copy import remove_copy

    for part, copy in made:
        try:
            remove_copy(endpoints, copy)
        except Exception as exc:  # noqa: BLE001 - the rest is still removed; what was not is said
            echo(f"could not remove the {part} copy {copy}: {exc}")
    deletes = {"database": markers.delete_rows, "table": markers.delete_items, "cache": markers.delete_keys}
    for part in parts:
        try:
            deletes[part](endpoints)
        except Exception as exc:  # noqa: BLE001
            echo(f"could not delete the {part} markers of run {markers.run}: {exc}")
    if snapshot is not None:
        if twin is not None:
            import shutil

            from cdk_data_tier.app.local import redis_snapshot
            from cdk_data_tier.app.local.state import State

            state = State.load(twin)
            if state is not None:
                shutil.rmtree(redis_snapshot.directory(state, snapshot), ignore_errors=True)
        else:
            endpoints.aws.client("elasticache").delete_snapshot(SnapshotName=snapshot)


def render(report: RestoreReport, *, as_json: bool, console: Any = None) -> None:
    if as_json:
        print(json.dumps(report.to_json(), default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"drill restore on {report.target}: t1 {report.t1}, t2 {report.t2}, "
                        f"restore point {report.between}")
    for column in ("part", "restored to", "t1 present", "t2 absent", "seconds", "copy"):
        table.add_column(column, overflow="fold")
    for name, part in report.parts.items():
        table.add_row(name, part.error or part.restored_to, _mark(part.t1_present), _mark(part.t2_absent),
                      f"{part.seconds:.1f}", part.copy)
    (console or Console()).print(table)


def _mark(held: bool) -> str:
    return "[green]yes[/]" if held else "[red]NO[/]"
