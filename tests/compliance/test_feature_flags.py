"""cdk.json carries every feature flag that the pinned CLI's `cdk init app --language python` writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.fixtures_synth import ROOT


def test_cdk_json_has_every_recommended_flag(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(ROOT / "node_modules/.bin/cdk"), "init", "app", "--language", "python", "--generate-only"],
                   cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    recommended = json.loads((tmp_path / "cdk.json").read_text())["context"]
    ours = json.loads((ROOT / "cdk.json").read_text())["context"]
    missing = {k: v for k, v in recommended.items() if ours.get(k) != v}
    assert missing == {}
    assert ours["@aws-cdk/core:validateAgainstDefaultRules"] is True
