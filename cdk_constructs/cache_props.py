"""Plain-Python props of CacheReplicationGroup and the checks on them.

No aws_cdk imports: stacks/cache_config.py reuses these checks so that a config error and a props error
read the same. Every message is one line: "<prop>=<value> is not allowed: <what is>".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

ClusterMode = Literal["disabled", "enabled"]
LogType = Literal["slow-log", "engine-log"]

DEFAULT_PORT = 6380
ENGINE_DEFAULT_PORT = 6379
MAX_REPLICAS_PER_SHARD = 5
MAX_SHARDS = 500
MAX_NODES = 500
MAX_SNAPSHOT_RETENTION_DAYS = 35
DEFAULT_VERSIONS = {"valkey": "8.1", "redis": "7.1"}
# RBAC, TLS with AUTH and engine-log delivery all need at least these; ElastiCache's Redis OSS line ends at 7.1
# (new versions come as Valkey).
_MIN_VERSIONS = {"valkey": (7, 2), "redis": (6, 2)}
_MAX_VERSIONS = {"redis": (7, 1)}
_VERSION = re.compile(r"^([0-9]+)\.([0-9]+)$")


class CachePropsError(ValueError):
    """Props that ElastiCache would reject or that defeat the construct's guarantees."""


def family_for(engine: str, version: str) -> str:
    """The parameter-group family of an engine version: valkey8, valkey7, redis7, redis6.x."""
    if engine not in _MIN_VERSIONS:
        raise CachePropsError(f"engine={engine!r} is not allowed: 'valkey' or 'redis'")
    match = _VERSION.match(version)
    low, high = _MIN_VERSIONS[engine], _MAX_VERSIONS.get(engine, (999, 0))
    if not match or not low <= (int(match[1]), int(match[2])) <= high:
        span = f"{low[0]}.{low[1]} " + (f"to {high[0]}.{high[1]}" if engine in _MAX_VERSIONS else "or later")
        raise CachePropsError(f"engine_version={version!r} is not allowed: {engine} {span}, as major.minor "
                              f"(for example {DEFAULT_VERSIONS[engine]!r})")
    major = int(match[1])
    if engine == "redis" and major == 6:
        return "redis6.x"
    return f"{engine}{major}"


@dataclass(frozen=True)
class CacheEngine:
    """An engine, its version and the parameter-group family that version uses.

    `CacheEngine.valkey("8.1")` or `CacheEngine.redis("7.1")`; the family is derived, and a family given
    explicitly must be the one ElastiCache expects for that engine version.
    """

    name: str
    version: str
    family: str

    def __post_init__(self) -> None:
        expected = family_for(self.name, self.version)
        if self.family != expected:
            hint = ""
            if self.family.endswith(".cluster.on"):
                hint = (f"; '.cluster.on' only ends the name of a default group (default.{expected}.cluster.on), "
                        f"cluster mode in a custom group is the parameter cluster-enabled=yes")
            raise CachePropsError(f"family={self.family!r} is not allowed for {self.name} {self.version}: "
                                  f"expected {expected!r}{hint}")

    @classmethod
    def of(cls, name: str, version: str | None = None) -> CacheEngine:
        version = version or DEFAULT_VERSIONS.get(name, "")
        return cls(name, version, family_for(name, version))

    @classmethod
    def valkey(cls, version: str = DEFAULT_VERSIONS["valkey"]) -> CacheEngine:
        return cls.of("valkey", version)

    @classmethod
    def redis(cls, version: str = DEFAULT_VERSIONS["redis"]) -> CacheEngine:
        return cls.of("redis", version)

    def default_parameter_group(self, cluster_mode: ClusterMode) -> str:
        return f"default.{self.family}" + (".cluster.on" if cluster_mode == "enabled" else "")


@dataclass(frozen=True)
class CacheLogDelivery:
    """Which engine logs go to CloudWatch Logs (each to its own encrypted group), kept how long, in which format."""

    retention_days: int = 30
    log_types: tuple[LogType, ...] = ("slow-log", "engine-log")
    log_format: Literal["json", "text"] = "json"

    def __post_init__(self) -> None:
        if not self.log_types or len(set(self.log_types)) != len(self.log_types) or not set(self.log_types) <= {
            "slow-log", "engine-log"}:
            raise CachePropsError(f"log_types={self.log_types!r} is not allowed: 'slow-log' and/or 'engine-log', "
                                  f"each once (pass log_delivery=None for no log delivery)")


@dataclass(frozen=True)
class Topology:
    automatic_failover: bool
    multi_az: bool
    node_count: int


def check_topology(*, cluster_mode: ClusterMode, shards: int, replicas_per_shard: int,
                   automatic_failover: bool | None, multi_az: bool | None) -> Topology:
    """Resolve failover and Multi-AZ defaults (on whenever there is a replica) and reject what ElastiCache would."""
    if cluster_mode not in ("disabled", "enabled"):
        raise CachePropsError(f"cluster_mode={cluster_mode!r} is not allowed: 'disabled' or 'enabled'")
    if cluster_mode == "enabled" and not 1 <= shards <= MAX_SHARDS:
        raise CachePropsError(f"shards={shards} is not allowed: cluster mode 'enabled' needs 1 to {MAX_SHARDS} shards")
    if cluster_mode == "disabled" and shards != 1:
        raise CachePropsError(f"shards={shards} is not allowed: cluster mode 'disabled' has exactly 1 shard "
                              f"(set cluster_mode='enabled' to shard)")
    if not 0 <= replicas_per_shard <= MAX_REPLICAS_PER_SHARD:
        raise CachePropsError(f"replicas_per_shard={replicas_per_shard} is not allowed: 0 to {MAX_REPLICAS_PER_SHARD}")
    nodes = shards * (replicas_per_shard + 1)
    if nodes > MAX_NODES:
        raise CachePropsError(f"shards={shards} is not allowed with replicas_per_shard={replicas_per_shard}: "
                              f"{nodes} nodes, at most {MAX_NODES} per replication group")
    if automatic_failover is None:
        # Cluster mode on always fails over; ElastiCache rejects it switched off there.
        automatic_failover = replicas_per_shard > 0 or cluster_mode == "enabled"
    if multi_az is None:
        multi_az = replicas_per_shard > 0
    if automatic_failover and replicas_per_shard == 0 and cluster_mode == "disabled":
        raise CachePropsError("automatic_failover=True is not allowed without replicas: it needs "
                              "replicas_per_shard >= 1 (there is nothing to fail over to)")
    if not automatic_failover and cluster_mode == "enabled":
        raise CachePropsError("automatic_failover=False is not allowed with cluster mode 'enabled': ElastiCache "
                              "requires it there")
    if multi_az and replicas_per_shard == 0:
        raise CachePropsError("multi_az=True is not allowed without replicas: it needs replicas_per_shard >= 1")
    if multi_az and not automatic_failover:
        raise CachePropsError("multi_az=True is not allowed with automatic_failover=False: Multi-AZ fails over "
                              "automatically")
    return Topology(automatic_failover=automatic_failover, multi_az=multi_az, node_count=nodes)


def check_port(port: int) -> None:
    if not 1024 <= port <= 65535:
        raise CachePropsError(f"port={port} is not allowed: 1024 to 65535")


def check_node_type(node_type: str) -> None:
    if not re.match(r"^cache\.[a-z0-9-]+\.[a-z0-9]+$", node_type):
        raise CachePropsError(f"node_type={node_type!r} is not allowed: an ElastiCache node type such as "
                              f"'cache.t4g.micro'")


def check_snapshot_retention(days: int) -> None:
    if not 0 <= days <= MAX_SNAPSHOT_RETENTION_DAYS:
        raise CachePropsError(f"snapshot_retention_days={days} is not allowed: 0 (no automatic snapshots) "
                              f"to {MAX_SNAPSHOT_RETENTION_DAYS}")


MAX_ROTATION_DAYS = 365  # Secrets Manager takes up to 1000; a year is the longest a credential should live here


def check_rotation_days(days: int | None) -> None:
    if days is not None and not 1 <= days <= MAX_ROTATION_DAYS:
        raise CachePropsError(f"auth_rotation_days={days} is not allowed: 1 to {MAX_ROTATION_DAYS} "
                              f"(None leaves the credential unrotated)")


# --- maintenance and snapshot windows -------------------------------------------------------------------------

DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WEEK = 7 * 24 * 60
_DAY = 24 * 60
_HHMM = r"([01][0-9]|2[0-3]):([0-5][0-9])"
_SNAPSHOT_WINDOW = re.compile(rf"^{_HHMM}-{_HHMM}$")
_MAINTENANCE_WINDOW = re.compile(rf"^({'|'.join(DAYS)}):{_HHMM}-({'|'.join(DAYS)}):{_HHMM}$")
_MIN_WINDOW = 60


def _span(start: int, end: int, period: int) -> tuple[int, int]:
    return start, end if end > start else end + period


def snapshot_span(window: str) -> tuple[int, int]:
    """Minutes after midnight UTC that the daily window covers, as [start, end)."""
    m = _SNAPSHOT_WINDOW.match(window)
    if not m:
        raise CachePropsError(f"snapshot_window={window!r} is not allowed: hh24:mi-hh24:mi in UTC, for example "
                              f"'03:00-04:00'")
    start, end = _span(int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4]), _DAY)
    if end - start < _MIN_WINDOW:
        raise CachePropsError(f"snapshot_window={window!r} is not allowed: at least {_MIN_WINDOW} minutes")
    return start, end


def maintenance_span(window: str) -> tuple[int, int]:
    """Minutes after Sunday midnight UTC that the weekly window covers, as [start, end)."""
    m = _MAINTENANCE_WINDOW.match(window)
    if not m:
        raise CachePropsError(f"maintenance_window={window!r} is not allowed: ddd:hh24:mi-ddd:hh24:mi in UTC, "
                              f"for example 'sun:05:00-sun:06:00'")
    start = DAYS.index(m[1]) * _DAY + int(m[2]) * 60 + int(m[3])
    end = DAYS.index(m[4]) * _DAY + int(m[5]) * 60 + int(m[6])
    start, end = _span(start, end, _WEEK)
    if end - start < _MIN_WINDOW:
        raise CachePropsError(f"maintenance_window={window!r} is not allowed: at least {_MIN_WINDOW} minutes")
    return start, end


def check_windows(snapshot_window: str | None, maintenance_window: str | None) -> None:
    """Formats, the 60-minute minimum, and no overlap: ElastiCache rejects overlapping windows."""
    snap = snapshot_span(snapshot_window) if snapshot_window else None
    maint = maintenance_span(maintenance_window) if maintenance_window else None
    if snap is None or maint is None:
        return
    # The daily window recurs on each of the 8 days a wrapped weekly window can touch.
    for day in range(8):
        s0, s1 = snap[0] + day * _DAY, snap[1] + day * _DAY
        for shift in (-_WEEK, 0, _WEEK):
            m0, m1 = maint[0] + shift, maint[1] + shift
            if s0 < m1 and m0 < s1:
                raise CachePropsError(f"snapshot_window={snapshot_window!r} is not allowed: it overlaps "
                                      f"maintenance_window {maintenance_window!r}")


# A key or channel prefix is matched literally: glob characters and spaces would widen or break the rule.
_PREFIX = re.compile(r"^[^\s*?\[\]\\]{1,128}$")
_COMMAND = re.compile(r"^[a-z][a-z0-9-]*(\|[a-z][a-z0-9-]*)?$")
# Commands no application user needs whatever it does: they read or wipe everything, or reconfigure the server.
_NEVER = frozenset({"flushall", "flushdb", "keys", "config", "debug", "monitor", "shutdown", "acl", "module", "save",
                    "bgsave", "bgrewriteaof", "replicaof", "slaveof", "failover", "cluster", "migrate", "restore",
                    "sync", "psync", "swapdb", "client"})


def prefixed_access_string(key_prefixes: Sequence[str], also_allow: Sequence[str] = ()) -> str:
    if not key_prefixes:
        raise CachePropsError("key_prefixes=[] is not allowed: at least one prefix, such as 'app:'")
    for i, prefix in enumerate(key_prefixes):
        if not _PREFIX.match(prefix):
            raise CachePropsError(f"key_prefixes[{i}]={prefix!r} is not allowed: 1-128 characters, no spaces or glob "
                                  "characters (* ? [ ] \\); it is matched literally")
    for command in also_allow:
        if not _COMMAND.match(command) or command.split("|")[0] in _NEVER:
            raise CachePropsError(f"also_allow={command!r} is not allowed: one lower-case command (or "
                                  f"command|subcommand), not one of {', '.join(sorted(_NEVER))}")
    keys = " ".join(f"~{p}*" for p in key_prefixes)
    channels = " ".join(f"&{p}*" for p in key_prefixes)
    return " ".join(["on", keys, channels, "+@all -@dangerous", *(f"+{c}" for c in also_allow)])


def check_no_dangerous(access_string: str) -> None:
    """The rules apply left to right: +@all (or allcommands) needs a -@dangerous after it."""
    rules = access_string.split()
    if "+@dangerous" in rules:
        raise CachePropsError(f"access_string={access_string!r} is not allowed: no +@dangerous (it holds FLUSHALL, "
                              "KEYS, CONFIG, DEBUG, ...)")
    granting = [i for i, r in enumerate(rules) if r in ("+@all", "allcommands")]
    if granting and (max(granting) > max((i for i, r in enumerate(rules) if r == "-@dangerous"), default=-1)):
        raise CachePropsError(f"access_string={access_string!r} is not allowed: +@all must be followed by "
                              "-@dangerous")
