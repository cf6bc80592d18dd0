"""Failover downtime as the client sees it, against the twin's own promotion time measured in the same run.

Target: a drill's `downtime_ms` (first failed or stalled operation to the first success after it) stays
within the twin's `promotion_ms` (kill to the first write the new primary accepts through the endpoint)
plus 1 s. Runs db-failover on prod's shape (Multi-AZ), cache-failover with cluster mode off (dev) and on
(prod), each --runs times on a throwaway twin, without the partition fault (that stalls clients on
purpose). RDS itself takes 60-120 s to fail over; these figures say what the twin and the client add.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
from pathlib import Path

from bench.bench_twin import throwaway_twin
from bench.results import BenchResult, Figure
from cdk_data_tier.app.drills import cache_failover, db_failover
from cdk_data_tier.app.drills.inject import TwinInjector
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import templates

ROOT = Path(__file__).resolve().parents[1]

MARGIN_MS = 1000.0


def measure(env: str, drill: str, runs: int) -> list[tuple[float, float]]:
    cdk_out = templates.locate(env, echo=lambda message: print(f"  {message}"))
    out = []
    with throwaway_twin(env, cdk_out) as outputs:
        endpoints, injector = Endpoints.from_outputs_file(outputs), TwinInjector(outputs.parent)
        for _ in range(runs):
            report = (db_failover.run(endpoints, injector) if drill == "db-failover"
                      else cache_failover.run(endpoints, injector))
            if report.lost or report.duplicated:
                raise SystemExit(f"{drill} on {env}: lost {report.lost}, duplicated {report.duplicated}")
            out.append((float(report.promotion_ms or 0), report.ledger.downtime_ms))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here for bench/report.py")
    args = parser.parse_args()
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    result = BenchResult("failover.py")
    worst = 0.0
    for env, drill, what in (("prod", "db-failover", "Multi-AZ PostgreSQL"),
                             ("dev", "cache-failover", "cache, cluster mode off"),
                             ("prod", "cache-failover", "cache, cluster mode on")):
        runs = measure(env, drill, args.runs)
        promotion = statistics.median(p for p, _ in runs)
        downtime = statistics.median(d for _, d in runs)
        excess = max(d - p for p, d in runs)
        worst = max(worst, excess / MARGIN_MS)
        print(f"{drill} ({what}, {env}): promotion median {promotion:.0f} ms, client downtime median "
              f"{downtime:.0f} ms; runs (promotion/downtime ms) {', '.join(f'{p:.0f}/{d:.0f}' for p, d in runs)}; "
              f"worst downtime - promotion {excess:.0f} ms, target < {MARGIN_MS:.0f} ms: "
              f"ratio {excess / MARGIN_MS:.2f} "
              f"({'ok' if excess < MARGIN_MS else 'OVER'})")
        # Each run against its own promotion: the budget is that run's promotion plus the margin.
        result.figures.append(Figure(f"{drill} client downtime ({what})",
                                     f"the twin's promotion time + {MARGIN_MS / 1000:.0f} s, same run",
                                     [d / (p + MARGIN_MS) for p, d in runs], 1.0, higher_is_better=False,
                                     detail="runs (promotion/downtime ms) "
                                            + ", ".join(f"{p:.0f}/{d:.0f}" for p, d in runs)))
    print(f"load average during the runs: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    result.write(args.json)
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
