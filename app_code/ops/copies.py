"""The copies that restores make beside their source: the outputs file each one gets, and the record of it.

A copy's outputs file has the endpoints contract's shape (docs/endpoints-contract.md): the source's outputs,
with the copy's stack (`<env>-Dynamo` or `<env>-Cache`) holding the copy's own endpoints or names, plus
`CopyOf`, `CopyKind`, `CopyName` and `RestoredTo`. `python -m app_code run dynamo|cache --outputs FILE` then
runs the workload against the copy (the cache workload's cache-aside part still reads the source's database).

On the twin the file is `<state>/copies/<name>/outputs.json`, with a copy of the twin's twin.json beside it
(where moto is, which CA to trust), and the copy is recorded in state.json under `copies` with the processes
and directories it owns, so `local down` stops it with the rest and `ops remove-copy` finds it. On AWS the file
is `./restore-<name>/outputs.json` unless the caller names another, and AWS itself is the record. (The layout
is ops.restore_db's, so database, table and cache copies sit side by side; a name is one copy's, whatever
its kind: see `check_free`.)
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.errors import BadInput

KINDS = {"database": "Database", "table": "Dynamo", "cache": "Cache"}  # copy kind -> the stack it stands for
MADE_BY = "app_code ops"


@dataclass
class Copy:
    kind: str  # database | table | cache
    name: str  # the new resource's identifier (table name, replication group id, DB instance id)
    restored_to: str  # the time or snapshot/backup it holds
    outputs_file: Path | None = None
    seconds: float = 0.0  # from the first restore call to the copy answering
    detail: dict[str, Any] = field(default_factory=dict)

    def report(self, run_target: str, remove: str) -> list[str]:
        return [f"restored {self.kind} {self.name} ({self.restored_to}) in {self.seconds:.1f}s",
                f"outputs: {self.outputs_file}",
                f"use it:  python -m app_code run {run_target} --outputs {self.outputs_file}",
                f"remove:  {remove}"]


def outputs_path(twin: Path | None, name: str) -> Path:
    return twin / "copies" / name / "outputs.json" if twin else Path.cwd() / f"restore-{name}" / "outputs.json"


def check_writable(path: Path) -> None:
    """Before a restore starts: the outputs file can be written where it is to go."""
    existing = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK):
        raise BadInput(f"the copy's outputs file {path} cannot be written ({existing} is not a writable directory)")
    if path.exists():
        raise BadInput(f"the copy's outputs file {path} already exists: remove it, or name another")


def write_outputs(endpoints: Endpoints, copy: Copy, values: dict[str, str], path: Path, *,
                  twin: Path | None = None, drop: tuple[str, ...] = ()) -> Path:
    """The source's outputs, the copy's stack with `values` in place of the source's and `drop` left out."""
    from cdk_data_tier.app.local.state import TWIN_FILE, write_json

    stack = f"{endpoints.env}-{KINDS[copy.kind]}"
    source = endpoints.stacks.get(stack, {})
    outs = {k: v for k, v in source.items() if k not in drop}
    outs.update(values, CopyOf=str(source.get(_SOURCE_KEY[copy.kind], "")), CopyKind=copy.kind, CopyName=copy.name,
                RestoredTo=copy.restored_to)
    path.parent.mkdir(parents=True, exist_ok=True)
    if twin is not None:
        shutil.copyfile(twin / TWIN_FILE, path.parent / TWIN_FILE)  # clients find moto and the CA beside it
    write_json(path, {**endpoints.stacks, stack: outs})
    copy.outputs_file = path
    return path


_SOURCE_KEY = {"database": "WriterEndpoint", "table": "TableName", "cache": "Endpoint"}


def record(state_dir: Path, copy: Copy, *, procs: Sequence[str] = (), dirs: Sequence[str] = (),
           extra: dict[str, Any] | None = None) -> None:
    """Enter a twin copy into state.json: what `ops remove-copy` stops and removes."""
    from cdk_data_tier.app.local.state import State

    state = State.load(state_dir)
    if state is None:
        raise BadInput(f"{state_dir} is not a twin state directory")
    copies = dict(state.data.get("copies", {}))
    copies[copy.name] = {"kind": copy.kind, "outputs": str(copy.outputs_file) if copy.outputs_file else None,
                         "restored_to": copy.restored_to, "procs": list(procs), "dirs": list(dirs), **(extra or {})}
    state.set("copies", copies)


def check_free(state_dir: Path, name: str) -> None:
    """On the twin a copy's name is its directory's: no two copies of any kind share one."""
    from cdk_data_tier.app.local.state import State

    state = State.load(state_dir)
    data = state.data if state else {}
    taken = {*data.get("copies", {}), *data.get("cache_copies", {}), *data.get("db_copies", {})}
    if name in taken or (state_dir / "copies" / name).exists():
        raise BadInput(f"--target {name}: a copy of that name already exists in {state_dir}")


def recorded(state_dir: Path) -> dict[str, dict[str, Any]]:
    from cdk_data_tier.app.local.state import State

    state = State.load(state_dir)
    return dict(state.data.get("copies", {})) if state else {}


def tags(env: str, **more: str) -> list[dict[str, str]]:
    """The tags every backup and copy carries, so teardown verification finds them by tag as well as by name."""
    return [{"Key": k, "Value": v} for k, v in {"project": "cdk-data-tier", "env": env, "made-by": MADE_BY,
                                                **more}.items()]


# ElastiCache replication group ids and snapshot names; RDS identifiers follow the same rule at 63 characters.
_CACHE_ID = re.compile(r"^[a-z][a-z0-9-]*$")


def check_cache_id(what: str, value: str, limit: int = 40) -> str:
    """One error naming the rule ElastiCache would reject `value` by (it lower-cases ids, so we do too)."""
    name = value.lower()
    if not 1 <= len(name) <= limit or not _CACHE_ID.match(name) or "--" in name or name.endswith("-"):
        raise BadInput(f"{what} {value!r} is not a valid ElastiCache name: 1-{limit} letters, digits or hyphens, "
                       "starting with a letter, no two hyphens in a row, not ending with a hyphen")
    return name
