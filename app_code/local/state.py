"""The twin's state directory: what runs (state.json), what clients read (outputs.json, twin.json).

state.json is rewritten after every process start, so a `down` after a crash of `up` (or of the
servers) still knows every pid it may have to stop and every directory it has to remove.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local.procs import ProcRecord
from cdk_data_tier.app.project import ROOT

STATE_FILE = "state.json"
OUTPUTS_FILE = "outputs.json"
TWIN_FILE = "twin.json"


def default_state_dir(env: str) -> Path:
    return ROOT / ".twin" / env


def write_json(path: Path, data: Any, *, private: bool = False) -> None:
    """Atomic replace, so a reader (or a crash) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=2, sort_keys=False)
        out.write("\n")
    os.replace(tmp, path)


class State:
    def __init__(self, root: Path, data: dict[str, Any]) -> None:
        self.root = root
        self.data = data
        self._lock = threading.Lock()

    @classmethod
    def create(cls, root: Path, env: str) -> State:
        root.mkdir(parents=True, exist_ok=False)
        state = cls(root, {"env": env, "status": "starting", "procs": [], "external_dirs": [], "secrets": {}})
        state.save()
        return state

    @classmethod
    def load(cls, root: Path) -> State | None:
        try:
            data = json.loads((root / STATE_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return cls(root, data)

    @property
    def env(self) -> str:
        return str(self.data.get("env", ""))

    @property
    def procs(self) -> list[ProcRecord]:
        return [ProcRecord.from_json(p) for p in self.data.get("procs", [])]

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def save(self) -> None:
        with self._lock:
            write_json(self.root / STATE_FILE, self.data, private=True)

    def add_proc(self, rec: ProcRecord) -> None:
        with self._lock:
            self.data["procs"].append(rec.to_json())
            write_json(self.root / STATE_FILE, self.data, private=True)

    def replace_proc(self, rec: ProcRecord) -> None:
        """A server restarted under the same name (a failover's replacement): its new pid replaces the old."""
        with self._lock:
            self.data["procs"] = [p for p in self.data["procs"] if p["name"] != rec.name] + [rec.to_json()]
            write_json(self.root / STATE_FILE, self.data, private=True)

    def remove_proc(self, name: str) -> None:
        """A server stopped for good (a restored copy removed): `down` has nothing left to stop of it."""
        with self._lock:
            self.data["procs"] = [p for p in self.data["procs"] if p["name"] != name]
            write_json(self.root / STATE_FILE, self.data, private=True)

    def proc(self, name: str) -> ProcRecord:
        return next(p for p in self.procs if p.name == name)

    def add_external_dir(self, path: Path) -> None:
        with self._lock:
            self.data["external_dirs"].append(str(path))
            write_json(self.root / STATE_FILE, self.data, private=True)

    def set(self, key: str, value: Any) -> None:
        with self._lock:
            self.data[key] = value
            write_json(self.root / STATE_FILE, self.data, private=True)

    def edit(self, change: Callable[[dict[str, Any]], None]) -> None:
        """Change several keys of state.json at once, under the lock."""
        with self._lock:
            change(self.data)
            write_json(self.root / STATE_FILE, self.data, private=True)

    def remove(self) -> None:
        for extra in self.data.get("external_dirs", []):
            shutil.rmtree(extra, ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


OPS_LOCK = "failover.lock"


@contextmanager
def running(state_dir: Path | str, error: type[Exception]) -> Iterator[State]:
    """A running twin's state, held against every other failover, backup or restore until the block ends (two
    operations on one twin would fight over its processes); `error` is the caller's one-line refusal type."""
    state = State.load(Path(state_dir))
    if state is None or state.data.get("status") != "up":
        raise error(f"no running twin in {state_dir} (python -m app_code local up)")
    with open(state.path(OPS_LOCK), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield state
