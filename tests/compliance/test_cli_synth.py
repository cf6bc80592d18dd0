"""`cdk synth` through the pinned CLI, with no AWS credentials at all: cdk.context.json must cover every lookup."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.fixtures_synth import ROOT, no_aws_env

CDK = ROOT / "node_modules" / ".bin" / "cdk"


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_synth_needs_no_credentials(env_name: str, tmp_path: Path) -> None:
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "-c", f"env={env_name}", "-o", str(out)],
        cwd=ROOT, env=no_aws_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / f"{env_name}-Network.template.json").is_file()
    assert "Node.js 20" not in result.stderr and "end-of-life" not in result.stderr.lower()


def test_unknown_environment_fails_synth_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CDK), "synth", "--quiet", "--no-notices", "-c", "env=staging", "-o", str(tmp_path / "out")],
        cwd=ROOT, env=no_aws_env(tmp_path), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode != 0
    assert "config error: env='staging' is not a configured environment: allowed: dev, prod" in result.stderr
