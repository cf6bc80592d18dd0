"""Hand-written template fixtures, copied into a temp cloud assembly so a test can mutate them."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACCOUNT = {"dev": "111111111111", "prod": "222222222222"}
REGION = {"dev": "us-east-1", "prod": "us-west-2"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.template.json").read_text())


def assembly(target: Path, env: str, stacks: dict[str, dict[str, Any]],
             mutate: Callable[[dict[str, dict[str, Any]]], None] | None = None) -> Path:
    """A cloud assembly in `target` holding `stacks` (name -> template), like `cdk synth -o target` writes."""
    stacks = copy.deepcopy(stacks)
    if mutate:
        mutate(stacks)
    target.mkdir(parents=True, exist_ok=True)
    artifacts = {}
    for name, body in stacks.items():
        (target / f"{name}.template.json").write_text(json.dumps(body, indent=1))
        artifacts[name] = {"type": "aws:cloudformation:stack", "environment": f"aws://{ACCOUNT[env]}/{REGION[env]}",
                           "properties": {"templateFile": f"{name}.template.json"}}
    (target / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    return target


def fixture_stacks(env: str, *concerns: str) -> dict[str, dict[str, Any]]:
    """The hand-written stand-ins of `env` (prod falls back to dev's file where it has none)."""
    out = {}
    for concern in concerns:
        name = f"{env}-{concern}" if (FIXTURES / f"{env}-{concern}.template.json").exists() else f"dev-{concern}"
        out[f"{env}-{concern}"] = fixture(name)
    return out


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
