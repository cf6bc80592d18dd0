"""The cache workload against the twin's real redis-server: a primary with a replica (cluster mode disabled)
and a real Redis Cluster (enabled), both with TLS and AUTH as the templates declare."""

from __future__ import annotations

import json

import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

from cdk_data_tier.app.cache import (
    CacheAuth,
    CacheSettings,
    CacheWorkload,
    connect,
    get,
    raw_pipeline,
    run_cache,
    set_ex,
)
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.metrics import Recorder

pytestmark = pytest.mark.engines
SMALL = CacheSettings(keys=50, bulk_keys=5_000, bulk_batch=500, messages=100, stream_entries=60, aside_reads=500)


def endpoints_of(twin) -> Endpoints:
    return Endpoints.from_outputs_file(twin.outputs_file)


@pytest.fixture(params=["replicated", "cluster"])
def cache_twin(request):
    return request.getfixturevalue("twin" if request.param == "replicated" else "twin_cluster")


def workload(ep: Endpoints, settings: CacheSettings = SMALL) -> CacheWorkload:
    auth = CacheAuth.from_endpoints(ep)
    client = connect(ep.cache, auth, ca_bundle=ep.aws.ca_bundle, settings=settings)
    reader = connect(ep.cache, auth, ca_bundle=ep.aws.ca_bundle, settings=settings, endpoint=ep.cache.reader) \
        if ep.cache.reader else None
    return CacheWorkload(client, Recorder(), ep.cache.cluster_mode, reader, settings)


def test_the_whole_workload_verifies_in_both_cluster_modes(cache_twin):
    ep = endpoints_of(cache_twin)
    recorder = Recorder()
    run_cache(ep, recorder, settings=SMALL)
    assert not recorder.failures, recorder.failures
    ops = {r.operation: r for r in recorder.rows()}
    pubsub = "SPUBLISH -> 3 subscribers" if ep.cache.cluster_mode else "PUBLISH -> 3 subscribers"
    for op in ("SET EX", "GET", "expiry (PX 150)", "MSET/MGET (hash tag)", "HSET (15 fields)", "HGETALL",
               "bulk SET (pipelined)", "bulk GET (pipelined)", pubsub, "XADD", "XREADGROUP + XACK (50)",
               "pending recovery (XAUTOCLAIM)", "cache-aside read", "write + invalidate"):
        assert ops[op].verified is True, op
    assert ops["bulk SET (pipelined)"].count == SMALL.bulk_keys
    assert ops["cache-aside read"].detail.startswith("hit ratio ")
    if not ep.cache.cluster_mode:
        assert ops["GET via reader endpoint"].verified is True


def test_cluster_mode_spreads_the_bulk_load_and_keeps_hash_tags_together(twin_cluster):
    w = workload(endpoints_of(twin_cluster))
    assert isinstance(w.client, RedisCluster) and w.sharded
    keys = [w.key("spread", str(i)).encode() for i in range(200)]
    nodes = {w.client.get_node_from_key(k).name for k in keys}
    assert len(nodes) == len(w.client.get_primaries()) > 1
    w.hash_tagged_multikey()
    [row] = w.recorder.rows()
    assert row.verified and row.detail == "20 keys in 1 slot"


def test_every_subscriber_receives_every_message_in_order(cache_twin):
    settings = CacheSettings(subscribers=5, messages=300)
    w = workload(endpoints_of(cache_twin), settings)
    w.pubsub()
    [row] = w.recorder.rows()
    assert row.verified, row.detail
    assert row.detail == "300 messages x 5 subscribers, all in order"


def test_an_unacked_stream_entry_is_recovered_by_another_consumer(cache_twin):
    w = workload(endpoints_of(cache_twin))
    w.streams()
    rows = {r.operation: r for r in w.recorder.rows()}
    recovery = rows["pending recovery (XAUTOCLAIM)"]
    assert recovery.verified, recovery.detail
    assert recovery.detail.endswith("claimed from worker-a")
    assert rows["XREADGROUP + XACK (50)"].detail == "every entry acked exactly once"


def test_the_bulk_load_resends_a_batch_after_its_connection_is_killed(twin):
    ep = endpoints_of(twin)
    w = workload(ep)
    auth = CacheAuth.from_endpoints(ep)
    killer = redis.Redis(host=ep.cache.endpoint.host, port=ep.cache.endpoint.port, password=auth.password,
                         ssl=True, ssl_ca_certs=ep.aws.ca_bundle, decode_responses=True)
    kills = []

    def after_batch(seconds: float, n: int) -> None:
        if len(kills) < 2:  # drop every connection of the workload between batches, twice
            ids = [c["id"] for c in killer.client_list() if c.get("name") == "app_code"]
            kills.append(sum(killer.client_kill_filter(_id=i) for i in ids))

    pairs = [(w.key("killed", str(i)).encode(), f"v{i}".encode()) for i in range(3_000)]
    replies = raw_pipeline(w.client, [set_ex(k, v, 60) for k, v in pairs], 500, after_batch)
    assert kills and all(kills) and replies == ["OK"] * len(pairs)
    got = raw_pipeline(w.client, [get(k) for k, _ in pairs], 500)
    assert got == [v.decode() for _, v in pairs]


def test_tls_and_auth_are_required(twin):
    ep = endpoints_of(twin)
    host, port = ep.cache.endpoint.host, ep.cache.endpoint.port
    assert ep.cache.tls and ep.cache.auth_secret_arn
    once = {"socket_timeout": 1, "socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)}
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(host=host, port=port, ssl=True, ssl_ca_certs=ep.aws.ca_bundle, password="wrong", **once).ping()
    with pytest.raises((redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        redis.Redis(host=host, port=port, password=CacheAuth.from_endpoints(ep).password, **once).ping()


def _rotate_auth_token(twin, ep: Endpoints, old: str, new: str) -> None:
    """What CacheAuthRotation does to an AUTH-token group, done to the twin's real nodes and secret: ROTATE
    (both tokens work), the secret's AWSCURRENT moves to `new`, then SET (only `new` works)."""
    nodes = [c for c in twin.components if c["kind"] == "redis"]
    admins = [redis.Redis(host=c["endpoint"].rsplit(":", 1)[0], port=c["port"], ssl=True, ssl_ca_certs=ep.aws.ca_bundle,
                          password=old, socket_timeout=5) for c in nodes]
    for admin in admins:
        admin.execute_command("ACL", "SETUSER", "default", f">{new}")  # ROTATE: a second password
    ep.aws.client("secretsmanager").put_secret_value(SecretId=ep.cache.auth_secret_arn, SecretString=json.dumps({"password": new}),
                        VersionStages=["AWSCURRENT"])
    for admin in admins:
        admin.execute_command("ACL", "SETUSER", "default", "resetpass", f">{new}")  # SET: only the new one
        admin.config_set("masterauth", new)  # replicas log in to their primary with the token too
        admin.close()


def test_new_connections_after_a_rotation_read_the_new_password(cache_twin):
    ep = endpoints_of(cache_twin)
    auth = CacheAuth.from_endpoints(ep)
    assert auth.password and not auth.username
    rotating = connect(ep.cache, auth, ca_bundle=ep.aws.ca_bundle, settings=SMALL)
    pinned = connect(ep.cache, CacheAuth(auth.password), ca_bundle=ep.aws.ca_bundle,
                     settings=CacheSettings(retries=0))
    key = "app_code:test:rotation:{k}"
    rotating.set(key, "before", ex=60)
    assert pinned.get(key) == "before"
    new = "R0tated" + auth.password[7:]
    try:
        _rotate_auth_token(cache_twin, ep, auth.password, new)
        assert rotating.get(key) == "before"  # open connections stay logged in
        for client in (rotating, pinned):
            client.close() if isinstance(client, redis.Redis) else client.disconnect_connection_pools()
        rotating.set(key, "after", ex=60)  # a new connection: the provider read the rotated secret
        assert rotating.get(key) == "after"
        with pytest.raises(redis.exceptions.AuthenticationError):
            pinned.get(key)  # a password read once is the old one
    finally:
        _rotate_auth_token(cache_twin, ep, new, auth.password)
        rotating.close()
        pinned.close()
    assert CacheAuth.from_endpoints(ep).password == auth.password
