"""Session fixtures that bring the local twin up once and tear it down at the end.

`twin` is the dev twin (PostgreSQL, cluster mode disabled), `twin_prod` the prod one (cluster mode
enabled), `twin_cluster` the prod twin (an error, not a skip, if prod's cache ever stops being a
cluster), and `twin_factory(name)` any of them by name: `dev`, `prod` or one of `SHAPES`, the config
variants that cover what dev and prod do not (the other engines, Aurora, RBAC, no NAT, no replicas,
key-only and provisioned tables). A shape is
synthesized through `synth_variant`, so its twin comes up from the templates `cdk synth` writes for
that config, never from a hand-written copy.

Each twin starts at most once per session (per xdist worker), only when a test asks for it, and is
stopped at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.app.local import binaries
from cdk_data_tier.app.local import twin as twin_mod
from cdk_data_tier.app.local.twin import Twin

_AURORA = {"multi_az": None, "allocated_storage_gib": None, "max_allocated_storage_gib": None}
_CAPACITY = {"min": 5, "max": 100, "target_utilization": 60}


@dataclass(frozen=True)
class Shape:
    """A config a user can write, as overrides of one environment, and what it covers."""

    env: str
    covers: str
    overrides: dict[str, Any] = field(default_factory=dict)


# Every configurable shape that dev and prod do not already have. dev: RDS PostgreSQL with one replica,
# Valkey with an AUTH token in cluster mode disabled, one NAT gateway; prod: RDS PostgreSQL with two
# replicas, Valkey with an AUTH token in cluster mode enabled (2 shards), a NAT gateway per AZ. Shapes
# combine several changes each: a twin costs seconds, a synth of a variant about two.
SHAPES: dict[str, Shape] = {
    "mysql-no-nat": Shape("dev", "RDS MySQL 8.4 (a MariaDB primary and binlog replica) in a VPC without NAT "
                                 "gateways", {
        "database": {"engine": "mysql", "engine_version": "8.4.8", "port": 3307},
        "network": {"nat_gateways": 0},
    }),
    "aurora-postgresql-rbac": Shape("dev", "Aurora PostgreSQL (writer and reader), a Valkey replica set with an "
                                           "RBAC user", {
        "database": {"engine": "aurora-postgresql", **_AURORA},
        "cache": {"auth": "rbac", "username": "worker"},
    }),
    "aurora-mysql-rbac-cluster-provisioned": Shape("prod", "Aurora MySQL (writer and reader), a Redis OSS cluster "
                                                           "(2 shards) with an RBAC user, a provisioned table", {
        "database": {"engine": "aurora-mysql", "engine_version": "8.0.mysql_aurora.3.10.1", "port": 3307,
                     "read_replicas": 1, **_AURORA},
        "cache": {"engine": "redis", "engine_version": "7.1", "auth": "rbac", "cluster_mode": "enabled",
                  "shards": 2},
        "dynamo": {"billing": "provisioned", "read_capacity": _CAPACITY, "write_capacity": _CAPACITY, "gsis": [
            {"name": "gsi1", "partition_key": {"name": "gsi1pk"}, "sort_key": {"name": "gsi1sk"}},
            {"name": "gsi2", "partition_key": {"name": "gsi2pk"}, "sort_key": {"name": "gsi2sk", "type": "N"},
             "projection": "INCLUDE", "non_key_attributes": ["status", "total"]},
        ]},
    }),
    "no-replicas-key-only-table": Shape("dev", "RDS PostgreSQL without read replicas, a table with a partition key "
                                               "only and no indexes, stream or TTL", {
        "database": {"read_replicas": 0, "alarm_topic": False},
        # `false`, not null: CDK drops nulls from context.
        "dynamo": {"sort_key": False, "gsis": [], "lsis": [], "stream": False, "ttl_attribute": False},
    }),
}
TWINS = ("dev", "prod", *SHAPES)


TWIN_FIXTURES = {"twin", "twin_prod", "twin_cluster", "twin_factory"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """A missing engine (PostgreSQL, MariaDB, redis-server) is one error before any test runs: never a skip, and
    not the same failure once per test that needs a twin."""
    needs_engines = any(item.get_closest_marker("engines") or TWIN_FIXTURES & set(getattr(item, "fixturenames", ()))
                        for item in session.items)
    problems = binaries.missing() if needs_engines else []
    if problems:
        raise pytest.UsageError(f"the local twin's engines are missing: {'; '.join(problems)}")


def env_of(name: str) -> str:
    """The environment a twin name (dev, prod or a shape) synthesizes."""
    return SHAPES[name].env if name in SHAPES else name


def reachable_state_dir(env: str) -> Path:
    """A fresh state dir that PostgreSQL's user can reach when we are root (pytest's tmp dirs are 0700)."""
    parent = Path(tempfile.mkdtemp(prefix=f"twin-{env}-"))
    os.chmod(parent, 0o711)
    return parent / "state"


@pytest.fixture(scope="session")
def twin_assembly(request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """dev, prod or a shape -> the cloud assembly its twin reads (synthesized once per session)."""
    cache: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in cache:
            if name in SHAPES:
                shape = SHAPES[name]
                synth = request.getfixturevalue("synth_variant")(shape.env, shape.overrides)
            else:
                synth = request.getfixturevalue(name)
            cache[name] = synth.outdir
        return cache[name]

    return get


@pytest.fixture(scope="session")
def twin_factory(twin_assembly: Callable[[str], Path]) -> Iterator[Callable[[str], Twin]]:
    """dev, prod or a shape -> its running twin, started on first use and stopped at the end of the session."""
    running: dict[str, Twin] = {}

    def get(name: str) -> Twin:
        if name not in running:
            env = env_of(name)
            state_dir = reachable_state_dir(env)
            try:
                running[name] = twin_mod.up(env, state_dir=state_dir, cdk_out=twin_assembly(name))
            except BaseException:
                shutil.rmtree(state_dir.parent, ignore_errors=True)  # up already stopped what it started
                raise
        return running[name]

    yield get

    def stop(started: Twin) -> None:
        twin_mod.down(started.env, state_dir=started.state_dir)
        shutil.rmtree(started.state_dir.parent, ignore_errors=True)

    # Side by side: each down mostly waits for its servers to exit (MariaDB's shutdown takes about a second).
    with ThreadPoolExecutor(max_workers=max(1, len(running))) as pool:
        list(pool.map(stop, running.values()))


@pytest.fixture(scope="session")
def twin(twin_factory: Callable[[str], Twin]) -> Twin:
    return twin_factory("dev")


@pytest.fixture(scope="session")
def twin_prod(twin_factory: Callable[[str], Twin]) -> Twin:
    return twin_factory("prod")


@pytest.fixture(scope="session")
def twin_cluster(twin_prod: Twin) -> Twin:
    if twin_prod.stack("Cache").get("ClusterMode") != "enabled":
        raise RuntimeError("prod's cache has cluster mode disabled, and the cluster-mode tests run on the prod twin: "
                           "enable it in cdk.json or point twin_cluster at a shape with cluster_mode 'enabled'")
    return twin_prod
