"""Compare a running twin with the templates it was built from.

`expected()` reads the raw template JSON on its own (it shares no code with the twin's template
reader), `observed()` asks the running engines and moto, and `differences()` lists every mismatch.
A template changed after the twin started must therefore produce a difference.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import psycopg
import redis

from app_code.local.twin import Twin

INTERNAL = ("ExportsOutput", "PublishOutput")
TRUE = (True, "true", 1, "1")


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
    out: dict[str, Any] = {"outputs": {}, "tables": {}, "secrets": {}}
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
        groups = {lid: p.get("Parameters", {}) for _, lid, p in _resources(templates, "AWS::RDS::DBParameterGroup")}
        primary = next(p for _, _, p in instances if "SourceDBInstanceIdentifier" not in p)
        forced = any(groups.get(g, {}).get("rds.force_ssl") in TRUE for g in _refd(primary.get("DBParameterGroupName")))
        out["database"] = {"engine": primary.get("Engine"), "replicas": len(instances) - 1, "tls_required": forced}
    for _, _, props in _resources(templates, "AWS::ElastiCache::ReplicationGroup"):
        cluster = props.get("ClusterMode") == "enabled"
        shards = int(props.get("NumNodeGroups", 1))
        replicas = int(props["ReplicasPerNodeGroup"]) if "ReplicasPerNodeGroup" in props \
            else int(props.get("NumCacheClusters", 1)) - 1
        out["cache"] = {"cluster_mode": cluster, "shards": shards, "replicas_per_shard": replicas,
                        "tls": props.get("TransitEncryptionEnabled") in TRUE,
                        "auth": "AuthToken" in props or bool(props.get("UserGroupIds"))}
    secret_templates = {}
    for stack, lid, props in _resources(templates, "AWS::SecretsManager::Secret"):
        generate = props.get("GenerateSecretString", {})
        keys = set(json.loads(generate.get("SecretStringTemplate", "{}")))
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
                    target = attachments[lid].get("TargetType", target)
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


def _client(twin: Twin, service: str) -> Any:
    return boto3.client(service, endpoint_url=twin.aws_endpoint_url, region_name=twin.region,
                        aws_access_key_id="twin", aws_secret_access_key="twin")


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
    db_outputs = next((o for s, o in twin.outputs.items() if s.endswith("-Database")), None)
    if db_outputs:
        out["database"] = _observe_database(twin, db_outputs)
    cache_outputs = next((o for s, o in twin.outputs.items() if s.endswith("-Cache")), None)
    if cache_outputs:
        out["cache"] = _observe_cache(twin, cache_outputs)
    return out


def _observe_database(twin: Twin, outputs: dict[str, str]) -> dict[str, Any]:
    creds = _secret(twin, outputs["SecretArn"])
    host, port = _host_port(outputs["WriterEndpoint"], outputs["Port"])
    base = {"host": host, "port": port, "user": creds["username"], "password": creds["password"],
            "dbname": creds["dbname"], "connect_timeout": 5}
    with psycopg.connect(**base, sslmode="verify-full", sslrootcert=twin.ca_bundle) as conn:
        # Read replicas are the asynchronous streams; a Multi-AZ twin's standby is the synchronous one.
        streaming = conn.execute("select count(*) from pg_stat_replication where state = 'streaming'"
                                 " and sync_state = 'async'").fetchone()
        engine = "postgres" if "PostgreSQL" in str(conn.execute("select version()").fetchone()) else "?"
    try:
        psycopg.connect(**base, sslmode="disable").close()
        tls_required = False
    except psycopg.OperationalError:
        tls_required = True
    readers = [r for r in outputs.get("ReaderEndpoints", "").split(",") if r]
    assert streaming is not None
    if len(readers) != streaming[0]:
        raise AssertionError(f"ReaderEndpoints lists {len(readers)} replicas, the primary streams to {streaming[0]}")
    return {"engine": engine, "replicas": streaming[0], "tls_required": tls_required}


def _observe_cache(twin: Twin, outputs: dict[str, str]) -> dict[str, Any]:
    host, port = _host_port(outputs["Endpoint"], outputs["Port"])
    secret = _secret(twin, outputs["AuthSecretArn"]) if outputs.get("AuthSecretArn") else {}
    try:
        redis.Redis(host=host, port=port, socket_timeout=2, socket_connect_timeout=2).ping()
        tls = False
    except (redis.ConnectionError, redis.AuthenticationError, redis.ResponseError):
        tls = True
    def connect(username: str | None, password: str | None) -> redis.Redis:
        return redis.Redis(host=host, port=port, username=username, password=password, ssl=tls,
                           ssl_ca_certs=twin.ca_bundle if tls else None, socket_timeout=3, decode_responses=True)

    try:
        connect(None, None).ping()
        auth = False
    except (redis.AuthenticationError, redis.ResponseError):
        auth = True
    conn = connect(secret.get("username"), secret.get("password"))
    cluster = conn.info("cluster").get("cluster_enabled") == 1
    if cluster:
        shards = conn.execute_command("CLUSTER", "SHARDS")
        sizes = []
        for shard in shards:
            fields = shard if isinstance(shard, dict) else dict(zip(shard[::2], shard[1::2], strict=True))
            sizes.append(len(fields["nodes"]) - 1)
        return {"cluster_mode": True, "shards": len(sizes), "replicas_per_shard": max(sizes) if sizes else 0,
                "tls": tls, "auth": auth}
    replicas = int(conn.info("replication").get("connected_slaves", 0))
    return {"cluster_mode": False, "shards": 1, "replicas_per_shard": replicas, "tls": tls, "auth": auth}


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
