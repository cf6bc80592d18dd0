"""Config validation: every bad value stops synth with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from cdk_data_tier.stacks.config import ConfigError, load_environment
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
        (lambda e: e["dev"]["network"].update(patch_window="sat:05:00"),
         "config error: environments.dev.network.patch_window='sat:05:00' is not allowed: 'ddd:hh24:mi-ddd:hh24:mi' in "
         "UTC"),
        (lambda e: e["dev"]["network"].update(patch_window="sat:05:00-sat:05:30"),
         "config error: environments.dev.network.patch_window='sat:05:00-sat:05:30' is not allowed: 1 to 24 hours"),
        (lambda e: e["dev"]["network"].update(patch_window="sun:04:00-sun:06:00"),
         "config error: environments.dev.network.patch_window='sun:04:00-sun:06:00' is not allowed: it overlaps "
         "database.maintenance_window 'sun:04:00-sun:04:30'; the hosts reboot while they patch"),
        (lambda e: e["dev"]["network"].update(patch_window="tue:03:30-tue:04:30"),
         "config error: environments.dev.network.patch_window='tue:03:30-tue:04:30' is not allowed: it overlaps "
         "cache.snapshot_window '03:00-04:00'"),
        (lambda e: e["dev"].update(notifications={"emails": ["ops@example.com", "not-an-address"]}),
         "config error: environments.dev.notifications.emails[1]='not-an-address' is not allowed: an email address "
         "like 'ops@example.com'"),
        (lambda e: e["dev"].update(notifications={"https_urls": ["http://alerts.example.com/sns"]}),
         "config error: environments.dev.notifications.https_urls[0]='http://alerts.example.com/sns' is not allowed: "
         "an https:// URL"),
        (lambda e: e["dev"].update(notifications={"slack": ["#ops"]}),
         "config error: environments.dev.notifications.slack is not a known key"),
        (lambda e: e["dev"].update(removal="retain", database={**e["dev"]["database"], "removal": None,
                                                               "deletion_protection": None,
                                                               "backup_plan_retention_days": 35,
                                                               "backup_plan_start_hour_utc": 4}),
         "config error: environments.dev.database.backup_plan_start_hour_utc=4 is not allowed: jobs starting "
         "04:00-05:00 UTC overlap database.maintenance_window 'sun:04:00-sun:04:30'"),
        (lambda e: e["dev"].update(removal="retain", dynamo={**e["dev"]["dynamo"], "removal": "retain",
                                                             "backup_plan_retention_days": 35,
                                                             "backup_plan_start_hour_utc": 5}),
         "config error: environments.dev.dynamo.backup_plan_start_hour_utc=5 is not allowed: jobs starting "
         "05:00-06:00 UTC overlap cache.maintenance_window 'sun:05:00-sun:06:00'"),
        (lambda e: e["dev"]["dynamo"].update(backup_plan_retention_days=35),
         "config error: environments.dev.dynamo.backup_plan_retention_days=35 is not allowed with removal='destroy'"),
        (lambda e: e["dev"]["network"].update(vpc_cidr="10.0.0.0/8"),
         "config error: environments.dev.network.vpc_cidr='10.0.0.0/8' is not allowed: prefix length must be /16 to /20"),
        (lambda e: e["dev"].update(nat_gateway=1),
         "config error: environments.dev.nat_gateway is not a known key: remove it or fix its spelling"),
    ],
    ids=["negative-az", "nat-above-az", "bad-instance-type", "missing-account", "bad-account", "bad-retention",
         "patch-window-format", "patch-window-short", "patch-meets-db-maintenance", "patch-meets-cache-snapshot",
         "bad-email", "http-url", "unknown-notification-kind", "db-backup-plan-meets-maintenance",
         "table-backup-plan-meets-cache-maintenance", "table-backup-plan-with-destroy",
         "cidr-too-big", "unknown-key"],
)
def test_bad_values_fail_with_one_line(mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_environment(_context_with(mutate), "dev")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(expected)


def test_an_unset_backup_plan_hour_is_the_first_clear_one_after_the_backup_window() -> None:
    def plan(e: dict[str, Any]) -> None:
        e["dev"].update(removal="retain")
        e["dev"]["database"].update(removal="snapshot", deletion_protection=True, backup_plan_retention_days=35)

    config = load_environment(_context_with(plan), "dev")
    # 03:30 closes the backup window; 04 meets sun:04:00 maintenance, 05 the cache's and the patch window, 06 patching.
    assert config.database.backup_plan_start_hour_utc is None and config.database_backup_plan_hour == 7


def test_an_environment_that_notifies_nobody_says_so_in_one_line() -> None:
    def silent(e: dict[str, Any]) -> None:
        e["dev"].pop("notifications", None)

    warnings = load_environment(_context_with(silent), "dev").warnings
    assert warnings == ("config warning: environments.dev.notifications has no emails or https_urls: the alarm "
                        "topics and database events reach nobody",)
    assert load_environment(project_context(), "dev").warnings == ()


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
