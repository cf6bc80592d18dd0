"""A restored copy of the twin's MariaDB: a new server loaded from a snapshot, then the binlog replayed to the target.

The copy starts from a pristine data directory (what `mariadb-install-db` made at `local up`), loads the newest
dump taken before the target (users and passwords included), and replays the primary's binlog from the dump's
position with `mariadb-binlog --stop-datetime` (whole seconds, as RDS MySQL's restore times are). It runs on a free
port with the twin's TLS, beside the source.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import mysql_backup, runas
from cdk_data_tier.app.local.mariadb import PRISTINE, MariaDbTwin, MyNode
from cdk_data_tier.app.local.mysql_backup import Dump, MysqlBackupError, tool
from cdk_data_tier.app.local.procs import StartError, run, stop
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.ops.restore_model import Echo, RestoreError, RestoreFailed, check_in_window, iso

COPIES_DIR = "copies"
REPLAY_TIMEOUT = 600
FIRST_COPY_SERVER_ID = 1000


def plan(state: State, *, to_time: datetime | None, latest: bool,
         snapshot: str | None) -> tuple[Dump, datetime | None, datetime, str]:
    """(dump, binlog stop time or None for all of it (or none for a snapshot), restored_to, how)."""
    found = mysql_backup.dumps(state)
    if snapshot is not None:
        dump = next((d for d in found if d.id == snapshot), None)
        if dump is None:
            raise RestoreError(f"--snapshot {snapshot!r} is not a snapshot of the twin's database (snapshots: "
                               f"{', '.join(d.id for d in found) or 'none'})")
        return dump, None, dump.taken, f"snapshot {dump.id}"
    win = mysql_backup.window(state)
    if latest:
        return found[-1], None, win.latest, f"snapshot {found[-1].id} + the whole binlog"
    assert to_time is not None
    check_in_window(to_time, win, "the twin's database")
    second = to_time.astimezone(UTC).replace(microsecond=0)
    dump = max((d for d in found if d.restorable_from <= second), key=lambda d: d.taken)
    return dump, second, second, f"snapshot {dump.id} + binlog to {iso(second)} (whole seconds)"


def restore_copy(state: State, target: str, *, to_time: datetime | None, latest: bool, snapshot: str | None,
                 echo: Echo) -> tuple[dict[str, Any], datetime]:
    db = MariaDbTwin.attach(state)
    tool("mariadb-binlog", "mysqlbinlog")  # before anything starts: the one clear error when it is missing
    tool("mariadb", "mysql")
    dump, stop_at, restored_to, how = plan(state, to_time=to_time, latest=latest, snapshot=snapshot)
    echo(f"restoring {target}: {how}")
    copies = state.data.get("db_copies", {})
    node = MyNode(target, "restored-copy", db.root / COPIES_DIR / target, FIRST_COPY_SERVER_ID + len(copies))
    name = f"mysql-copy-{target}"
    record = {"family": "mysql", "proc": name, "port": 0, "datadir": str(node.datadir), "backup": dump.id}
    try:
        runas.own_dir(db.root / COPIES_DIR, db.user)
        run(["cp", "-a", db.root / PRISTINE, node.datadir], what="copy of the pristine data dir", user=db.user,
            cwd=db.root)
        db._launch(node, name)
        _load(node, dump)
        if snapshot is None:
            if latest:
                restored_to = datetime.now(UTC)  # all the binlog holds from here on, at least
            _replay(db, node, dump, stop_at)
    except BaseException as err:
        remove_copy(state, record)
        if isinstance(err, StartError | MysqlBackupError):
            raise RestoreFailed(f"restore of {target} failed: {' '.join(str(err).split())}") from None
        raise
    record["port"] = node.port
    return record, restored_to


def _client(node: MyNode) -> list[str]:
    return [str(tool("mariadb", "mysql")), "--no-defaults", f"--socket={node.socket}", "--user=root"]


def _load(node: MyNode, dump: Dump) -> None:
    with open(dump.path, "rb") as sql:
        mysql_backup._run(_client(node), f"loading snapshot {dump.id}", stdin=sql)


def _replay(db: MariaDbTwin, node: MyNode, dump: Dump, stop_at: datetime | None) -> None:
    files = mysql_backup.binlogs(db.primary.datadir, dump.binlog_file)
    cmd = [str(tool("mariadb-binlog", "mysqlbinlog")), "--no-defaults", f"--start-position={dump.binlog_pos}",
           *([f"--stop-datetime={stop_at:%Y-%m-%d %H:%M:%S}"] if stop_at else []), *map(str, files)]
    env = {"TZ": "UTC", "PATH": "/usr/bin:/bin"}
    reader = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert reader.stdout is not None and reader.stderr is not None
    try:
        applied = subprocess.run(_client(node), stdin=reader.stdout, capture_output=True, env=env,
                                 timeout=REPLAY_TIMEOUT)
    finally:
        reader.stdout.close()
        read_errors = reader.stderr.read()
        reader.stderr.close()
        reader.wait(timeout=REPLAY_TIMEOUT)
    for what, code, text in (("mariadb-binlog", reader.returncode, read_errors),
                             ("mariadb", applied.returncode, applied.stderr)):
        if code != 0:
            last = (text.decode(errors="replace").strip().splitlines() or [""])[-1]
            raise MysqlBackupError(f"binlog replay: {what} exited {code}: {last}")


def remove_copy(state: State, record: dict[str, Any]) -> None:
    """Stop a copy and delete its data directory, socket, pid file and process record."""
    recs = [p for p in state.procs if p.name == record["proc"]]
    stop(recs)
    for rec in recs:
        state.remove_proc(rec.name)
    datadir = Path(record["datadir"])
    leftovers = [datadir, datadir.parent / f"{datadir.name}.sock", datadir.parent / f"{datadir.name}.pid"]
    if any(p.exists() for p in leftovers):
        run(["rm", "-rf", *(str(p) for p in leftovers)], what=f"removing {datadir}")
