"""`ops remove-copy`: take away a copy a restore made, and only such a copy.

On the twin the copy is looked up in state.json's `copies` (app_code.ops.copies): a table is deleted from moto,
a cache's redis processes are stopped, and the copy's directory (its outputs file among it) goes. A database copy
is ops.restore_db's to remove. On AWS the name says what it is: a table of that name, else a replication group,
else a DB instance or cluster (ops.restore_db); the environment's own table or cache is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.ops import copies


def remove_copy(endpoints: Endpoints, target: str) -> list[str]:
    """What was stopped or deleted."""
    from cdk_data_tier.app.ops.restore_db import twin_dir_of

    twin = twin_dir_of(endpoints)
    if twin is not None:
        entry = copies.recorded(twin).get(target)
        if entry is None and target not in _db_copies(twin):
            raise BadInput(f"--target {target!r} is no restored copy of the twin in {twin} (`ops restore-db`, "
                           "`restore-table` and `restore-cache` make them)")
        if entry is None or entry["kind"] == "database":
            return _database(endpoints, target)
        return remove_on_twin(endpoints, twin, target, entry)
    ddb = endpoints.aws.client("dynamodb")
    try:
        ddb.describe_table(TableName=target)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    else:
        from cdk_data_tier.app.ops.restore_table import remove_table

        remove_table(endpoints, target)
        return [f"table {target}"]
    from cdk_data_tier.app.ops.cache_copy import group_exists, remove_group

    if group_exists(endpoints, target):
        remove_group(endpoints, target)
        return [f"replication group {target}"]
    return _database(endpoints, target)


def _db_copies(twin: Path) -> set[str]:
    from cdk_data_tier.app.local.db_copies import COPIES_KEY
    from cdk_data_tier.app.local.state import State

    state = State.load(twin)
    return set(state.data.get(COPIES_KEY, {})) if state else set()


def _database(endpoints: Endpoints, target: str) -> list[str]:
    from cdk_data_tier.app.ops.restore_db import remove_copy as remove_db_copy

    return remove_db_copy(endpoints, target=target)


def remove_on_twin(endpoints: Endpoints, twin: Path, target: str, entry: dict[str, Any]) -> list[str]:
    from cdk_data_tier.app.local.procs import stop
    from cdk_data_tier.app.local.state import State

    state = State.load(twin)
    assert state is not None
    removed: list[str] = []
    if entry["kind"] == "table":
        from cdk_data_tier.app.ops.restore_table import remove_table

        remove_table(endpoints, entry.get("table", target))
        removed.append(f"table {target}")
    names = set(entry.get("procs", []))
    removed += [f"process {name}" for name in stop([p for p in state.procs if p.name in names])]
    for directory in entry.get("dirs", []):
        shutil.rmtree(directory, ignore_errors=True)

    def forget(data: dict[str, Any]) -> None:
        data["procs"] = [p for p in data["procs"] if p["name"] not in names]
        data["copies"] = {k: v for k, v in data.get("copies", {}).items() if k != target}
        data.get("cache_copies", {}).pop(target, None)

    state.edit(forget)
    if not removed:
        raise BadInput(f"--target {target}: nothing of the copy was left to remove")
    return removed
