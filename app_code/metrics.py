"""Latency and throughput per operation, plus what each workload verified, for the summary table."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: always a value that was observed, so p99 of a few samples is the worst one."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class OpStats:
    name: str
    items: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds per call (a call may carry a batch of items)
    busy: float = 0.0  # summed call time: wall time for sequential calls
    wall: float | None = None  # set when calls overlap (threads), so throughput uses real elapsed time
    verified: bool | None = None
    detail: str = ""

    @property
    def seconds(self) -> float:
        return self.wall if self.wall is not None else self.busy

    @property
    def throughput(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else math.nan

    def p(self, pct: float) -> float:
        return percentile(sorted(self.latencies), pct)


@dataclass(frozen=True)
class Row:
    workload: str
    operation: str
    count: int
    p50_ms: float
    p99_ms: float
    throughput: float
    verified: bool | None
    detail: str


class Recorder:
    """One per run; workloads record under "<workload>" and the CLI renders every row at the end."""

    def __init__(self) -> None:
        self._ops: dict[tuple[str, str], OpStats] = {}
        self._lock = threading.Lock()
        self.notes: list[str] = []

    def op(self, workload: str, name: str) -> OpStats:
        with self._lock:
            return self._ops.setdefault((workload, name), OpStats(name))

    def add(self, workload: str, name: str, seconds: float, items: int = 1) -> None:
        stats = self.op(workload, name)
        with self._lock:
            stats.latencies.append(seconds)
            stats.busy += seconds
            stats.items += items

    @contextmanager
    def timed(self, workload: str, name: str, items: int = 1) -> Iterator[None]:
        start = time.perf_counter()
        yield
        self.add(workload, name, time.perf_counter() - start, items)

    def set_wall(self, workload: str, name: str, seconds: float) -> None:
        self.op(workload, name).wall = seconds

    def verify(self, workload: str, name: str, ok: bool, detail: str = "", *, fail: str = "") -> bool:
        """A False here fails the run; a later True never hides an earlier False. `fail` replaces `detail`
        when the check failed, for callers whose detail only makes sense on success."""
        stats = self.op(workload, name)
        with self._lock:
            if stats.verified is None or (stats.verified and not ok):
                stats.verified, stats.detail = ok, detail if ok else (fail or detail)
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.rows() if r.verified is False]

    def rows(self) -> list[Row]:
        with self._lock:
            items = list(self._ops.items())
        return [
            Row(workload, s.name, s.items, s.p(50) * 1e3, s.p(99) * 1e3, s.throughput, s.verified, s.detail)
            for (workload, _), s in items
        ]


def render(recorder: Recorder, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    # Piped output (CI logs, `make demo | tee`) gets rich's 80 columns by default: too narrow for the details.
    console = console or Console(width=None if Console().is_terminal else 150)
    table = Table(title="app_code run summary")
    for col, justify in (("workload", "left"), ("operation", "left"), ("count", "right"), ("p50 ms", "right"),
                         ("p99 ms", "right"), ("ops/s", "right"), ("verified", "left"), ("detail", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in recorder.rows():
        status = {True: "[green]OK[/]", False: "[red]FAIL[/]", None: "-"}[r.verified]
        table.add_row(r.workload, r.operation, f"{r.count:,}", _fmt(r.p50_ms), _fmt(r.p99_ms),
                      _fmt(r.throughput, 0), status, r.detail)
    console.print(table)
    for note in recorder.notes:
        console.print(note)


def _fmt(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"
