"""The benchmark report renders a given result set (no bench runs here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.report import render
from bench.results import BenchResult, Figure, read


def _results() -> list[BenchResult]:
    return [
        BenchResult("sql_copy.py", [Figure("COPY", "`psql \\copy`", [0.8, 1.1, 0.95], 0.9)],
                    load_before=[3.0, 2.0, 1.0], load_after=[4.0, 2.5, 1.1]),
        BenchResult("local_up.py", [Figure("`local up -e dev`", "15 s", [0.5, 0.3, 0.4], 1.0, higher_is_better=False,
                                           detail="runs 7.5, 4.5, 6.0 s")],
                    notes=["a note"], load_before=[1.0, 1.0, 1.0], load_after=[1.0, 1.0, 1.0]),
        BenchResult("dynamo_batch.py", [Figure("BatchWriteItem", "put_item loop", [6.0, 7.0, 6.5], 10.0)]),
    ]


def test_report_shows_medians_goals_machine_and_versions():
    text = render(_results(), host={"CPU": "Test CPU", "cores": "2", "RAM": "24.0 GiB"},
                  tools={"python": "3.11.7", "postgres": "postgres (PostgreSQL) 15.8"}, when="2026-01-02 03:04 UTC")
    assert "| CPU | Test CPU |" in text and "| cores | 2 |" in text and "| RAM | 24.0 GiB |" in text
    assert "| postgres | postgres (PostgreSQL) 15.8 |" in text and "2026-01-02 03:04 UTC" in text
    row = next(line for line in text.splitlines() if line.startswith("| `sql_copy.py`"))
    assert "**0.95**" in row and "≥ 0.9×" in row and "| yes |" in row and "3.0 / 2.0 / 1.0 → 4.0 / 2.5 / 1.1" in row
    up = next(line for line in text.splitlines() if line.startswith("| `local_up.py`"))
    assert "**0.40**" in up and "< 1" in up and "| yes |" in up
    missed = next(line for line in text.splitlines() if line.startswith("| `dynamo_batch.py`"))
    assert "**6.50**" in missed and "| **no** |" in missed
    assert "- `local_up.py`: a note" in text and "runs 7.5, 4.5, 6.0 s" in text


def test_results_round_trip_through_json(tmp_path):
    original = _results()[1]
    original.write(tmp_path / "local_up.json")
    again = read(tmp_path / "local_up.json")
    assert again.figures[0].median == 0.4 and again.notes == ["a note"] and len(again.load_after) == 3


def test_every_bench_make_bench_runs_takes_json():
    """`make bench` passes --json to each bench module; one without it stops the whole report (as failover.py did)."""
    root = Path(__file__).resolve().parents[2]
    makefile = (root / "Makefile").read_text()
    helpers = set(re.search(r"BENCHES := \$\(filter-out ([^,]+),", makefile)[1].split())  # type: ignore[index]
    benches = sorted(p for p in (root / "bench").glob("*.py") if f"bench/{p.name}" not in helpers)
    assert len(benches) >= 6, benches
    for bench in benches:
        done = subprocess.run([sys.executable, "-m", f"bench.{bench.stem}", "--help"], cwd=root, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and "--json" in done.stdout, (bench.name, done.stdout, done.stderr)
