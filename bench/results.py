"""A benchmark's figures as JSON for bench/report.py: per-round ratios against a reference measured in the
same run, the goal, and the machine's load around the measurement (other work shares this machine)."""

from __future__ import annotations

import json
import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    name: str
    reference: str
    ratios: list[float]
    goal: float
    higher_is_better: bool = True
    detail: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.ratios)

    @property
    def met(self) -> bool:
        return self.median >= self.goal if self.higher_is_better else self.median < self.goal


@dataclass
class BenchResult:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_before: list[float] = field(default_factory=lambda: list(os.getloadavg()))
    load_after: list[float] = field(default_factory=list)

    def write(self, path: Path | None) -> None:
        """Writes the result when `path` is given (`--json`); a bench run by hand just prints."""
        if path is None:
            return
        self.load_after = list(os.getloadavg())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def read(path: Path) -> BenchResult:
    data = json.loads(path.read_text())
    figures = [Figure(**f) for f in data.pop("figures")]
    return BenchResult(figures=figures, **data)
