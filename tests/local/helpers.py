"""Cloud assemblies for the twin's tests, cut from the templates `cdk synth` wrote in this session.

There are no hand-written templates: a test that needs a case no config produces (TLS off, a literal
password, two primaries, ...) takes a synthesized assembly and changes the one property the case is
about (`mutate`), next to a line saying why no config produces it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local.templates import stack_templates

Templates = dict[str, dict[str, Any]]


def stacks_of(source: Path, env: str, *concerns: str) -> Templates:
    """`<env>-<concern>` -> its template, from a synthesized cloud assembly (every stack when none is named)."""
    found = stack_templates(source, env)
    names = [f"{env}-{c}" for c in concerns] or list(found)
    return {name: json.loads(found[name].read_text()) for name in names}


def assembly(target: Path, source: Path, env: str, *concerns: str,
             mutate: Callable[[Templates], None] | None = None) -> Path:
    """A cloud assembly in `target` holding those stacks of `source` (a synthesized one), optionally changed."""
    stacks = copy.deepcopy(stacks_of(source, env, *concerns))
    if mutate:
        mutate(stacks)
    artifacts = json.loads((source / "manifest.json").read_text())["artifacts"]
    target.mkdir(parents=True, exist_ok=True)
    kept = {}
    for name, body in stacks.items():
        (target / f"{name}.template.json").write_text(json.dumps(body, indent=1))
        kept[name] = {"type": "aws:cloudformation:stack", "environment": artifacts[name]["environment"],
                      "properties": {"templateFile": f"{name}.template.json", "stackName": name}}
    (target / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": kept}))
    return target


def resources(stacks: Templates, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, resource) of every resource of that type."""
    for body in stacks.values():
        for lid, res in body.get("Resources", {}).items():
            if res.get("Type") == kind:
                yield lid, res


def one(stacks: Templates, kind: str, where: Callable[[dict[str, Any]], bool] = lambda _: True) -> tuple[str, Any]:
    """(logical id, properties) of the only resource of that type matching `where`."""
    (found,) = [(lid, res.setdefault("Properties", {})) for lid, res in resources(stacks, kind) if where(res)]
    return found


def primary(res: dict[str, Any]) -> bool:
    return "SourceDBInstanceIdentifier" not in res.get("Properties", {})
