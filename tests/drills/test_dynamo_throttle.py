"""dynamo-throttle against the twin's moto: the faults are the client's own (botocore event hooks)."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.drills import dynamo_throttle
from cdk_data_tier.app.endpoints import Endpoints

pytestmark = pytest.mark.engines


def test_the_batch_load_stores_every_item_with_bounded_retries(twin):
    report = dynamo_throttle.run(Endpoints.from_twin(twin.state_dir))

    assert report.ok, report.to_json()
    extra = report.extra
    assert report.present == extra["items"] and report.lost == 0
    assert "ProvisionedThroughputExceededException" in report.injected and "UnprocessedItems" in report.injected
    assert extra["botocore_retries"] > 0 and extra["unprocessed_resends"] > 0  # both kinds of pushback happened
    assert extra["batch_calls"] < extra["batches"] * 3  # bounded, and far from the bound


def test_ignoring_unprocessed_items_loses_them(twin):
    report = dynamo_throttle.run(Endpoints.from_twin(twin.state_dir), resend_unprocessed=False)

    assert report.lost > 0 and not report.checks["every item present"]
