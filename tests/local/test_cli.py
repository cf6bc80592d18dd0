"""`local up|down|status` on the command line, alone and inside `python -m app_code`."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cdk_data_tier.app.local.cli import register
from tests.fixtures_synth import Synthesized
from tests.local.helpers import assembly

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, module: str = "cdk_data_tier.app.local", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200", **(env or {})})


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="twin-cli-"))
    os.chmod(path, 0o711)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def test_register_adds_local_with_its_options() -> None:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    for action in ("up", "down", "status"):
        args = parser.parse_args(["local", action])
        assert (args.local_command, args.env, args.state_dir, args.cdk_out) == (action, "dev", None, None)
    args = parser.parse_args(["local", "up", "-e", "prod", "--state-dir", "/tmp/s", "--cdk-out", "/tmp/o"])
    assert (args.env, args.state_dir, args.cdk_out) == ("prod", Path("/tmp/s"), Path("/tmp/o"))


def test_status_of_a_twin_that_is_not_up(scratch: Path) -> None:
    done = cli("status", "--state-dir", str(scratch / "state"))
    assert done.returncode == 3 and "not up" in done.stdout


def test_app_code_cli_carries_the_local_command(scratch: Path) -> None:
    done = cli("local", "status", "--state-dir", str(scratch / "state"), module="app_code")
    assert done.returncode == 3 and "not up" in done.stdout, done.stderr


def test_missing_binary_is_one_line_and_exit_1(scratch: Path, dev: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Cache")
    done = cli("up", "--cdk-out", str(out), "--state-dir", str(scratch / "state"),
               env={"TWIN_REDIS_SERVER": "/nonexistent/redis-server"})
    assert done.returncode == 1
    assert done.stderr.strip().startswith("app_code local: redis-server not found")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stdout + done.stderr
    assert not (scratch / "state").exists()


@pytest.mark.engines
def test_up_status_down(scratch: Path, prod: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", prod.outdir, "prod", "Dynamo")
    state = scratch / "state"
    up = cli("up", "-e", "prod", "--cdk-out", str(out), "--state-dir", str(state))
    assert up.returncode == 0, up.stdout + up.stderr
    outputs = json.loads((state / "outputs.json").read_text())
    info = json.loads((state / "twin.json").read_text())
    assert set(outputs) == {"prod-Dynamo"}
    assert {"env", "region", "aws_endpoint_url", "ca_bundle", "components"} <= set(info)
    assert (info["env"], info["region"]) == ("prod", "us-west-2")
    assert outputs["prod-Dynamo"]["TableArn"].startswith("arn:aws:dynamodb:us-west-2:222222222222:table/")
    status = cli("status", "-e", "prod", "--state-dir", str(state))
    assert status.returncode == 0 and "moto" in status.stdout and "ok" in status.stdout
    down = cli("down", "-e", "prod", "--state-dir", str(state))
    assert down.returncode == 0 and not state.exists()
