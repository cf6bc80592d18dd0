"""Bad DynamoDB config fails synth with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import ConfigError, load_environment
from tests.fixtures_synth import project_context


def _load(dynamo: dict[str, Any]) -> None:
    context = copy.deepcopy(project_context())
    context["environments"]["dev"]["dynamo"] = dynamo
    load_environment(context, "dev")


GSI = {"name": "gsi1", "partition_key": {"name": "gsi1pk"}}


@pytest.mark.parametrize(
    ("dynamo", "expected"),
    [
        ({"gsis": [{"name": "gsi1"}]},
         "config error: environments.dev.dynamo.gsis.0.partition_key is missing"),
        ({"lsis": [{"name": "lsi1", "partition_key": {"name": "other"}, "sort_key": {"name": "x"}}]},
         "config error: environments.dev.dynamo.lsis[0].partition_key='other' is not allowed: an LSI shares the "
         "table's partition key 'pk'"),
        ({"billing": "provisioned"},
         "config error: environments.dev.dynamo.billing='provisioned' is not allowed without read_capacity"),
        ({"gsis": [GSI, GSI]},
         "config error: environments.dev.dynamo.gsis.name='gsi1' is not allowed: index names must be unique"),
        ({"gsis": [{**GSI, "name": f"g{i:02}"} for i in range(21)]},
         "config error: environments.dev.dynamo.gsis has 21 entries, which is not allowed: at most 20"),
        ({"lsis": [{"name": f"l{i:02}", "sort_key": {"name": f"s{i}"}} for i in range(6)]},
         "config error: environments.dev.dynamo.lsis has 6 entries, which is not allowed: at most 5"),
        ({"billing": "sometimes"},
         "config error: environments.dev.dynamo.billing='sometimes' is not allowed: Input should be 'on_demand' or"),
    ],
    ids=["gsi-without-pk", "lsi-other-pk", "provisioned-without-capacity", "duplicate-index", "too-many-gsis",
         "too-many-lsis", "unknown-billing"],
)
def test_bad_dynamo_config(dynamo: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(dynamo)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(expected)
