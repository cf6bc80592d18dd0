"""Find the server binaries the twin runs, or fail with one line saying what to install.

PostgreSQL's server binaries live in /usr/lib/postgresql/<major>/bin on Debian/Ubuntu and are not on
PATH, so PATH is probed first and then the highest installed major. `TWIN_PG_BINDIR`,
`TWIN_REDIS_SERVER`, `TWIN_MARIADB_BINDIR` and `TWIN_HAPROXY` override the search (tests use them to simulate a
machine without the binaries).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

PG_TOOLS = ("initdb", "postgres", "pg_basebackup")
PG_HINT = "postgresql-15 or newer (initdb, postgres, pg_basebackup): apt-get install postgresql"
REDIS_HINT = "redis-server 7 built with TLS: apt-get install redis-server"
MARIADB_HINT = "mariadb-server (mariadbd, mariadb-install-db): apt-get install mariadb-server"
HAPROXY_HINT = "haproxy 2.4 or newer (the twin's movable endpoints): apt-get install haproxy"


class MissingBinary(RuntimeError):
    """A server binary the template needs is not installed."""

    def __init__(self, binary: str, hint: str, searched: str) -> None:
        super().__init__(f"{binary} not found ({searched}); install {hint}")
        self.binary = binary


def _major(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))


def postgres_bindir() -> Path:
    override = os.environ.get("TWIN_PG_BINDIR")
    if override:
        candidates = [Path(override)]
        searched = f"TWIN_PG_BINDIR={override}"
    else:
        on_path = shutil.which("postgres")
        candidates = [Path(on_path).resolve().parent] if on_path else []
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p / "x"), reverse=True)
        searched = "searched PATH and /usr/lib/postgresql/*/bin"
    for bindir in candidates:
        if all(os.access(bindir / tool, os.X_OK) for tool in PG_TOOLS):
            return bindir
    missing = next((t for t in PG_TOOLS if not any(os.access(d / t, os.X_OK) for d in candidates)), PG_TOOLS[0])
    raise MissingBinary(missing, PG_HINT, searched)


def redis_server() -> Path:
    override = os.environ.get("TWIN_REDIS_SERVER")
    found = (override if os.access(override, os.X_OK) else None) if override else shutil.which("redis-server")
    if not found:
        raise MissingBinary("redis-server", REDIS_HINT,
                            f"TWIN_REDIS_SERVER={override}" if override else "searched PATH")
    return Path(found)


def mariadb_bindir() -> tuple[Path, Path]:
    """(server, install-db) of MariaDB, the twin's stand-in for RDS MySQL."""
    override = os.environ.get("TWIN_MARIADB_BINDIR")
    dirs = [Path(override)] if override else []
    if not override:
        dirs = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
        dirs += [Path("/usr/sbin"), Path("/usr/bin")]
    server = next((d / n for d in dirs for n in ("mariadbd", "mysqld") if os.access(d / n, os.X_OK)), None)
    install = next((d / n for d in dirs for n in ("mariadb-install-db", "mysql_install_db")
                    if os.access(d / n, os.X_OK)), None)
    if server is None or install is None:
        raise MissingBinary("mariadbd" if server is None else "mariadb-install-db", MARIADB_HINT,
                            f"TWIN_MARIADB_BINDIR={override}" if override else "searched PATH, /usr/sbin, /usr/bin")
    return server, install


def haproxy() -> Path:
    """HAProxy: the twin's stand-in for the DNS names that RDS and ElastiCache move on failover."""
    override = os.environ.get("TWIN_HAPROXY")
    found = (override if os.access(override, os.X_OK) else None) if override else \
        (shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.access(p, os.X_OK)), None))
    if not found:
        raise MissingBinary("haproxy", HAPROXY_HINT,
                            f"TWIN_HAPROXY={override}" if override else "searched PATH, /usr/sbin")
    return Path(found)


def missing() -> list[str]:
    """One message per engine the twin cannot start here (PostgreSQL, MariaDB, redis-server, HAProxy); empty when
    all are."""
    found = []
    for probe in (postgres_bindir, mariadb_bindir, redis_server, haproxy):
        try:
            probe()
        except MissingBinary as err:
            found.append(str(err))
    return found


def main() -> int:
    """`python3 -m app_code.local.binaries`: exit 1 with one line naming every missing engine (stdlib only, so it
    runs before the venv exists)."""
    problems = missing()
    if problems:
        print(f"the local twin's engines are missing: {'; '.join(problems)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
