"""replica-lag on prod's shape (two replicas). It pauses and resumes replay only, so the session's twin serves."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.drills import replica_lag
from cdk_data_tier.app.drills.inject import TwinInjector
from cdk_data_tier.app.endpoints import Endpoints

pytestmark = pytest.mark.engines


def test_read_your_writes_callers_never_see_stale_data_and_routing_comes_back(twin_prod):
    report = replica_lag.run(Endpoints.from_twin(twin_prod.state_dir), TwinInjector(twin_prod.state_dir))

    assert report.ok, report.to_json()
    plain = report.extra["plain_reads"]
    assert plain["before"].get("replica", 0) >= replica_lag.PHASE_READS
    assert plain["during"].get("writer", 0) >= replica_lag.PHASE_READS  # the lag passed the bound
    assert plain["after"].get("replica", 0) >= replica_lag.PHASE_READS  # back once caught up
    assert report.extra["stale_ryw_reads"] == 0
    assert report.extra["replicas_behind_during_pause"] == 2  # the lag was real: both replicas missed a new row


def test_without_read_your_writes_the_same_drill_sees_stale_reads(twin_prod):
    report = replica_lag.run(Endpoints.from_twin(twin_prod.state_dir), TwinInjector(twin_prod.state_dir),
                             read_your_writes=False)

    assert report.extra["stale_ryw_reads"] > 0
    assert not report.checks["read-your-writes reads never stale"]
