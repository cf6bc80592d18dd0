"""The suite gives jsii the venv's Node 24 however it is started, also from a shell without the venv on PATH."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# The tests that fail when jsii (or the CDK CLI) runs under the machine's end-of-life Node: its banner lands on
# stderr, where these tests expect exactly one line or no Node warning.
NODE_SENSITIVE = ["tests/stacks/test_config.py::test_app_exits_with_the_one_line_and_no_traceback",
                  "tests/compliance/test_cli_synth.py::test_unknown_environment_fails_synth_with_one_line"]


def test_the_suite_passes_from_a_shell_without_the_venv_on_path(tmp_path: Path) -> None:
    shell_path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                                 if p and Path(p).resolve() != VENV_BIN.resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTEST_ADDOPTS")} | {"PATH": shell_path}
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "pytest", "-rA", "-p", "no:cacheprovider",
                             "--basetemp", str(tmp_path / "t"), *NODE_SENSITIVE],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert all(f"PASSED {test}" in result.stdout for test in NODE_SENSITIVE), result.stdout[-3000:]
