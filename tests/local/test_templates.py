"""Reading templates into the twin's shape: each CloudFormation property the twin honours.

Every case reads what `cdk synth` wrote this session for dev, prod or a shape of tests/fixtures_twin.py,
and expects what that environment's config says. Cases no config can produce are the synthesized
template with one property changed (`mutate`), each saying why no config gets there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.app.local import templates
from cdk_data_tier.app.local.templates import TemplateError
from cdk_data_tier.stacks.config import EnvConfig
from tests.fixtures_synth import Synthesized
from tests.fixtures_twin import SHAPES
from tests.local.helpers import Templates, assembly, one, primary, resources, stacks_of

Assembly = Callable[[str], Path]


def mutated(tmp_path: Path, source: Path, env: str, *concerns: str, mutate: Callable[[Templates], None]
            ) -> templates.TwinSpec:
    return templates.load(env, assembly(tmp_path / "out", source, env, *concerns, mutate=mutate))


def attached_secret(stacks: Templates) -> str:
    """The admin's secret: attached to the database (RDS fills host, port, ...) and the master password's source."""
    attached = {str(res["Properties"]["SecretId"]["Ref"])
                for _, res in resources(stacks, "AWS::SecretsManager::SecretTargetAttachment")}
    databases = [*resources(stacks, "AWS::RDS::DBInstance"), *resources(stacks, "AWS::RDS::DBCluster")]
    masters = {lid for _, res in databases
               for lid in attached if lid in json.dumps(res["Properties"].get("MasterUserPassword", ""))}
    (secret,) = masters
    return secret


# -- RDS ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_postgres_primary_replicas_and_credentials(env: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(env)
    cfg = synth.config.database
    stacks = stacks_of(synth.outdir, env, "Database")
    writer, _ = one(stacks, "AWS::RDS::DBInstance", primary)
    replicas = {lid for lid, res in resources(stacks, "AWS::RDS::DBInstance") if not primary(res)}
    db = templates.load(env, synth.outdir).database
    assert db is not None
    assert (db.engine, db.engine_version, db.writer_id, set(db.reader_ids), db.cluster_id) == \
        ("postgres", cfg.engine_version, writer, replicas, None)
    assert len(db.reader_ids) == cfg.read_replicas
    assert (db.username, db.dbname, db.port, db.force_tls) == (cfg.admin_username, cfg.database_name, cfg.port, True)
    assert db.secret_id == attached_secret(stacks) and not db.managed_secret


def test_force_ssl_off_and_default_dbname(tmp_path: Path, dev: Synthesized) -> None:
    # No config turns rds.force_ssl off (the compliance gate requires TLS) or leaves the database unnamed.
    def mutate(stacks: Templates) -> None:
        one(stacks, "AWS::RDS::DBParameterGroup")[1]["Parameters"]["rds.force_ssl"] = "0"
        one(stacks, "AWS::RDS::DBInstance", primary)[1].pop("DBName")
        stacks["dev-Database"]["Outputs"].pop("DatabaseName")

    db = mutated(tmp_path, dev.outdir, "dev", "Database", mutate=mutate).database
    assert db is not None and (db.force_tls, db.dbname) == (False, "postgres")


def test_username_from_the_secret_when_the_template_resolves_it(tmp_path: Path, dev: Synthesized) -> None:
    # CDK writes MasterUsername literally; a template may instead resolve it from the secret it generates.
    def mutate(stacks: Templates) -> None:
        secret = attached_secret(stacks)
        one(stacks, "AWS::RDS::DBInstance", primary)[1]["MasterUsername"] = {"Fn::Join": ["", [
            "{{resolve:secretsmanager:", {"Ref": secret}, ":SecretString:username::}}"]]}

    db = mutated(tmp_path, dev.outdir, "dev", "Database", mutate=mutate).database
    assert db is not None and db.username == dev.config.database.admin_username


@pytest.mark.parametrize("name", ["mysql-no-nat"])
def test_mysql_with_require_secure_transport(name: str, twin_assembly: Assembly) -> None:
    cfg = SHAPES[name].overrides["database"]
    db = templates.load(SHAPES[name].env, twin_assembly(name)).database
    assert db is not None
    assert (db.engine, db.family, db.engine_version, db.port, db.force_tls) == \
        ("mysql", "mysql", cfg["engine_version"], cfg["port"], True)
    assert len(db.reader_ids) == 1 and db.cluster_id is None


@pytest.mark.parametrize("name", ["aurora-postgresql-rbac", "aurora-mysql-rbac-cluster-provisioned"])
def test_aurora_writer_readers_and_cluster_parameters(name: str, twin_assembly: Assembly) -> None:
    shape = SHAPES[name]
    stacks = stacks_of(twin_assembly(name), shape.env, "Database")
    cluster, props = one(stacks, "AWS::RDS::DBCluster")
    members = dict(resources(stacks, "AWS::RDS::DBInstance"))
    readers = {lid for lid, res in members.items() if res.get("DependsOn")}
    db = templates.load(shape.env, twin_assembly(name)).database
    assert db is not None
    assert (db.engine, db.engine_version, db.cluster_id) == (props["Engine"], props["EngineVersion"], cluster)
    assert db.writer_id in members and db.writer_id not in readers and set(db.reader_ids) == readers
    # TLS is forced in the cluster parameter group (rds.force_ssl / require_secure_transport), not the instances'.
    assert db.force_tls and db.secret_id == attached_secret(stacks)
    assert db.dbname == "app" and db.port == int(props["Port"])


def test_aurora_writer_by_promotion_tier_without_depends_on(tmp_path: Path, twin_assembly: Assembly) -> None:
    # CDK always makes the readers depend on the writer; a template without DependsOn falls back to PromotionTier.
    name = "aurora-postgresql-rbac"
    writer = templates.load("dev", twin_assembly(name)).database.writer_id  # type: ignore[union-attr]

    def mutate(stacks: Templates) -> None:
        for _, res in resources(stacks, "AWS::RDS::DBInstance"):
            res.pop("DependsOn", None)

    db = mutated(tmp_path, twin_assembly(name), "dev", "Database", mutate=mutate).database
    assert db is not None and db.writer_id == writer


def test_two_primaries_are_refused(tmp_path: Path, dev: Synthesized) -> None:
    # One config builds one database.
    def mutate(stacks: Templates) -> None:
        lid, _ = one(stacks, "AWS::RDS::DBInstance", primary)
        res = stacks["dev-Database"]["Resources"]
        res["Other"] = json.loads(json.dumps(res[lid]))

    with pytest.raises(TemplateError, match="2 primary"):
        mutated(tmp_path, dev.outdir, "dev", "Database", mutate=mutate)


# -- ElastiCache --------------------------------------------------------------------------------------------
def _cache_cfg(config: EnvConfig, name: str | None = None) -> dict[str, Any]:
    cfg = config.cache.model_dump()
    if name:
        cfg.update(SHAPES[name].overrides.get("cache", {}))
    return cfg


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_cache_shape_follows_the_config(env: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(env)
    cfg = synth.config.cache
    stacks = stacks_of(synth.outdir, env, "Cache")
    rg, _ = one(stacks, "AWS::ElastiCache::ReplicationGroup")
    (secret, _), = resources(stacks, "AWS::SecretsManager::Secret")
    cache = templates.load(env, synth.outdir).cache
    assert cache is not None
    assert (cache.logical_id, cache.engine, cache.engine_version, cache.port) == \
        (rg, cfg.engine, cfg.engine_spec.version, cfg.port)
    assert (cache.cluster_mode, cache.shards, cache.replicas_per_shard) == \
        (cfg.cluster_mode == "enabled", cfg.shards, cfg.replicas)
    assert cache.node_count == cfg.shards * (1 + cfg.replicas)
    assert (cache.tls, cache.auth, cache.auth_secret_id, cache.users) == (True, True, secret, ())


@pytest.mark.parametrize("change, expected", [
    # Older or hand-written templates size a group these ways; CDK's construct writes ReplicasPerNodeGroup.
    ({"NumCacheClusters": 3, "ReplicasPerNodeGroup": None, "NumNodeGroups": None}, (False, 1, 2)),
    ({"NodeGroupConfiguration": [{"ReplicaCount": 2}] * 2, "ReplicasPerNodeGroup": None, "NumNodeGroups": None,
      "ClusterMode": None}, (True, 2, 2)),
    ({"ClusterMode": None, "CacheParameterGroupName": "default.redis7.cluster.on"}, (True, 1, 1)),
])
def test_cache_shape_properties(tmp_path: Path, dev: Synthesized, change: dict[str, Any],
                                expected: tuple[bool, int, int]) -> None:
    def mutate(stacks: Templates) -> None:
        props = one(stacks, "AWS::ElastiCache::ReplicationGroup")[1]
        for key, value in change.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = value

    cache = mutated(tmp_path, dev.outdir, "dev", "Cache", mutate=mutate).cache
    assert cache is not None and (cache.cluster_mode, cache.shards, cache.replicas_per_shard) == expected


def test_cache_without_tls_and_auth(tmp_path: Path, dev: Synthesized) -> None:
    # The compliance gate requires both, so no config turns them off.
    def mutate(stacks: Templates) -> None:
        props = one(stacks, "AWS::ElastiCache::ReplicationGroup")[1]
        props["TransitEncryptionEnabled"] = False
        del props["AuthToken"]

    cache = mutated(tmp_path, dev.outdir, "dev", "Cache", mutate=mutate).cache
    assert cache is not None and (cache.tls, cache.auth, cache.auth_secret_id) == (False, False, None)


@pytest.mark.parametrize("name", ["aurora-postgresql-rbac", "aurora-mysql-rbac-cluster-provisioned"])
def test_cache_rbac_users(name: str, twin_assembly: Assembly, request: pytest.FixtureRequest) -> None:
    shape = SHAPES[name]
    cfg = _cache_cfg(request.getfixturevalue(shape.env).config, name)
    stacks = stacks_of(twin_assembly(name), shape.env, "Cache")
    users = {props["UserName"]: props for _, props in
             [(lid, res["Properties"]) for lid, res in resources(stacks, "AWS::ElastiCache::User")]}
    spec = templates.load(shape.env, twin_assembly(name))
    cache = spec.cache
    assert cache is not None and cache.auth and cache.auth_secret_id is None and cache.tls
    assert (cache.engine, cache.cluster_mode) == (cfg["engine"], cfg["cluster_mode"] == "enabled")
    assert {u.name: u.access_string for u in cache.users} == {n: p["AccessString"] for n, p in users.items()}
    app = next(u for u in cache.users if u.name == cfg["username"])
    assert app.secret_id is not None and not app.access_string.startswith("off")
    # Redis OSS groups carry a disabled `default` user; a Valkey group need not.
    assert ("default" in users) == (cfg["engine"] == "redis")
    assert {s.logical_id: s.role for s in spec.secrets if s.stack.endswith("-Cache")} == \
        {u.secret_id: "cache" for u in cache.users if u.secret_id}


def test_an_iam_cache_user_is_one_clear_error(tmp_path: Path, twin_assembly: Assembly) -> None:
    # The config has no IAM-authenticated users; the twin cannot emulate IAM and says so.
    def mutate(stacks: Templates) -> None:
        one(stacks, "AWS::ElastiCache::User")[1]["AuthenticationMode"] = {"Type": "iam"}

    with pytest.raises(TemplateError, match="IAM-authenticated cache user"):
        mutated(tmp_path, twin_assembly("aurora-postgresql-rbac"), "dev", "Cache", mutate=mutate)


# -- DynamoDB, secrets, the assembly --------------------------------------------------------------------------
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_table_keys_indexes_ttl_stream(env: str, request: pytest.FixtureRequest) -> None:
    synth: Synthesized = request.getfixturevalue(env)
    cfg = synth.config.dynamo
    (table,) = templates.load(env, synth.outdir).tables
    assert [k for k, _ in table.key_schema] == [cfg.partition_key.name, cfg.sort_key.name]  # type: ignore[union-attr]
    assert [g.name for g in table.gsis] == [g.name for g in cfg.gsis]
    assert [i.name for i in table.lsis] == [i.name for i in cfg.lsis]
    assert [g.projection_type for g in table.gsis] == [g.projection for g in cfg.gsis]
    assert table.gsis[0].key_schema == ((cfg.gsis[0].partition_key.name, "HASH"),
                                        (cfg.gsis[0].sort_key.name, "RANGE"))  # type: ignore[union-attr]
    assert (table.billing_mode, table.ttl_attribute, table.stream_view_type) == \
        ("PAY_PER_REQUEST", cfg.ttl_attribute, cfg.stream)
    assert table.pitr and table.deletion_protection == cfg.deletion_protection and table.table_name is None


def test_provisioned_table_capacity_and_an_include_projection(twin_assembly: Assembly) -> None:
    name = "aurora-mysql-rbac-cluster-provisioned"
    cfg = SHAPES[name].overrides["dynamo"]
    (table,) = templates.load(SHAPES[name].env, twin_assembly(name)).tables
    assert (table.billing_mode, table.read_capacity, table.write_capacity) == \
        ("PROVISIONED", cfg["read_capacity"]["min"], cfg["write_capacity"]["min"])
    assert [(g.name, g.projection_type, g.non_key_attributes) for g in table.gsis] == \
        [("gsi1", "ALL", ()), ("gsi2", "INCLUDE", ("status", "total"))]


def test_a_table_with_a_partition_key_only(twin_assembly: Assembly) -> None:
    (table,) = templates.load("dev", twin_assembly("no-replicas-key-only-table")).tables
    assert table.key_schema == (("pk", "HASH"),) and table.attributes == (("pk", "S"),)
    assert (table.gsis, table.lsis, table.ttl_attribute, table.stream_view_type) == ((), (), None, None)


def test_secret_roles(dev: Synthesized) -> None:
    spec = templates.load("dev", dev.outdir)
    assert spec.database is not None and spec.cache is not None
    roles = {s.logical_id: s.role for s in spec.secrets}
    (app,) = spec.database.app_secret_ids
    assert roles == {spec.database.secret_id: "database", app: "app", spec.cache.auth_secret_id: "cache"}


def test_account_and_region_come_from_the_manifest(prod: Synthesized) -> None:
    spec = templates.load("prod", prod.outdir)
    assert (spec.account, spec.region) == (prod.config.account, prod.config.region)


def test_manifest_decides_which_templates_belong_to_the_assembly(tmp_path: Path, dev: Synthesized) -> None:
    out = assembly(tmp_path / "out", dev.outdir, "dev", "Dynamo")
    # A leftover template of another synth (cdk.out keeps old files) is not part of this assembly.
    (out / "dev-Cache.template.json").write_text("{}")
    assert set(templates.stack_templates(out, "dev")) == {"dev-Dynamo"}
    assert templates.stack_templates(out, "prod") == {}


def test_locate_uses_fresh_templates_and_synthesizes_stale_ones(tmp_path: Path, dev: Synthesized, prod: Synthesized,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    (root / "stacks").mkdir(parents=True)
    (root / "cdk.json").write_text(json.dumps({"context": {"environments": {"dev": {}, "prod": {}}}}))
    source = root / "stacks" / "cache_stack.py"
    source.write_text("")
    fresh = assembly(root / "cdk.out", dev.outdir, "dev", "Dynamo")
    calls: list[tuple[str, Path]] = []

    def fake_synth(env: str, outdir: Path) -> Path:
        # Stands in for the pinned CLI (a real synth is what the `dev` fixture did): where and when it runs.
        calls.append((env, outdir))
        return assembly(outdir, {"dev": dev, "prod": prod}[env].outdir, env, "Dynamo")

    monkeypatch.setattr(templates, "ROOT", root)
    monkeypatch.setattr("cdk_data_tier.app.synth.synthesize", fake_synth)
    old = time.time() - 100
    os.utime(source, (old, old))
    assert templates.locate("dev", echo=lambda _: None) == fresh and not calls
    later = time.time() + 10
    os.utime(source, (later, later))  # the source is now newer than the templates
    assert templates.locate("dev", echo=lambda _: None) == root / "cdk.out.dev"
    assert calls == [("dev", root / "cdk.out.dev")]
    assert templates.locate("prod", echo=lambda _: None) == root / "cdk.out.prod"  # cdk.out is dev's


def test_explicit_cdk_out_without_templates_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match=r"no dev-\* templates"):
        templates.locate("dev", tmp_path)


def test_locate_outside_any_cdk_app_names_cdk_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An installed copy run from a folder that is no CDK app: nothing to synthesize, and nothing is written.
    monkeypatch.setattr(templates, "ROOT", tmp_path)
    with pytest.raises(TemplateError, match=r"no cdk.json in .*: run from the CDK app's folder, or pass --cdk-out"):
        templates.locate("dev", echo=lambda _: None)
    assert list(tmp_path.iterdir()) == []
