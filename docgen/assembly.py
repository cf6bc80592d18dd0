"""Read a synthesized cloud assembly as plain JSON: its stacks (from manifest.json) and their templates."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# CDK's own plumbing for cross-stack references, not part of any stack's contract.
INTERNAL_OUTPUT_PREFIXES = ("ExportsOutput", "PublishOutput")


@dataclass(frozen=True)
class StackTemplate:
    name: str
    env: str
    region: str
    template: dict[str, Any]

    @property
    def concern(self) -> str:
        """"Network" for "dev-Network": the stack's name without its environment."""
        return self.name.removeprefix(f"{self.env}-")

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def public_outputs(self) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.template.get("Outputs", {}).items()
                if not k.startswith(INTERNAL_OUTPUT_PREFIXES)}


def stacks(outdir: Path, env: str) -> list[StackTemplate]:
    """The assembly's CloudFormation stacks of `env`, in the manifest's (deployment) order."""
    manifest = json.loads((outdir / "manifest.json").read_text())
    found = []
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        props = artifact.get("properties", {})
        name = props.get("stackName") or artifact_id
        if not name.startswith(f"{env}-"):
            continue
        region = artifact.get("environment", "aws://unknown/unknown").rsplit("/", 1)[-1]
        template = json.loads((outdir / props.get("templateFile", f"{artifact_id}.template.json")).read_text())
        found.append(StackTemplate(name=name, env=env, region=region, template=template))
    return found
