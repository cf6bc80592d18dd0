"""Cache workload on ElastiCache (Valkey/Redis): strings with TTL, hashes, pipelined bulk load, pub/sub, streams
with consumer groups and pending-entry recovery, and a cache-aside read path over the SQL catalog.

Cluster mode enabled uses RedisCluster: multi-key commands keep their keys in one hash slot with a {hash tag},
and pub/sub is sharded (SSUBSCRIBE/SPUBLISH, Redis 7+ and Valkey) so a message travels only within its shard.
Everything this workload writes carries a TTL or is deleted at the end: it is safe on a shared cache.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from cdk_data_tier.app.data import Product, products
from cdk_data_tier.app.endpoints import CacheEndpoints, Endpoints, EndpointsError, HostPort
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.rereading import Rereading

W = "cache"
Client = redis.Redis | RedisCluster


class CacheError(Exception):
    pass


@dataclass(frozen=True)
class CacheSettings:
    ttl_s: int = 600
    retries: int = 5
    socket_timeout: float = 5.0
    keys: int = 300  # strings and hashes, one call each (latency)
    bulk_keys: int = 50_000
    bulk_batch: int = 2_000  # commands per round trip of the pipelined load
    value_bytes: int = 64
    subscribers: int = 3
    messages: int = 200
    stream_entries: int = 200
    aside_reads: int = 2_000


@dataclass(frozen=True)
class CacheAuth:
    password: str | None = None
    username: str | None = None
    # Reads the secret again. Set when the credentials come from Secrets Manager, where rotation may change them.
    reread: Callable[[], CacheAuth] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_endpoints(cls, endpoints: Endpoints) -> CacheAuth:
        arn = endpoints.cache.auth_secret_arn
        if not arn:
            return cls()

        def read() -> CacheAuth:
            secret = endpoints.secret(arn)
            if not secret.get("password"):
                raise EndpointsError(f"secret {arn} has no password")
            return cls(secret["password"], secret.get("username") or None, read)

        return read()  # read once now: a missing or malformed secret is an error before any connection


class SecretCredentials(CredentialProvider):
    """redis-py asks this for credentials whenever it opens a connection: the secret's, read again then
    (Rereading), so connections opened after a rotation log in with the new password."""

    def __init__(self, auth: CacheAuth) -> None:
        assert auth.reread is not None
        self._auth = Rereading(auth, auth.reread)

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        auth = self._auth()
        assert auth.password is not None
        return (auth.username, auth.password) if auth.username else (auth.password,)


def connect(cache: CacheEndpoints, auth: CacheAuth, *, ca_bundle: str | None, settings: CacheSettings = CacheSettings(),
            endpoint: HostPort | None = None) -> Client:
    """A client for the primary (or configuration) endpoint, or for `endpoint` (the reader) when given."""
    target = endpoint or cache.endpoint
    kwargs: dict[str, Any] = {
        "host": target.host, "port": target.port,
        "socket_timeout": settings.socket_timeout, "socket_connect_timeout": settings.socket_timeout,
        # Reconnect and resend on dropped connections and on a primary demoted by failover (READONLY).
        "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), retries=settings.retries),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, ReadOnlyError],
        "health_check_interval": 30, "decode_responses": True, "client_name": "app_code",
    }
    if auth.reread is not None:
        kwargs["credential_provider"] = SecretCredentials(auth)
    else:
        kwargs |= {"username": auth.username, "password": auth.password}
    if cache.tls:
        # No CA bundle: the system store, which trusts ElastiCache's Amazon-issued certificates.
        kwargs |= {"ssl": True, "ssl_cert_reqs": "required", "ssl_ca_certs": ca_bundle}
    if cache.cluster_mode and endpoint is None:
        return RedisCluster(**kwargs)
    return redis.Redis(**kwargs)


def server_version(client: Client) -> tuple[int, ...]:
    node = client.get_default_node().redis_connection if isinstance(client, RedisCluster) else client
    info = node.info("server")
    return tuple(int(x) for x in str(info.get("redis_version", "0")).split(".")[:3] if x.isdigit())


# --- durable writes ------------------------------------------------------------------------------------------

class NotDurable(CacheError):
    """WAIT counted fewer replicas than asked: the write exists on the primary only, and a failover would lose
    it. It is not acknowledged (it may or may not survive)."""

    def __init__(self, acked: int, wanted: int) -> None:
        super().__init__(f"WAIT: {acked} of {wanted} replica(s) acknowledged the write")
        self.acked = acked


def write(client: Client, key: str, *commands: tuple[Any, ...], durable: bool = False, replicas: int = 1,
          wait_ms: int = 500) -> list[Any]:
    """Run write `commands` (each a tuple of arguments) on the node that owns `key`, in one round trip.

    durable=True adds `WAIT replicas wait_ms` on the same connection (WAIT counts the writes of its own
    connection) and raises NotDurable when fewer replicas than `replicas` have them: ElastiCache replicates
    asynchronously, and only a write a replica holds survives the primary's failure. Returns the replies."""
    node = _node_client(client, key.encode())
    pipe = node.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    if durable:
        pipe.execute_command("WAIT", replicas, wait_ms)
    try:
        replies = pipe.execute()
    except (RedisConnectionError, RedisTimeoutError):
        _refresh_slots(client)
        raise
    except ResponseError as exc:
        if isinstance(client, RedisCluster) and str(exc).startswith(("MOVED", "CLUSTERDOWN")):
            _refresh_slots(client)  # the slot moved with a failover: the caller's retry finds its new owner
            raise RedisConnectionError(str(exc)) from exc
        raise
    if durable:
        acked = int(replies.pop())
        if acked < replicas:
            raise NotDurable(acked, replicas)
    return replies


def _refresh_slots(client: Client) -> None:
    if isinstance(client, RedisCluster):
        try:
            client.nodes_manager.initialize()
        except (RedisConnectionError, RedisTimeoutError):
            pass  # no node answers yet: the next attempt asks again


# --- raw pipelining (the bulk path) -------------------------------------------------------------------------

def set_ex(key: bytes, value: bytes, ttl: int) -> tuple[bytes, bytes]:
    """(routing key, RESP bytes) of SET key value EX ttl; one template is ~8x faster than generic encoding."""
    t = str(ttl).encode()
    return key, b"*5\r\n$3\r\nSET\r\n$%d\r\n%b\r\n$%d\r\n%b\r\n$2\r\nEX\r\n$%d\r\n%b\r\n" % (
        len(key), key, len(value), value, len(t), t)


def get(key: bytes) -> tuple[bytes, bytes]:
    return key, b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key)


def _node_client(client: Client, key: bytes) -> redis.Redis:
    if isinstance(client, RedisCluster):
        node = client.get_node_from_key(key)
        # Reset to None by redis-py after an error on the node: ask the cluster client for a fresh one.
        return node.redis_connection or client.get_redis_connection(node)
    return client


def raw_pipeline(client: Client, commands: Sequence[tuple[bytes, bytes]], batch: int,
                 on_batch: Callable[[float, int], None] | None = None) -> list[Any]:
    """Send (key, RESP bytes) commands, `batch` per round trip (grouped by cluster node), and return the replies
    in order.

    redis-py's Pipeline builds a Python object per command and reply; writing the protocol directly is the
    mass-insertion approach from the Redis docs and runs at the server's speed. A dropped connection resends
    the whole batch, so only idempotent commands (SET, GET, DEL) belong here."""
    replies: list[Any] = [None] * len(commands)
    by_node: dict[int, tuple[redis.Redis, list[int]]] = {}
    if isinstance(client, RedisCluster):
        for i, (key, _) in enumerate(commands):
            node = _node_client(client, key)
            by_node.setdefault(id(node), (node, []))[1].append(i)
    else:
        by_node[id(client)] = (client, list(range(len(commands))))
    for node, indexes in by_node.values():
        for start in range(0, len(indexes), batch):
            chunk = indexes[start:start + batch]
            start_batch = time.perf_counter()
            payload = b"".join([commands[i][1] for i in chunk])
            for i, reply in zip(chunk, _round_trip(node, payload, len(chunk)), strict=True):
                replies[i] = reply
            if on_batch:
                on_batch(time.perf_counter() - start_batch, len(chunk))
    return replies


def _round_trip(node: redis.Redis, payload: bytes, count: int) -> list[Any]:
    pool = node.connection_pool
    conn = pool.get_connection()
    ok = False
    try:
        def attempt() -> list[Any]:
            conn.send_packed_command([payload])
            out = []
            for _ in range(count):
                try:
                    out.append(conn.read_response())
                except ResponseError as exc:  # an error reply is one reply: keep reading to stay in sync
                    out.append(exc)
            return out

        replies = conn.retry.call_with_retry(attempt, lambda err: conn.disconnect())
        ok = True
        return replies
    finally:
        if not ok:
            conn.disconnect()  # unread replies would answer the next caller's command
        pool.release(conn)


# --- the workload -------------------------------------------------------------------------------------------

@dataclass
class CacheWorkload:
    client: Client
    recorder: Recorder
    cluster: bool
    reader: Client | None = None
    settings: CacheSettings = CacheSettings()
    progress: Callable[[str, int], Callable[[int], None]] | None = None

    def __post_init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:10]
        self.version = server_version(self.client)
        self.sharded = self.cluster and self.version >= (7, 0)

    def key(self, *parts: str) -> str:
        return ":".join(("app_code", self.run_id, *parts))

    def run(self, catalog: Sequence[Product] | None = None) -> None:
        catalog = list(catalog or products())
        self.strings()
        self.hash_tagged_multikey()
        self.hashes(catalog[: self.settings.keys])
        self.bulk_load()
        self.pubsub()
        self.streams()

    def strings(self) -> None:
        s = self.settings
        values = {self.key("str", str(i)): f"value-{i}-{uuid.uuid4().hex}" for i in range(s.keys)}
        for k, v in values.items():
            with self.recorder.timed(W, "SET EX"):
                self.client.set(k, v, ex=s.ttl_s)
        ok_get = ok_ttl = True
        for k, v in values.items():
            with self.recorder.timed(W, "GET"):
                ok_get &= self.client.get(k) == v
            ok_ttl &= 0 < self.client.ttl(k) <= s.ttl_s
        self.recorder.verify(W, "SET EX", ok_ttl, f"every key has a TTL <= {s.ttl_s}s", fail="a key has no TTL")
        self.recorder.verify(W, "GET", ok_get, f"{len(values)} values read back", fail="a value differs")
        short = self.key("str", "short-lived")
        self.client.set(short, "x", px=150)
        present = self.client.get(short) == "x"
        time.sleep(0.3)
        with self.recorder.timed(W, "expiry (PX 150)"):
            expired = self.client.get(short) is None
        self.recorder.verify(W, "expiry (PX 150)", present and expired, "gone after its TTL",
                             fail="the key outlived its TTL")

    def hash_tagged_multikey(self) -> None:
        """MSET/MGET of keys sharing a {hash tag}: one slot, so the multi-key command is legal in cluster mode."""
        tag = "{cart:" + self.run_id + "}"
        items = {f"app_code:{tag}:line:{i}": str(i * 3) for i in range(20)}
        with self.recorder.timed(W, "MSET/MGET (hash tag)", len(items)):
            self.client.mset(items)  # one command, one slot: a cluster sends it to the slot's primary
            pipe = self.client.pipeline(transaction=False)
            for k in items:
                pipe.expire(k, self.settings.ttl_s)
            pipe.execute()
            got = self.client.mget(list(items))
        slots = {self.client.keyslot(k) for k in items} if isinstance(self.client, RedisCluster) else {0}
        self.recorder.verify(W, "MSET/MGET (hash tag)", got == list(items.values()) and len(slots) == 1,
                             f"{len(items)} keys in {len(slots)} slot", fail="MGET differs from MSET")

    def hashes(self, catalog: Sequence[Product]) -> None:
        ok = True
        for p in catalog:
            k = self.key("product", "{" + p.sku + "}")
            fields = {f: str(v) for f, v in p.to_json().items() if f != "tags"} | {"tags": ",".join(p.tags)}
            with self.recorder.timed(W, "HSET (15 fields)"):
                self.client.hset(k, mapping=fields)
                self.client.expire(k, self.settings.ttl_s)
            with self.recorder.timed(W, "HGETALL"):
                ok &= self.client.hgetall(k) == fields
        self.recorder.verify(W, "HGETALL", ok, f"{len(catalog)} hashes equal", fail="a hash differs")
        self.recorder.verify(W, "HSET (15 fields)", ok, "read back by HGETALL", fail="a hash differs")

    def bulk_load(self) -> None:
        s = self.settings
        rng = random.Random(11)
        pairs = [(self.key("bulk", str(i)).encode(), rng.randbytes(s.value_bytes // 2).hex().encode())
                 for i in range(s.bulk_keys)]
        advance = self.progress("cache bulk load", len(pairs)) if self.progress else None

        def on_batch(seconds: float, n: int) -> None:  # latency is per round trip of `bulk_batch` commands
            self.recorder.add(W, "bulk SET (pipelined)", seconds, n)
            if advance:
                advance(n)

        replies = raw_pipeline(self.client, [set_ex(k, v, s.ttl_s) for k, v in pairs], s.bulk_batch, on_batch)
        errors = [r for r in replies if r not in ("OK", b"OK")]
        got = raw_pipeline(self.client, [get(k) for k, _ in pairs], s.bulk_batch,
                           lambda seconds, n: self.recorder.add(W, "bulk GET (pipelined)", seconds, n))
        want = [v.decode() for _, v in pairs]
        same = sum(1 for a, b in zip(got, want, strict=True) if a == b)
        ok = not errors and same == len(pairs)
        self.recorder.verify(W, "bulk SET (pipelined)", ok, f"{same} values read back",
                             fail=f"{len(errors)} error replies, {len(pairs) - same} values differ")
        self.recorder.verify(W, "bulk GET (pipelined)", ok, f"{same} of {len(pairs)} equal",
                             fail=f"{len(pairs) - same} values differ")
        if self.reader is not None:
            self.replica_read(pairs)

    def replica_read(self, pairs: list[tuple[bytes, bytes]]) -> None:
        """WAIT until the replicas acknowledge the load, then read a sample back through the reader endpoint."""
        acked = self.client.execute_command("WAIT", 1, 5000)
        sample = random.Random(3).sample(pairs, min(500, len(pairs)))
        with self.recorder.timed(W, "GET via reader endpoint", len(sample)):
            got = self.reader.mget([k.decode() for k, _ in sample]) if self.reader else []
        ok = acked >= 1 and got == [v.decode() for _, v in sample]
        self.recorder.verify(W, "GET via reader endpoint", ok, f"{acked} replica(s) acked, {len(sample)} equal",
                             fail=f"{acked} replica(s) acked; replica values differ")

    def pubsub(self) -> None:
        """One publisher, several subscribers; each must receive every message, in order."""
        s = self.settings
        op = f"{'SPUBLISH' if self.sharded else 'PUBLISH'} -> {s.subscribers} subscribers"
        channel = self.key("events", "{orders}")
        subs = [self._subscribe(channel) for _ in range(s.subscribers)]
        received: list[list[str]] = [[] for _ in subs]

        def listen(i: int) -> None:
            deadline = time.monotonic() + 30
            while len(received[i]) < s.messages and time.monotonic() < deadline:
                msg = self._next_message(subs[i])
                if msg and msg["type"] in ("message", "smessage"):
                    received[i].append(msg["data"])

        threads = [threading.Thread(target=listen, args=(i,), daemon=True) for i in range(len(subs))]
        for t in threads:
            t.start()
        counts = []
        start = time.perf_counter()
        for n in range(s.messages):
            t0 = time.perf_counter()
            counts.append(self.client.spublish(channel, f"order-{n}") if self.sharded
                          else self.client.publish(channel, f"order-{n}"))
            self.recorder.add(W, op, time.perf_counter() - t0)
        for t in threads:
            t.join(timeout=35)
        self.recorder.set_wall(W, op, time.perf_counter() - start)
        for sub in subs:
            sub.close()
        want = [f"order-{n}" for n in range(s.messages)]
        ok = all(r == want for r in received) and (self.cluster or all(c == s.subscribers for c in counts))
        self.recorder.verify(W, op, ok, f"{s.messages} messages x {len(subs)} subscribers, all in order",
                             fail=f"received {[len(r) for r in received]} of {s.messages} (or out of order)")

    def _subscribe(self, channel: str):
        sub = self.client.pubsub()
        (sub.ssubscribe if self.sharded else sub.subscribe)(channel)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # publish only after the server confirmed the subscription
            msg = self._next_message(sub)
            if msg and msg["type"] in ("subscribe", "ssubscribe"):
                return sub
        raise CacheError(f"no subscribe confirmation on {channel}")

    def _next_message(self, sub):
        if self.sharded:
            return sub.get_sharded_message(timeout=0.5)
        return sub.get_message(timeout=0.5)

    def streams(self) -> None:
        """Consumer group: one consumer dies holding a message; XAUTOCLAIM hands it to another, nothing lost."""
        s = self.settings
        stream, group = self.key("{orders}", "stream"), "fulfilment"
        self.client.xgroup_create(stream, group, id="0", mkstream=True)
        ids = []
        for n in range(s.stream_entries):
            with self.recorder.timed(W, "XADD"):
                ids.append(self.client.xadd(stream, {"order": str(n), "sku": f"SKU-{n % 17}", "qty": "1"}))
        self.client.expire(stream, s.ttl_s)
        # worker-a reads one entry and "crashes" before XACK: it stays pending under worker-a.
        # Stream replies: redis-py types them as unions over both protocols; decoded, they are nested str lists.
        first: Any = self.client.xreadgroup(group, "worker-a", {stream: ">"}, count=1)
        lost = first[0][1][0][0]
        done: list[str] = []
        while True:
            t0 = time.perf_counter()
            batch: Any = self.client.xreadgroup(group, "worker-b", {stream: ">"}, count=50)
            entries = batch[0][1] if batch else []
            if not entries:
                break
            self.client.xack(stream, group, *[e[0] for e in entries])
            self.recorder.add(W, "XREADGROUP + XACK (50)", time.perf_counter() - t0, len(entries))
            done += [e[0] for e in entries]
        pending_before = self.client.xpending(stream, group)["pending"]
        time.sleep(0.05)
        with self.recorder.timed(W, "pending recovery (XAUTOCLAIM)"):
            if self.version >= (6, 2):
                claimed = self.client.xautoclaim(stream, group, "worker-b", min_idle_time=20, start_id="0-0")[1]
            else:
                stale = self.client.xpending_range(stream, group, "-", "+", 10, idle=20)
                claimed = self.client.xclaim(stream, group, "worker-b", 20, [p["message_id"] for p in stale])
            if claimed:
                self.client.xack(stream, group, *[c[0] for c in claimed])
        pending_after = self.client.xpending(stream, group)["pending"]
        done += [c[0] for c in claimed]
        ok_read = sorted(done) == sorted(ids) and len(done) == len(set(done))
        self.recorder.verify(W, "XADD", len(set(ids)) == s.stream_entries, f"{len(ids)} entries")
        self.recorder.verify(W, "XREADGROUP + XACK (50)", ok_read, "every entry acked exactly once",
                             fail=f"processed {len(done)}/{len(ids)} (duplicates or losses)")
        ok_claim = pending_before == 1 and [c[0] for c in claimed] == [lost] and pending_after == 0
        self.recorder.verify(W, "pending recovery (XAUTOCLAIM)", ok_claim, f"entry {lost} claimed from worker-a",
                             fail=f"pending {pending_before}->{pending_after}, claimed {claimed}")
        self.client.delete(stream)


# --- cache-aside over the SQL catalog -------------------------------------------------------------------------

def _encode_row(row: tuple) -> str:
    return json.dumps([str(v) if isinstance(v, Decimal | date) else v for v in row])


def _decode_row(text: str | bytes, like: tuple) -> tuple:
    out = []
    for value, model in zip(json.loads(text), like, strict=True):
        if isinstance(model, Decimal):
            value = Decimal(value)
        elif isinstance(model, date):
            value = date.fromisoformat(value)
        out.append(value)
    return tuple(out)


class CatalogCache:
    """Read: the cache, else the SQL replica (or the writer when the replica lags), then populate with a TTL.
    Write: the database first, then delete the cached copy, so the next read refills it."""

    def __init__(self, cache: Client, sql, ttl_s: int, prefix: str):
        from cdk_data_tier.app.sql import COLUMNS

        self.cache, self.sql, self.ttl_s, self.prefix = cache, sql, ttl_s, prefix
        self.select = f"SELECT {', '.join(COLUMNS)} FROM {sql.dialect.products} WHERE sku = %s"
        self.hits = self.misses = 0

    def key(self, sku: str) -> str:
        return f"{self.prefix}:{{{sku}}}"

    def get(self, sku: str, like: tuple, *, read_your_writes: bool = False) -> tuple | None:
        from cdk_data_tier.app.sql import query

        cached = self.cache.get(self.key(sku))
        if cached is not None:
            self.hits += 1
            return _decode_row(cached, like)
        self.misses += 1
        rows = self.sql.read(lambda conn: query(conn, self.select, (sku,)), read_your_writes=read_your_writes)
        if not rows:
            return None
        self.cache.set(self.key(sku), _encode_row(rows[0]), ex=self.ttl_s)
        return tuple(rows[0])

    def set_price(self, sku: str, price: Decimal) -> None:
        from cdk_data_tier.app.sql import execute

        d = self.sql.dialect
        self.sql.write(lambda conn: execute(conn, f"UPDATE {d.products} SET price = %s WHERE sku = %s", (price, sku)))
        self.cache.delete(self.key(sku))


def cache_aside(workload: CacheWorkload, sql, catalog: Sequence[Product]) -> None:
    from cdk_data_tier.app.sql import SqlWorkload, row_of

    SqlWorkload(sql, Recorder()).ensure_catalog(catalog)
    sql.wait_for_replicas()
    truth = {p.sku: row_of(p) for p in catalog}
    skus = list(truth)
    aside = CatalogCache(workload.client, sql, workload.settings.ttl_s, workload.key("catalog"))
    rng = random.Random(5)
    # Skewed like real traffic: a few products get most reads, so the cache earns its keep.
    picks = [skus[min(len(skus) - 1, int(rng.paretovariate(1.2)) - 1)] if rng.random() < 0.8
             else rng.choice(skus) for _ in range(workload.settings.aside_reads)]
    wrong: list[str] = []
    for sku in picks:
        with workload.recorder.timed(W, "cache-aside read"):
            if aside.get(sku, truth[sku]) != truth[sku]:
                wrong.append(sku)
    ok = not wrong
    reads, distinct = len(picks), len(set(picks))
    ratio = aside.hits / reads
    consistent = ok and aside.misses == distinct and aside.hits + aside.misses == reads
    workload.recorder.verify(W, "cache-aside read", consistent,
                             f"hit ratio {ratio:.1%} ({aside.hits}/{reads}), {distinct} misses filled from SQL",
                             fail=f"{len(wrong)} wrong rows (e.g. {wrong[:3]}), {aside.misses} misses for "
                                  f"{distinct} distinct keys")
    # Write then read back: invalidation must make the next read see the new price, never the cached one.
    sku = picks[0]
    old = truth[sku]
    new_price = old[5] + Decimal("1.00")
    with workload.recorder.timed(W, "write + invalidate"):
        aside.set_price(sku, new_price)
        fresh = aside.get(sku, old, read_your_writes=True)
    again = aside.get(sku, old)
    aside.set_price(sku, old[5])  # restore the shipped catalog
    good = fresh is not None and fresh[5] == new_price and again is not None and again[5] == new_price
    workload.recorder.verify(W, "write + invalidate", good, "next read saw the new price",
                             fail=f"read {fresh and fresh[5]} / {again and again[5]} after writing {new_price}")
    version = ".".join(map(str, workload.version))
    workload.recorder.note(f"cache: cache-aside hit ratio {ratio:.1%} over {reads} reads of {len(skus)} products; "
                           f"{'sharded ' if workload.sharded else ''}pub/sub; server {version}, "
                           f"cluster mode {'enabled' if workload.cluster else 'disabled'}")


def run_cache(endpoints: Endpoints, recorder: Recorder, *, progress=None, sql_settings=None,
              ca_bundle: str | None = None, settings: CacheSettings = CacheSettings(),
              catalog: Iterable[Product] | None = None) -> None:
    """The cache workload, then cache-aside over the SQL catalog (`sql_settings`: the SQL client's, default its own).
    TLS trusts `ca_bundle`, else the twin's CA, else the system store (ElastiCache's certificates are Amazon-issued)."""
    from cdk_data_tier.app.sql import SqlClient

    catalog = list(catalog or products())
    cache = endpoints.cache
    auth = CacheAuth.from_endpoints(endpoints)
    ca_bundle = ca_bundle or endpoints.aws.ca_bundle
    client = connect(cache, auth, ca_bundle=ca_bundle, settings=settings)
    reader = connect(cache, auth, ca_bundle=ca_bundle, settings=settings, endpoint=cache.reader) \
        if cache.reader and not cache.cluster_mode else None
    try:
        workload = CacheWorkload(client, recorder, cache.cluster_mode, reader, settings, progress)
        workload.run(catalog)
        with SqlClient.from_endpoints(endpoints, sql_settings) as sql:
            cache_aside(workload, sql, catalog)
    finally:
        client.close()
        if reader is not None:
            reader.close()
