"""Engines: a missing one stops CI in one line, and the drift between the templates' engines and the local ones
is named in twin.json (the fidelity test checks those names against the templates and the running servers)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from cdk_data_tier.app.local import binaries, engines
from cdk_data_tier.app.local.twin import Twin
from tests.fixtures_synth import Synthesized

ROOT = Path(__file__).resolve().parents[2]


def ci_run(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], bool]:
    """.ci/run with a stand-in `make` on PATH: (the run, whether it reached `make test`)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    marker = tmp_path / "make-ran"
    (fake / "make").write_text(f"#!/bin/sh\necho \"$@\" > {marker}\n")
    (fake / "make").chmod(0o755)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TWIN_")}
    done = subprocess.run(["bash", str(ROOT / ".ci" / "run")], capture_output=True, text=True, timeout=60,
                          env={**clean, "PATH": f"{fake}{os.pathsep}{clean['PATH']}", **env})
    return done, marker.exists() and marker.read_text().strip() == "test"


@pytest.mark.parametrize("variable, names", [
    ("TWIN_MARIADB_BINDIR", ["mariadbd", "mariadb-server"]),
    ("TWIN_PG_BINDIR", ["initdb", "postgresql"]),
    ("TWIN_REDIS_SERVER", ["redis-server", "apt-get install redis-server"]),
    ("TWIN_HAPROXY", ["haproxy", "apt-get install haproxy"]),
])
def test_ci_stops_before_make_test_with_one_line_naming_the_missing_engine(
        tmp_path: Path, variable: str, names: list[str]) -> None:
    done, reached_make = ci_run(tmp_path, **{variable: "/nonexistent/x"})
    assert done.returncode == 1 and not reached_make
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and all(n in lines[0] for n in names), done.stdout + done.stderr


def test_ci_runs_make_test_when_every_engine_is_there(tmp_path: Path) -> None:
    assert binaries.missing() == []
    done, reached_make = ci_run(tmp_path)
    assert done.returncode == 0 and reached_make, done.stdout + done.stderr


def test_local_versions_come_from_the_binaries() -> None:
    assert re.fullmatch(r"postgresql \d+\.\d+", engines.postgres_version(binaries.postgres_bindir()))
    assert re.fullmatch(r"mariadb \d+\.\d+\.\d+", engines.mariadb_version(binaries.mariadb_bindir()[0]))
    assert re.fullmatch(r"(redis|valkey) \d+\.\d+\.\d+", engines.redis_version(binaries.redis_server()))


@pytest.mark.parametrize("template, local, same", [
    ("postgres 17.9", "postgresql 17.9", True),
    ("postgres 17.9", "postgresql 15.20", False),
    ("postgres 17.9", "postgresql 17.10", False),
    ("postgres 17", "postgresql 17.9", True),
    ("aurora-postgresql 17.9", "postgresql 17.9", True),
    ("mysql 8.4.8", "mariadb 10.11.19", False),
    ("mysql 8.4.8", "mysql 8.4.8", True),
    ("aurora-mysql 8.0.mysql_aurora.3.10.1", "mysql 8.0.42", True),
    ("valkey 8.1", "redis 7.0.15", False),
    ("valkey 8.1", "valkey 8.1.8", True),
    ("redis 7.1", "redis 7.0.15", False),
])
def test_matches_only_the_same_engine_at_the_template_version(template: str, local: str, same: bool) -> None:
    assert engines.matches(template, local) is same


@pytest.mark.engines
def test_twin_json_names_the_template_engine_next_to_the_local_one(twin: Twin, dev: Synthesized) -> None:
    db, cache = dev.config.database, dev.config.cache
    local_pg = engines.postgres_version(binaries.postgres_bindir())
    local_redis = engines.redis_version(binaries.redis_server())
    assert twin.engines == {
        "database": {"template": f"{db.engine} {db.engine_version}", "local": local_pg,
                     "matches": engines.matches(f"{db.engine} {db.engine_version}", local_pg)},
        "cache": {"template": f"{cache.engine} {cache.engine_spec.version}", "local": local_redis,
                  "matches": engines.matches(f"{cache.engine} {cache.engine_spec.version}", local_redis)},
    }

