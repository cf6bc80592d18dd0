"""Config of the `<env>-Cache` stack (validated by stacks/config.py; no context reads here).

Cross-field checks reuse the construct's own (cdk_constructs/cache_props.py), so a config error reads
like a props error: "<key>=<value> is not allowed: <what is>".
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from cdk_data_tier.constructs.cache_props import (
    ENGINE_DEFAULT_PORT,
    MAX_NODES,
    MAX_SNAPSHOT_RETENTION_DAYS,
    CacheEngine,
    CachePropsError,
    check_windows,
    prefixed_access_string,
)
from cdk_data_tier.constructs.log_retention import RETENTION_DAYS

_NODE_TYPE = re.compile(r"^cache\.[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(micro|small|medium|large|[0-9]*xlarge)$")
# HIPAA and NIST 800-53 r5 (ElastiCacheRedisClusterAutomaticBackup) want at least 15 days of snapshots.
MIN_SNAPSHOT_RETENTION_DAYS = 15


def _node_type(value: str) -> str:
    if not _NODE_TYPE.match(value):
        raise ValueError("expected a node type like 'cache.t4g.micro' (cache.family.size)")
    return value


def _retention(value: int) -> int:
    if value not in RETENTION_DAYS:
        raise ValueError(f"one of {', '.join(map(str, RETENTION_DAYS))}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheAlarmConfig(_Strict):
    engine_cpu_percent: float = Field(default=90, gt=0, le=100)
    memory_percent: float = Field(default=80, gt=0, le=100)
    evictions_per_5_minutes: int = Field(default=1000, gt=0)
    connections: int = Field(default=5000, gt=0)
    replication_lag_seconds: float = Field(default=30, gt=0)


class CacheConfig(_Strict):
    engine: Literal["valkey", "redis"] = "valkey"
    # Default: the engine's current version (valkey 8.1, redis 7.1).
    engine_version: str | None = None
    node_type: Annotated[str, AfterValidator(_node_type)] = "cache.t4g.micro"
    cluster_mode: Literal["disabled", "enabled"] = "disabled"
    shards: int = Field(default=1, ge=1, le=500)
    replicas: int = Field(default=1, ge=0, le=5)
    port: int = Field(default=6380, ge=1024, le=65535)
    auth: Literal["auth_token", "rbac"] = "auth_token"
    # The RBAC user app_code signs in as (auth='rbac' only).
    username: str = Field(default="app", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
    # The keys and channels that user may touch (auth='rbac' only; an AUTH token opens everything): app_code
    # names every key and channel `app_code:<run>:...` (app_code/cache.py, Workload.key).
    key_prefixes: tuple[str, ...] = ("app_code:",)
    # Same bound as the database's secret: a credential lives at most a quarter.
    auth_rotation_days: int = Field(default=30, ge=1, le=90)
    snapshot_retention_days: int = 15
    snapshot_window: str = "03:00-04:00"
    maintenance_window: str = "sun:05:00-sun:06:00"
    log_retention_days: Annotated[int, AfterValidator(_retention)] = 30
    # 'snapshot' takes a final snapshot when the stack is deleted. Null follows the environment's `removal`
    # (stacks/retention.py: `retain` means 'snapshot'); inside an EnvConfig it is never null.
    removal: Literal["destroy", "snapshot"] | None = None
    alarms: CacheAlarmConfig = CacheAlarmConfig()

    @property
    def engine_spec(self) -> CacheEngine:
        return CacheEngine.of(self.engine, self.engine_version)

    @model_validator(mode="after")
    def _consistent(self) -> CacheConfig:
        try:
            CacheEngine.of(self.engine, self.engine_version)
            check_windows(self.snapshot_window, self.maintenance_window)
            prefixed_access_string(self.key_prefixes)
        except CachePropsError as err:
            raise ValueError(str(err)) from None
        if self.cluster_mode == "disabled" and self.shards != 1:
            raise ValueError(f"shards={self.shards} is not allowed: cluster_mode 'disabled' has exactly 1 shard "
                             f"(set cluster_mode 'enabled' to shard)")
        if self.replicas == 0:
            raise ValueError("replicas=0 is not allowed: at least 1, for Multi-AZ with automatic failover "
                             "(AwsSolutions-AEC4)")
        if self.shards * (self.replicas + 1) > MAX_NODES:
            raise ValueError(f"shards={self.shards} is not allowed with replicas={self.replicas}: "
                             f"{self.shards * (self.replicas + 1)} nodes, at most {MAX_NODES}")
        if self.port == ENGINE_DEFAULT_PORT:
            raise ValueError(f"port={self.port} is not allowed: not the engine's default (ElastiCache.7, "
                             f"AwsSolutions-AEC5); for example 6380")
        if not MIN_SNAPSHOT_RETENTION_DAYS <= self.snapshot_retention_days <= MAX_SNAPSHOT_RETENTION_DAYS:
            raise ValueError(f"snapshot_retention_days={self.snapshot_retention_days} is not allowed: "
                             f"{MIN_SNAPSHOT_RETENTION_DAYS} to {MAX_SNAPSHOT_RETENTION_DAYS} (HIPAA and NIST 800-53 "
                             f"want 15 days of backups; automatic snapshots go with the group on teardown)")
        return self
