"""The twin's database backups as a whole: snapshots on demand and the restorable window, either engine.

PostgreSQL keeps a WAL archive and base backups (app_code.local.pg_archive); MariaDB keeps its binlog and
consistent dumps (app_code.local.mysql_backup). Both report their window the way describe_db_instances does
(EarliestRestorableTime, LatestRestorableTime), and every computation of it is recorded in twin.json's
`database`, which `local status` shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local.state import TWIN_FILE, State, write_json
from cdk_data_tier.app.local.state import running as locked_running
from cdk_data_tier.app.ops.restore_model import RestoreError, RestoreWindow, iso


def family(state: State) -> str:
    if "postgres" in state.data:
        return "postgres"
    if "mysql" in state.data:
        return "mysql"
    raise RestoreError(f"the twin in {state.root} has no database")


@contextmanager
def running(state_dir: Path) -> Iterator[State]:
    """The twin's state, held against failovers and other backups or restores until the block ends."""
    with locked_running(state_dir, RestoreError) as state:
        yield state


def identifier(state: State) -> str:
    """The source's DB instance identifier (Aurora: its cluster's), as the template names it."""
    info = _twin_json(state).get("database", {})
    return str(info.get("cluster_identifier") or info.get("identifier") or f"{state.env}-database")


def window(state: State, *, keep: bool = True) -> RestoreWindow:
    """The window now; `keep` records it in twin.json (only under `running`: a failover rewrites that file too)."""
    if family(state) == "postgres":
        from cdk_data_tier.app.local import pg_restore  # noqa: PLC0415
        from cdk_data_tier.app.local.postgres import PostgresTwin  # noqa: PLC0415

        win = pg_restore.window(PostgresTwin.attach(state))
        found = RestoreWindow(win.earliest, win.latest)
    else:
        from cdk_data_tier.app.local import mysql_backup  # noqa: PLC0415

        found = mysql_backup.window(state)
    if keep:
        record(state, found)
    return found


def record(state: State, found: RestoreWindow) -> None:
    path = state.path(TWIN_FILE)
    info = _twin_json(state)
    if not info:
        return  # `up` has not written twin.json yet; it records the window itself
    info.setdefault("database", {}).update(found.to_json())
    write_json(path, info)


def snapshot(state: State, snapshot_id: str) -> dict[str, Any]:
    """A manual snapshot (PostgreSQL: a base backup; MariaDB: a consistent dump at a binlog position)."""
    if family(state) == "postgres":
        from cdk_data_tier.app.local.postgres import PostgresTwin  # noqa: PLC0415

        made = PostgresTwin.attach(state).base_backup("manual", snapshot_id)
        return {"id": made.id, "detail": f"base backup, consistent at {iso(made.ended)}"}
    from cdk_data_tier.app.local.mariadb import MariaDbTwin  # noqa: PLC0415

    dump = MariaDbTwin.attach(state).snapshot(snapshot_id, "manual")
    return {"id": dump.id, "detail": f"dump at binlog {dump.binlog_file}:{dump.binlog_pos}, {iso(dump.taken)}"}


def snapshot_ids(state: State) -> list[str]:
    return [str(b["id"]) for b in state.data.get("db_backups", [])]


def _twin_json(state: State) -> dict[str, Any]:
    try:
        return dict(json.loads(state.path(TWIN_FILE).read_text()))
    except (OSError, ValueError):
        return {}
