"""docs/reference.md is generated: it must match the code and the synthesized templates of this commit."""

from __future__ import annotations

import json
from pathlib import Path

from cdk_data_tier.stacks.config import EnvConfig
from docgen.reference import render

ROOT = Path(__file__).resolve().parents[2]


def test_reference_is_current(dev, prod):
    expected = render({"dev": dev.outdir, "prod": prod.outdir})
    committed = (ROOT / "docs" / "reference.md").read_text()
    assert committed == expected, "docs/reference.md is stale: run `make docs` and commit it"


def test_reference_names_every_config_key_and_output(dev, prod):
    text = (ROOT / "docs" / "reference.md").read_text()
    for section in ("network", "database", "dynamo", "cache"):
        for key in EnvConfig.model_fields[section].annotation.model_fields:
            assert f"| `{key}` |" in text, f"{section}.{key} is missing from the reference"
    for synthesized in (dev, prod):
        for path in synthesized.template_files():
            for output in json.loads(path.read_text()).get("Outputs", {}):
                if not output.startswith(("ExportsOutput", "PublishOutput")):
                    assert f"| `{output}` |" in text, f"{path.name} output {output} is missing"
    assert "PublishOutputRef" not in text and "PublishOutputFnGetAtt" not in text
