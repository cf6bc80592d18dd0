"""examples/existing-vpc, a user's own CDK app, synthesizes from its folder through the pinned CLI and passes the
compliance gate; the README's lines of it are its own.

Here cdk_data_tier comes from this checkout (PYTHONPATH, as an editable install gives it); tests/packaging runs
the same app against the installed wheel.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.compliance.gate import (
    assert_acknowledgments_say_why,
    assert_cfn_lint_clean,
    assert_checkov_clean,
    assert_nag_clean,
)
from tests.fixtures_synth import ROOT, no_aws_env

EXAMPLE = ROOT / "examples" / "existing-vpc"
STACK = "orders-data"


@pytest.fixture(scope="module")
def example_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("example-home")
    out = tmp_path_factory.mktemp("example") / "cdk.out"
    result = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), "synth", "--quiet", "--no-notices", "-o", str(out)],
        cwd=EXAMPLE, env={**no_aws_env(home), "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "end-of-life" not in result.stderr.lower()
    return out


def _template(out: Path) -> dict:
    return json.loads((out / f"{STACK}.template.json").read_text())


def test_the_example_builds_cache_and_database_in_the_imported_vpc(example_out: Path) -> None:
    resources = _template(example_out)["Resources"].values()
    kinds = [r["Type"] for r in resources]
    assert kinds.count("AWS::ElastiCache::ReplicationGroup") == 1
    assert kinds.count("AWS::RDS::DBInstance") == 2  # the writer and its read replica
    assert "AWS::EC2::VPC" not in kinds and "AWS::EC2::Subnet" not in kinds  # imported, not created
    subnets = next(r for r in resources if r["Type"] == "AWS::RDS::DBSubnetGroup")["Properties"]["SubnetIds"]
    assert subnets == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    # Attributes, not lookups: nothing was cached for a later synth.
    assert not (EXAMPLE / "cdk.context.json").exists()


def test_the_example_passes_the_compliance_gate(example_out: Path) -> None:
    assert_nag_clean(example_out)
    assert_acknowledgments_say_why(example_out)
    assert_cfn_lint_clean([example_out / f"{STACK}.template.json"])
    assert_checkov_clean([example_out / f"{STACK}.template.json"])


def test_the_example_keeps_the_projects_feature_flags() -> None:
    ours = {k: v for k, v in json.loads((ROOT / "cdk.json").read_text())["context"].items() if k != "environments"}
    assert json.loads((EXAMPLE / "cdk.json").read_text())["context"] == ours


def test_the_readme_shows_lines_of_the_example() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use the constructs in your own app", 1)[1].split("\n## ", 1)[0]
    assert "examples/existing-vpc" in section
    block = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert block, "the section shows no python block"
    source = {line.strip() for line in (EXAMPLE / "app.py").read_text().splitlines()}
    shown = [line.strip() for line in block.group(1).splitlines() if line.strip() and line.strip() != "..."]
    assert 8 <= len(shown) <= 14
    assert [line for line in shown if line not in source] == []
