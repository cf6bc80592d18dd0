"""The running twin has exactly what the templates declare, and a changed template is noticed.

Every twin (dev, prod and each shape of tests/fixtures_twin.py) is compared with its own templates. The
engines the templates ask for and the ones the twin runs are reported as an `EngineDrift` warning in the
test summary: the twin runs this machine's PostgreSQL, MariaDB and redis-server, not RDS or ElastiCache.
"""

from __future__ import annotations

import copy
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.app.local.templates import stack_templates
from cdk_data_tier.app.local.twin import Twin
from tests.fixtures_twin import TWINS, env_of
from tests.local.fidelity import differences, drift, expected, observed

pytestmark = pytest.mark.engines

Templates = dict[str, dict[str, Any]]


def read(outdir: Path, env: str) -> Templates:
    return {name: json.loads(path.read_text()) for name, path in stack_templates(outdir, env).items()}


def props(templates: Templates, kind: str, primary: bool = False) -> dict[str, Any]:
    for body in templates.values():
        for res in body.get("Resources", {}).values():
            if res.get("Type") == kind and not (primary and "SourceDBInstanceIdentifier" in res.get("Properties", {})):
                return res.setdefault("Properties", {})
    raise LookupError(kind)


class EngineDrift(UserWarning):
    """The twin runs another engine or version than the template asks for."""


@pytest.fixture(scope="module")
def seen(twin_factory: Callable[[str], Twin]) -> Callable[[str], dict[str, Any]]:
    cache: dict[str, dict[str, Any]] = {}

    def get(name: str) -> dict[str, Any]:
        if name not in cache:
            cache[name] = observed(twin_factory(name))
        return cache[name]

    return get


@pytest.mark.parametrize("name", TWINS)
def test_twin_matches_its_templates(name: str, twin_assembly: Callable[[str], Path],
                                    twin_factory: Callable[[str], Twin],
                                    seen: Callable[[str], dict[str, Any]]) -> None:
    want = expected(read(twin_assembly(name), env_of(name)))
    assert differences(want, seen(name)) == []
    assert set(want["engines"]) == {"database", "cache"}
    for line in drift(twin_factory(name)):
        warnings.warn(EngineDrift(f"{name} twin: {line}"), stacklevel=1)


def _drop_gsi(t: Templates) -> None:
    table = props(t, "AWS::DynamoDB::GlobalTable")
    table["GlobalSecondaryIndexes"] = table["GlobalSecondaryIndexes"][:-1]


def _lsi_keys_only(t: Templates) -> None:
    props(t, "AWS::DynamoDB::GlobalTable")["LocalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "KEYS_ONLY"}


def _sort_key_number(t: Templates) -> None:
    table = props(t, "AWS::DynamoDB::GlobalTable")
    table["AttributeDefinitions"] = [{**a, "AttributeType": "N"} if a["AttributeName"] == "sk" else a
                                     for a in table["AttributeDefinitions"]]


def _stream_off(t: Templates) -> None:
    props(t, "AWS::DynamoDB::GlobalTable").pop("StreamSpecification", None)


def _ttl_renamed(t: Templates) -> None:
    props(t, "AWS::DynamoDB::GlobalTable")["TimeToLiveSpecification"] = {"AttributeName": "gone_at", "Enabled": True}


def _extra_replica(t: Templates) -> None:
    for body in t.values():
        res = body.get("Resources", {})
        replica = next((r for r in res.values() if r.get("Type") == "AWS::RDS::DBInstance"
                        and "SourceDBInstanceIdentifier" in r.get("Properties", {})), None)
        if replica is not None:
            res["AnotherReplica"] = copy.deepcopy(replica)
            return
    raise LookupError("no read replica")


def _tls_not_forced(t: Templates) -> None:
    for body in t.values():
        for res in body.get("Resources", {}).values():
            if res.get("Type") == "AWS::RDS::DBParameterGroup":
                res["Properties"].get("Parameters", {}).pop("rds.force_ssl", None)


def _transit_encryption_off(t: Templates) -> None:
    props(t, "AWS::ElastiCache::ReplicationGroup")["TransitEncryptionEnabled"] = False


def _auth_off(t: Templates) -> None:
    props(t, "AWS::ElastiCache::ReplicationGroup").pop("AuthToken")


def _one_more_cache_replica(t: Templates) -> None:
    rg = props(t, "AWS::ElastiCache::ReplicationGroup")
    rg["ReplicasPerNodeGroup"] = int(rg.get("ReplicasPerNodeGroup", 1)) + 1


def _new_output(t: Templates) -> None:
    next(b for n, b in t.items() if n.endswith("-Cache"))["Outputs"]["SlowLogGroup"] = {"Value": "x"}


def _database_version_bumped(t: Templates) -> None:
    props(t, "AWS::RDS::DBInstance", primary=True)["EngineVersion"] = "18.1"


def _cache_engine_changed(t: Templates) -> None:
    props(t, "AWS::ElastiCache::ReplicationGroup")["Engine"] = "redis"


def _secret_key_added(t: Templates) -> None:
    props(t, "AWS::SecretsManager::Secret")["GenerateSecretString"]["SecretStringTemplate"] = '{"username": "u2", "x": 1}'


MUTATIONS: dict[str, Callable[[Templates], None]] = {
    "a GSI removed": _drop_gsi, "an LSI projection changed": _lsi_keys_only, "a key type changed": _sort_key_number,
    "the stream turned off": _stream_off, "the TTL attribute renamed": _ttl_renamed,
    "one more read replica": _extra_replica, "TLS no longer forced": _tls_not_forced,
    "transit encryption off": _transit_encryption_off, "AUTH off": _auth_off,
    "one more cache replica": _one_more_cache_replica, "a new output key": _new_output,
    "a secret key added": _secret_key_added, "the database version bumped": _database_version_bumped,
    "the cache engine changed": _cache_engine_changed,
}


@pytest.mark.parametrize("name", MUTATIONS)
def test_a_changed_template_is_noticed(name: str, twin_assembly: Callable[[str], Path],
                                       seen: Callable[[str], dict[str, Any]]) -> None:
    templates = read(twin_assembly("dev"), "dev")
    MUTATIONS[name](templates)
    assert differences(expected(templates), seen("dev")) != []


def test_a_changed_shard_count_is_noticed(twin_assembly: Callable[[str], Path],
                                          seen: Callable[[str], dict[str, Any]]) -> None:
    templates = read(twin_assembly("prod"), "prod")
    rg = props(templates, "AWS::ElastiCache::ReplicationGroup")
    rg["NumNodeGroups"] = int(rg.get("NumNodeGroups", 1)) + 1
    assert any(d.startswith("cache.shards") for d in differences(expected(templates), seen("prod")))


def _secure_transport_off(t: Templates) -> None:
    props(t, "AWS::RDS::DBParameterGroup")["Parameters"]["require_secure_transport"] = "0"


def _one_more_aurora_reader(t: Templates) -> None:
    for body in t.values():
        res = body.get("Resources", {})
        reader = next((r for r in res.values() if r.get("Type") == "AWS::RDS::DBInstance" and r.get("DependsOn")),
                      None)
        if reader is not None:
            res["AnotherReader"] = copy.deepcopy(reader)
            return
    raise LookupError("no Aurora reader")


def _user_group_removed(t: Templates) -> None:
    props(t, "AWS::ElastiCache::ReplicationGroup").pop("UserGroupIds")


def _one_more_shard(t: Templates) -> None:
    rg = props(t, "AWS::ElastiCache::ReplicationGroup")
    rg["NumNodeGroups"] = int(rg.get("NumNodeGroups", 1)) + 1


SHAPE_MUTATIONS: dict[str, tuple[str, Callable[[Templates], None], str]] = {
    "require_secure_transport off": ("mysql-no-nat", _secure_transport_off, "database.tls_required"),
    "one more Aurora reader": ("aurora-postgresql-rbac", _one_more_aurora_reader, "database.replicas"),
    "the RBAC user group removed": ("aurora-postgresql-rbac", _user_group_removed, "cache.auth"),
    "one more shard of the RBAC cluster": ("aurora-mysql-rbac-cluster-provisioned", _one_more_shard, "cache.shards"),
}


@pytest.mark.parametrize("change", SHAPE_MUTATIONS)
def test_a_changed_shape_template_is_noticed(change: str, twin_assembly: Callable[[str], Path],
                                            seen: Callable[[str], dict[str, Any]]) -> None:
    name, mutate, area = SHAPE_MUTATIONS[change]
    templates = read(twin_assembly(name), env_of(name))
    assert differences(expected(templates), seen(name)) == []
    mutate(templates)
    assert [d for d in differences(expected(templates), seen(name)) if d.startswith(area)] != []
