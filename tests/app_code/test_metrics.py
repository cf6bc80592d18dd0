"""Percentiles, throughput and the verified flag behind the summary table."""

from __future__ import annotations

import io
import math

from rich.console import Console

from cdk_data_tier.app.metrics import Recorder, percentile, render


def test_percentiles_are_observed_values():
    values = sorted(float(v) for v in range(1, 101))
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (50.0, 99.0, 100.0)
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_throughput_counts_items_over_the_time_spent():
    rec = Recorder()
    for _ in range(4):
        rec.add("sql", "bulk", 0.5, items=1000)  # four batches of 1000 rows, 0.5 s each
    [row] = rec.rows()
    assert (row.count, row.throughput, row.p50_ms) == (4000, 2000.0, 500.0)
    rec.set_wall("sql", "bulk", 1.0)  # the batches ran two at a time
    assert rec.rows()[0].throughput == 4000.0


def test_a_failed_check_is_never_hidden_by_a_later_success():
    rec = Recorder()
    rec.verify("cache", "GET", True, "300 values")
    rec.verify("cache", "GET", False, "ignored detail", fail="a value differs")
    rec.verify("cache", "GET", True, "300 values")
    [row] = rec.rows()
    assert (row.verified, row.detail) == (False, "a value differs")
    assert [(f.workload, f.operation) for f in rec.failures] == [("cache", "GET")]


def test_the_table_shows_every_column():
    rec = Recorder()
    with rec.timed("dynamo", "get (consistent)"):
        pass
    rec.verify("dynamo", "get (consistent)", True, "25 items")
    rec.verify("dynamo", "transact write", False, fail="stock 5->4, 0/1 orders")
    out = io.StringIO()
    render(rec, Console(file=out, width=200))
    text = out.getvalue()
    for piece in ("workload", "operation", "count", "p50 ms", "p99 ms", "ops/s", "verified", "detail",
                  "get (consistent)", "OK", "25 items", "FAIL", "stock 5->4, 0/1 orders"):
        assert piece in text
