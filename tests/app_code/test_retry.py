"""Bounded retries: transient errors are retried a fixed number of times, others never."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.retry import Backoff, RetriesExhausted, retry_call


class Flaky(Exception):
    pass


def test_transient_errors_are_retried_until_success():
    calls = []

    def fn():
        calls.append(1)
        if len(calls) < 3:
            raise Flaky
        return "done"

    seen = []
    assert retry_call(fn, transient=lambda e: isinstance(e, Flaky), backoff=Backoff(attempts=5, base=0.001),
                      on_retry=lambda n, e: seen.append(n)) == "done"
    assert len(calls) == 3 and seen == [1, 2]


def test_retries_are_bounded():
    calls = []

    def fn():
        calls.append(1)
        raise Flaky("still down")

    with pytest.raises(RetriesExhausted, match="gave up after 4 attempts: still down") as err:
        retry_call(fn, transient=lambda e: True, backoff=Backoff(attempts=4, base=0.001))
    assert len(calls) == 4 and isinstance(err.value.last, Flaky)


def test_other_errors_are_raised_at_once():
    calls = []

    def fn():
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        retry_call(fn, transient=lambda e: isinstance(e, Flaky))
    assert len(calls) == 1


def test_the_deadline_stops_retries_early():
    calls = []
    with pytest.raises(RetriesExhausted):
        retry_call(lambda: calls.append(1) or (_ for _ in ()).throw(Flaky()), transient=lambda e: True,
                   backoff=Backoff(attempts=100, base=0.05, cap=0.05, deadline=0.0))
    assert len(calls) == 1


def test_backoff_delays_are_jittered_and_capped():
    delays = list(Backoff(attempts=8, base=0.1, cap=0.4).delays())
    assert len(delays) == 7 and all(0 <= d <= 0.4 for d in delays)
