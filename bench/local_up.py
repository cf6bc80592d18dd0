"""`python -m app_code local up` wall time, from the command to a twin whose status is healthy.

Target: under 15 s on this machine (2 cores). The templates are synthesized first and not timed:
`up` reuses fresh ones, as after `make synth`. Each run starts from nothing (new state dir, new
data directories) and is taken down afterwards. Prints the median of --runs against the target.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import BenchResult, Figure
from cdk_data_tier.app.local import templates

ROOT = Path(__file__).resolve().parents[1]

TARGET_S = 15.0


def timed_up(env: str, cdk_out: Path) -> float:
    parent = Path(tempfile.mkdtemp(prefix=f"twin-bench-{env}-"))
    os.chmod(parent, 0o711)
    state = parent / "state"
    cli = [sys.executable, "-m", "cdk_data_tier.app", "local"]
    try:
        started = time.monotonic()
        up = subprocess.run([*cli, "up", "-e", env, "--cdk-out", str(cdk_out), "--state-dir", str(state)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
        elapsed = time.monotonic() - started
        if up.returncode != 0:
            raise SystemExit(f"local up -e {env} failed:\n{up.stdout}\n{up.stderr}")
        status = subprocess.run([*cli, "status", "-e", env, "--state-dir", str(state)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        if status.returncode != 0:
            raise SystemExit(f"the twin is not healthy after up:\n{status.stdout}")
        return elapsed
    finally:
        subprocess.run([*cli, "down", "-e", env, "--state-dir", str(state)], cwd=ROOT, capture_output=True,
                       timeout=120)
        shutil.rmtree(parent, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", action="append", help="environment(s) to measure (default: dev and prod)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="write the figures here for bench/report.py")
    args = parser.parse_args()
    result = BenchResult("local_up.py")
    worst = 0.0
    for env in args.env or ["dev", "prod"]:
        cdk_out = templates.locate(env, echo=lambda message: print(f"  {message}"))
        runs = [timed_up(env, cdk_out) for _ in range(args.runs)]
        median = statistics.median(runs)
        worst = max(worst, median / TARGET_S)
        print(f"local up -e {env}: median {median:.1f}s over {len(runs)} runs "
              f"({', '.join(f'{r:.1f}' for r in runs)}), target < {TARGET_S:.0f}s: ratio {median / TARGET_S:.2f} "
              f"({'ok' if median < TARGET_S else 'OVER'})")
        result.figures.append(Figure(f"`local up -e {env}` to healthy (s)", f"{TARGET_S:.0f} s",
                                     [r / TARGET_S for r in runs], 1.0, higher_is_better=False,
                                     detail=f"runs {', '.join(f'{r:.1f}' for r in runs)} s"))
    print(f"load average during the runs: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    result.write(args.json)
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    sys.exit(main())
