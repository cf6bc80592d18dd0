"""Compare a running twin with the templates it was built from.

`expected()` reads the raw template JSON on its own (it shares no code with the twin's template
reader), `observed()` asks the running engines and moto, and `differences()` lists every mismatch.
A template changed after the twin started must therefore produce a difference.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pymysql
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cdk_data_tier.app.local.twin import Twin

INTERNAL = ("ExportsOutput", "PublishOutput")
TRUE = (True, "true", 1, "1")
FORCED = ("1", "on", "true")  # rds.force_ssl / require_secure_transport values that refuse clear text


def _resources(templates: dict[str, dict[str, Any]], kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [(stack, lid, res.get("Properties", {})) for stack, body in templates.items()
            for lid, res in body.get("Resources", {}).items() if res.get("Type") == kind]


def _index_shape(raw: dict[str, Any]) -> tuple[Any, ...]:
    projection = raw.get("Projection", {})
    return (tuple((k["AttributeName"], k["KeyType"]) for k in raw["KeySchema"]),
            projection.get("ProjectionType", "ALL"), tuple(sorted(projection.get("NonKeyAttributes", []))))


def _refd(value: Any) -> set[str]:
    text = json.dumps(value)
    return {part.split('"')[0] for part in text.split('{"Ref": "')[1:]}


# -- what the templates say ----------------------------------------------------------------------
def expected(templates: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {"outputs": {}, "tables": {}, "secrets": {}, "engines": {}}
    for stack, body in templates.items():
        out["outputs"][stack] = sorted(k for k in body.get("Outputs", {}) if not k.startswith(INTERNAL))
    for stack, lid, props in _resources(templates, "AWS::DynamoDB::GlobalTable"):
        name = props.get("TableName") or f"{stack}-{lid}"
        ttl = props.get("TimeToLiveSpecification") or {}
        out["tables"][name] = {
            "key_schema": tuple((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]),
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]),
            "gsis": {g["IndexName"]: _index_shape(g) for g in props.get("GlobalSecondaryIndexes", [])},
            "lsis": {i["IndexName"]: _index_shape(i) for i in props.get("LocalSecondaryIndexes", [])},
            "billing": props.get("BillingMode", "PROVISIONED"),
            "ttl": ttl.get("AttributeName") if ttl.get("Enabled") in TRUE else None,
            "stream": (props.get("StreamSpecification") or {}).get("StreamViewType"),
        }
    instances = _resources(templates, "AWS::RDS::DBInstance")
    if instances:
        groups = {lid: p.get("Parameters", {}) for kind in ("AWS::RDS::DBParameterGroup",
                                                            "AWS::RDS::DBClusterParameterGroup")
                  for _, lid, p in _resources(templates, kind)}
        clusters = _resources(templates, "AWS::RDS::DBCluster")
        if clusters:  # Aurora: the cluster names the engine; its instances are the writer and the readers
            owner = clusters[0][2]
            group_refs = _refd(owner.get("DBClusterParameterGroupName")).union(
                *(_refd(p.get("DBParameterGroupName")) for _, _, p in instances))
        else:
            owner = next(p for _, _, p in instances if "SourceDBInstanceIdentifier" not in p)
            group_refs = _refd(owner.get("DBParameterGroupName"))
        engine = str(owner.get("Engine"))
        family = "mysql" if "mysql" in engine else "postgres"
        key = "rds.force_ssl" if family == "postgres" else "require_secure_transport"
        forced = any(str(groups.get(g, {}).get(key)).lower() in FORCED for g in group_refs)
        out["database"] = {"engine": family, "replicas": len(instances) - 1, "tls_required": forced}
        out["engines"]["database"] = " ".join(str(v) for v in (engine, owner.get("EngineVersion")) if v)
    for _, _, props in _resources(templates, "AWS::ElastiCache::ReplicationGroup"):
        cluster = props.get("ClusterMode") == "enabled"
        shards = int(props.get("NumNodeGroups", 1))
        replicas = int(props["ReplicasPerNodeGroup"]) if "ReplicasPerNodeGroup" in props \
            else int(props.get("NumCacheClusters", 1)) - 1
        out["cache"] = {"cluster_mode": cluster, "shards": shards, "replicas_per_shard": replicas,
                        "tls": props.get("TransitEncryptionEnabled") in TRUE,
                        "auth": "AuthToken" in props or bool(props.get("UserGroupIds"))}
        out["engines"]["cache"] = " ".join(str(v) for v in (props.get("Engine", "redis"), props.get("EngineVersion"))
                                           if v)
    secret_templates = {}
    for stack, lid, props in _resources(templates, "AWS::SecretsManager::Secret"):
        generate = props.get("GenerateSecretString", {})
        keys = set(json.loads(_literal_json(generate.get("SecretStringTemplate", "{}"))))
        if generate.get("GenerateStringKey"):
            keys.add(generate["GenerateStringKey"])
        secret_templates[(stack, lid)] = keys
    for stack, body in templates.items():
        for key in ("SecretArn", "AuthSecretArn"):
            value = body.get("Outputs", {}).get(key, {}).get("Value")
            if value is None:
                continue
            refd = _refd(value)
            attachments = {lid: p for s, lid, p in _resources(templates, "AWS::SecretsManager::SecretTargetAttachment")
                           if s == stack}
            target = "AWS::RDS::DBInstance"
            for lid in list(refd):
                if lid in attachments:
                    refd |= _refd(attachments[lid].get("SecretId"))
            # The output may name the attachment or the secret itself: either way the attachment's target decides.
            for attachment in attachments.values():
                if _refd(attachment.get("SecretId")) & refd:
                    target = attachment.get("TargetType", target)
            keys = set().union(*(secret_templates.get((stack, lid), set()) for lid in refd))
            if key == "SecretArn":
                # What RDS writes into an attached secret.
                keys |= {"host", "port", "username", "password", "dbname", "engine",
                         "dbClusterIdentifier" if target == "AWS::RDS::DBCluster" else "dbInstanceIdentifier"}
            out["secrets"][f"{stack}.{key}"] = sorted(keys)
    return out


# -- what the running twin has -------------------------------------------------------------------
def _host_port(endpoint: str, default_port: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return (host, int(port)) if host else (endpoint, int(default_port))


def _literal_json(value: Any) -> str:
    """A SecretStringTemplate as JSON text: an Fn::Join (a template naming another secret's ARN, as the
    multi-user rotation's masterarn does) keeps its literal parts, each reference standing in as a string."""
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(p if isinstance(p, str) else "ref" for p in parts)
    return str(value)


def _client(twin: Twin, service: str) -> Any:
    return twin.client(service)  # isolated from the user's AWS configuration, as the twin's own clients are


def _secret(twin: Twin, arn: str) -> dict[str, Any]:
    return dict(json.loads(_client(twin, "secretsmanager").get_secret_value(SecretId=arn)["SecretString"]))


def observed(twin: Twin) -> dict[str, Any]:
    out: dict[str, Any] = {"outputs": {stack: sorted(keys) for stack, keys in twin.outputs.items()},
                           "tables": {}, "secrets": {}}
    ddb = _client(twin, "dynamodb")
    for name in ddb.list_tables()["TableNames"]:
        table = ddb.describe_table(TableName=name)["Table"]
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        out["tables"][name] = {
            "key_schema": tuple((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]),
            "attributes": sorted((a["AttributeName"], a["AttributeType"]) for a in table["AttributeDefinitions"]),
            "gsis": {g["IndexName"]: _index_shape(g) for g in table.get("GlobalSecondaryIndexes", [])},
            "lsis": {i["IndexName"]: _index_shape(i) for i in table.get("LocalSecondaryIndexes", [])},
            "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "ttl": ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
            "stream": table.get("StreamSpecification", {}).get("StreamViewType")
            if table.get("StreamSpecification", {}).get("StreamEnabled") else None,
        }
    for stack, keys in twin.outputs.items():
        for key in ("SecretArn", "AuthSecretArn"):
            if keys.get(key):
                out["secrets"][f"{stack}.{key}"] = sorted(_secret(twin, keys[key]))
    reported: dict[str, str] = {}  # component -> engine and version, as the running server reports them
    db_outputs = next((o for s, o in twin.outputs.items() if s.endswith("-Database")), None)
    if db_outputs:
        out["database"], reported["database"] = _observe_database(twin, db_outputs)
    cache_outputs = next((o for s, o in twin.outputs.items() if s.endswith("-Cache")), None)
    if cache_outputs:
        out["cache"], reported["cache"] = _observe_cache(twin, cache_outputs)
    # twin.json names the template's engine (compared with the templates) and the local one (with the server).
    out["engines"] = {component: info.get("template") for component, info in twin.engines.items()}
    for component, server in reported.items():
        claimed = twin.engines.get(component, {}).get("local")
        if claimed != server:
            out["engines"][f"{component} (local)"] = f"twin.json says {claimed!r}, the server {server!r}"
    return out


def drift(twin: Twin) -> list[str]:
    """One line per component whose local engine is not the template's engine and version."""
    return [f"{component}: template {info.get('template')}, local {info.get('local')}"
            for component, info in sorted(twin.engines.items()) if not info.get("matches")]


def _observe_database(twin: Twin, outputs: dict[str, str]) -> tuple[dict[str, Any], str]:
    creds = _secret(twin, outputs["SecretArn"])
    if "mysql" in str(creds.get("engine")):
        observed, version = _observe_mysql(twin, outputs, creds)
    else:
        observed, version = _observe_postgres(twin, outputs, creds)
    readers = [r for r in outputs.get("ReaderEndpoints", "").split(",") if r]
    # An Aurora cluster has one reader endpoint however many readers it has; RDS lists each replica.
    listed = min(observed["replicas"], 1) if str(creds.get("engine")).startswith("aurora") else observed["replicas"]
    if len(readers) != listed:
        raise AssertionError(f"ReaderEndpoints lists {len(readers)} endpoint(s), the primary replicates to "
                             f"{observed['replicas']} ({creds.get('engine')})")
    return observed, version


def _observe_postgres(twin: Twin, outputs: dict[str, str], creds: dict[str, Any]) -> tuple[dict[str, Any], str]:
    host, port = _host_port(outputs["WriterEndpoint"], outputs["Port"])
    base = {"host": host, "port": port, "user": creds["username"], "password": creds["password"],
            "dbname": creds["dbname"], "connect_timeout": 5}
    with psycopg.connect(**base, sslmode="verify-full", sslrootcert=twin.ca_bundle) as conn:
        # Read replicas are the asynchronous streams; a Multi-AZ twin's standby is the synchronous one.
        streaming = conn.execute("select count(*) from pg_stat_replication where state = 'streaming'"
                                 " and sync_state = 'async'").fetchone()
        engine = "postgres" if "PostgreSQL" in str(conn.execute("select version()").fetchone()) else "?"
        version = str(conn.execute("show server_version").fetchone()[0]).split()[0]  # type: ignore[index]
    try:
        psycopg.connect(**base, sslmode="disable").close()
        tls_required = False
    except psycopg.OperationalError:
        tls_required = True
    assert streaming is not None
    return {"engine": engine, "replicas": streaming[0], "tls_required": tls_required}, f"postgresql {version}"


def _observe_mysql(twin: Twin, outputs: dict[str, str], creds: dict[str, Any]) -> tuple[dict[str, Any], str]:
    host, port = _host_port(outputs["WriterEndpoint"], outputs["Port"])
    login = {"host": host, "port": port, "user": creds["username"], "password": creds["password"],
             "database": creds["dbname"], "connect_timeout": 5}
    with pymysql.connect(**login, ssl={"ca": twin.ca_bundle}) as conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        server = str(cur.fetchone()[0])  # type: ignore[index]
        # One binlog dump thread per replica that streams from this primary.
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")
        replicas = int(cur.fetchone()[0])  # type: ignore[index]
    try:
        pymysql.connect(**login, ssl_disabled=True).close()
        tls_required = False
    except pymysql.err.OperationalError:
        tls_required = True
    name = "mariadb" if "MariaDB" in server else "mysql"
    # MariaDB stands in for MySQL: the engine family is what the template asked for.
    return ({"engine": "mysql", "replicas": replicas, "tls_required": tls_required},
            f"{name} {server.split('-')[0]}")


def _observe_cache(twin: Twin, outputs: dict[str, str]) -> tuple[dict[str, Any], str]:
    host, port = _host_port(outputs["Endpoint"], outputs["Port"])
    secret = _secret(twin, outputs["AuthSecretArn"]) if outputs.get("AuthSecretArn") else {}
    once = {"retry": Retry(NoBackoff(), 0)}  # a refusal is the answer: redis-py would retry it for seconds
    try:
        redis.Redis(host=host, port=port, socket_timeout=2, socket_connect_timeout=2, **once).ping()
        tls = False
    except (redis.ConnectionError, redis.AuthenticationError, redis.ResponseError):
        tls = True

    def connect(username: str | None, password: str | None, **extra: Any) -> redis.Redis:
        return redis.Redis(host=host, port=port, username=username, password=password, ssl=tls,
                           ssl_ca_certs=twin.ca_bundle if tls else None, socket_timeout=3, decode_responses=True,
                           **extra)

    try:
        connect(None, None, **once).ping()
        auth = False
    except (redis.AuthenticationError, redis.ResponseError):
        auth = True
    conn = connect(secret.get("username"), secret.get("password"))
    server = conn.info("server")
    version = f"valkey {server['valkey_version']}" if "valkey_version" in server else f"redis {server['redis_version']}"
    cluster = conn.info("cluster").get("cluster_enabled") == 1
    if cluster:
        shards = conn.execute_command("CLUSTER", "SHARDS")
        sizes = []
        for shard in shards:
            fields = shard if isinstance(shard, dict) else dict(zip(shard[::2], shard[1::2], strict=True))
            sizes.append(len(fields["nodes"]) - 1)
        return {"cluster_mode": True, "shards": len(sizes), "replicas_per_shard": max(sizes) if sizes else 0,
                "tls": tls, "auth": auth}, version
    replicas = int(conn.info("replication").get("connected_slaves", 0))
    return {"cluster_mode": False, "shards": 1, "replicas_per_shard": replicas, "tls": tls, "auth": auth}, version


def differences(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    diffs = []
    for area in sorted(set(want) | set(have)):
        w, h = want.get(area), have.get(area)
        if isinstance(w, dict) and isinstance(h, dict):
            for key in sorted(set(w) | set(h)):
                if w.get(key) != h.get(key):
                    diffs.append(f"{area}.{key}: template {w.get(key)!r}, twin {h.get(key)!r}")
        elif w != h:
            diffs.append(f"{area}: template {w!r}, twin {h!r}")
    return diffs
