"""The twin's PostgreSQL automated backups, kept as RDS keeps them: a WAL archive plus base backups.

Every segment the writer completes is copied into `<pg root>/wal-archive` by `archive_command`. The primary
and the synchronous standby both archive (`archive_mode = always` on the standby), into the same directory and
idempotently, so a segment the killed primary had not archived yet is there from the standby, and the promoted
standby goes on archiving its new timeline. `archive_timeout` closes a segment at most ARCHIVE_TIMEOUT_S after a
write, so the latest restorable time trails the last commit by seconds (RDS: about five minutes). Segments are
1 MiB (`initdb --wal-segsize=1`): a timeout-forced switch then wastes little disk.

Base backups (pg_basebackup, plain format, WAL included) go to `<pg root>/backups/<id>`: one at `local up` (the
automated backup) and one per `ops backup` (a manual snapshot). state.json's `db_backups` lists them.

The restorable window is computed from what is on disk, never assumed: the earliest is the end of the oldest
base backup the archive continues; the latest is the last instant all of whose commits are archived: now, when
nothing was committed past the archive's end, else just before the first commit that is not archived yet
(pg_waldump reads the writer's own pg_wal for that, once the writer has flushed it as far as it has written:
with synchronous_commit off a commit can sit in its WAL buffers for a moment).
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import runas
from cdk_data_tier.app.local.procs import run
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.ops.restore_model import RestoreError, RestoreFailed

WAL_SEGSIZE_MB = 1
SEGMENT_BYTES = WAL_SEGSIZE_MB * 1024 * 1024
ARCHIVE_TIMEOUT_S = 2
ARCHIVE_DIR = "wal-archive"
BACKUPS_DIR = "backups"
BACKUPS_KEY = "db_backups"
_SEGMENT = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$")
_COMMIT = re.compile(r"lsn: ([0-9A-F]+/[0-9A-F]+), prev [^,]+, "
                     r"desc: COMMIT (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC")
_RECORD = re.compile(r"lsn: ([0-9A-F]+/[0-9A-F]+),")


class ArchiveError(RestoreFailed):
    """The archive cannot give what was asked (a gap, no base backup before a time)."""


def conf(archive: Path) -> str:
    """postgresql.conf lines for every node; the archive mode itself depends on the role (archive_mode)."""
    # Idempotent: the primary and the standby both archive a segment they both have; `test -f` keeps the first
    # copy, and a copy lands under a temporary name first, so a reader never sees half a segment.
    command = (f"test -f {archive}/%f || (cp %p {archive}/.%f.$$ && mv {archive}/.%f.$$ {archive}/%f)")
    return (f"archive_command = '{command}'\n"
            f"archive_timeout = {ARCHIVE_TIMEOUT_S}s\n"
            # PostgreSQL 15 arms archive_timeout only at the checkpointer's next wake-up after start-up: a short
            # checkpoint_timeout bounds how long a restarted writer may go without switching segments.
            "checkpoint_timeout = 30s\n")


def archive_mode(role: str) -> str:
    """The writer and its synchronous standby archive; replicas never (they are never promoted)."""
    return {"primary": "on", "standby": "always"}.get(role, "on")


def parse_lsn(text: str) -> int:
    high, low = text.split("/")
    return (int(high, 16) << 32) | int(low, 16)


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def segment_name(tli: int, segno: int) -> str:
    per_log = 0x100000000 // SEGMENT_BYTES
    return f"{tli:08X}{segno // per_log:08X}{segno % per_log:08X}"


def _segno(log: str, seg: str) -> int:
    return int(log, 16) * (0x100000000 // SEGMENT_BYTES) + int(seg, 16)


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- base backups -------------------------------------------------------------------------------
@dataclass(frozen=True)
class BaseBackup:
    id: str
    kind: str  # automated | manual
    path: Path
    started: datetime
    ended: datetime  # when it became consistent (pg_basebackup returned): a restore to it needs nothing more
    tli: int
    start_lsn: int
    end_lsn: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "path": str(self.path), "started": self.started.isoformat(),
                "ended": self.ended.isoformat(), "tli": self.tli, "start_lsn": format_lsn(self.start_lsn),
                "end_lsn": format_lsn(self.end_lsn)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BaseBackup:
        return cls(id=data["id"], kind=data["kind"], path=Path(data["path"]),
                   started=datetime.fromisoformat(data["started"]), ended=datetime.fromisoformat(data["ended"]),
                   tli=int(data["tli"]), start_lsn=parse_lsn(data["start_lsn"]), end_lsn=parse_lsn(data["end_lsn"]))


def backups(state: State) -> list[BaseBackup]:
    return sorted((BaseBackup.from_json(b) for b in state.data.get(BACKUPS_KEY, [])), key=lambda b: b.ended)


def take_base_backup(state: State, *, root: Path, bindir: Path, user: str | None, env: Mapping[str, str],
                     replication_conninfo: str, backup_id: str, kind: str) -> BaseBackup:
    """pg_basebackup of the writer into backups/<id>, recorded in state.json once it is complete."""
    target = root / BACKUPS_DIR / backup_id
    if target.exists():
        raise RestoreError(f"snapshot {backup_id} already exists")
    runas.own_dir(root / BACKUPS_DIR, user)
    started = datetime.now(UTC)
    try:
        run([bindir / "pg_basebackup", "-D", target, "-d", replication_conninfo, "-X", "stream", "-c", "fast",
             "--no-sync"], what=f"pg_basebackup for snapshot {backup_id}", user=user, cwd=root, env=env, timeout=300)
    except BaseException:
        run(["rm", "-rf", str(target)], what=f"removing the failed snapshot {backup_id}")
        raise
    return _record(state, target, backup_id, kind, started, datetime.now(UTC))


def adopt_copy(state: State, source: Path, *, root: Path, user: str | None, backup_id: str, kind: str,
               started: datetime, ended: datetime) -> BaseBackup:
    """A base backup just taken for another purpose (the first replica's, at `up`), copied before anything starts on
    it: one pg_basebackup fewer. A restore drops its standby settings (standby.signal, primary_conninfo)."""
    target = root / BACKUPS_DIR / backup_id
    runas.own_dir(root / BACKUPS_DIR, user)
    run(["cp", "-a", str(source), str(target)], what=f"copy of the base backup for snapshot {backup_id}", user=user,
        cwd=root)
    return _record(state, target, backup_id, kind, started, ended)


def _record(state: State, target: Path, backup_id: str, kind: str, started: datetime, ended: datetime) -> BaseBackup:
    ranges = json.loads((target / "backup_manifest").read_text())["WAL-Ranges"]
    backup = BaseBackup(id=backup_id, kind=kind, path=target, started=started, ended=ended,
                        tli=int(ranges[-1]["Timeline"]), start_lsn=parse_lsn(ranges[0]["Start-LSN"]),
                        end_lsn=parse_lsn(ranges[-1]["End-LSN"]))
    state.set(BACKUPS_KEY, [*state.data.get(BACKUPS_KEY, []), backup.to_json()])
    return backup


def make_archive(root: Path, user: str | None) -> Path:
    return runas.own_dir(root / ARCHIVE_DIR, user)


# -- the archive --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Chain:
    """The contiguous run of archived segments that ends at the newest one, along the newest timeline's history."""

    tli: int  # the newest timeline
    first: int  # first segment number of the run
    last: int  # last segment number (its end is where the archive ends)
    switches: tuple[tuple[int, int], ...]  # (timeline, LSN where it ended), oldest first

    def timeline_of(self, segno: int) -> int:
        for tli, end in self.switches:
            if segno < end // SEGMENT_BYTES:
                return tli
        return self.tli

    @property
    def end_lsn(self) -> int:
        return (self.last + 1) * SEGMENT_BYTES

    def covers(self, lsn: int) -> bool:
        return self.first * SEGMENT_BYTES <= lsn < self.end_lsn

    def files(self) -> list[str]:
        return [segment_name(self.timeline_of(s), s) for s in range(self.first, self.last + 1)]


def history(archive: Path, tli: int) -> tuple[tuple[int, int], ...]:
    if tli == 1:
        return ()
    path = archive / f"{tli:08X}.history"
    if not path.exists():
        raise ArchiveError(f"the WAL archive has segments of timeline {tli} but not its history file {path.name}")
    out = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].isdigit():
            out.append((int(parts[0]), parse_lsn(parts[1])))
    return tuple(out)


def chain(archive: Path) -> Chain | None:
    """None when nothing is archived yet."""
    segments: set[tuple[int, int]] = set()
    tlis = {1}
    for entry in archive.iterdir() if archive.exists() else ():
        match = _SEGMENT.match(entry.name)
        if match:
            segments.add((int(match[1], 16), _segno(match[2], match[3])))
            tlis.add(int(match[1], 16))
        elif entry.name.endswith(".history"):
            tlis.add(int(entry.name[:8], 16))
    if not segments:
        return None
    newest = max(tlis)
    probe = Chain(newest, 0, 0, history(archive, newest))
    on_path = [s for t, s in segments if probe.timeline_of(s) == t]
    if not on_path:
        return None
    last = max(on_path)
    first = last
    while (probe.timeline_of(first - 1), first - 1) in segments:
        first -= 1
    return Chain(newest, first, last, probe.switches)


def _waldump(bindir: Path, args: list[str]) -> str:
    import subprocess  # noqa: PLC0415 - the only tool here whose failure is expected (it stops at the WAL's end)

    done = subprocess.run([str(bindir / "pg_waldump"), *args], capture_output=True, text=True, timeout=60,
                          env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL)
    return done.stdout


def _segment_dump(bindir: Path, archive: Path, name: str, options: list[str]) -> str:
    """pg_waldump of one archived segment. A record that runs on into the next segment would make it wait 5 s for
    that file when it is not archived (yet): the next name is given as an empty file, which ends the dump at once."""
    match = _SEGMENT.match(name)
    assert match is not None
    following = segment_name(int(match[1], 16), _segno(match[2], match[3]) + 1)
    with tempfile.TemporaryDirectory(prefix="twin-waldump-") as scratch:
        (Path(scratch) / name).symlink_to(archive / name)
        (Path(scratch) / following).symlink_to(archive / following if (archive / following).exists() else "/dev/null")
        return _waldump(bindir, [*options, "-p", scratch, name])


def commits(bindir: Path, directory: Path, files: list[str] | None = None, *, tli: int | None = None,
            start: int | None = None, end: int | None = None) -> list[tuple[int, datetime]]:
    """(LSN, commit time) of every commit in the given archived segments, or in [start, end) of a pg_wal."""
    out: list[tuple[int, datetime]] = []
    only = ["--rmgr=Transaction"]  # commits are all it looks for: the rest would be text to print and parse
    if files is not None:
        for name in files:
            text = _segment_dump(bindir, directory, name, only)
            out += [(parse_lsn(m[1]), _utc(m[2])) for m in _COMMIT.finditer(text)]
        return out
    assert tli is not None and start is not None and end is not None
    present = {_segno(m[2], m[3]) for m in map(_SEGMENT.match, (p.name for p in directory.iterdir()))
               if m and int(m[1], 16) == tli}
    missing = [s for s in range(start // SEGMENT_BYTES, (end - 1) // SEGMENT_BYTES + 1) if s not in present]
    if missing:
        # pg_waldump would wait 5 s for it; a flushed segment that is gone was archived and recycled meanwhile.
        raise ArchiveError(f"WAL segment {segment_name(tli, missing[0])} is not in {directory}")
    text = _waldump(bindir, [*only, "-p", str(directory), "-t", str(tli), "-s", format_lsn(start),
                             "-e", format_lsn(end)])
    return [(parse_lsn(m[1]), _utc(m[2])) for m in _COMMIT.finditer(text)]


def last_record(bindir: Path, archive: Path, name: str) -> int:
    """The LSN of the last record that begins in an archived segment."""
    found = _RECORD.findall(_segment_dump(bindir, archive, name, []))
    if not found:
        raise ArchiveError(f"archived segment {name} holds no WAL record pg_waldump can read")
    return parse_lsn(found[-1])


@dataclass(frozen=True)
class Window:
    earliest: datetime
    latest: datetime
    chain: Chain | None
    last_archived_commit: datetime | None  # None: no commit in the archived run
    covered: tuple[BaseBackup, ...]  # the base backups the archive continues (point-in-time restore from them)
    newest_backup: BaseBackup


def window(state: State, *, root: Path, bindir: Path, writer_pg_wal: Path | None,
           writer_lsn: Callable[[], int] | None = None) -> Window:
    """`writer_lsn` returns the writer's WAL insert position once everything up to it is flushed (commits made
    with synchronous_commit off may still sit in its WAL buffers, where pg_waldump cannot read them)."""
    found = backups(state)
    if not found:
        raise ArchiveError("the twin's database has no base backup yet (local up takes one)")
    archive = root / ARCHIVE_DIR
    run_ = chain(archive)
    # A base backup holds its own WAL up to its end; the archive must go on from there.
    covered = tuple(b for b in found if run_ is not None and run_.covers(b.end_lsn))
    newest = found[-1]
    if run_ is None or not covered:
        # Without a continued archive only the snapshots themselves are restorable: the newest is the latest.
        return Window(newest.ended, newest.ended, run_, None, (), newest)
    last_commit = None
    for segno in range(run_.last, max(run_.first, covered[0].start_lsn // SEGMENT_BYTES) - 1, -1):
        seen = commits(bindir, archive, [segment_name(run_.timeline_of(segno), segno)])
        if seen:
            last_commit = max(t for _, t in seen)
            break
    # What is archived is all that is known, unless the writer says what it wrote past the archive's end.
    latest = last_commit or covered[-1].ended
    if writer_pg_wal is not None and writer_lsn is not None:
        # Asked after the archive's listing: a commit made meanwhile is past the run's end, so it counts as pending.
        now = datetime.now(UTC)
        try:
            written = writer_lsn()
            pending = [] if written <= run_.end_lsn else commits(
                bindir, writer_pg_wal, tli=_writer_tli(writer_pg_wal, run_), start=run_.end_lsn, end=written)
        except Exception:  # noqa: BLE001 - a writer that does not answer (a failover) leaves the archive's answer
            pending = None
        if pending is not None:
            latest = min(t for _, t in pending) - timedelta(microseconds=1) if pending else now
    latest = max(latest, covered[-1].ended)
    return Window(covered[0].ended, latest, run_, last_commit, covered, newest)


def _writer_tli(pg_wal: Path, run_: Chain) -> int:
    tlis = [int(p.name[:8], 16) for p in pg_wal.iterdir() if _SEGMENT.match(p.name)]
    return max(tlis, default=run_.tli)
