"""Fail a primary of the twin's cache over, as ElastiCache's automatic failover does.

The primary of the shard is killed (SIGKILL). Cluster mode disabled: the twin's control does what
ElastiCache's does, `REPLICAOF NO ONE` on the most up-to-date replica and `REPLICAOF` it on the others,
and moves the primary and reader endpoints (the proxy). Cluster mode enabled: the replica takes the
shard over with `CLUSTER FAILOVER TAKEOVER`. Redis Cluster's own failure detection needs a majority of
primaries to agree, which a cluster of two shards (prod's) cannot have with one of them dead; the
control plane of ElastiCache decides for it, and so does the twin. Clients follow the new slot map.
Then the failed node is replaced on its old port and rejoins as a replica of the new primary.

`partition_replicas_first` is the fault that shows what asynchronous replication loses: the shard's
replicas are cut off from the primary (their AUTH to it made to fail, their link dropped) before the
kill, so writes acknowledged meanwhile exist on the primary only. A write followed by `WAIT 1` gets
no replica's acknowledgement then, and a client that requires one does not count it as acknowledged.
"""

from __future__ import annotations

import signal
import time
from typing import Any

import redis
from redis.crc import key_slot

from cdk_data_tier.app.local.failover_result import Clock, FailoverResult
from cdk_data_tier.app.local.procs import StartError, kill, wait_until
from cdk_data_tier.app.local.redis_nodes import PRIMARY_FRONTEND, READER_FRONTEND, SLOTS, RedisNode, RedisTwin
from cdk_data_tier.app.local.state import State

TIMEOUT = 60
AHEAD_TIMEOUT = 5
PARTITION_USER = "twin-partitioned"  # no such user: a replica that logs in as it cannot sync


def fail_over(state: State, *, shard: int, partition_replicas_first: bool = False,
              partition_hold_s: float = 0.3) -> FailoverResult:
    cache = RedisTwin.attach(state)
    if not 1 <= shard <= cache.spec.shards:
        raise ValueError(f"shard {shard}: the cache has shards 1..{cache.spec.shards}")
    primary = next(n for n in cache.nodes if n.shard == shard - 1 and n.role == "primary")
    replicas = [n for n in cache.nodes if n.shard == shard - 1 and n.role == "replica"]
    if not replicas:
        raise ValueError(f"shard {shard} has no replica to promote")
    mode = "cluster mode on" if cache.spec.cluster_mode else "cluster mode off"
    result = FailoverResult(target="cache", mode=mode, old_primary=primary.name, new_primary="",
                            injected=f"SIGKILL primary {primary.name} of shard {shard:04d}")
    saved: dict[str, dict[str, str]] = {}
    if partition_replicas_first:
        try:
            for replica in replicas:
                saved[replica.name] = _cut(cache, replica)
            result.behind_bytes = _wait_ahead(cache, primary, replicas, partition_hold_s)
        except BaseException:
            for replica in replicas:
                if replica.name in saved:
                    _heal(cache, replica, saved[replica.name])
                    cache.client(replica).execute_command("CLIENT", "KILL", "TYPE", "master")
            raise
        result.partitioned = True
        result.injected = f"replicas of shard {shard:04d} cut off, then {result.injected}"
    clock = Clock()
    result.killed_at = clock.now()
    kill(state.proc(f"redis-{primary.name}"), signal.SIGKILL)
    for replica in replicas:
        if replica.name in saved:
            _heal(cache, replica, saved[replica.name])
    chosen = max(replicas, key=lambda r: _offset(cache, r))
    others = [r for r in replicas if r is not chosen]
    if cache.spec.cluster_mode:
        cache.client(chosen).execute_command("CLUSTER", "FAILOVER", "TAKEOVER")
    else:
        cache.client(chosen).execute_command("REPLICAOF", "NO", "ONE")
        for other in others:
            cache.client(other).execute_command("REPLICAOF", "127.0.0.1", chosen.port)
        assert cache.proxy is not None
        cache.proxy.route(PRIMARY_FRONTEND, [chosen.name])
        cache.proxy.route(READER_FRONTEND, [r.name for r in others] or [chosen.name])
    port = cache.primary_port if cache.proxy else chosen.port
    probe = _key_in_shard(shard - 1, cache.spec.shards)
    wait_until(lambda: _writable(cache, port, probe), timeout=TIMEOUT, what=f"redis {chosen.name} accepting writes")
    result.writable_at = clock.now()
    result.promotion_ms = round((result.writable_at - result.killed_at) * 1000, 1)
    result.new_primary = chosen.name
    chosen.role, primary.role = "primary", "replica"
    _set_role(state, chosen)
    cache.save()
    started = time.monotonic()
    if cache.spec.cluster_mode:
        _demote(primary, str(cache.client(chosen).execute_command("CLUSTER", "MYID")))
    cache._launch(primary, same_port=True)  # its config now names the new primary
    wait_until(lambda: _linked(cache, primary), timeout=TIMEOUT, what=f"redis {primary.name} back as a replica")
    if cache.proxy:
        cache.proxy.route(READER_FRONTEND, [r.name for r in (*others, primary)], moved={primary.name: primary.port})
        cache.proxy.route(PRIMARY_FRONTEND, [chosen.name], moved={primary.name: primary.port})
    result.replaced, result.replace_ms = primary.name, round((time.monotonic() - started) * 1000, 1)
    cache.save()
    return result


def _cut(cache: RedisTwin, replica: RedisNode) -> dict[str, str]:
    """Cut a replica's replication link; returns its settings to restore."""
    conn = cache.client(replica)
    saved = {str(k): str(v) for k, v in conn.config_get("masteruser").items()} | \
        {str(k): str(v) for k, v in conn.config_get("masterauth").items()}
    conn.config_set("masteruser", PARTITION_USER)
    conn.config_set("masterauth", "partitioned")
    conn.execute_command("CLIENT", "KILL", "TYPE", "master")
    wait_until(lambda: conn.info("replication").get("master_link_status") == "down", timeout=TIMEOUT,
               what=f"redis {replica.name} cut off")
    return saved


def _heal(cache: RedisTwin, replica: RedisNode, saved: dict[str, str]) -> None:
    conn = cache.client(replica)
    for key, value in saved.items():
        conn.config_set(key, value)


def _offset(cache: RedisTwin, node: RedisNode) -> int:
    info = cache.client(node).info("replication")
    return int(info.get("slave_repl_offset", info.get("master_repl_offset", 0)))


def _wait_ahead(cache: RedisTwin, primary: RedisNode, replicas: list[RedisNode], hold_s: float) -> int:
    """Wait (the partition's duration, at least) until the primary holds writes its replicas lack."""
    conn = cache.client(primary)
    wait_until(lambda: int(conn.info("replication").get("connected_slaves", 0)) == 0, timeout=TIMEOUT,
               what=f"redis {primary.name} without replicas")
    behind = max(_offset(cache, r) for r in replicas)
    started = time.monotonic()

    def ahead() -> int | None:
        gap = int(conn.info("replication").get("master_repl_offset", 0)) - behind
        return gap if gap > 0 and time.monotonic() - started >= hold_s else None

    try:
        return int(wait_until(ahead, timeout=hold_s + AHEAD_TIMEOUT, what="a write during the partition"))
    except StartError:
        return 0  # nothing was written meanwhile: the partition made no difference, and the result says so


def _key_in_shard(shard: int, shards: int) -> str:
    lo, hi = shard * SLOTS // shards, (shard + 1) * SLOTS // shards - 1
    return next(k for k in (f"twin:failover-probe:{i}" for i in range(100_000)) if lo <= key_slot(k.encode()) <= hi)


def _writable(cache: RedisTwin, port: int, key: str) -> bool:
    user, password = cache.credentials
    from cdk_data_tier.app.local.redis_nodes import client  # noqa: PLC0415

    conn = client(port, tls=cache.spec.tls, ca=cache.tls.ca, username=user, password=password, timeout=2)
    try:
        return bool(conn.set(key, "1", px=2000))
    except redis.ResponseError as err:  # MOVED/CLUSTERDOWN: the slot map has not moved yet
        if "MOVED" in str(err) or "CLUSTERDOWN" in str(err):
            return False
        raise
    finally:
        conn.close()


def _demote(node: RedisNode, primary_id: str) -> None:
    """Rewrite the failed node's own line in its nodes.conf: a replica of `primary_id`, without slots.

    Started as it was, it would claim its old slots as a primary until gossip told it otherwise, and clients
    asking it for the slot map in that moment would write to it (ElastiCache brings back a replica, not it)."""
    conf = node.directory / "nodes.conf"
    lines = []
    for line in conf.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 8 and "myself" in fields[2].split(","):
            fields = [*fields[:2], "myself,slave", primary_id, *fields[4:8]]
        lines.append(" ".join(fields))
    conf.write_text("\n".join(lines) + "\n")


def _linked(cache: RedisTwin, node: RedisNode) -> bool:
    info: dict[str, Any] = cache.client(node).info("replication")
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def _set_role(state: State, node: RedisNode) -> None:
    rec = state.proc(f"redis-{node.name}")
    rec.extra = {**rec.extra, "role": node.role}
    state.replace_proc(rec)
