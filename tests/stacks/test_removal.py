"""Issue 11: the environment's `removal` is the one switch that keeps the data.

Every data store's removal and deletion protection follow it unless the store sets its own, and an
explicit store value that loses data in a `retain` environment is one warning line, not silence.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match

from cdk_data_tier.stacks.config import ConfigError, EnvConfig, load_environment
from cdk_data_tier.stacks.dynamo_config import DynamoConfig
from tests.fixtures_synth import ROOT, Synthesized, project_context

# dev's account and region, whose AZs cdk.context.json holds; someone to notify, so only removal warns here.
WHERE = {"account": "111111111111", "region": "us-east-1", "notifications": {"emails": ["ops@example.com"]}}
RETAIN_ONLY = {**WHERE, "removal": "retain"}
KEEPS = {"database.removal": "snapshot", "database.deletion_protection": True, "dynamo.removal": "retain",
         "dynamo.deletion_protection": True, "cache.removal": "snapshot"}
LOSES = {"database.removal": "destroy", "database.deletion_protection": False, "dynamo.removal": "destroy",
         "dynamo.deletion_protection": False, "cache.removal": "destroy"}


def _load(env: str, settings: dict[str, Any]) -> EnvConfig:
    context = copy.deepcopy(project_context())
    context["environments"][env] = settings
    return load_environment(context, env)


def _resolved(config: EnvConfig) -> dict[str, Any]:
    return {key: getattr(getattr(config, key.split(".")[0]), key.split(".")[1]) for key in KEEPS}


def _with(key: str, value: Any, settings: dict[str, Any] = RETAIN_ONLY) -> dict[str, Any]:
    store, field = key.split(".")
    return {**settings, store: {field: value}}


# --- the config layer ---------------------------------------------------------------------------------------


def test_an_environment_that_retains_keeps_every_store_without_a_warning() -> None:
    config = _load("keep", RETAIN_ONLY)
    assert _resolved(config) == KEEPS
    assert config.warnings == ()


def test_an_environment_that_destroys_or_says_nothing_tears_every_store_down() -> None:
    for settings in (WHERE, {**WHERE, "removal": "destroy"}):
        config = _load("scratch", settings)
        assert _resolved(config) == LOSES
        assert config.warnings == ()


def test_null_follows_the_environment_as_an_absent_key_does() -> None:
    config = _load("keep", {**RETAIN_ONLY, "database": {"removal": None, "deletion_protection": None}})
    assert (config.database.removal, config.database.deletion_protection) == ("snapshot", True)


WARNINGS = {
    "database.removal": "config warning: environments.keep.database.removal='destroy' destroys the database on cdk "
                        "destroy (no final snapshot) although environments.keep.removal='retain'",
    "database.deletion_protection": "config warning: environments.keep.database.deletion_protection=False leaves the "
                                    "database unprotected against deletion although environments.keep.removal='retain'",
    "dynamo.removal": "config warning: environments.keep.dynamo.removal='destroy' destroys the table on cdk destroy "
                      "although environments.keep.removal='retain'",
    "dynamo.deletion_protection": "config warning: environments.keep.dynamo.deletion_protection=False leaves the table "
                                  "unprotected against deletion although environments.keep.removal='retain'",
    "cache.removal": "config warning: environments.keep.cache.removal='destroy' destroys the cache on cdk destroy (no "
                     "final snapshot) although environments.keep.removal='retain'",
}


@pytest.mark.parametrize("key", list(WARNINGS))
def test_an_explicit_value_that_loses_data_wins_with_one_warning(key: str) -> None:
    config = _load("keep", _with(key, LOSES[key]))
    assert _resolved(config) == {**KEEPS, key: LOSES[key]}
    assert config.warnings == (WARNINGS[key],)


def test_explicitly_keeping_data_in_a_destroying_environment_is_silent() -> None:
    config = _load("scratch", {**WHERE, "dynamo": {"removal": "retain"}, "cache": {"removal": "snapshot"}})
    # Deletion protection follows the environment, not the store's removal.
    assert (config.dynamo.removal, config.dynamo.deletion_protection, config.cache.removal) == ("retain", False,
                                                                                                "snapshot")
    assert config.warnings == ()


def test_store_configs_built_in_python_follow_too() -> None:
    follows = EnvConfig(name="keep", **RETAIN_ONLY, dynamo=DynamoConfig())
    explicit = EnvConfig(name="keep", **RETAIN_ONLY, dynamo=DynamoConfig(removal="destroy"))
    assert (follows.dynamo.removal, follows.dynamo.deletion_protection) == ("retain", True)
    assert (explicit.dynamo.removal, explicit.dynamo.deletion_protection) == ("destroy", True)
    assert explicit.warnings == (WARNINGS["dynamo.removal"],)


def test_cross_field_checks_see_the_resolved_removal() -> None:
    plan = {"database": {"backup_plan_retention_days": 35}}
    assert _load("keep", {**RETAIN_ONLY, **plan}).database.removal == "snapshot"
    with pytest.raises(ConfigError) as err:
        _load("scratch", {**WHERE, **plan})
    assert str(err.value) == (
        "config error: environments.scratch.database.backup_plan_retention_days=35 is not allowed with "
        "removal='destroy': the backup vault outlives `cdk destroy` while the key of its recovery points does not; "
        "set removal 'snapshot', or leave it unset in an environment with removal 'retain'")


def test_a_bad_environment_removal_is_the_one_error() -> None:
    with pytest.raises(ConfigError) as err:
        _load("keep", {**WHERE, "removal": "keep", "database": {"backup_plan_retention_days": 35}})
    assert str(err.value) == ("config error: environments.keep.removal='keep' is not allowed: Input should be "
                              "'destroy' or 'retain'")


def test_app_prints_one_warning_line_per_key_that_loses_data(tmp_path: Path) -> None:
    """The real entry point, as the CLI runs it; the warnings do not stop synth."""
    context = copy.deepcopy(project_context())
    context["environments"]["keep"] = {**RETAIN_ONLY, "dynamo": {"removal": "destroy"},
                                       "cache": {"removal": "destroy"}}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({**context, "env": "keep"}), "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    # Only the config layer's lines: a runtime's own notices (Node, jsii) are not this test's business.
    config_lines = [line for line in result.stderr.splitlines() if line.startswith("config ")]
    assert config_lines == [WARNINGS["dynamo.removal"], WARNINGS["cache.removal"]]
    assert (tmp_path / "keep-Dynamo.template.json").exists()


# --- the synthesized stacks -----------------------------------------------------------------------------------

KEEP = {"DeletionPolicy": "Snapshot", "UpdateReplacePolicy": "Snapshot"}


@pytest.fixture(scope="module")
def retained(synth_environment: Callable[..., Synthesized]) -> Synthesized:
    # With the compliance gate: an environment built from defaults must pass it as dev and prod do.
    return synth_environment("keep", RETAIN_ONLY)


def test_a_retaining_environment_keeps_the_database(retained: Synthesized) -> None:
    template = retained.template("Database")
    writer = {"Properties": Match.object_like({"DeletionProtection": True, "DeleteAutomatedBackups": False,
                                               "SourceDBInstanceIdentifier": Match.absent()})}
    template.has_resource("AWS::RDS::DBInstance", {**KEEP, **writer})
    # Replicas cannot snapshot (they are rebuilt from the writer), but deletion protection covers them too.
    for instance in template.find_resources("AWS::RDS::DBInstance").values():
        assert instance["Properties"]["DeletionProtection"] is True
    # What a final snapshot needs to be restored (its key, the password) and audited outlives the instance.
    stack = retained.tier.database
    resources = template.to_json()["Resources"]
    for construct in (stack.key, stack.secret):
        assert resources[stack.get_logical_id(construct.node.default_child)]["DeletionPolicy"] == "Retain"
    assert template.find_resources("AWS::Logs::LogGroup")
    assert template.find_resources("AWS::Logs::LogGroup", {"DeletionPolicy": Match.not_("Retain")}) == {}


def test_a_retaining_aurora_environment_keeps_the_cluster(synth_environment: Callable[..., Synthesized]) -> None:
    synth = synth_environment("keep", {**RETAIN_ONLY, "database": {"engine": "aurora-postgresql"}}, compliance=False)
    synth.template("Database").has_resource("AWS::RDS::DBCluster", {
        **KEEP, "Properties": Match.object_like({"DeletionProtection": True})})


def test_a_retaining_environment_keeps_the_table(retained: Synthesized) -> None:
    template = retained.template("Dynamo")
    template.resource_count_is("AWS::DynamoDB::GlobalTable", 1)
    template.has_resource("AWS::DynamoDB::GlobalTable", {
        "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
        "Properties": Match.object_like({"Replicas": [Match.object_like({"DeletionProtectionEnabled": True})]})})


def test_a_retaining_environment_snapshots_the_cache(retained: Synthesized) -> None:
    template = retained.template("Cache")
    template.resource_count_is("AWS::ElastiCache::ReplicationGroup", 1)
    template.has_resource("AWS::ElastiCache::ReplicationGroup", KEEP)


@pytest.mark.parametrize("concern", ["Network", "Database", "Dynamo", "Cache"])
def test_dev_still_tears_down_clean(dev: Synthesized, concern: str) -> None:
    template = dev.template(concern)
    kept = {k: r["Type"] for k, r in template.to_json()["Resources"].items()
            if r.get("DeletionPolicy", "Delete") != "Delete" or r.get("UpdateReplacePolicy", "Delete") != "Delete"}
    assert kept == {}
    for instance in template.find_resources("AWS::RDS::DBInstance").values():
        assert instance["Properties"]["DeletionProtection"] is False
    for table in template.find_resources("AWS::DynamoDB::GlobalTable").values():
        assert [r["DeletionProtectionEnabled"] for r in table["Properties"]["Replicas"]] == [False]

