"""Snapshots of the twin's cache, as ElastiCache takes them: an RDB file of every shard.

Each shard's primary runs BGSAVE (after any save already running, so the file holds every write acknowledged
before the call); when its `rdb_saves` counter has moved on, the dump is copied into the state directory under
`snapshots/cache/<name>/`, beside snapshot.json: the source group, the time, the shape, and each shard's slot
ranges (cluster mode), which a restore gives back to the same shards. A snapshot that fails half way is removed.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.local.procs import wait_until
from cdk_data_tier.app.local.redis_nodes import RedisNode, RedisTwin, shard_slots
from cdk_data_tier.app.local.state import TWIN_FILE, State, write_json

SNAPSHOTS = ("snapshots", "cache")
META = "snapshot.json"
SAVE_TIMEOUT = 120


@dataclass
class CacheSnapshot:
    name: str
    source: str  # the replication group id (the twin's, as in its outputs' physical ids)
    created: str  # UTC, ISO 8601: when it was asked for; every write acknowledged before then is in it
    cluster_mode: bool
    shards: list[dict[str, Any]] = field(default_factory=list)  # {"shard", "file", "slots", "keys"}
    seconds: float = 0.0

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.created.replace("Z", "+00:00"))


def directory(state: State, name: str) -> Path:
    return state.path(*SNAPSHOTS, name)


def group_id(state: State) -> str:
    """The replication group id of the twin's cache, as its templates name it (twin.json)."""
    info = json.loads(state.path(TWIN_FILE).read_text())
    return str(info.get("cache", {}).get("replication_group_id") or f"{state.env}-cache")


def load(state: State, name: str) -> CacheSnapshot:
    meta = directory(state, name) / META
    if not meta.exists():
        raise BadInput(f"--snapshot {name}: no such cache snapshot in {state.path(*SNAPSHOTS)} (`ops backup` "
                       "takes one)")
    return CacheSnapshot(**json.loads(meta.read_text()))


def _save(cache: RedisTwin, node: RedisNode) -> None:
    conn = cache.client(node, timeout=SAVE_TIMEOUT)
    if conn.info("replication").get("role") != "master":
        raise RuntimeError(f"redis {node.name} is recorded as shard {node.shard + 1}'s primary but is a replica")
    persistence = conn.info("persistence")
    # A save already running started before this call: the one that counts is the next.
    target = int(persistence["rdb_saves"]) + (2 if int(persistence["rdb_bgsave_in_progress"]) else 1)
    conn.execute_command("BGSAVE", "SCHEDULE")

    def done() -> bool:
        now = conn.info("persistence")
        return int(now["rdb_saves"]) >= target and not int(now["rdb_bgsave_in_progress"])

    wait_until(done, timeout=SAVE_TIMEOUT, what=f"BGSAVE on redis {node.name}")
    if conn.info("persistence")["rdb_last_bgsave_status"] != "ok":
        raise RuntimeError(f"BGSAVE on redis {node.name} failed: see its log")


def take(state: State, name: str, source: str) -> CacheSnapshot:
    """A snapshot of every shard of the twin's cache under `name` (which must be new)."""
    target = directory(state, name)
    if target.exists():
        raise BadInput(f"snapshot {name} already exists in {state.root}")
    cache = RedisTwin.attach(state)
    started, asked = time.monotonic(), _now()
    target.mkdir(parents=True)
    try:
        shards = []
        for node in cache.primaries:
            _save(cache, node)
            file = f"{node.shard + 1:04d}.rdb"
            shutil.copyfile(node.directory / "dump.rdb", target / file)
            conn = cache.client(node)
            slots = shard_slots(conn) if cache.spec.cluster_mode else []
            shards.append({"shard": node.shard, "file": file, "slots": [list(r) for r in slots],
                           "keys": int(conn.dbsize())})
        snap = CacheSnapshot(name=name, source=source, created=asked, cluster_mode=cache.spec.cluster_mode,
                             shards=sorted(shards, key=lambda s: s["shard"]), seconds=time.monotonic() - started)
        write_json(target / META, asdict(snap))
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return snap


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
