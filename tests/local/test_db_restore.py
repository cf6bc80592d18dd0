"""Database restores on the twin, against real PostgreSQL: PITR between two marker writes, the latest restorable
time, a snapshot, a failover's new timeline, and what happens when the WAL archive stops."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import failover, pg_archive
from cdk_data_tier.app.local import twin as twin_mod
from cdk_data_tier.app.local.procs import is_running, wait_until
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.twin import Twin
from cdk_data_tier.app.ops.backup import backup
from cdk_data_tier.app.ops.restore_db import (
    RestoredCopy,
    RestoreError,
    remove_copy,
    restorable_window,
    restore_database,
)
from tests.fixtures_twin import reachable_state_dir
from tests.local.helpers import assembly

pytestmark = pytest.mark.engines
ARCHIVED_WITHIN_S = 20


@contextmanager
def connect(outputs: Path) -> Iterator[psycopg.Connection]:
    """The admin's connection to the writer an outputs file names (the twin's, or a copy's)."""
    ep = Endpoints.from_outputs_file(outputs)
    secret = ep.secret(ep.database.admin_secret_arn)
    with psycopg.connect(host=ep.database.writer.host, port=ep.database.writer.port, user=secret["username"],
                         password=secret["password"], dbname=ep.database.database_name, sslmode="verify-full",
                         sslrootcert=ep.aws.ca_bundle, autocommit=True, connect_timeout=5) as conn:
        yield conn


class Marks:
    """Marker rows in a table of their own, each written in its own transaction; `at` is after its commit."""

    def __init__(self, outputs: Path) -> None:
        self.outputs, self.table = outputs, f"restore_marks_{uuid.uuid4().hex[:8]}"
        with connect(outputs) as conn:
            conn.execute(f"CREATE TABLE {self.table} (name text PRIMARY KEY)")

    def write(self, name: str) -> datetime:
        with connect(self.outputs) as conn:
            conn.execute(f"INSERT INTO {self.table} VALUES (%s)", (name,))
        return datetime.now(UTC)

    def read(self, outputs: Path) -> list[str]:
        with connect(outputs) as conn:
            return [r[0] for r in conn.execute(f"SELECT name FROM {self.table} ORDER BY name")]


def wait_restorable(source: Any, moment: datetime, timeout: float = ARCHIVED_WITHIN_S) -> datetime:
    deadline = time.monotonic() + timeout
    while (latest := restorable_window(source).latest) < moment:
        assert time.monotonic() < deadline, f"latest restorable {latest} still before {moment} after {timeout}s"
        time.sleep(0.25)
    return latest


def archived_past(archive: Path, segno: int, filler: Marks, timeout: float = ARCHIVED_WITHIN_S) -> None:
    """Writes (to a table of their own) until the archive holds a segment after `segno`: only then is losing
    `segno` a gap in the middle rather than the archive's end, which archive_timeout alone does not promise."""

    def further() -> bool | None:
        run_ = pg_archive.chain(archive)
        if run_ is not None and run_.last > segno:
            return True
        filler.write(uuid.uuid4().hex)
        return None

    wait_until(further, timeout=timeout, what=f"the WAL archive reaching a segment after {segno:X}")


@pytest.fixture
def copies(twin: Twin) -> Iterator[Callable[..., RestoredCopy]]:
    """restore_database on the dev twin; every copy made is removed afterwards."""
    made: list[tuple[Path, str]] = []

    def restore(source: Path | None = None, **kwargs: Any) -> RestoredCopy:
        where = source or twin.state_dir
        kwargs.setdefault("target", f"copy-{uuid.uuid4().hex[:8]}")
        made.append((where, kwargs["target"]))
        return restore_database(where, **kwargs)

    yield restore
    for where, target in made:
        if target in (State.load(where) or State(where, {})).data.get("db_copies", {}):
            remove_copy(where, target=target)


def test_point_in_time_between_two_writes_has_the_first_and_not_the_second(twin: Twin, copies) -> None:
    marks = Marks(twin.outputs_file)
    marks.write("t1")
    time.sleep(1.0)
    between = datetime.now(UTC)
    time.sleep(1.0)
    t2 = marks.write("t2")
    wait_restorable(twin.state_dir, t2)
    copy = copies(to_time=between)
    assert copy.restored_to == between and copy.kind == "twin-postgres"
    assert marks.read(copy.outputs_path) == ["t1"]
    # The copy is a server of its own: the source still has both, and the copy takes writes apart from it.
    assert marks.read(twin.outputs_file) == ["t1", "t2"]
    with connect(copy.outputs_path) as conn:
        conn.execute(f"INSERT INTO {marks.table} VALUES ('only-in-copy')")
    assert marks.read(twin.outputs_file) == ["t1", "t2"]


def test_latest_includes_the_last_committed_write_and_the_copy_runs_the_workload(twin: Twin, copies) -> None:
    marks = Marks(twin.outputs_file)
    marks.write("early")
    last = marks.write("last")
    wait_restorable(twin.state_dir, last)
    copy = copies(latest=True)
    assert marks.read(copy.outputs_path) == ["early", "last"]
    assert copy.restored_to >= last
    # Its outputs file is the twin's with the Database stack pointing at the copy: the SQL workload runs on it.
    written = json.loads(copy.outputs_path.read_text())
    assert written["dev-Database"]["WriterEndpoint"] == copy.endpoint
    assert written["dev-Dynamo"] == twin.stack("Dynamo")
    assert main(["run", "sql", "--outputs", str(copy.outputs_path), "--no-progress"]) == 0


def test_restore_from_the_snapshot_ops_backup_took(twin: Twin, copies) -> None:
    marks = Marks(twin.outputs_file)
    marks.write("before")
    made = {b.what: b for b in backup(Endpoints.from_twin(twin.state_dir), label=f"t{uuid.uuid4().hex[:6]}")}
    snapshot = made["twin database snapshot"]
    assert snapshot.id.startswith("dev-database-writer-")
    marks.write("after")
    copy = copies(snapshot=snapshot.id)
    assert marks.read(copy.outputs_path) == ["before"]
    assert snapshot.id in twin_mod.restorable("dev", state_dir=twin.state_dir)["snapshots"]


def test_the_window_is_recorded_in_twin_json_and_follows_the_writes(twin: Twin) -> None:
    before = restorable_window(twin.state_dir)
    recorded = json.loads(twin.twin_file.read_text())["database"]
    assert recorded["EarliestRestorableTime"] == before.to_json()["EarliestRestorableTime"]
    assert recorded["LatestRestorableTime"] == before.to_json()["LatestRestorableTime"]
    wrote = Marks(twin.outputs_file).write("x")
    assert wait_restorable(twin.state_dir, wrote) >= wrote


def test_without_archive_command_the_latest_restorable_time_stays_behind(twin: Twin, copies) -> None:
    """The check that would catch archiving switched off: the write is never restorable, and --latest misses it."""
    marks = Marks(twin.outputs_file)
    wait_restorable(twin.state_dir, marks.write("archived"))
    admin = Endpoints.from_twin(twin.state_dir)
    with connect(twin.outputs_file) as conn:
        conn.execute("ALTER SYSTEM SET archive_command = ''")
        conn.execute("SELECT pg_reload_conf()")
    try:
        time.sleep(0.5)  # the archiver reads the reloaded setting
        lost = marks.write("unarchived")
        time.sleep(pg_archive.ARCHIVE_TIMEOUT_S * 2 + 1)  # well past the segment switch that would archive it
        assert restorable_window(twin.state_dir).latest < lost
        copy = copies(latest=True)
        assert marks.read(copy.outputs_path) == ["archived"]
    finally:
        with connect(twin.outputs_file) as conn:
            conn.execute("ALTER SYSTEM RESET archive_command")
            conn.execute("SELECT pg_reload_conf()")
    # Switched back on, the archiver catches up, and the write becomes restorable.
    assert wait_restorable(admin, lost) >= lost


def test_a_failover_continues_the_archive_on_the_new_timeline(twin_prod: Twin) -> None:
    """Multi-AZ: the promoted standby archives its new timeline, and a restore follows it."""
    marks = Marks(twin_prod.outputs_file)
    marks.write("t1")
    time.sleep(1.0)
    between = datetime.now(UTC)
    time.sleep(1.0)
    result = failover.fail_over_database(twin_prod.state_dir)
    assert result.mode == "multi-az"
    t2 = marks.write("t2")
    wait_restorable(twin_prod.state_dir, t2)
    made = []
    try:
        latest = restore_database(twin_prod.state_dir, target="after-failover", latest=True)
        made.append(latest.target)
        assert marks.read(latest.outputs_path) == ["t1", "t2"]
        earlier = restore_database(twin_prod.state_dir, target="before-failover", to_time=between)
        made.append(earlier.target)
        assert marks.read(earlier.outputs_path) == ["t1"]
    finally:
        for target in made:
            remove_copy(twin_prod.state_dir, target=target)


def test_a_gap_in_the_archive_shrinks_the_window_and_local_down_stops_copies(
        twin_assembly: Callable[[str], Path], tmp_path: Path) -> None:
    """On a twin of its own (a Database stack only): archived WAL lost in the middle leaves only what the archive
    still continues restorable, until the next snapshot; then `local down` stops the copies with the twin."""
    out = assembly(tmp_path / "cdk.out", twin_assembly("dev"), "dev", "Database")
    state_dir = reachable_state_dir("dev")
    try:
        up = twin_mod.up("dev", state_dir=state_dir, cdk_out=out)
        marks = Marks(up.outputs_file)
        wait_restorable(state_dir, marks.write("m1"))
        state = State.load(state_dir)
        assert state is not None
        automated = pg_archive.backups(state)[0]
        archive = Path(state.data["postgres"]["root"]) / pg_archive.ARCHIVE_DIR
        lost_segno = automated.end_lsn // pg_archive.SEGMENT_BYTES + 1
        archived_past(archive, lost_segno, Marks(up.outputs_file))
        (archive / pg_archive.segment_name(1, lost_segno)).unlink()
        window = restorable_window(state_dir)
        assert window.earliest == window.latest == automated.ended
        with pytest.raises(RestoreError, match="is after the twin's database's latest restorable time"):
            restore_database(state_dir, target="across-the-gap", to_time=automated.ended + (datetime.now(UTC)
                                                                                              - automated.ended) / 2)
        snapshot = {b.what: b for b in backup(Endpoints.from_twin(state_dir), label="after-gap")}[
            "twin database snapshot"]
        m2 = marks.write("m2")
        assert restorable_window(state_dir).earliest > automated.ended
        copy = restore_database(state_dir, target="doomed", to_time=wait_restorable(state_dir, m2))
        assert marks.read(copy.outputs_path) == ["m1", "m2"] and snapshot.id.endswith("after-gap")

        state = State.load(state_dir)
        assert state is not None
        rec = state.proc("postgres-copy-doomed")
        datadir = Path(rec.extra["datadir"])
        assert is_running(rec) and datadir.exists()
        stopped = twin_mod.down("dev", state_dir=state_dir)
        assert "postgres-copy-doomed" in stopped
        assert not is_running(rec) and not datadir.exists() and not state_dir.exists()
    finally:
        twin_mod.down("dev", state_dir=state_dir)
        shutil.rmtree(state_dir.parent, ignore_errors=True)


def test_remove_copy_stops_it_and_deletes_what_it_wrote(twin: Twin) -> None:
    copy = restore_database(twin.state_dir, target="short-lived", latest=True)
    state = State.load(twin.state_dir)
    assert state is not None
    rec = state.proc("postgres-copy-short-lived")
    lines = remove_copy(twin.state_dir, target="short-lived")
    assert lines[0].startswith("stopped postgres-copy-short-lived")
    assert not is_running(rec) and not copy.outputs_path.exists() and not Path(rec.extra["datadir"]).exists()
    after = State.load(twin.state_dir)
    assert after is not None and "short-lived" not in after.data.get("db_copies", {})
    assert "postgres-copy-short-lived" not in {p.name for p in after.procs}
