"""Read one environment's synthesized templates into the shape of the twin (a `TwinSpec`).

Everything the twin builds comes from here: the CloudFormation resource types and properties that
`cdk synth` wrote, never a second copy of the config. When the templates are missing or older than
the CDK sources, the environment is synthesized first (into cdk.out.<env>, since cdk.out holds one
environment at a time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cdk_data_tier.app.local.spec import (
    CacheSpec,
    CacheUser,
    DatabaseSpec,
    IndexSpec,
    NetworkResource,
    SecretSpec,
    TableSpec,
    TwinSpec,
)
from cdk_data_tier.app.project import ROOT

SOURCES = ("app.py", "cdk.json", "cdk.context.json", "stacks", "cdk_constructs")
DEFAULT_PORTS = {"postgres": 5432, "mysql": 3306}
DEFAULT_DBNAME = {"postgres": "postgres", "mysql": "mysql"}
TRUE = (True, "true", "True", "TRUE", 1, "1", "ON", "on", "yes")
NETWORK_TYPES = ("AWS::EC2::VPC", "AWS::EC2::Instance")
_DYNAMIC_REF = re.compile(r"\{\{resolve:secretsmanager:")


class TemplateError(RuntimeError):
    """The templates are missing, or hold something the twin cannot build."""


# -- where the templates are ---------------------------------------------------------------------
def newest_source_file(root: Path | None = None) -> tuple[float, Path | None]:
    """(mtime, path) of the newest file the templates are synthesized from."""
    newest: tuple[float, Path | None] = (0.0, None)
    for name in SOURCES:
        path = (root or ROOT) / name
        for f in (path.rglob("*.py") if path.is_dir() else [path]):
            if f.exists() and f.stat().st_mtime > newest[0]:
                newest = (f.stat().st_mtime, f)
    return newest


def newest_source(root: Path | None = None) -> float:
    return newest_source_file(root)[0]


def stack_templates(outdir: Path, env: str) -> dict[str, Path]:
    """Stack name -> template file of `env` in a cloud assembly (manifest.json), or by file name without one."""
    manifest = outdir / "manifest.json"
    if manifest.exists():
        artifacts = json.loads(manifest.read_text()).get("artifacts", {})
        found = {}
        for artifact_id, artifact in artifacts.items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            name = artifact.get("properties", {}).get("stackName") or artifact_id
            template = outdir / artifact.get("properties", {}).get("templateFile", f"{artifact_id}.template.json")
            if name.startswith(f"{env}-") and template.exists():
                found[name] = template
        return found
    return {p.name.removesuffix(".template.json"): p for p in sorted(outdir.glob(f"{env}-*.template.json"))}


def environment(outdir: Path, stack: str) -> tuple[str, str]:
    """(account, region) the manifest gives the stack; moto's defaults when unknown."""
    manifest = outdir / "manifest.json"
    if manifest.exists():
        artifact = json.loads(manifest.read_text()).get("artifacts", {}).get(stack, {})
        match = re.fullmatch(r"aws://(\d{12})/([a-z0-9-]+)", artifact.get("environment", ""))
        if match:
            return match.group(1), match.group(2)
    return "123456789012", "us-east-1"


def locate(env: str, cdk_out: Path | None = None, *, echo: Callable[[str], None] = print) -> Path:
    """The cloud assembly to read for `env`: the one given, else a fresh one, else a new synth."""
    if cdk_out is not None:
        if not cdk_out.is_dir():
            raise TemplateError(f"--cdk-out {cdk_out} does not exist: expected a cloud assembly "
                                f"(cdk synth -c env={env} -o {cdk_out})")
        found = stack_templates(cdk_out, env)
        if not found:
            raise TemplateError(f"{cdk_out} holds no {env}-* templates (cdk synth -c env={env} -o {cdk_out})")
        stale = _older_than_sources(found)
        if stale:
            raise TemplateError(f"{cdk_out} is older than {stale}: synthesize it again "
                                f"(cdk synth -c env={env} -o {cdk_out}), or leave --cdk-out out")
        return cdk_out
    _check_environment(env)
    newest = newest_source()
    for candidate in (ROOT / f"cdk.out.{env}", ROOT / "cdk.out"):
        found = stack_templates(candidate, env)
        if found and all(p.stat().st_mtime >= newest for p in found.values()):
            return candidate
    from cdk_data_tier.app.synth import synthesize  # noqa: PLC0415 - only when a synth is needed

    target = ROOT / f"cdk.out.{env}"
    echo(f"templates of {env} missing or older than the sources: cdk synth -c env={env} -o {target.name}")
    synthesize(env, target)
    return target


def _older_than_sources(found: dict[str, Path]) -> str | None:
    """The newest source file when some template predates it (None: the assembly is current)."""
    newest, path = newest_source_file()
    oldest = min(p.stat().st_mtime for p in found.values())
    return str(path.relative_to(ROOT)) if path is not None and oldest < newest else None


def _check_environment(env: str) -> None:
    """Before a synth: an environment cdk.json does not configure is one line, not the CLI's traceback."""
    try:
        environments = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
    except (OSError, KeyError, json.JSONDecodeError):
        return  # no project cdk.json here (an installed copy): --cdk-out is the way, and synth says so
    if env not in environments:
        allowed = ", ".join(sorted(environments))
        raise TemplateError(f"env {env!r} is not in cdk.json's environments: allowed: {allowed}")


# -- template helpers ----------------------------------------------------------------------------
def resources(templates: dict[str, dict[str, Any]], *types: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for stack, body in templates.items():
        for lid, res in body.get("Resources", {}).items():
            if res.get("Type") in types:
                yield stack, lid, res


def refs(value: Any) -> set[str]:
    """Logical ids a property value points at (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            found.add(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            found.add(target[0] if isinstance(target, list) else str(target).split(".")[0])
        if "Fn::Sub" in value:
            text = value["Fn::Sub"][0] if isinstance(value["Fn::Sub"], list) else value["Fn::Sub"]
            found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text))}
        for item in value.values():
            found |= refs(item)
    elif isinstance(value, list):
        for item in value:
            found |= refs(item)
    return found


def literal(body: dict[str, Any], value: Any, what: str) -> Any:
    """A property as a plain value; a Ref to a parameter gives its default."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        param = body.get("Parameters", {}).get(value["Ref"])
        if param is not None and "Default" in param:
            return param["Default"]
    if isinstance(value, (dict, list)):
        raise TemplateError(f"{what}: the twin needs a literal value, the template has {json.dumps(value)[:120]}")
    return value


def _truthy(value: Any) -> bool:
    return value in TRUE


# -- the database --------------------------------------------------------------------------------
def _secret_of(templates: dict[str, dict[str, Any]], stack: str, target: str, props: dict[str, Any]) -> str | None:
    """The admin's secret: the one the master password resolves from.

    Other secrets attach to the same instance (the app user's, rotated multi-user), so an attachment alone does
    not say whose login it holds; only a template without a master reference falls back to it."""
    body = templates[stack]
    secrets = {lid for lid, res in body.get("Resources", {}).items()
               if res.get("Type") == "AWS::SecretsManager::Secret"}
    for key in ("MasterUserPassword", "MasterUsername"):
        hit = refs(props.get(key)) & secrets
        if hit:
            return hit.pop()
    attached = _attached_secrets(body, target)
    return attached[0] if len(attached) == 1 else None


def _attached_secrets(body: dict[str, Any], target: str) -> list[str]:
    out: list[str] = []
    for res in body.get("Resources", {}).values():
        if res.get("Type") == "AWS::SecretsManager::SecretTargetAttachment" and \
                target in refs(res.get("Properties", {}).get("TargetId")):
            out.extend(sorted(refs(res["Properties"].get("SecretId"))))
    return out


def _secret_template(body: dict[str, Any], secret_id: str | None) -> dict[str, Any]:
    if secret_id is None:
        return {}
    generate = body["Resources"][secret_id].get("Properties", {}).get("GenerateSecretString", {})
    raw = generate.get("SecretStringTemplate")
    return json.loads(raw) if isinstance(raw, str) else {}


def _username(body: dict[str, Any], props: dict[str, Any], secret_id: str | None, what: str) -> str:
    user = props.get("MasterUsername")
    if isinstance(user, str) and not _DYNAMIC_REF.search(user):
        return user
    from_secret = _secret_template(body, secret_id).get("username")
    if from_secret:
        return str(from_secret)
    raise TemplateError(f"{what}: no admin username (MasterUsername, or `username` in the secret's "
                        "GenerateSecretString.SecretStringTemplate)")


def _force_tls(body: dict[str, Any], family: str, *group_props: Any) -> bool:
    key, on = ("rds.force_ssl", ("1", 1, True, "true")) if family == "postgres" else \
        ("require_secure_transport", ("ON", "on", "1", 1, True, "true"))
    groups = set().union(*(refs(p) for p in group_props))
    for lid in groups:
        params = body["Resources"].get(lid, {}).get("Properties", {}).get("Parameters", {})
        if params.get(key) in on:
            return True
    return False


def _engine(value: Any) -> str:
    engine = str(value).lower()
    if engine in ("postgres", "mysql", "aurora-postgresql", "aurora-mysql", "mariadb"):
        return "mysql" if engine == "mariadb" else engine
    if engine == "aurora":
        return "aurora-mysql"
    raise TemplateError(f"database engine {value!r}: the twin runs postgres, mysql, aurora-postgresql, aurora-mysql")


def _database(templates: dict[str, dict[str, Any]]) -> DatabaseSpec | None:
    clusters = list(resources(templates, "AWS::RDS::DBCluster"))
    instances = list(resources(templates, "AWS::RDS::DBInstance"))
    if not clusters and not instances:
        return None
    if len(clusters) > 1:
        raise TemplateError(f"{len(clusters)} AWS::RDS::DBCluster resources: the twin builds one database")
    if clusters:
        stack, cid, cluster = clusters[0]
        body, props = templates[stack], cluster.get("Properties", {})
        members = [(lid, res) for s, lid, res in instances
                   if s == stack and cid in refs(res.get("Properties", {}).get("DBClusterIdentifier"))]
        if not members:
            raise TemplateError(f"{stack}/{cid}: an Aurora cluster without DBInstances")
        writer = _aurora_writer(members)
        readers = tuple(lid for lid, _ in members if lid != writer)
        engine = _engine(literal(body, props.get("Engine"), f"{stack}/{cid}.Engine"))
        family = "mysql" if "mysql" in engine else "postgres"
        secret = _secret_of(templates, stack, cid, props)
        groups = [props.get("DBClusterParameterGroupName")] + \
            [res.get("Properties", {}).get("DBParameterGroupName") for _, res in members]
        return DatabaseSpec(
            stack=stack, engine=engine, engine_version=_opt(body, props.get("EngineVersion")), writer_id=writer,
            reader_ids=readers, cluster_id=cid, username=_username(body, props, secret, f"{stack}/{cid}"),
            dbname=str(_opt(body, props.get("DatabaseName")) or _dbname_output(body) or DEFAULT_DBNAME[family]),
            port=int(_opt(body, props.get("Port")) or DEFAULT_PORTS[family]),
            force_tls=_force_tls(body, family, *groups), secret_id=secret,
            managed_secret=_truthy(props.get("ManageMasterUserPassword")),
            app_secret_ids=tuple(s for s in _attached_secrets(body, cid) if s != secret))
    primaries = [(s, lid, res) for s, lid, res in instances
                 if "SourceDBInstanceIdentifier" not in res.get("Properties", {})]
    if len(primaries) != 1:
        raise TemplateError(f"{len(primaries)} primary AWS::RDS::DBInstance resources (without "
                            "SourceDBInstanceIdentifier): the twin builds exactly one")
    stack, pid, primary = primaries[0]
    body, props = templates[stack], primary.get("Properties", {})
    readers = tuple(lid for s, lid, res in instances
                    if s == stack and pid in refs(res.get("Properties", {}).get("SourceDBInstanceIdentifier")))
    engine = _engine(literal(body, props.get("Engine"), f"{stack}/{pid}.Engine"))
    family = "mysql" if "mysql" in engine else "postgres"
    secret = _secret_of(templates, stack, pid, props)
    return DatabaseSpec(
        stack=stack, engine=engine, engine_version=_opt(body, props.get("EngineVersion")), writer_id=pid,
        reader_ids=readers, cluster_id=None, username=_username(body, props, secret, f"{stack}/{pid}"),
        dbname=str(_opt(body, props.get("DBName")) or _dbname_output(body) or DEFAULT_DBNAME[family]),
        port=int(_opt(body, props.get("Port")) or DEFAULT_PORTS[family]),
        force_tls=_force_tls(body, family, props.get("DBParameterGroupName")), secret_id=secret,
        managed_secret=_truthy(props.get("ManageMasterUserPassword")),
        multi_az=_truthy(_opt(body, props.get("MultiAZ"))),
        app_secret_ids=tuple(s for s in _attached_secrets(body, pid) if s != secret))


def _aurora_writer(members: list[tuple[str, dict[str, Any]]]) -> str:
    # CDK makes every reader depend on the writer, so the writer is created first.
    ids = {lid for lid, _ in members}
    depended_on = set()
    for _, res in members:
        deps = res.get("DependsOn", [])
        depended_on |= ids & set([deps] if isinstance(deps, str) else deps)
    if len(depended_on) == 1:
        return depended_on.pop()
    tiers = sorted(members, key=lambda m: (int(m[1].get("Properties", {}).get("PromotionTier", 1)),
                                           "writer" not in m[0].lower(), m[0]))
    return tiers[0][0]


def _opt(body: dict[str, Any], value: Any) -> Any:
    if value is None:
        return None
    try:
        return literal(body, value, "")
    except TemplateError:
        return None


def _dbname_output(body: dict[str, Any]) -> str | None:
    value = body.get("Outputs", {}).get("DatabaseName", {}).get("Value")
    return value if isinstance(value, str) else None


# -- the cache -----------------------------------------------------------------------------------
def _cache(templates: dict[str, dict[str, Any]]) -> CacheSpec | None:
    groups = list(resources(templates, "AWS::ElastiCache::ReplicationGroup"))
    if not groups:
        return None
    if len(groups) > 1:
        raise TemplateError(f"{len(groups)} AWS::ElastiCache::ReplicationGroup resources: the twin builds one")
    stack, lid, group = groups[0]
    body, props = templates[stack], group.get("Properties", {})
    what = f"{stack}/{lid}"
    node_groups = props.get("NodeGroupConfiguration") or []
    shards = int(_opt(body, props.get("NumNodeGroups")) or len(node_groups) or 1)
    cluster_mode = str(_opt(body, props.get("ClusterMode")) or "").lower() == "enabled" or shards > 1 or \
        _cluster_parameter_group(body, props)
    if props.get("ReplicasPerNodeGroup") is not None:
        replicas = int(literal(body, props["ReplicasPerNodeGroup"], f"{what}.ReplicasPerNodeGroup"))
    elif node_groups and node_groups[0].get("ReplicaCount") is not None:
        counts = {int(ng.get("ReplicaCount", 0)) for ng in node_groups}
        if len(counts) > 1:
            raise TemplateError(f"{what}: node groups with different replica counts are not supported by the twin")
        replicas = counts.pop()
    elif props.get("NumCacheClusters") is not None:
        replicas = int(literal(body, props["NumCacheClusters"], f"{what}.NumCacheClusters")) - 1
    else:
        replicas = 0
    auth_refs = refs(props.get("AuthToken"))
    secrets = {s_lid for s_lid, res in body.get("Resources", {}).items()
               if res.get("Type") == "AWS::SecretsManager::Secret"}
    auth_secret = next(iter(auth_refs & secrets), None)
    users = _cache_users(body, props, secrets, what)
    return CacheSpec(
        stack=stack, logical_id=lid, engine=str(_opt(body, props.get("Engine")) or "redis").lower(),
        engine_version=_opt(body, props.get("EngineVersion")), cluster_mode=bool(cluster_mode), shards=shards,
        replicas_per_shard=replicas, tls=_truthy(_opt(body, props.get("TransitEncryptionEnabled"))),
        auth="AuthToken" in props or bool(users), auth_secret_id=auth_secret,
        port=int(_opt(body, props.get("Port")) or 6379), users=users)


def _cache_users(body: dict[str, Any], props: dict[str, Any], secrets: set[str], what: str) -> tuple[CacheUser, ...]:
    resources_ = body.get("Resources", {})
    users = []
    for group_id in refs(props.get("UserGroupIds")):
        for user_id in refs(resources_.get(group_id, {}).get("Properties", {}).get("UserIds")):
            user = resources_.get(user_id, {}).get("Properties", {})
            mode = user.get("AuthenticationMode") or {}
            kind = str(mode.get("Type", "no-password-required" if user.get("NoPasswordRequired") else "password"))
            if kind == "iam":
                raise TemplateError(f"{what}: IAM-authenticated cache user {user_id} is not emulated by the twin")
            passwords = mode.get("Passwords", user.get("Passwords"))
            secret = next(iter(refs(passwords) & secrets), None)
            if kind == "password" and secret is None and passwords:
                raise TemplateError(f"{what}: cache user {user_id} has a literal password; the twin reads passwords "
                                    "from Secrets Manager secrets")
            users.append(CacheUser(name=str(literal(body, user.get("UserName"), f"{user_id}.UserName")),
                                   access_string=str(literal(body, user.get("AccessString", "off"),
                                                             f"{user_id}.AccessString")),
                                   secret_id=secret if kind == "password" else None))
    return tuple(sorted(users, key=lambda u: u.name))


def _cluster_parameter_group(body: dict[str, Any], props: dict[str, Any]) -> bool:
    name = props.get("CacheParameterGroupName")
    if isinstance(name, str):
        return ".cluster.on" in name
    for lid in refs(name):
        values = body["Resources"].get(lid, {}).get("Properties", {}).get("Properties", {})
        if str(values.get("cluster-enabled", "")).lower() == "yes":
            return True
    return False


# -- tables --------------------------------------------------------------------------------------
def _index(raw: dict[str, Any]) -> IndexSpec:
    projection = raw.get("Projection", {})
    return IndexSpec(name=raw["IndexName"],
                     key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in raw["KeySchema"]),
                     projection_type=projection.get("ProjectionType", "ALL"),
                     non_key_attributes=tuple(projection.get("NonKeyAttributes", ())))


def _capacity(props: dict[str, Any], kind: str) -> int | None:
    if kind == "write":
        settings = props.get("WriteProvisionedThroughputSettings", {})
        auto = settings.get("WriteCapacityAutoScalingSettings", {})
        return int(auto.get("MinCapacity") or settings.get("WriteCapacityUnits") or 0) or None
    for replica in props.get("Replicas", []):
        settings = replica.get("ReadProvisionedThroughputSettings", {})
        auto = settings.get("ReadCapacityAutoScalingSettings", {})
        units = auto.get("MinCapacity") or settings.get("ReadCapacityUnits")
        if units:
            return int(units)
    return None


def _tables(templates: dict[str, dict[str, Any]]) -> list[TableSpec]:
    tables = []
    for stack, lid, res in resources(templates, "AWS::DynamoDB::GlobalTable", "AWS::DynamoDB::Table"):
        body, props = templates[stack], res.get("Properties", {})
        ttl = props.get("TimeToLiveSpecification") or {}
        stream = props.get("StreamSpecification") or {}
        replicas = props.get("Replicas") or [{}]
        pitr = (replicas[0].get("PointInTimeRecoverySpecification") or props.get("PointInTimeRecoverySpecification")
                or {})
        deletion = replicas[0].get("DeletionProtectionEnabled", props.get("DeletionProtectionEnabled", False))
        throughput = props.get("ProvisionedThroughput") or {}
        name = props.get("TableName")
        tables.append(TableSpec(
            stack=stack, logical_id=lid,
            table_name=str(literal(body, name, f"{stack}/{lid}.TableName")) if name else None,
            key_schema=tuple((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]),
            attributes=tuple((a["AttributeName"], a["AttributeType"]) for a in props.get("AttributeDefinitions", [])),
            gsis=tuple(_index(g) for g in props.get("GlobalSecondaryIndexes", [])),
            lsis=tuple(_index(i) for i in props.get("LocalSecondaryIndexes", [])),
            billing_mode=str(props.get("BillingMode") or "PROVISIONED"),
            ttl_attribute=ttl.get("AttributeName") if _truthy(ttl.get("Enabled", False)) else None,
            stream_view_type=stream.get("StreamViewType") if stream.get("StreamEnabled", True) in TRUE else None,
            pitr=_truthy(pitr.get("PointInTimeRecoveryEnabled", False)), deletion_protection=_truthy(deletion),
            read_capacity=_capacity(props, "read") or throughput.get("ReadCapacityUnits"),
            write_capacity=_capacity(props, "write") or throughput.get("WriteCapacityUnits")))
    return tables


# -- secrets and the rest ------------------------------------------------------------------------
def _secrets(templates: dict[str, dict[str, Any]], db: DatabaseSpec | None,
             cache: CacheSpec | None) -> list[SecretSpec]:
    out = []
    for stack, lid, res in resources(templates, "AWS::SecretsManager::Secret"):
        props = res.get("Properties", {})
        generate = props.get("GenerateSecretString") or {}
        raw = generate.get("SecretStringTemplate")
        role = "other"
        if db is not None and (stack, lid) == (db.stack, db.secret_id):
            role = "database"
        elif db is not None and stack == db.stack and lid in db.app_secret_ids:
            role = "app"
        elif cache is not None and stack == cache.stack and lid in cache.secret_ids:
            role = "cache"
        name = props.get("Name")
        out.append(SecretSpec(stack=stack, logical_id=lid, name=name if isinstance(name, str) else None, role=role,
                              string_template=json.loads(raw) if isinstance(raw, str) else None,
                              generate_key=generate.get("GenerateStringKey"),
                              secret_string=props.get("SecretString") if isinstance(props.get("SecretString"), str)
                              else None))
    return out


def load(env: str, outdir: Path) -> TwinSpec:
    files = stack_templates(outdir, env)
    if not files:
        raise TemplateError(f"no {env}-* templates in {outdir}")
    templates = {name: json.loads(path.read_text()) for name, path in files.items()}
    account, region = environment(outdir, next(iter(files)))
    db = _database(templates)
    cache = _cache(templates)
    return TwinSpec(
        env=env, account=account, region=region, source=str(outdir), templates=templates, database=db, cache=cache,
        tables=_tables(templates), secrets=_secrets(templates, db, cache),
        network=[NetworkResource(stack, lid, res["Type"], res.get("Properties", {}))
                 for stack, lid, res in resources(templates, *NETWORK_TYPES)])
