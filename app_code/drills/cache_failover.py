"""cache-failover: idempotent writes to the cache while a primary fails over, plain or durable (WAIT).

Each write runs one script on the key's node: `SET done NX` and, only if that was new, `RPUSH effects`
(both keys share a {hash tag}, so one slot). A retry after an unknown outcome finds `done` and pushes
nothing; an effects list of two is a write applied twice. Plain writes are acknowledged once the primary
has them, and ElastiCache replicates asynchronously: the drill counts honestly what a failover loses.
Durable writes (`--durable`: app_code.cache.write(..., durable=True)) are acknowledged only after WAIT saw
a replica take them, and none of those may be lost.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import redis
from redis.exceptions import BusyLoadingError, ClusterDownError, ReadOnlyError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from cdk_data_tier.app.cache import CacheAuth, CacheSettings, Client, NotDurable, connect, write
from cdk_data_tier.app.drills.inject import Injector
from cdk_data_tier.app.drills.ledger import Ledger, Report, wait_for
from cdk_data_tier.app.endpoints import Endpoints

WARMUP_WRITES = 15
TIMEOUT = 180
TTL_S = 3600
ONCE = "if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then redis.call('RPUSH', KEYS[2], ARGV[1]) " \
       "redis.call('EXPIRE', KEYS[2], ARGV[2]) return 1 end return 0"
TRANSIENT = (RedisConnectionError, RedisTimeoutError, ReadOnlyError, ClusterDownError, TryAgainError, BusyLoadingError)


def transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def _keys(run: str, seq: int) -> tuple[str, str]:
    tag = "{drill-" + run + "-" + str(seq) + "}"  # one slot per write, spread over every shard
    return f"drill:{tag}:done", f"drill:{tag}:effects"


def _writer(client: Client, ledger: Ledger, run: str, durable: bool, stop: threading.Event,
            misreads: list[str]) -> None:
    seq = 0
    while not stop.is_set():
        done, effects = _keys(run, seq)

        def once(done: str = done, effects: str = effects, seq: int = seq) -> list[Any]:
            return write(client, done, ("EVAL", ONCE, 2, done, effects, seq, TTL_S), durable=durable)

        def length(effects: str = effects) -> int:
            return int(client.llen(effects))

        if ledger.write(done, once, transient, unknown=(NotDurable,)):
            try:
                if ledger.call(length, transient) != 1:
                    misreads.append(done)
            except Exception:  # noqa: BLE001 - a read that never succeeds is a misread, the drill goes on
                misreads.append(done)
        seq += 1


def run(endpoints: Endpoints, injector: Injector, *, durable: bool = False, partition: bool = False,
        shard: int = 1, ca_bundle: str | None = None) -> Report:
    cache = endpoints.cache
    # No redis-py retries: the ledger retries (bounded) and so sees every failed attempt.
    settings = CacheSettings(retries=0, socket_timeout=3.0)
    # Credentials read once (see ledger.sql_client): the downtime measured is the failover's, not the secret's.
    secret = CacheAuth.from_endpoints(endpoints)
    client = connect(cache, CacheAuth(secret.password, secret.username), ca_bundle=ca_bundle or endpoints.aws.ca_bundle,
                     settings=settings)
    ledger, run_id, stop = Ledger(), uuid.uuid4().hex[:12], threading.Event()
    misreads: list[str] = []
    try:
        thread = threading.Thread(target=_writer, args=(client, ledger, run_id, durable, stop, misreads), daemon=True)
        thread.start()
        wait_for(lambda: len(ledger.acknowledged) >= WARMUP_WRITES or not thread.is_alive(), timeout=TIMEOUT,
                 what="writes before the failover")
        started = time.time()
        event = injector.fail_over_cache(shard=shard, partition=partition)
        after = len(ledger.acknowledged)
        wait_for(lambda: len(ledger.acknowledged) >= after + WARMUP_WRITES or not thread.is_alive(),
                 timeout=TIMEOUT, what="writes after the failover")
        stop.set()
        thread.join(timeout=TIMEOUT)
        counts = _counts(client, ledger, run_id, [*ledger.acknowledged, *ledger.unacknowledged])
    finally:
        stop.set()
        client.close()
    report = Report("cache-failover", injector.where, event.injected, ledger, promotion_ms=event.promotion_ms)
    report.settle(counts)
    report.checks = {"no write applied twice": report.duplicated == 0}
    if durable:  # plain writes promise nothing across a failover: their losses are reported, not a failure
        report.checks["no durable (WAIT) write lost"] = report.lost == 0
        report.checks["every read saw its write"] = not misreads
    if event.promotion_ms is not None and not partition:
        # Only for the failover alone: a partition first stalls the clients for its own duration too.
        report.checks["downtime within promotion + 1 s"] = ledger.downtime_ms <= event.promotion_ms + 1000
    detail = event.detail or {}
    report.extra = {"writes": "durable (WAIT 1)" if durable else "plain (asynchronous replication)",
                    "cluster_mode": "on" if cache.cluster_mode else "off", "partitioned_first": partition,
                    "misreads": len(misreads), "event_s": round(time.time() - started, 2),
                    **{k: detail[k] for k in ("old_primary", "new_primary", "replaced") if detail.get(k)}}
    return report


def _counts(client: Client, ledger: Ledger, run_id: str, keys: list[str]) -> dict[str, int]:
    """How many effects each written key has, read from the new topology; the run's keys are removed after."""
    effects = [done.removesuffix(":done") + ":effects" for done in keys]

    def count() -> dict[str, int]:
        pipe = client.pipeline(transaction=False)  # in cluster mode: one batch per node
        for key in effects:
            pipe.llen(key)
        return {done: int(n) for done, n in zip(keys, pipe.execute(), strict=True)}

    counts = ledger.call(count, transient)
    try:
        pipe = client.pipeline(transaction=False)
        for key in (*keys, *effects):
            pipe.delete(key)  # one key each: a multi-key DEL would cross slots
        pipe.execute()
    except redis.RedisError:
        pass  # they expire within the hour anyway
    return counts
