"""The twin's MariaDB automated backups, kept as RDS MySQL keeps them: the binlog plus consistent snapshots.

A snapshot is a `mariadb-dump --single-transaction --master-data=2` of every database (the `mysql` schema too,
so users and passwords come back), taken at `local up` and on every `ops backup`; it records the binlog position
it is consistent with. A point-in-time restore loads the newest snapshot before the target and replays the
primary's binlog from that position with `mariadb-binlog --stop-datetime`.

Binlog events carry whole seconds, as RDS MySQL's restore times do: a restore to T holds every transaction begun
before floor(T), and reports that second as its restore time. The binlog is the live primary's, always complete,
so the latest restorable time is now.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import runas
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.ops.restore_model import RestoreError, RestoreFailed, RestoreWindow

BACKUPS_KEY = "db_backups"
BACKUPS_DIR = "backups"
CLIENT_HINT = "mariadb-client (mariadb-dump, mariadb-binlog, mariadb): apt-get install mariadb-client"
_POSITION = re.compile(r"CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+)")
DUMP_TIMEOUT = 300


class MysqlBackupError(RestoreFailed):
    """A MariaDB backup or restore step failed; its tool's output is in the message."""


@dataclass(frozen=True)
class Dump:
    id: str
    kind: str  # automated | manual
    path: Path
    taken: datetime  # when the dump finished: it is consistent at a point before this
    binlog_file: str
    binlog_pos: int

    @property
    def restorable_from(self) -> datetime:
        """The first whole second after the dump: binlog times are seconds, and a restore to a second the dump
        overlaps could not tell its transactions from the binlog's."""
        return self.taken.replace(microsecond=0) + timedelta(seconds=1)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "path": str(self.path), "ended": self.taken.isoformat(),
                "binlog_file": self.binlog_file, "binlog_pos": self.binlog_pos}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Dump:
        return cls(id=data["id"], kind=data["kind"], path=Path(data["path"]),
                   taken=datetime.fromisoformat(data["ended"]), binlog_file=data["binlog_file"],
                   binlog_pos=int(data["binlog_pos"]))


def tool(*names: str) -> Path:
    """A MariaDB client program, or the one clear error that the restore cannot be done here without it."""
    for name in names:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise MysqlBackupError(f"{names[0]} not found on PATH: the MySQL twin's snapshots and point-in-time restore "
                           f"need {CLIENT_HINT}")


def dumps(state: State) -> list[Dump]:
    return sorted((Dump.from_json(d) for d in state.data.get(BACKUPS_KEY, [])), key=lambda d: d.taken)


def take_snapshot(state: State, snapshot_id: str | None, *, kind: str, root: Path, socket: Path,
                  user: str | None) -> Dump:
    """A dump of the primary (reached as its root over `socket`) into <root>/backups, recorded in state.json."""
    snapshot_id = snapshot_id or datetime.now(UTC).strftime("automated-%Y%m%d-%H%M%S-%f")
    if any(d.id == snapshot_id for d in dumps(state)):
        raise RestoreError(f"snapshot {snapshot_id} already exists")
    folder = root / BACKUPS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"{snapshot_id}.sql"
    cmd = [str(tool("mariadb-dump", "mysqldump")), "--no-defaults", f"--socket={socket}", "--user=root",
           "--single-transaction", "--master-data=2", "--all-databases", "--flush-privileges", "--routines",
           "--events", "--triggers", "--hex-blob", f"--result-file={path}"]
    try:
        _run(cmd, f"mariadb-dump for snapshot {snapshot_id}")
        header = path.read_text(errors="replace")[:20000]
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    match = _POSITION.search(header)
    if match is None:
        path.unlink(missing_ok=True)
        raise MysqlBackupError(f"snapshot {snapshot_id}: the dump names no binlog position (is log-bin on?)")
    runas.chown_tree(folder, user)
    dump = Dump(snapshot_id, kind, path, datetime.now(UTC), match[1], int(match[2]))
    state.set(BACKUPS_KEY, [*state.data.get(BACKUPS_KEY, []), dump.to_json()])
    return dump


def window(state: State) -> RestoreWindow:
    found = dumps(state)
    if not found:
        raise RestoreError("the twin's database has no snapshot yet (local up takes one)")
    return RestoreWindow(found[0].restorable_from, datetime.now(UTC))


def binlogs(datadir: Path, start: str) -> list[Path]:
    """The primary's binlog files from `start` on, in order (binlog.index lists them)."""
    index = datadir / "binlog.index"
    names = [Path(line.strip()).name for line in index.read_text().splitlines() if line.strip()]
    if start not in names:
        raise MysqlBackupError(f"binlog {start} (where the snapshot ends) is no longer on the primary")
    return [datadir / n for n in names[names.index(start):]]


def _run(cmd: list[str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(cmd, capture_output=True, timeout=DUMP_TIMEOUT, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"},
                          **kwargs)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.decode(errors="replace").strip().splitlines()[-5:])
        raise MysqlBackupError(f"{what} failed (exit {done.returncode}): {tail}")
    return done
