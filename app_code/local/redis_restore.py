"""A replication group restored from a snapshot on the twin: new redis nodes that load the snapshot's RDB files.

As `create_replication_group(SnapshotName=...)` gives the source group's settings, the copy gets the source
cache's shape (shards from the snapshot, replicas per shard), TLS, AUTH token or RBAC users and passwords, on
new free ports; each shard's primary starts from its RDB file and, with cluster mode on, owns the slots that
shard had. The copy's processes and directory are recorded in state.json (a `local down` stops them); a restore
that fails half way stops what it started and removes its directory and record.
"""

from __future__ import annotations

import dataclasses
import shutil
from typing import Any

from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.local import ports
from cdk_data_tier.app.local.procs import stop
from cdk_data_tier.app.local.redis_nodes import RedisTwin
from cdk_data_tier.app.local.redis_snapshot import CacheSnapshot, directory, load
from cdk_data_tier.app.local.state import State


def restore(state: State, snapshot: str, target: str) -> tuple[RedisTwin, CacheSnapshot]:
    snap = load(state, snapshot)
    taken = {*state.data.get("copies", {}), *state.data.get("cache_copies", {}), *state.data.get("db_copies", {})}
    if target in taken or state.path("copies", target).exists():
        raise BadInput(f"--target {target}: a copy of that name already exists in {state.root}")
    source = RedisTwin.attach(state)
    if snap.cluster_mode != source.spec.cluster_mode:
        raise BadInput(f"--snapshot {snapshot} was taken with cluster mode {'on' if snap.cluster_mode else 'off'}, "
                       f"the cache has it {'on' if source.spec.cluster_mode else 'off'}")
    spec = dataclasses.replace(source.spec, shards=len(snap.shards))
    seeds = {s["shard"]: directory(state, snapshot) / s["file"] for s in snap.shards}
    slots = {s["shard"]: [(lo, hi) for lo, hi in s["slots"]] for s in snap.shards} if snap.cluster_mode else None
    copy = RedisTwin(state, spec, source.token, source.tls, source.user_passwords,
                     source.admin[1] if source.admin else None, copy=target, seeds=seeds, slots=slots)
    try:
        copy.start()
    except BaseException:
        remove(state, copy)
        raise
    return copy, snap


def remove(state: State, copy: RedisTwin) -> list[str]:
    """Stop the copy's processes, remove its directory and its records."""
    names = {copy.proc_name(n) for n in copy.nodes}
    stopped = stop([p for p in state.procs if p.name in names])
    shutil.rmtree(state.path("copies", copy.copy or ""), ignore_errors=True)

    def forget(data: dict[str, Any]) -> None:
        data["procs"] = [p for p in data["procs"] if p["name"] not in names]
        data.get("cache_copies", {}).pop(copy.copy, None)

    state.edit(forget)
    return stopped


def endpoints(copy: RedisTwin) -> dict[str, str]:
    """The Cache stack's endpoint outputs for the copy: its nodes' own ports (nothing fails a copy over)."""
    first = copy.primaries[0].port
    values = {"Endpoint": f"{ports.HOST}:{first}", "Port": str(first)}
    if not copy.spec.cluster_mode:
        values["ReaderEndpoint"] = f"{ports.HOST}:{copy.reader_port or first}"
    return values


def keys_loaded(copy: RedisTwin) -> int:
    return sum(int(copy.client(n).info("persistence").get("rdb_last_load_keys_loaded", 0)) for n in copy.primaries)
