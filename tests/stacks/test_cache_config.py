"""`cache` config: defaults, per-environment values, and one-line errors naming key, value and what is allowed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cdk_data_tier.stacks.cache_config import CacheConfig
from cdk_data_tier.stacks.config import ConfigError, load_environment
from tests.fixtures_synth import project_context


def _load(mutate: Callable[[dict[str, Any]], None], env: str = "dev") -> Any:
    context = copy.deepcopy(project_context())
    mutate(context["environments"][env].setdefault("cache", {}))
    return load_environment(context, env)


def test_defaults_are_a_tls_valkey_pair_with_auth() -> None:
    cfg = CacheConfig()
    assert (cfg.engine, cfg.cluster_mode, cfg.shards, cfg.replicas) == ("valkey", "disabled", 1, 1)
    assert cfg.engine_spec.version == "8.1" and cfg.engine_spec.family == "valkey8"
    assert cfg.auth == "auth_token"
    assert cfg.port != 6379
    assert cfg.removal is None


def test_dev_is_cluster_mode_off_and_prod_is_two_shards_with_a_replica_each() -> None:
    context = project_context()
    dev, prod = load_environment(context, "dev").cache, load_environment(context, "prod").cache
    assert (dev.cluster_mode, dev.shards, dev.replicas, dev.removal) == ("disabled", 1, 1, "destroy")
    assert (prod.cluster_mode, prod.shards, prod.replicas, prod.removal) == ("enabled", 2, 1, "snapshot")
    assert prod.snapshot_retention_days >= dev.snapshot_retention_days >= 15


def test_redis_defaults_to_its_current_version() -> None:
    cfg = _load(lambda c: c.update(engine="redis", engine_version=None)).cache
    assert (cfg.engine_spec.name, cfg.engine_spec.version, cfg.engine_spec.family) == ("redis", "7.1", "redis7")


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c.update(shards=2),
         "config error: environments.dev.cache.shards=2 is not allowed: cluster_mode 'disabled' has exactly 1 shard"),
        (lambda c: c.update(cluster_mode="enabled", shards=0),
         "config error: environments.dev.cache.shards=0 is not allowed: Input should be greater than or equal to 1"),
        (lambda c: c.update(replicas=6),
         "config error: environments.dev.cache.replicas=6 is not allowed: Input should be less than or equal to 5"),
        (lambda c: c.update(replicas=0),
         "config error: environments.dev.cache.replicas=0 is not allowed: at least 1, for Multi-AZ with automatic "
         "failover"),
        (lambda c: c.update(cluster_mode="enabled", shards=100, replicas=5),
         "config error: environments.dev.cache.shards=100 is not allowed with replicas=5: 600 nodes, at most 500"),
        (lambda c: c.update(engine="memcached"),
         "config error: environments.dev.cache.engine='memcached' is not allowed: Input should be 'valkey' or 'redis'"),
        (lambda c: c.update(engine="redis", engine_version="8.1"),
         "config error: environments.dev.cache.engine_version='8.1' is not allowed: redis 6.2 to 7.1, as major.minor"),
        (lambda c: c.update(engine_version="7.0"),
         "config error: environments.dev.cache.engine_version='7.0' is not allowed: valkey 7.2 or later"),
        (lambda c: c.update(port=6379),
         "config error: environments.dev.cache.port=6379 is not allowed: not the engine's default"),
        (lambda c: c.update(port=80),
         "config error: environments.dev.cache.port=80 is not allowed: Input should be greater than or equal to 1024"),
        (lambda c: c.update(node_type="t4g.micro"),
         "config error: environments.dev.cache.node_type='t4g.micro' is not allowed: expected a node type like "
         "'cache.t4g.micro'"),
        (lambda c: c.update(snapshot_retention_days=7),
         "config error: environments.dev.cache.snapshot_retention_days=7 is not allowed: 15 to 35"),
        (lambda c: c.update(snapshot_window="05:30-06:30"),
         "config error: environments.dev.cache.snapshot_window='05:30-06:30' is not allowed: it overlaps "
         "maintenance_window 'sun:05:00-sun:06:00'"),
        (lambda c: c.update(maintenance_window="sunday 5am"),
         "config error: environments.dev.cache.maintenance_window='sunday 5am' is not allowed: ddd:hh24:mi-ddd:hh24:mi"),
        (lambda c: c.update(log_retention_days=10),
         "config error: environments.dev.cache.log_retention_days=10 is not allowed: one of 1, 3, 5"),
        (lambda c: c.update(auth="iam"),
         "config error: environments.dev.cache.auth='iam' is not allowed: Input should be 'auth_token' or 'rbac'"),
        (lambda c: c.update(auth_rotation_days=120),
         "config error: environments.dev.cache.auth_rotation_days=120 is not allowed: Input should be less than or "
         "equal to 90"),
        (lambda c: c.update(removal="retain"),
         "config error: environments.dev.cache.removal='retain' is not allowed: Input should be 'destroy' or "
         "'snapshot'"),
        (lambda c: c.update(alarms={"memory_percent": 150}),
         "config error: environments.dev.cache.alarms.memory_percent=150 is not allowed: Input should be less than"),
        (lambda c: c.update(auth="rbac", key_prefixes=["app_code:", "tmp*"]),
         "config error: environments.dev.cache.key_prefixes[1]='tmp*' is not allowed: 1-128 characters, no spaces or "
         "glob characters"),
        (lambda c: c.update(auth="rbac", key_prefixes=[]),
         "config error: environments.dev.cache.key_prefixes=[] is not allowed: at least one prefix"),
        (lambda c: c.update(shard=2),
         "config error: environments.dev.cache.shard is not a known key: remove it or fix its spelling"),
    ],
    ids=["shards-without-cluster-mode", "zero-shards", "six-replicas", "no-replicas", "too-many-nodes",
         "unknown-engine", "redis-8", "old-valkey", "default-port", "low-port", "bad-node-type", "short-retention",
         "overlapping-windows", "bad-maintenance-window", "bad-log-retention", "unknown-auth", "rare-rotation", "retain",
         "alarm-percent", "glob-prefix", "no-prefix", "unknown-key"],
)
def test_bad_values_fail_with_one_line(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(mutate)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(expected), message
