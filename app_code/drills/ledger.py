"""What a drill's clients did and saw: every write with its idempotency key and outcome, every attempt's failure,
and the report (a rich table, or one JSON object) that compares it with what the data store holds afterwards.

A write is *acknowledged* when the client got a success, *unacknowledged* when it never learned the outcome
(its retries ran out, or a durable write's replica acknowledgement did not come): those are reported apart,
never counted as lost and never re-issued under a new key. *present* and *duplicated* come from reading the
store after the event: an acknowledged key that is not there is *lost*, one whose effect is there twice is
*duplicated*.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cdk_data_tier.app.retry import Backoff, RetriesExhausted, retry_call

T = TypeVar("T")
# Short, capped delays over a long deadline: the client retries through a whole promotion without
# adding much to the downtime it sees, and still gives up (bounded) when the store never comes back.
DRILL_BACKOFF = Backoff(attempts=200, base=0.02, cap=0.2, deadline=45.0)


@dataclass
class Ledger:
    acknowledged: list[str] = field(default_factory=list)
    unacknowledged: list[str] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)  # why writes went unacknowledged
    retries: int = 0
    first_failure: float | None = None  # time.time() of the first failed attempt
    recovered: float | None = None  # the first success after it
    ops: int = 0
    longest_op: float = 0.0  # seconds from an operation's start to its success, retries and waits included
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _failed(self, _: int, exc: BaseException) -> None:
        with self._lock:
            self.retries += 1
            if self.first_failure is None:
                self.first_failure = time.time()

    def _succeeded(self, started: float) -> None:
        with self._lock:
            self.ops += 1
            self.longest_op = max(self.longest_op, time.time() - started)
            if self.first_failure is not None and self.recovered is None:
                self.recovered = time.time()

    def call(self, fn: Callable[[], T], transient: Callable[[BaseException], bool],
             backoff: Backoff = DRILL_BACKOFF) -> T:
        """One operation with bounded retries; its failed attempts and its recovery enter the timeline."""
        started = time.time()
        try:
            result = retry_call(fn, transient=transient, backoff=backoff, on_retry=self._failed)
        except Exception as exc:
            if transient(exc) or isinstance(exc, RetriesExhausted):
                self._failed(0, exc)
            raise
        self._succeeded(started)
        return result

    def write(self, key: str, fn: Callable[[], Any], transient: Callable[[BaseException], bool],
              unknown: tuple[type[BaseException], ...] = (), backoff: Backoff = DRILL_BACKOFF) -> bool:
        """A write under `key`: acknowledged, or unacknowledged when its outcome stayed unknown."""
        try:
            self.call(fn, transient, backoff)
        except (RetriesExhausted, *unknown) as exc:  # type: ignore[misc]  # mypy cannot unpack into except
            with self._lock:
                self.unacknowledged.append(key)
                self.reasons[type(getattr(exc, "last", exc)).__name__] += 1
            return False
        with self._lock:
            self.acknowledged.append(key)
        return True

    @property
    def downtime_ms(self) -> float:
        """As the client saw it: from the first failed attempt to the first success after it, or the longest
        operation, whichever is longer. Failed attempts are not the only sign of an outage: a pool that finds
        its connection dead opens another and waits for it, silently."""
        longest = self.longest_op
        if self.first_failure is not None:
            longest = max(longest, (self.recovered or time.time()) - self.first_failure)
        return round(longest * 1000, 1)


@dataclass
class Report:
    drill: str
    target: str  # "twin <state dir>" or "AWS <env>"
    injected: str
    ledger: Ledger
    present: int = 0
    lost: int = 0
    duplicated: int = 0
    promotion_ms: float | None = None
    checks: dict[str, bool] = field(default_factory=dict)  # what the drill claims, and whether it held
    extra: dict[str, Any] = field(default_factory=dict)

    def settle(self, counts: dict[str, int]) -> None:
        """Compare with the store: `counts` maps each key written to how many times its effect is there."""
        acked = set(self.ledger.acknowledged)
        self.present = sum(1 for k in [*self.ledger.acknowledged, *self.ledger.unacknowledged] if counts.get(k, 0))
        self.lost = sum(1 for k in acked if not counts.get(k, 0))
        self.duplicated = sum(1 for n in counts.values() if n > 1)

    @property
    def ok(self) -> bool:
        return all(self.checks.values())

    def to_json(self) -> dict[str, Any]:
        led = self.ledger
        return {"drill": self.drill, "target": self.target, "injected": self.injected,
                "downtime_ms": led.downtime_ms, "promotion_ms": self.promotion_ms,
                "acknowledged": len(led.acknowledged), "present": self.present, "lost": self.lost,
                "duplicated": self.duplicated, "unacknowledged": len(led.unacknowledged),
                "unacknowledged_reasons": dict(led.reasons), "retries": led.retries, "ops": led.ops,
                "checks": self.checks, "ok": self.ok, **self.extra}


def render(report: Report, *, as_json: bool, console: Any = None) -> None:
    if as_json:
        print(json.dumps(report.to_json(), default=str))
        return
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    data = report.to_json()
    table = Table(title=f"drill {report.drill} on {report.target}")
    table.add_column("measure")
    table.add_column("value", overflow="fold")
    for key in ("injected", "promotion_ms", "downtime_ms", "acknowledged", "present", "lost", "duplicated",
                "unacknowledged", "retries", *report.extra):
        value = data.get(key)
        table.add_row(key, "-" if value is None else _text(value))
    for name, held in report.checks.items():
        table.add_row(f"check: {name}", "[green]held[/]" if held else "[red]FAILED[/]")
    console.print(table)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items())
    if isinstance(value, Iterable) and not isinstance(value, str):
        return ", ".join(map(str, value))
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def sql_client(endpoints: Any, settings: Any) -> Any:
    """A SqlClient whose credentials are read once. The workloads' clients read the secret again for every new
    connection (a rotation may have changed it), which puts a Secrets Manager round trip into every reconnect
    of a failover; a drill rotates nothing, and measures the failover alone."""
    from cdk_data_tier.app.sql import SqlClient, app_login

    creds, _ = app_login(endpoints)  # the application user's, as the workloads log in
    return SqlClient(endpoints.database, creds, settings)


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.02) -> None:
    """Poll `condition` until it holds; a drill that cannot reach a step fails loudly instead of hanging."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")
        time.sleep(interval)
