"""What differs between the four RDS engines this project builds, in one table.

Versions come from aws-cdk-lib's own version classes, so a version that the pinned library does not
know (a typo, a bare major, a retired minor) is caught before synth rather than at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from aws_cdk import aws_rds as rds

EngineName = Literal["postgres", "mysql", "aurora-postgresql", "aurora-mysql"]
ENGINES: tuple[EngineName, ...] = ("postgres", "mysql", "aurora-postgresql", "aurora-mysql")


@dataclass(frozen=True)
class EngineFlavor:
    name: EngineName
    default_port: int
    default_version: str
    aurora: bool
    # Every log type cdk-nag's RDSLoggingEnabled and checkov's log-export checks expect for the engine.
    log_exports: tuple[str, ...]
    # Admin user names that RDS reserves, or that are the engine's well-known default (Security Hub RDS.25).
    reserved_users: frozenset[str]

    @property
    def family(self) -> Literal["postgres", "mysql"]:
        return "postgres" if self.name.endswith(("postgres", "postgresql")) else "mysql"


_PG_RESERVED = frozenset({"postgres", "admin", "rdsadmin", "rdsrepladmin", "rds_superuser", "public", "root"})
_MY_RESERVED = frozenset({"admin", "root", "rdsadmin", "rdsrepladmin", "mysql", "mysql.sys", "mysql.session"})

FLAVORS: dict[EngineName, EngineFlavor] = {
    # iam-db-auth-error: why an IAM login was refused, which the postgresql log does not say.
    "postgres": EngineFlavor("postgres", 5432, "17.9", False, ("postgresql", "upgrade", "iam-db-auth-error"),
                             _PG_RESERVED),
    "mysql": EngineFlavor("mysql", 3306, "8.4.8", False, ("audit", "error", "general", "slowquery"), _MY_RESERVED),
    "aurora-postgresql": EngineFlavor("aurora-postgresql", 5432, "17.9", True, ("postgresql",), _PG_RESERVED),
    "aurora-mysql": EngineFlavor("aurora-mysql", 3306, "8.0.mysql_aurora.3.10.1", True,
                                 ("audit", "error", "general", "slowquery"), _MY_RESERVED),
}

_VERSION_CLASSES: dict[EngineName, tuple[Any, str]] = {
    "postgres": (rds.PostgresEngineVersion, "postgres_full_version"),
    "mysql": (rds.MysqlEngineVersion, "mysql_full_version"),
    "aurora-postgresql": (rds.AuroraPostgresEngineVersion, "aurora_postgres_full_version"),
    "aurora-mysql": (rds.AuroraMysqlEngineVersion, "aurora_mysql_full_version"),
}


@cache
def known_versions(engine: EngineName) -> dict[str, Any]:
    """Full version string -> aws-cdk-lib version object; bare majors ('17', '8.0') are left out on purpose."""
    cls, attr = _VERSION_CLASSES[engine]
    versions = {}
    for name in dir(cls):
        if name.startswith("VER_") and not name.endswith("_LIMITLESS"):
            version = getattr(cls, name)
            full = getattr(version, attr)
            if full.count(".") >= (1 if FLAVORS[engine].family == "postgres" else 2):
                versions[full] = version
    return versions


def instance_engine(engine: EngineName, version: str) -> rds.IInstanceEngine:
    v = known_versions(engine)[version]
    if engine == "postgres":
        return rds.DatabaseInstanceEngine.postgres(version=v)
    if engine == "mysql":
        return rds.DatabaseInstanceEngine.mysql(version=v)
    raise ValueError(f"{engine} is a cluster engine")


def cluster_engine(engine: EngineName, version: str) -> rds.IClusterEngine:
    v = known_versions(engine)[version]
    if engine == "aurora-postgresql":
        return rds.DatabaseClusterEngine.aurora_postgres(version=v)
    if engine == "aurora-mysql":
        return rds.DatabaseClusterEngine.aurora_mysql(version=v)
    raise ValueError(f"{engine} is an instance engine")


def engine_parameters(engine: EngineName, *, slow_query_ms: int) -> dict[str, str]:
    """Parameter-group settings: TLS on every connection, and logs that hold something worth exporting."""
    if FLAVORS[engine].family == "postgres":
        return {
            "rds.force_ssl": "1",
            "log_min_duration_statement": str(slow_query_ms),
            "log_connections": "1",
            "log_disconnections": "1",
        }
    return {
        # RDS for MySQL takes 0/1; Aurora MySQL takes ON/OFF.
        "require_secure_transport": "ON" if engine == "aurora-mysql" else "1",
        "slow_query_log": "1",
        "long_query_time": f"{slow_query_ms / 1000:g}",
        "log_output": "FILE",
        # The general log records every statement (and any literal in it); it stays exported but off
        # until someone switches it on to debug, while the audit log keeps connections, DDL and DCL.
        "general_log": "0",
    }


def audit_parameters(engine: EngineName) -> dict[str, str]:
    """Who changed the schema or the roles, in the exported engine log.

    PostgreSQL (RDS and Aurora) audits through pgaudit, which must be preloaded (a static parameter: it takes
    effect at the first boot, or the reboot after a change); DDL and role statements are logged, not their
    parameters, which may hold passwords. Aurora MySQL audits through cluster parameters; RDS for MySQL needs the
    MariaDB audit plugin option instead (database_stack.py).
    """
    if FLAVORS[engine].family == "postgres":
        # pg_stat_statements is RDS's own default for the list; keeping it keeps Performance Insights' SQL stats.
        return {"shared_preload_libraries": "pg_stat_statements,pgaudit", "pgaudit.log": "ddl,role",
                "pgaudit.log_parameter": "0"}
    if engine != "aurora-mysql":
        return {}
    return {"server_audit_logging": "1", "server_audit_events": "CONNECT,QUERY_DCL,QUERY_DDL"}
