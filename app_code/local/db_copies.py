"""Restored copies of the twin's database: made beside the source, recorded in its state, removed on request.

A copy is a server process of its own (PostgreSQL recovered from the WAL archive, or MariaDB loaded from a dump
plus binlog), recorded in state.json like every other process, so `local down` stops it with the twin. Its
outputs file is the twin's outputs.json with the Database stack pointing at the copy, and a twin.json beside it,
so `python -m app_code run sql --outputs <copy dir>` runs the workload against the copy.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import db_backups, ports
from cdk_data_tier.app.local.state import OUTPUTS_FILE, TWIN_FILE, State, write_json
from cdk_data_tier.app.ops.restore_model import Echo, RestoredCopy, RestoreError, RestoreWindow, iso

COPIES_KEY = "db_copies"
COPIES_DIR = "copies"


def window_on_twin(twin_dir: Path) -> RestoreWindow:
    with db_backups.running(twin_dir) as state:
        return db_backups.window(state)


def restore_on_twin(twin_dir: Path, *, target: str, to_time: datetime | None, latest: bool, snapshot: str | None,
                    outputs_path: Path | None, echo: Echo) -> RestoredCopy:
    started = time.monotonic()
    with db_backups.running(twin_dir) as state:
        _check_free(state, target)
        outputs = Path(outputs_path) if outputs_path else state.path(COPIES_DIR, target, OUTPUTS_FILE)
        if outputs.exists():
            raise RestoreError(f"--out {outputs} already exists: pick another file or remove it")
        beside = outputs.parent / TWIN_FILE
        if beside.exists() and not _is_copy_file(beside, state):
            raise RestoreError(f"--out {outputs}: {beside} exists and is not a copy's (the copy writes its own "
                               "twin.json there): pick another directory")
        family = db_backups.family(state)
        if family == "postgres":
            record, restored_to = _restore_postgres(state, target, to_time, latest, snapshot, echo)
        else:
            from cdk_data_tier.app.local import mysql_restore  # noqa: PLC0415

            record, restored_to = mysql_restore.restore_copy(state, target, to_time=to_time, latest=latest,
                                                              snapshot=snapshot, echo=echo)
        record.update(restored_to=iso(restored_to), outputs=str(outputs))
        try:
            _write_outputs(state, outputs, int(record["port"]), target)
        except BaseException:
            _remove(state, target, record)
            raise
        copies = dict(state.data.get(COPIES_KEY, {}))
        copies[target] = record
        state.set(COPIES_KEY, copies)
        source = db_backups.identifier(state)
    return RestoredCopy(target=target, kind=f"twin-{family}", source=source, restored_to=restored_to,
                        outputs_path=outputs, endpoint=f"{ports.HOST}:{record['port']}",
                        seconds=time.monotonic() - started,
                        remove_command=f"python -m app_code ops remove-copy --outputs {twin_dir} --target {target}")


def _restore_postgres(state: State, target: str, to_time: datetime | None, latest: bool, snapshot: str | None,
                      echo: Echo) -> tuple[dict[str, Any], datetime]:
    from cdk_data_tier.app.local import pg_restore  # noqa: PLC0415
    from cdk_data_tier.app.local.postgres import PostgresTwin  # noqa: PLC0415

    db = PostgresTwin.attach(state)
    chosen = pg_restore.plan(db, to_time=to_time, latest=latest, snapshot=snapshot)
    echo(f"restoring {target}: {chosen.how}")
    copy = pg_restore.restore(db, target, chosen)
    return ({"family": "postgres", "proc": copy.proc_name, "port": copy.port, "datadir": str(copy.datadir),
             "backup": chosen.backup.id}, chosen.restored_to)


def _check_free(state: State, target: str) -> None:
    """A name RDS would refuse as taken: another copy's, or one of the source's own instances."""
    taken = set(state.data.get(COPIES_KEY, {}))
    info = _twin_json(state)
    taken |= {str(v) for k, v in info.get("database", {}).items() if k in ("identifier", "cluster_identifier")}
    taken |= {str(c.get("logical_id", "")).lower() for c in info.get("components", []) if c.get("logical_id")}
    if target.lower() in {t.lower() for t in taken}:
        raise RestoreError(f"--target {target!r} is already taken on the twin (DB identifiers are unique, "
                           "case-insensitively): pick another name, or remove the copy first")


def _write_outputs(state: State, outputs: Path, port: int, target: str) -> None:
    env = state.env
    stacks = json.loads(state.path(OUTPUTS_FILE).read_text())
    database = dict(stacks[f"{env}-Database"])
    database.update(WriterEndpoint=f"{ports.HOST}:{port}", Port=str(port))
    database.pop("ReaderEndpoints", None)  # a restored instance has no replicas
    stacks[f"{env}-Database"] = database
    info = _twin_json(state)
    info["components"] = [{"name": f"copy-{target}", "kind": db_backups.family(state), "role": "restored-copy",
                           "endpoint": f"{ports.HOST}:{port}", "port": port}]
    info["copy_of"] = str(state.root)
    outputs.parent.mkdir(parents=True, exist_ok=True)
    write_json(outputs, stacks)
    # Endpoints read moto's address and the CA from the twin.json beside an outputs file.
    write_json(outputs.parent / TWIN_FILE, info)


def remove_on_twin(twin_dir: Path, *, target: str, echo: Echo) -> list[str]:
    with db_backups.running(twin_dir) as state:
        copies = dict(state.data.get(COPIES_KEY, {}))
        if target not in copies:
            raise RestoreError(f"--target {target!r} is no restored copy of the twin in {twin_dir} (copies: "
                               f"{', '.join(sorted(copies)) or 'none'})")
        removed = _remove(state, target, copies.pop(target))
        state.set(COPIES_KEY, copies)
    for line in removed:
        echo(line)
    return removed


def _remove(state: State, target: str, record: dict[str, Any]) -> list[str]:
    removed = []
    if record["family"] == "postgres":
        from cdk_data_tier.app.local import pg_restore  # noqa: PLC0415
        from cdk_data_tier.app.local.postgres import PostgresTwin  # noqa: PLC0415

        pg_restore.remove(PostgresTwin.attach(state), record["proc"], Path(record["datadir"]))
    else:
        from cdk_data_tier.app.local import mysql_restore  # noqa: PLC0415

        mysql_restore.remove_copy(state, record)
    removed.append(f"stopped {record['proc']} (port {record['port']}), deleted {record['datadir']}")
    outputs = Path(record.get("outputs", "") or state.path(COPIES_DIR, target, OUTPUTS_FILE))
    for path in (outputs, outputs.parent / TWIN_FILE):
        if path.exists() and _is_copy_file(path, state):
            path.unlink()
    if outputs.parent == state.path(COPIES_DIR, target):
        shutil.rmtree(outputs.parent, ignore_errors=True)
    removed.append(f"deleted {outputs}")
    return removed


def _is_copy_file(path: Path, state: State) -> bool:
    """Only files this module wrote are deleted: a twin.json beside a user's file is left alone unless it is ours."""
    if path.name != TWIN_FILE:
        return True
    try:
        return bool(json.loads(path.read_text()).get("copy_of") == str(state.root))
    except (OSError, ValueError):
        return False


def _twin_json(state: State) -> dict[str, Any]:
    try:
        return dict(json.loads(state.path(TWIN_FILE).read_text()))
    except (OSError, ValueError):
        return {}
