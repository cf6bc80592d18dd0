"""Bounded retries with capped, jittered exponential backoff (for code that no client library retries)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    base: float = 0.05
    cap: float = 2.0
    deadline: float = 30.0  # total seconds across attempts: a dead endpoint must fail, not hang

    def delays(self) -> Iterator[float]:
        """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): spreads retrying clients apart."""
        for attempt in range(self.attempts - 1):
            yield random.uniform(0, min(self.cap, self.base * 2**attempt))


class RetriesExhausted(Exception):
    def __init__(self, attempts: int, last: BaseException):
        super().__init__(f"gave up after {attempts} attempts: {last}")
        self.attempts = attempts
        self.last = last


def retry_call(
    fn: Callable[[], T],
    *,
    transient: Callable[[BaseException], bool],
    backoff: Backoff = Backoff(),
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Call fn until it succeeds; retry only errors that `transient` accepts, at most backoff.attempts times."""
    start = time.monotonic()
    delays = backoff.delays()
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            delay = next(delays, None)
            if delay is None or time.monotonic() - start + delay > backoff.deadline:
                raise RetriesExhausted(attempt, exc) from exc
            if on_retry:
                on_retry(attempt, exc)
            time.sleep(delay)
