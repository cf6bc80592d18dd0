"""The `cost` command's work: check the environment, find (or synthesize) its templates, estimate, print."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, TextIO

from cdk_data_tier.app.cost.estimate import Estimate, estimate
from cdk_data_tier.app.cost.render import as_json, as_table
from cdk_data_tier.app.cost.sheet import SHEET, PriceSheet
from cdk_data_tier.app.cost.usage import usage_lines
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.project import ROOT, shown


def configured_envs(root: Path = ROOT) -> list[str]:
    cdk_json = root / "cdk.json"
    if not cdk_json.exists():
        return []
    return sorted(json.loads(cdk_json.read_text()).get("context", {}).get("environments", {}))


def read_assembly(outdir: Path, env: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """(region, stack name -> template) of `env` in a cloud assembly, from its manifest.json."""
    manifest = outdir / "manifest.json"
    if not manifest.exists():
        raise BadInput(f"{outdir} is not a cloud assembly (no manifest.json): cdk synth -c env={env} -o {outdir}")
    region, templates = "", {}
    for artifact_id, artifact in json.loads(manifest.read_text()).get("artifacts", {}).items():
        props = artifact.get("properties", {})
        name = props.get("stackName") or artifact_id
        if artifact.get("type") == "aws:cloudformation:stack" and name.startswith(f"{env}-"):
            region = artifact.get("environment", "").rsplit("/", 1)[-1]
            templates[name] = json.loads((outdir / props["templateFile"]).read_text())
    if not templates:
        raise BadInput(f"{outdir} holds no {env}-* stacks: cdk synth -c env={env} -o {outdir}")
    return region, templates


def build(env: str, outdir: Path, *, live: bool = False, profile: str | None = None) -> Estimate:
    region, templates = read_assembly(outdir, env)
    sheet = PriceSheet(region)
    source = f"prices as of {sheet.as_of} ({shown(SHEET)})"
    prices: Any = sheet
    if live:
        from cdk_data_tier.app.cost.live import LivePrices, pricing_client

        prices = LivePrices(sheet, pricing_client(profile))
        source = "instance prices from the AWS Price List API, the rest " + source
    return estimate(env, region, usage_lines(templates, sheet.assumptions), prices, source=source,
                    assumptions=sheet.assumptions)


def cost(env: str, *, as_json_output: bool = False, cdk_out: Path | None = None, live: bool = False,
         profile: str | None = None, out: TextIO | None = None) -> int:
    allowed = configured_envs()
    if allowed and env not in allowed:
        raise BadInput(f"env {env!r} is not configured in cdk.json: allowed: {', '.join(allowed)}")
    from cdk_data_tier.app.local.templates import TemplateError, locate
    from cdk_data_tier.app.synth import SynthError

    try:
        outdir = locate(env, cdk_out, echo=lambda message: print(message, file=sys.stderr))
    except (TemplateError, SynthError) as err:
        raise BadInput(" ".join(str(err).split())) from None
    result = build(env, outdir, live=live, profile=profile)
    print(as_json(result) if as_json_output else as_table(result), file=out or sys.stdout)
    return 0
