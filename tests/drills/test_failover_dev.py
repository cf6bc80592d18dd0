"""Failover drills on dev's shape: a single-AZ PostgreSQL writer and a cache with cluster mode off."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.drills import cache_failover, db_failover
from cdk_data_tier.app.drills.inject import TwinInjector
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import twin as twin_mod

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def dev_twin(own_twin):
    twin = own_twin("dev")
    assert twin.stack("Cache")["ClusterMode"] == "disabled", "dev's cache is expected with cluster mode off"
    return twin


def test_plain_writes_acknowledged_during_a_partition_are_lost_with_the_primary(dev_twin):
    endpoints = Endpoints.from_twin(dev_twin.state_dir)

    report = cache_failover.run(endpoints, TwinInjector(dev_twin.state_dir), partition=True)

    assert report.lost > 0 and report.duplicated == 0, report.to_json()
    assert report.extra["new_primary"] != report.extra["old_primary"]


def test_durable_writes_survive_the_failover_and_the_endpoints_follow(dev_twin):
    outputs_before = dev_twin.outputs_file.read_text()

    report = cache_failover.run(Endpoints.from_twin(dev_twin.state_dir), TwinInjector(dev_twin.state_dir),
                                durable=True, partition=True)

    assert report.ok, report.to_json()
    assert (report.lost, report.duplicated) == (0, 0) and len(report.ledger.acknowledged) > 0
    assert dev_twin.outputs_file.read_text() == outputs_before  # the primary and reader endpoints moved, not changed
    rows = {r["name"]: r for r in twin_mod.status(dev_twin.env, state_dir=dev_twin.state_dir)}
    assert all(r["running"] and r["health"] == "ok" for r in rows.values()), rows
    assert rows[f"redis-{report.extra['new_primary']}"]["role"] == "primary"
    assert rows[f"redis-{report.extra['replaced']}"]["role"] == "replica"
    assert report.extra["new_primary"] in rows["proxy-cache"]["replication"]


def test_a_single_az_writer_is_rebooted_and_loses_nothing(dev_twin):
    report = db_failover.run(Endpoints.from_twin(dev_twin.state_dir), TwinInjector(dev_twin.state_dir))

    assert report.ok, report.to_json()
    assert (report.lost, report.duplicated) == (0, 0)
    assert report.injected.startswith("reboot") and report.promotion_ms
    assert report.ledger.downtime_ms <= report.promotion_ms + 1000


def test_a_single_az_writer_has_no_standby_to_cut_off(dev_twin, capsys):
    rc = main(["drill", "db-failover", "--outputs", str(dev_twin.state_dir), "--partition-first", "--json"])

    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "single-AZ database has no standby" in err
