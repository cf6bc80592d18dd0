"""Bad DynamoDB config fails synth with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk_data_tier.stacks.config import ConfigError, load_environment
from cdk_data_tier.stacks.dynamo_config import DynamoConfig
from tests.fixtures_synth import project_context

GSI = {"name": "gsi1", "partition_key": {"name": "gsi1pk"}}
CAP = {"min": 1, "max": 5}
PREFIX = "config error: environments.dev.dynamo."


def _load(dynamo: dict[str, Any]) -> DynamoConfig:
    context = copy.deepcopy(project_context())
    context["environments"]["dev"]["dynamo"] = dynamo
    return load_environment(context, "dev").dynamo


@pytest.mark.parametrize(
    ("dynamo", "expected"),
    [
        ({"gsis": [GSI, {"name": "gsi2"}]},
         'gsis[1].partition_key is missing: a GSI without a partition key is not allowed; give it {"name": ..., '
         '"type": "S", "N" or "B"}'),
        ({"lsis": [{"name": "lsi1"}]},
         "lsis[0].sort_key is missing: an LSI without a sort key is not allowed;"),
        ({"lsis": [{"name": "lsi1", "partition_key": {"name": "other"}, "sort_key": {"name": "x"}}]},
         "lsis[0].partition_key='other' is not allowed: an LSI shares the table's partition key 'pk' (omit it)"),
        ({"sort_key": False, "lsis": [{"name": "lsi1", "sort_key": {"name": "x"}}]},
         "sort_key=None is not allowed with lsis: an LSI needs a table with a sort key"),
        ({"billing": "provisioned"},
         "read_capacity is missing: billing='provisioned' without it is not allowed; give {\"min\": ..., "),
        ({"billing": "provisioned", "read_capacity": CAP},
         "write_capacity is missing: billing='provisioned' without it is not allowed;"),
        ({"gsis": [{**GSI, "write_capacity": CAP}]},
         "gsis[0].write_capacity={'min': 1, 'max': 5, 'target_utilization': 70} is not allowed: capacities apply "
         "only with billing='provisioned'"),
        ({"billing": "provisioned", "read_capacity": {"min": 5, "max": 1}, "write_capacity": CAP},
         "read_capacity.max=1 is not allowed: at least min (5)"),
        ({"gsis": [GSI, GSI]},
         "gsis[1].name='gsi1' is not allowed: gsis[0] already uses it, and index names are unique per table"),
        ({"gsis": [GSI], "lsis": [{"name": "gsi1", "sort_key": {"name": "x"}}]},
         "lsis[0].name='gsi1' is not allowed: gsis[0] already uses it"),
        ({"gsis": [{**GSI, "name": f"g{i:02}"} for i in range(21)]},
         "gsis=<21 indexes> is not allowed: at most 20 GSIs per table"),
        ({"lsis": [{"name": f"l{i:02}", "sort_key": {"name": f"s{i}"}} for i in range(6)]},
         "lsis=<6 indexes> is not allowed: at most 5 LSIs per table"),
        ({"gsis": [{**GSI, "sort_key": {"name": "pk", "type": "N"}}]},
         "gsis[0].sort_key.type='N' is not allowed: 'pk' is already a key of type 'S' (partition_key)"),
        ({"gsis": [{**GSI, "projection": "INCLUDE"}]},
         "gsis[0].non_key_attributes=[] is not allowed: projection 'INCLUDE' needs at least one attribute"),
        ({"lsis": [{"name": "lsi1", "sort_key": {"name": "x"}, "non_key_attributes": ["a"]}]},
         "lsis[0].non_key_attributes=['a'] is not allowed: only with projection 'INCLUDE' (this index projects 'ALL')"),
        ({"gsis": [{**GSI, "name": f"gsi{n}", "projection": "INCLUDE", "non_key_attributes": [f"a{i}" for i in range(60)]}
                   for n in (1, 2)]},
         "gsis[1].non_key_attributes=<60 names> is not allowed: the indexes would project 120 non-key attributes, "
         "at most 100 per table"),
        ({"billing": "sometimes"},
         "billing='sometimes' is not allowed: Input should be 'on_demand' or 'provisioned'"),
        ({"pitr_recovery_days": 36},
         "pitr_recovery_days=36 is not allowed: Input should be less than or equal to 35"),
        ({"stream": "ALL"},
         "stream='ALL' is not allowed: Input should be 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES' or 'KEYS_ONLY'"),
        ({"billling": "on_demand"},
         "billling is not a known key: remove it or fix its spelling"),
    ],
    ids=["gsi-without-pk", "lsi-without-sk", "lsi-other-pk", "lsi-without-table-sk", "provisioned-without-read",
         "provisioned-without-write", "gsi-capacity-on-demand", "capacity-max-below-min", "duplicate-gsi",
         "duplicate-across-kinds", "too-many-gsis", "too-many-lsis", "key-type-conflict", "include-without-attrs",
         "attrs-without-include", "too-many-projected", "unknown-billing", "pitr-too-long", "unknown-stream",
         "misspelt-key"],
)
def test_bad_dynamo_config_fails_with_one_line(dynamo: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(dynamo)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(PREFIX + expected), message


def test_a_bad_field_inside_an_index_names_the_index() -> None:
    with pytest.raises(ConfigError) as err:
        _load({"gsis": [{**GSI, "projection": "SOME"}]})
    message = str(err.value)
    assert "\n" not in message
    assert message == PREFIX + "gsis[0].projection='SOME' is not allowed: Input should be 'ALL', 'KEYS_ONLY' or 'INCLUDE'"


def test_defaults_are_the_documented_ones() -> None:
    cfg = DynamoConfig()
    assert (cfg.partition_key.name, cfg.partition_key.type) == ("pk", "S")
    assert cfg.sort_key is not None and (cfg.sort_key.name, cfg.sort_key.type) == ("sk", "S")
    assert [(g.name, g.partition_key.name, g.sort_key and g.sort_key.name, g.projection) for g in cfg.gsis] == [
        ("gsi1", "gsi1pk", "gsi1sk", "ALL")]
    assert (cfg.lsis, cfg.billing, cfg.pitr_recovery_days, cfg.stream, cfg.encryption) == (
        (), "on_demand", 35, None, "aws_owned")
    # Unset, both follow the environment's removal (tests/stacks/test_removal.py).
    assert (cfg.deletion_protection, cfg.removal) == (None, None)


def test_provisioned_gsis_may_override_the_tables_capacity() -> None:
    cfg = _load({"billing": "provisioned", "read_capacity": CAP, "write_capacity": CAP,
                 "gsis": [{**GSI, "read_capacity": {"min": 2, "max": 9, "target_utilization": 50}}]})
    assert cfg.gsis[0].read_capacity is not None and cfg.gsis[0].read_capacity.max == 9
    assert cfg.gsis[0].write_capacity is None  # inherits the table's


def test_prod_keeps_data_and_dev_tears_down_by_config_keys() -> None:
    context = project_context()
    dev, prod = (load_environment(context, env).dynamo for env in ("dev", "prod"))
    assert (dev.deletion_protection, dev.removal, dev.billing) == (False, "destroy", "on_demand")
    assert (prod.deletion_protection, prod.removal) == (True, "retain")
    assert dev.lsis and prod.lsis


def test_false_switches_off_what_null_cannot() -> None:
    """CDK drops nulls from context objects, so `false` is the spelling of "none" in cdk.json."""
    cfg = _load({"sort_key": False, "ttl_attribute": False, "stream": False, "lsis": []})
    assert (cfg.sort_key, cfg.ttl_attribute, cfg.stream) == (None, None, None)
