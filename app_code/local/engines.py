"""Which engine and version the templates ask for, and which the twin runs instead.

The templates name managed engines (RDS PostgreSQL 17.9, MySQL 8.4.8, Aurora, Valkey 8.1); the twin
runs the server binaries this machine has (TWIN_PG_BINDIR, TWIN_MARIADB_BINDIR and TWIN_REDIS_SERVER
pick others). twin.json and `local status` show both side by side, so that the drift is never hidden.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local import binaries
from cdk_data_tier.app.local.procs import run
from cdk_data_tier.app.local.spec import TwinSpec

# The local engine that is the template's own engine (Aurora is compatible with the open-source engine of its
# version: a local PostgreSQL 17.9 runs what Aurora PostgreSQL 17.9 runs, MariaDB never is MySQL).
NATIVE = {"postgres": "postgresql", "aurora-postgresql": "postgresql", "mysql": "mysql", "aurora-mysql": "mysql",
          "valkey": "valkey", "redis": "redis"}


def template_engine(engine: str, version: str | None) -> str:
    return f"{engine} {version}" if version else engine


def _version_output(binary: Path) -> str:
    return run([binary, "--version"], what=f"{binary.name} --version", timeout=20).strip()


def postgres_version(bindir: Path) -> str:
    """`postgresql 15.20` from `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)`."""
    match = re.search(r"\(PostgreSQL\)\s+(\S+)", _version_output(bindir / "postgres"))
    return f"postgresql {match.group(1)}" if match else "postgresql (unknown version)"


def mariadb_version(server: Path) -> str:
    """`mariadb 10.11.19` from `mariadbd  Ver 10.11.19-MariaDB-0+deb12u1 for debian-linux-gnu ...`."""
    text = _version_output(server)
    match = re.search(r"Ver\s+(\d[\w.]*)(-MariaDB)?", text)
    if not match:
        return "mariadb (unknown version)"
    return f"{'mariadb' if match.group(2) or 'MariaDB' in text else 'mysql'} {match.group(1)}"


def redis_version(server: Path) -> str:
    """`redis 7.0.15` or `valkey 8.1.8` from `Redis server v=7.0.15 sha=...` / `Valkey server v=8.1.8 ...`."""
    text = _version_output(server)
    match = re.search(r"^(\w+) server v=(\S+)", text)
    return f"{match.group(1).lower()} {match.group(2)}" if match else "redis (unknown version)"


def matches(template: str, local: str) -> bool:
    """True when the local engine is the template's engine and its version starts with the template's."""
    engine, _, version = template.partition(" ")
    local_engine, _, local_version = local.partition(" ")
    if NATIVE.get(engine) != local_engine:
        return False
    wanted = re.match(r"\d+(\.\d+)*", version.split(".mysql_aurora")[0])  # 8.0.mysql_aurora.3.10.1 -> 8.0
    if not wanted:
        return not version
    return local_version == wanted.group(0) or local_version.startswith(wanted.group(0) + ".")


def describe(spec: TwinSpec) -> dict[str, dict[str, Any]]:
    """twin.json's `engines`: per component, the template's engine and version, the local one, and if they match."""
    out: dict[str, dict[str, Any]] = {}
    if spec.database is not None:
        db = spec.database
        local = postgres_version(binaries.postgres_bindir()) if db.family == "postgres" else \
            mariadb_version(binaries.mariadb_bindir()[0])
        out["database"] = _entry(template_engine(db.engine, db.engine_version), local)
    if spec.cache is not None:
        out["cache"] = _entry(template_engine(spec.cache.engine, spec.cache.engine_version),
                              redis_version(binaries.redis_server()))
    return out


def _entry(template: str, local: str) -> dict[str, Any]:
    return {"template": template, "local": local, "matches": matches(template, local)}
