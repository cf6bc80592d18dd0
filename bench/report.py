"""`python -m bench.report RESULTS_DIR OUT.md`: docs/benchmarks.md from the benches' JSON results.

The machine (CPU model, cores, RAM), the date, the versions of everything measured, then each figure as the
median of its per-round ratios against a reference measured in the same run, with its goal and the load.
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.results import BenchResult, read

PACKAGES = ("boto3", "moto", "psycopg", "redis", "aws-cdk-lib")


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return {"CPU": cpu, "cores": str(os.cpu_count()), "RAM": f"{kib / 1024 / 1024:.1f} GiB",
            "OS": f"{platform.system()} {platform.release()}"}


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found"
    return out.splitlines()[0] if out else "not found"


def versions() -> dict[str, str]:
    from cdk_data_tier.app.local import binaries

    found = {"python": platform.python_version()}
    try:
        found["postgres"] = _first_line([str(binaries.postgres_bindir() / "postgres"), "--version"])
        found["psql"] = _first_line([str(binaries.postgres_bindir() / "psql"), "--version"])
    except Exception as exc:  # noqa: BLE001 - a missing engine is reported, not fatal to the report
        found["postgres"] = f"not found ({exc})"
    try:
        found["redis-server"] = _first_line([str(binaries.redis_server()), "--version"])
    except Exception as exc:  # noqa: BLE001
        found["redis-server"] = f"not found ({exc})"
    found["redis-benchmark"] = _first_line(["redis-benchmark", "--version"])
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def _load(values: list[float]) -> str:
    return " / ".join(f"{v:.1f}" for v in values) if values else "—"


def render(results: list[BenchResult], *, host: dict[str, str], tools: dict[str, str], when: str) -> str:
    lines = ["# Benchmarks", "",
             f"Written by `make bench` ({when}), which runs every bench in `bench/` against a throwaway twin and "
             "renders this page from their JSON results (`bench/report.py`). Each figure is the **median of the "
             "per-round ratios** against a reference measured in the same run (rounds alternate, so a ratio's two "
             "sides share the load of their moment). Do not edit by hand.", "",
             "## Machine", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in host.items()]
    lines += ["", "Other engineers' builds and tests share this machine: the load averages (1 / 5 / 15 min) "
              "before and after each bench are in the last column.", "",
              "## Versions", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in tools.items()]
    lines += ["", "## Figures", "",
              "| bench | figure | reference | median ratio | rounds | goal | met | load before → after |",
              "|---|---|---|---|---|---|---|---|"]
    for result in results:
        for fig in result.figures:
            goal = f"≥ {fig.goal:g}×" if fig.higher_is_better else f"< {fig.goal:g} (of the reference)"
            rounds = ", ".join(f"{r:.2f}" for r in fig.ratios)
            lines.append(f"| `{result.bench}` | {fig.name} | {fig.reference} | **{fig.median:.2f}** | {rounds} | "
                         f"{goal} | {'yes' if fig.met else '**no**'} | {_load(result.load_before)} → "
                         f"{_load(result.load_after)} |")
    details = [(r.bench, f.name, f.detail) for r in results for f in r.figures if f.detail]
    notes = [(r.bench, n) for r in results for n in r.notes]
    if details or notes:
        lines += ["", "## Details", ""]
        lines += [f"- `{bench}`, {name}: {detail}" for bench, name, detail in details]
        lines += [f"- `{bench}`: {note}" for bench, note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m bench.report RESULTS_DIR OUT.md", file=sys.stderr)
        return 2
    results_dir, out = Path(argv[0]), Path(argv[1])
    results = [read(p) for p in sorted(results_dir.glob("*.json"))]
    if not results:
        print(f"bench report: no results in {results_dir} (run `make bench`)", file=sys.stderr)
        return 2
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.write_text(render(results, host=machine(), tools=versions(), when=when))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
