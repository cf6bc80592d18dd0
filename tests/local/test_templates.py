"""Reading templates into the twin's shape: each CloudFormation property the twin honours."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from app_code.local import templates
from app_code.local.templates import TemplateError
from tests.local.helpers import assembly, fixture_stacks

DB = "DatabaseB269D8BB"
RG = "ReplicationGroup8A1B3C5D"


def load(tmp_path: Path, env: str, *concerns: str, mutate: Any = None) -> templates.TwinSpec:
    return templates.load(env, assembly(tmp_path / "out", env, fixture_stacks(env, *concerns), mutate))


def test_postgres_primary_replica_and_credentials(tmp_path: Path) -> None:
    db = load(tmp_path, "dev", "Database").database
    assert db is not None
    assert (db.engine, db.writer_id, db.reader_ids) == ("postgres", DB, ("ReplicaOne4A5C8A21",))
    assert (db.username, db.dbname, db.port, db.force_tls) == ("dbadmin", "app", 5432, True)
    assert db.secret_id == "DatabaseSecret3B817195"


def test_prod_has_two_replicas(tmp_path: Path) -> None:
    db = load(tmp_path, "prod", "Database").database
    assert db is not None and len(db.reader_ids) == 2


def test_force_ssl_off_and_default_dbname(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        res = stacks["dev-Database"]["Resources"]
        res["ParameterGroup5E32DECB"]["Properties"]["Parameters"]["rds.force_ssl"] = "0"
        del res[DB]["Properties"]["DBName"]
        del stacks["dev-Database"]["Outputs"]["DatabaseName"]

    db = load(tmp_path, "dev", "Database", mutate=mutate).database
    assert db is not None and (db.force_tls, db.dbname) == (False, "postgres")


def test_literal_master_username_wins(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        stacks["dev-Database"]["Resources"][DB]["Properties"]["MasterUsername"] = "owner"

    db = load(tmp_path, "dev", "Database", mutate=mutate).database
    assert db is not None and db.username == "owner"


def test_mysql_with_require_secure_transport(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        res = stacks["dev-Database"]["Resources"]
        res[DB]["Properties"].update(Engine="mysql", Port="3306")
        res["ParameterGroup5E32DECB"]["Properties"]["Parameters"] = {"require_secure_transport": "ON"}

    db = load(tmp_path, "dev", "Database", mutate=mutate).database
    assert db is not None and (db.family, db.port, db.force_tls) == ("mysql", 3306, True)


def test_aurora_writer_and_readers(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        body = stacks["dev-Database"]
        res = body["Resources"]
        props = res.pop(DB)["Properties"]
        res.pop("ReplicaOne4A5C8A21")
        res["ClusterParams"] = {"Type": "AWS::RDS::DBClusterParameterGroup",
                                "Properties": {"Family": "aurora-postgresql16", "Parameters": {"rds.force_ssl": "1"}}}
        res["Cluster"] = {"Type": "AWS::RDS::DBCluster", "Properties": {
            "Engine": "aurora-postgresql", "DatabaseName": "app", "MasterUsername": props["MasterUsername"],
            "MasterUserPassword": props["MasterUserPassword"], "Port": 5432,
            "DBClusterParameterGroupName": {"Ref": "ClusterParams"}}}
        member = {"Type": "AWS::RDS::DBInstance", "Properties": {"DBClusterIdentifier": {"Ref": "Cluster"},
                                                                  "Engine": "aurora-postgresql"}}
        res["ClusterWriter"] = member
        res["ClusterReader1"] = {**member, "DependsOn": ["ClusterWriter"]}
        res["ClusterReader2"] = {**member, "DependsOn": ["ClusterWriter"]}
        res["DatabaseSecretAttachment1B2C4E6F"]["Properties"]["TargetId"] = {"Ref": "Cluster"}

    db = load(tmp_path, "dev", "Database", mutate=mutate).database
    assert db is not None
    assert (db.engine, db.cluster_id, db.writer_id) == ("aurora-postgresql", "Cluster", "ClusterWriter")
    assert set(db.reader_ids) == {"ClusterReader1", "ClusterReader2"}
    assert db.force_tls and db.secret_id == "DatabaseSecret3B817195"


def test_two_primaries_are_refused(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        res = stacks["dev-Database"]["Resources"]
        res["Other"] = json.loads(json.dumps(res[DB]))

    with pytest.raises(TemplateError, match="2 primary"):
        load(tmp_path, "dev", "Database", mutate=mutate)


def test_cache_cluster_mode_disabled(tmp_path: Path) -> None:
    cache = load(tmp_path, "dev", "Cache").cache
    assert cache is not None
    assert (cache.cluster_mode, cache.shards, cache.replicas_per_shard) == (False, 1, 1)
    assert (cache.tls, cache.auth, cache.auth_secret_id, cache.engine) == (True, True, "AuthSecret4F6D8E0A", "valkey")


def test_cache_cluster_mode_enabled(tmp_path: Path) -> None:
    cache = load(tmp_path, "prod", "Cache").cache
    assert cache is not None
    assert (cache.cluster_mode, cache.shards, cache.replicas_per_shard, cache.node_count) == (True, 3, 1, 6)


@pytest.mark.parametrize("change, expected", [
    ({"NumCacheClusters": 3, "ReplicasPerNodeGroup": None, "NumNodeGroups": None}, (False, 1, 2)),
    ({"NodeGroupConfiguration": [{"ReplicaCount": 2}] * 2, "ReplicasPerNodeGroup": None, "NumNodeGroups": None,
      "ClusterMode": None}, (True, 2, 2)),
    ({"ClusterMode": None, "CacheParameterGroupName": "default.redis7.cluster.on"}, (True, 1, 1)),
])
def test_cache_shape_properties(tmp_path: Path, change: dict[str, Any], expected: tuple[bool, int, int]) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        props = stacks["dev-Cache"]["Resources"][RG]["Properties"]
        for key, value in change.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = value

    cache = load(tmp_path, "dev", "Cache", mutate=mutate).cache
    assert cache is not None and (cache.cluster_mode, cache.shards, cache.replicas_per_shard) == expected


def test_cache_without_tls_and_auth(tmp_path: Path) -> None:
    def mutate(stacks: dict[str, Any]) -> None:
        props = stacks["dev-Cache"]["Resources"][RG]["Properties"]
        props["TransitEncryptionEnabled"] = False
        del props["AuthToken"]

    cache = load(tmp_path, "dev", "Cache", mutate=mutate).cache
    assert cache is not None and (cache.tls, cache.auth, cache.auth_secret_id) == (False, False, None)


def test_table_keys_indexes_ttl_stream(tmp_path: Path) -> None:
    (table,) = load(tmp_path, "dev", "Dynamo").tables
    assert table.key_schema == (("pk", "HASH"), ("sk", "RANGE"))
    assert [g.name for g in table.gsis] == ["gsi1"] and [i.name for i in table.lsis] == ["lsi1"]
    assert table.gsis[0].key_schema == (("gsi1pk", "HASH"), ("gsi1sk", "RANGE"))
    assert (table.billing_mode, table.ttl_attribute, table.stream_view_type) == \
        ("PAY_PER_REQUEST", "expires_at", "NEW_AND_OLD_IMAGES")
    assert table.pitr and table.table_name is None


def test_secret_roles(tmp_path: Path) -> None:
    spec = load(tmp_path, "dev", "Database", "Cache")
    roles = {s.logical_id: s.role for s in spec.secrets}
    assert roles == {"DatabaseSecret3B817195": "database", "AuthSecret4F6D8E0A": "cache"}


def test_account_and_region_come_from_the_manifest(tmp_path: Path) -> None:
    spec = load(tmp_path, "prod", "Dynamo")
    assert (spec.account, spec.region) == ("222222222222", "us-west-2")


def test_manifest_decides_which_templates_belong_to_the_assembly(tmp_path: Path) -> None:
    out = assembly(tmp_path / "out", "dev", fixture_stacks("dev", "Dynamo"))
    # A leftover template of another synth (cdk.out keeps old files) is not part of this assembly.
    (out / "dev-Cache.template.json").write_text("{}")
    assert set(templates.stack_templates(out, "dev")) == {"dev-Dynamo"}
    assert templates.stack_templates(out, "prod") == {}


def test_locate_uses_fresh_templates_and_synthesizes_stale_ones(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    source = root / "stacks" / "cache_stack.py"
    source.write_text("")
    fresh = assembly(root / "cdk.out", "dev", fixture_stacks("dev", "Dynamo"))
    calls: list[tuple[str, Path]] = []

    def fake_synth(env: str, outdir: Path) -> Path:
        calls.append((env, outdir))
        return assembly(outdir, env, fixture_stacks(env, "Dynamo"))

    monkeypatch.setattr(templates, "ROOT", root)
    monkeypatch.setattr("app_code.synth.synthesize", fake_synth)
    old = time.time() - 100
    os.utime(source, (old, old))
    assert templates.locate("dev", echo=lambda _: None) == fresh and not calls
    later = time.time() + 10
    os.utime(source, (later, later))  # the source is now newer than the templates
    assert templates.locate("dev", echo=lambda _: None) == root / "cdk.out.dev"
    assert calls == [("dev", root / "cdk.out.dev")]
    assert templates.locate("prod", echo=lambda _: None) == root / "cdk.out.prod"


def test_explicit_cdk_out_without_templates_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"no dev-\* templates"):
        templates.locate("dev", tmp_path)


def rbac(stacks: dict[str, Any], engine: str = "valkey") -> None:
    """What CacheAuth.rbac() synthesizes: a user whose password lives in a secret, in a user group."""
    body = stacks["dev-Cache"]
    res = body["Resources"]
    props = res[RG]["Properties"]
    del props["AuthToken"]
    props["Engine"] = engine
    props["UserGroupIds"] = [{"Ref": "UserGroup"}]
    res["AuthSecret4F6D8E0A"]["Properties"]["GenerateSecretString"]["SecretStringTemplate"] = '{"username": "app"}'
    res["AppUser"] = {"Type": "AWS::ElastiCache::User", "Properties": {
        "Engine": engine, "UserId": "dev-cache-appuser", "UserName": "app", "AccessString": "on ~* &* +@all",
        "AuthenticationMode": {"Type": "password", "Passwords": [{"Fn::Join": ["", [
            "{{resolve:secretsmanager:", {"Ref": "AuthSecret4F6D8E0A"}, ":SecretString:password::}}"]]}]}}}
    res["UserGroup"] = {"Type": "AWS::ElastiCache::UserGroup", "Properties": {
        "Engine": engine, "UserGroupId": "dev-cache-users", "UserIds": [{"Ref": "AppUser"}]}}


def test_cache_rbac_users(tmp_path: Path) -> None:
    spec = load(tmp_path, "dev", "Cache", mutate=rbac)
    cache = spec.cache
    assert cache is not None and cache.auth and cache.auth_secret_id is None
    assert [(u.name, u.access_string, u.secret_id) for u in cache.users] == \
        [("app", "on ~* &* +@all", "AuthSecret4F6D8E0A")]
    assert {s.logical_id: s.role for s in spec.secrets} == {"AuthSecret4F6D8E0A": "cache"}
