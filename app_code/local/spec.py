"""What the twin builds, as read from the templates (templates.py fills these; launchers consume them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class DatabaseSpec:
    stack: str
    engine: str  # postgres | mysql | aurora-postgresql | aurora-mysql
    engine_version: str | None
    writer_id: str  # logical id of the primary DBInstance (Aurora: the writer instance)
    reader_ids: tuple[str, ...]  # one streaming replica each
    cluster_id: str | None  # Aurora DBCluster logical id
    username: str
    dbname: str
    port: int
    force_tls: bool
    secret_id: str | None  # the Secret the DB's credentials live in (None: RDS-managed master secret)
    managed_secret: bool = False
    multi_az: bool = False  # the writer's MultiAZ: the twin runs a synchronous standby beside it
    app_secret_ids: tuple[str, ...] = ()  # other logins attached to the database (the app user's, rotated multi-user)

    @property
    def family(self) -> str:
        return "mysql" if "mysql" in self.engine else "postgres"


@dataclass(frozen=True)
class IndexSpec:
    name: str
    key_schema: tuple[tuple[str, str], ...]  # (attribute, HASH|RANGE)
    projection_type: str
    non_key_attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    stack: str
    logical_id: str
    table_name: str | None
    key_schema: tuple[tuple[str, str], ...]
    attributes: tuple[tuple[str, str], ...]  # (name, S|N|B)
    gsis: tuple[IndexSpec, ...]
    lsis: tuple[IndexSpec, ...]
    billing_mode: str  # PAY_PER_REQUEST | PROVISIONED
    ttl_attribute: str | None
    stream_view_type: str | None
    pitr: bool
    deletion_protection: bool
    read_capacity: int | None = None
    write_capacity: int | None = None


@dataclass(frozen=True)
class CacheUser:
    """An ElastiCache RBAC user: its ACL rules, and the secret its password comes from."""

    name: str
    access_string: str
    secret_id: str | None


@dataclass(frozen=True)
class CacheSpec:
    stack: str
    logical_id: str
    engine: str  # valkey | redis
    engine_version: str | None
    cluster_mode: bool
    shards: int
    replicas_per_shard: int
    tls: bool
    auth: bool
    auth_secret_id: str | None
    port: int
    users: tuple[CacheUser, ...] = ()  # RBAC (UserGroupIds) instead of an AUTH token

    @property
    def secret_ids(self) -> set[str]:
        return {s for s in (self.auth_secret_id, *(u.secret_id for u in self.users)) if s}

    @property
    def node_count(self) -> int:
        return self.shards * (1 + self.replicas_per_shard)


@dataclass(frozen=True)
class SecretSpec:
    stack: str
    logical_id: str
    name: str | None
    role: str  # database (the admin's) | app (another database login) | cache | other
    string_template: dict[str, Any] | None = None
    generate_key: str | None = None
    secret_string: str | None = None


@dataclass(frozen=True)
class NetworkResource:
    stack: str
    logical_id: str
    type: str
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class TwinSpec:
    env: str
    account: str
    region: str
    source: str  # the cdk.out directory the templates came from
    templates: dict[str, dict[str, Any]]  # stack name -> template body
    database: DatabaseSpec | None = None
    cache: CacheSpec | None = None
    tables: list[TableSpec] = field(default_factory=list)
    secrets: list[SecretSpec] = field(default_factory=list)
    network: list[NetworkResource] = field(default_factory=list)
