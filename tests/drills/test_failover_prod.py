"""Failover drills on prod's shape: Multi-AZ PostgreSQL with two replicas, a two-shard Redis Cluster.

Each drill cuts the standby (replicas) off just before the kill, so acknowledged-but-unreplicated writes exist
exactly when the protection under test is off: with it on nothing acknowledged is lost, with it off the same
check sees the loss.
"""

from __future__ import annotations

import json

import pytest

from cdk_data_tier.app.drills import cache_failover, db_failover
from cdk_data_tier.app.drills.inject import TwinInjector
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import twin as twin_mod
from tests.drills.helpers import drill_json, writer_admin

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def prod_twin(own_twin):
    twin = own_twin("prod")
    assert twin.stack("Cache")["ClusterMode"] == "enabled", "prod's cache is expected in cluster mode"
    return twin


def _roles(twin) -> dict[str, str]:
    rows = twin_mod.status(twin.env, state_dir=twin.state_dir)
    assert all(r["running"] and r["health"] == "ok" for r in rows), rows
    return {r["name"]: r["role"] for r in rows}


def test_multi_az_failover_loses_no_acknowledged_write_and_the_writer_endpoint_stays(prod_twin, capsys):
    outputs_before = prod_twin.outputs_file.read_text()
    with writer_admin(prod_twin) as conn:
        assert conn.execute("SHOW synchronous_standby_names").fetchone()[0] != ""

    rc, report, stderr = drill_json(prod_twin, capsys, "db-failover", "--partition-first")

    assert rc == 0, (report, stderr)
    assert {"injected", "downtime_ms", "acknowledged", "present", "lost", "duplicated", "unacknowledged",
            "promotion_ms"} <= set(report)
    assert report["partitioned_first"] and report["acknowledged"] > 0
    assert (report["lost"], report["duplicated"]) == (0, 0), report
    assert report["present"] >= report["acknowledged"]
    assert report["downtime_ms"] > 0 and report["promotion_ms"] > 0
    assert prod_twin.outputs_file.read_text() == outputs_before  # RDS moves a DNS name, not the endpoint
    roles = _roles(prod_twin)
    assert roles[f"postgres-{report['new_primary']}"] == "primary"
    assert roles[f"postgres-{report['replaced']}"] == "standby"  # the failed primary, back as the new standby
    info = json.loads(prod_twin.twin_file.read_text())
    assert {c["role"] for c in info["components"] if c["name"] == f"postgres-{report['new_primary']}"} == {"primary"}


def test_without_a_synchronous_standby_the_same_drill_sees_lost_writes(prod_twin):
    with writer_admin(prod_twin) as conn:  # the protection switched off: the standby becomes asynchronous
        conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
        conn.execute("SELECT pg_reload_conf()")

    report = db_failover.run(Endpoints.from_twin(prod_twin.state_dir), TwinInjector(prod_twin.state_dir), partition=True)

    assert report.lost > 0, report.to_json()
    assert not report.checks["no acknowledged write lost"]
    with writer_admin(prod_twin) as conn:  # the replaced standby is synchronous again
        assert conn.execute("SHOW synchronous_standby_names").fetchone()[0] != ""


def test_cluster_mode_failover_loses_plain_writes(prod_twin):
    report = cache_failover.run(Endpoints.from_twin(prod_twin.state_dir), TwinInjector(prod_twin.state_dir), partition=True)

    assert report.lost > 0 and report.duplicated == 0, report.to_json()
    assert report.ok  # plain writes promise nothing across a failover: the loss is reported, not a failure


def test_cluster_mode_failover_keeps_every_durable_write(prod_twin):
    endpoints = Endpoints.from_twin(prod_twin.state_dir)
    report = cache_failover.run(endpoints, TwinInjector(prod_twin.state_dir), durable=True, partition=True, shard=2)

    assert report.ok, report.to_json()
    assert (report.lost, report.duplicated) == (0, 0) and len(report.ledger.acknowledged) > 0
    roles = _roles(prod_twin)
    assert roles[f"redis-{report.extra['new_primary']}"] == "primary"
    assert roles[f"redis-{report.extra['replaced']}"] == "replica"
