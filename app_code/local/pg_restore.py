"""A restored copy of the twin's PostgreSQL: a new server from a base backup plus the WAL archive (real PITR).

The copy is a new instance beside the source, as RDS's restores are: the base backup is copied into a data
directory of its own, recovery replays the archive up to the target (`recovery_target_time`, or up to the last
archived record when nothing was committed between it and the target, or `immediate` for a snapshot), and the
server is promoted on a free port with the twin's TLS and the source's users and passwords. It archives
nothing itself (archive_mode off): its WAL would otherwise land in the source's archive.
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg

from cdk_data_tier.app.local import pg_archive, ports, runas
from cdk_data_tier.app.local.pg_archive import BaseBackup, Window
from cdk_data_tier.app.local.postgres import PgNode, PostgresTwin
from cdk_data_tier.app.local.procs import StartError, run, spawn, start_on_free_port, stop
from cdk_data_tier.app.ops.restore_model import RestoreError, RestoreFailed, RestoreWindow, check_in_window, iso

COPIES_DIR = "copies"
RECOVERY_TIMEOUT = 300
FLUSH_TIMEOUT = 10
WAL_PAGE, LONG_PAGE_HEADER, SHORT_PAGE_HEADER = 8192, 40, 24  # XLOG_BLCKSZ; a segment's first page, others
# Settings of the source's postgresql.auto.conf a copy must not keep: it has no standby to wait for, no
# primary to stream from, and its own recovery settings follow.
_DROPPED = re.compile(r"^\s*(synchronous_standby_names|primary_conninfo|primary_slot_name|restore_command|"
                      r"recovery_target\w*)\s*=", re.M)


@dataclass(frozen=True)
class Plan:
    backup: BaseBackup
    settings: dict[str, str]
    restored_to: datetime
    how: str  # what the copy replays, for the report


@dataclass(frozen=True)
class Copy:
    proc_name: str
    port: int
    datadir: Path


def window(db: PostgresTwin) -> Window:
    return pg_archive.window(db.state, root=db.root, bindir=db.bindir, writer_pg_wal=db.primary.datadir / "pg_wal",
                             writer_lsn=lambda: _flushed_position(db))


def _flushed_position(db: PostgresTwin) -> int:
    """How far the writer's WAL files hold every record it has inserted, once its WAL writer has written them out
    (within a few hundred ms when commits are asynchronous: the twin's single-AZ writers run synchronous_commit
    off, so a commit can sit in the WAL buffers, where pg_waldump cannot read it)."""
    with psycopg.connect(db.conninfo(db.primary, "postgres"), autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()
        assert row is not None
        inserted = pg_archive.parse_lsn(row[0])
        # Right after a page header (a new segment or page, nothing on it yet) the insert position is past the
        # header, which is written only with the first record after it.
        header = LONG_PAGE_HEADER if inserted % pg_archive.SEGMENT_BYTES < WAL_PAGE else SHORT_PAGE_HEADER
        page_start = inserted - header if inserted % WAL_PAGE == header else inserted
        deadline = time.monotonic() + FLUSH_TIMEOUT
        while True:
            written = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
            if written is not None and pg_archive.parse_lsn(written[0]) >= page_start:
                return page_start
            if time.monotonic() > deadline:
                raise TimeoutError(f"the writer's WAL is not written out to {row[0]} after {FLUSH_TIMEOUT}s")
            time.sleep(0.02)


def plan(db: PostgresTwin, *, to_time: datetime | None, latest: bool, snapshot: str | None) -> Plan:
    backups = pg_archive.backups(db.state)
    if snapshot is not None:
        chosen = next((b for b in backups if b.id == snapshot), None)
        if chosen is None:
            known = ", ".join(b.id for b in backups) or "none"
            raise RestoreError(f"--snapshot {snapshot!r} is not a snapshot of the twin's database (snapshots: {known})")
        return Plan(chosen, {"recovery_target": "immediate", "recovery_target_timeline": str(chosen.tli)},
                    chosen.ended, f"snapshot {chosen.id}")
    win = window(db)
    moment = win.latest if latest else to_time
    assert moment is not None
    check_in_window(moment, _restore_window(win), "the twin's database")
    if win.chain is None or not win.covered:
        # Only the snapshot itself is restorable (earliest == latest == its end).
        newest = win.newest_backup
        return Plan(newest, {"recovery_target": "immediate", "recovery_target_timeline": str(newest.tli)},
                    newest.ended, f"snapshot {newest.id} (no archived WAL after it)")
    backup = max((b for b in win.covered if b.ended <= moment), key=lambda b: b.ended)
    timeline = {"recovery_target_timeline": str(win.chain.tli)}
    if win.last_archived_commit is not None and moment < win.last_archived_commit:
        return Plan(backup, {**timeline, "recovery_target_time": moment.isoformat()}, moment,
                    f"base backup {backup.id} + WAL archive to {iso(moment)}")
    # Every archived commit is at or before the target, and nothing committed after the archive's end precedes
    # it: the state at the target is the archive's end. recovery_target_time would find no commit past the
    # target and fail, so recovery stops at the last archived record instead.
    last = pg_archive.last_record(db.bindir, db.root / pg_archive.ARCHIVE_DIR, win.chain.files()[-1])
    if last < backup.end_lsn:
        # The archive holds nothing after the backup became consistent: the backup's own end is the target.
        return Plan(backup, {**timeline, "recovery_target": "immediate"}, moment, f"base backup {backup.id} alone")
    return Plan(backup, {**timeline, "recovery_target_lsn": pg_archive.format_lsn(last)}, moment,
                f"base backup {backup.id} + the whole WAL archive (to {pg_archive.format_lsn(last)})")


def _restore_window(win: Window) -> RestoreWindow:
    return RestoreWindow(win.earliest, win.latest)


def restore(db: PostgresTwin, target: str, chosen: Plan) -> Copy:
    """Copy the base backup, recover it to the plan's target, promote it on a free port. On failure nothing of it
    is left (process, data directory, state record)."""
    datadir = runas.own_dir(db.root / COPIES_DIR, db.user) / target
    node = PgNode(target, "restored-copy", datadir)
    name = f"postgres-copy-{target}"
    try:
        run(["cp", "-a", chosen.backup.path, datadir], what=f"copy of base backup {chosen.backup.id}", user=db.user,
            cwd=db.root, env=db.env, timeout=RECOVERY_TIMEOUT)
        _recovery_config(db, datadir, chosen.settings)
        _launch(db, node, name)
    except BaseException as err:
        _discard(db, name, datadir)
        if isinstance(err, StartError):
            raise RestoreFailed(f"restore of {target} failed: {_fatal(err)}") from None
        raise
    return Copy(name, node.port, datadir)


def _recovery_config(db: PostgresTwin, datadir: Path, settings: dict[str, str]) -> None:
    archive = db.root / pg_archive.ARCHIVE_DIR
    auto = datadir / "postgresql.auto.conf"
    kept = "\n".join(line for line in auto.read_text().splitlines() if not _DROPPED.match(line))
    lines = {"restore_command": f"cp {archive}/%f %p", "recovery_target_action": "promote",
             "synchronous_standby_names": "", **settings}
    db._write(auto, kept + "\n" + "".join(f"{k} = '{v}'\n" for k, v in lines.items()))
    (datadir / "standby.signal").unlink(missing_ok=True)
    db._write(datadir / "recovery.signal", "")


def _launch(db: PostgresTwin, node: PgNode, name: str) -> None:
    log = runas.user_log(db.state.path("logs", f"{name}.log"), db.user)

    def start(port: int):  # noqa: ANN202
        node.port = port
        proc, rec = spawn(name, "postgres", [db.bindir / "postgres", "-D", node.datadir, "-p", str(port),
                                             "-c", f"cluster_name={node.name}", "-c", "archive_mode=off"],
                          log=log, port=port, user=db.user, cwd=db.root, env=db.env, stop_signal=signal.SIGQUIT)
        rec.extra = {"role": node.role, "logical_id": node.name, "datadir": str(node.datadir)}
        return proc, rec

    start_on_free_port(pick_port=ports.free_port, start=start, record=db.state.add_proc,
                       ready=lambda: _promoted(db, node), log=log, what=f"restored copy {node.name}",
                       timeout=RECOVERY_TIMEOUT)


def _promoted(db: PostgresTwin, node: PgNode) -> bool:
    with psycopg.connect(db.conninfo(node, "postgres")) as conn:
        return conn.execute("SELECT NOT pg_is_in_recovery()").fetchone() == (True,)


def _fatal(err: StartError) -> str:
    text = str(err)
    fatal = [line.split("FATAL:", 1)[1].strip() for line in text.splitlines() if "FATAL:" in line]
    return fatal[-1] if fatal else text.splitlines()[0]


def _discard(db: PostgresTwin, name: str, datadir: Path) -> None:
    recs = [p for p in db.state.procs if p.name == name]
    stop(recs)
    for rec in recs:
        db.state.remove_proc(rec.name)
    if datadir.exists():
        run(["rm", "-rf", str(datadir)], what=f"removing {datadir}")


def remove(db: PostgresTwin, name: str, datadir: Path) -> None:
    """Stop a copy and delete its data directory and its process record."""
    _discard(db, name, datadir)


def wait_restorable(db: PostgresTwin, moment: datetime, timeout: float = 30) -> Window:
    """Until `moment` is inside the restorable window (a write made at `moment` is archived)."""
    deadline = time.monotonic() + timeout
    while True:
        win = window(db)
        if win.latest >= moment or time.monotonic() > deadline:
            return win
        time.sleep(0.25)
