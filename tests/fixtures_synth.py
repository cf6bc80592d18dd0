"""Session fixtures that synthesize each environment once per test session.

A `cdk.App()` built in a test reads neither cdk.json nor cdk.context.json, so both are loaded here,
exactly as the CLI would pass them.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from cdk_data_tier.constructs.wheelhouse import Wheelhouse
from cdk_data_tier.stacks.compliance import add_compliance_checks
from cdk_data_tier.stacks.config import EnvConfig, load_config
from cdk_data_tier.stacks.data_tier import DataTier, build_data_tier

ROOT = Path(__file__).resolve().parent.parent


def project_context() -> dict[str, Any]:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context.update(json.loads((ROOT / "cdk.context.json").read_text()))
    return context


def no_aws_env(home: Path) -> dict[str, str]:
    """The environment of a `cdk synth` subprocess with no AWS configuration at all, the venv's Node 24 first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        AWS_CONFIG_FILE=str(home / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        HOME=str(home),
    )
    return env


@dataclass
class Synthesized:
    config: EnvConfig
    tier: DataTier
    outdir: Path

    def template(self, concern: str) -> Template:
        return Template.from_stack(getattr(self.tier, concern.lower()))

    def template_json(self, concern: str) -> dict[str, Any]:
        return json.loads((self.outdir / f"{self.config.stack_name(concern)}.template.json").read_text())

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("*.template.json"))


def synthesize(env: str, outdir: Path, *, overrides: Mapping[str, Any] | None = None,
               environment: Mapping[str, Any] | None = None, compliance: bool = True,
               wheelhouse: Wheelhouse | None = None) -> Synthesized:
    """Synthesize one environment into `outdir`, optionally deep-merging `overrides` into its config.

    The app host's wheelhouse is built from this checkout into its cache (.wheelhouse/): the first synth of a
    session rebuilds the project's wheel if the code changed, and downloads dependency wheels only when their
    pins or the host's platform are new to the cache. `wheelhouse` replaces it (another release).

    `environment` adds (or replaces) the whole entry `env` of the map: the one way to test a config that
    leaves keys out, since overrides cannot remove any.
    """
    context = project_context()
    if environment is not None:
        context["environments"] = {**context["environments"], env: copy.deepcopy(dict(environment))}
    if overrides:
        context["environments"] = copy.deepcopy(context["environments"])
        _deep_merge(context["environments"][env], overrides)
    context["env"] = env
    app = cdk.App(context=context, outdir=str(outdir))
    config = load_config(app)
    tier = build_data_tier(app, config, wheelhouse=wheelhouse)
    if compliance:
        add_compliance_checks(app)
    app.synth()
    return Synthesized(config=config, tier=tier, outdir=outdir)


def _deep_merge(target: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("dev", tmp_path_factory.mktemp("cdk.out.dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize("prod", tmp_path_factory.mktemp("cdk.out.prod"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def each_env(request: pytest.FixtureRequest) -> Synthesized:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def synth_variant(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synthesized]:
    """Synthesize a config variant (for example another engine), cached per distinct override."""
    cache: dict[str, Synthesized] = {}

    def build(env: str, overrides: Mapping[str, Any], compliance: bool = True) -> Synthesized:
        key = json.dumps([env, overrides, compliance], sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(env, tmp_path_factory.mktemp(f"cdk.out.{env}.variant"), overrides=overrides,
                                    compliance=compliance)
        return cache[key]

    return build


@pytest.fixture(scope="session")
def synth_environment(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Synthesized]:
    """Synthesize an environment given whole (for example one holding only account, region and removal)."""
    cache: dict[str, Synthesized] = {}

    def build(env: str, environment: Mapping[str, Any], compliance: bool = True) -> Synthesized:
        key = json.dumps([env, environment, compliance], sort_keys=True)
        if key not in cache:
            cache[key] = synthesize(env, tmp_path_factory.mktemp(f"cdk.out.{env}.whole"), environment=environment,
                                    compliance=compliance)
        return cache[key]

    return build
