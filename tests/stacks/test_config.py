"""Config validation: every bad value stops synth with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from stacks.config import ConfigError, load_environment
from tests.fixtures_synth import ROOT, project_context


def _context_with(mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    context = copy.deepcopy(project_context())
    mutate(context["environments"])
    return context


def test_dev_is_the_default_environment() -> None:
    assert load_environment(project_context(), None).name == "dev"


def test_every_configured_environment_is_valid() -> None:
    context = project_context()
    for env in context["environments"]:
        assert load_environment(context, env).name == env


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda e: e["dev"]["network"].update(az_count=-1),
         "config error: environments.dev.network.az_count=-1 is not allowed: Input should be greater than or equal to 1"),
        (lambda e: e["dev"]["network"].update(nat_gateways=3),
         "config error: environments.dev.network.nat_gateways=3 is not allowed: at most az_count (2)"),
        (lambda e: e["dev"]["network"].update(bastion_instance_type="t3micro"),
         "config error: environments.dev.network.bastion_instance_type='t3micro' is not allowed: "
         "expected an instance type like 't3.micro' (family.size)"),
        (lambda e: e["dev"].pop("account"),
         "config error: environments.dev.account is missing: expected a 12-digit AWS account ID"),
        (lambda e: e["dev"].update(account="12345"),
         "config error: environments.dev.account='12345' is not allowed: expected a 12-digit AWS account ID"),
        (lambda e: e["dev"]["network"].update(flow_log_retention_days=10),
         "config error: environments.dev.network.flow_log_retention_days=10 is not allowed: Input should be 1, 3,"),
        (lambda e: e["dev"]["network"].update(vpc_cidr="10.0.0.0/8"),
         "config error: environments.dev.network.vpc_cidr='10.0.0.0/8' is not allowed: prefix length must be /16 to /20"),
        (lambda e: e["dev"].update(nat_gateway=1),
         "config error: environments.dev.nat_gateway is not a known key: remove it or fix its spelling"),
    ],
    ids=["negative-az", "nat-above-az", "bad-instance-type", "missing-account", "bad-account", "bad-retention",
         "cidr-too-big", "unknown-key"],
)
def test_bad_values_fail_with_one_line(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_environment(_context_with(mutate), "dev")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(expected)


def test_unknown_environment_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigError, match=r"^config error: env='staging' is not a configured environment: "
                                          r"allowed: dev, prod$"):
        load_environment(project_context(), "staging")


def test_app_exits_with_the_one_line_and_no_traceback(tmp_path) -> None:
    """The real entry point, as the CLI runs it: context arrives in CDK_CONTEXT_JSON."""
    import json

    context = {**_context_with(lambda e: e["dev"]["network"].update(nat_gateways=5)), "env": "dev"}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "config error: environments.dev.network.nat_gateways=5 is not allowed: at most az_count (2)"
    ]
    assert not list(tmp_path.glob("*.template.json"))
