"""The twin on every configurable shape: each comes up from the templates `cdk synth` writes for its config
(tests/fixtures_twin.py SHAPES: MySQL, Aurora PostgreSQL and MySQL, RBAC with cluster mode off and on, no NAT,
no replicas, key-only and provisioned tables),
and every workload verifies on it. dev and prod, the other shapes, run the full workloads in tests/app_code.

The workloads run at a reduced size here (a 200-product catalog, fewer keys and round trips): the point is
that every code path meets the engine that stands in for the template's, not a benchmark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pymysql
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cdk_data_tier.app.cache import CacheSettings, run_cache
from cdk_data_tier.app.data import products
from cdk_data_tier.app.dynamo import DynamoWorkload
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import cli as local_cli
from cdk_data_tier.app.local import twin as twin_mod
from cdk_data_tier.app.local.twin import Twin
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.sql import SqlClient, SqlWorkload
from tests.fixtures_twin import SHAPES, env_of

pytestmark = pytest.mark.engines

CATALOG = 200
SMALL_CACHE = CacheSettings(keys=30, bulk_keys=2_000, bulk_batch=500, messages=50, stream_entries=60, aside_reads=300)
RBAC = [name for name, shape in SHAPES.items() if shape.overrides.get("cache", {}).get("auth") == "rbac"]


def secret(twin: Twin, arn: str) -> dict[str, str]:
    sm = twin.client("secretsmanager")
    return dict(json.loads(sm.get_secret_value(SecretId=arn)["SecretString"]))


def host_port(endpoint: str) -> tuple[str, int]:
    host, port = endpoint.rsplit(":", 1)
    return host, int(port)


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_workload_verifies_on_the_shape(name: str, twin_factory: Callable[[str], Twin]) -> None:
    twin = twin_factory(name)
    endpoints = Endpoints.from_outputs_file(twin.outputs_file)
    catalog = list(products())[:CATALOG]
    recorder = Recorder()
    with SqlClient.from_endpoints(endpoints) as sql:
        SqlWorkload(sql, recorder, crud_rows=10, replica_reads=50, orders=5).run(catalog)
    DynamoWorkload(endpoints.dynamo, endpoints.aws, recorder, crud_items=5, orders=2).run(catalog)
    run_cache(endpoints, recorder, settings=SMALL_CACHE, catalog=catalog)
    assert not recorder.failures, recorder.failures
    ops = {r.operation: r for r in recorder.rows()}
    bulk = "bulk load (COPY)" if endpoints.database.family == "postgres" else "bulk load (multi-row INSERT)"
    assert (ops[bulk].count, ops["batch load (BatchWriteItem)"].count) == (CATALOG, CATALOG)
    # Every routed read went to a reader: the lag probe of this engine (Aurora's own view on Aurora) answered.
    assert ops["select by key (routed)"].detail == ("50 to replica" if endpoints.database.readers else "50 to writer")
    assert ops["bulk SET (pipelined)"].count == SMALL_CACHE.bulk_keys
    pubsub = "SPUBLISH -> 3 subscribers" if endpoints.cache.cluster_mode else "PUBLISH -> 3 subscribers"
    assert ops[pubsub].verified


@pytest.mark.parametrize("name", list(SHAPES))
def test_status_is_healthy_and_shows_the_engines(name: str, twin_factory: Callable[[str], Twin],
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    twin = twin_factory(name)
    rows = twin_mod.status(twin.env, state_dir=twin.state_dir)
    assert rows and all(r["running"] and r["health"] == "ok" for r in rows), rows
    monkeypatch.setenv("COLUMNS", "200")
    assert local_cli.main(["status", "-e", twin.env, "--state-dir", str(twin.state_dir)]) == 0
    shown = capsys.readouterr().out
    assert set(twin.engines) == {"database", "cache"}
    for info in twin.engines.values():
        assert re.search(rf"{re.escape(info['template'])}\s+│\s+{re.escape(info['local'])}\s+│\s+"
                         rf"{'same' if info['matches'] else 'differs'}", shown), shown


def test_mysql_runs_on_mariadb_with_tls_forced_and_a_read_only_replica(twin_factory: Callable[[str], Twin]) -> None:
    twin = twin_factory("mysql-no-nat")
    db = twin.stack("Database")
    creds = secret(twin, db["SecretArn"])
    assert (creds["engine"], creds["username"], db["Engine"]) == ("mysql", "dbadmin", "mysql")
    assert twin.engines["database"]["template"] == "mysql 8.4.8"
    assert twin.engines["database"]["local"].startswith("mariadb ")
    (host, port), (rhost, rport) = host_port(db["WriterEndpoint"]), host_port(db["ReaderEndpoints"])
    login = {"user": creds["username"], "password": creds["password"], "connect_timeout": 5}
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host=host, port=port, ssl_disabled=True, **login).close()  # require_secure_transport = 1
    with pymysql.connect(host=rhost, port=rport, ssl={"ca": twin.ca_bundle}, **login) as conn, conn.cursor() as cur:
        cur.execute("SELECT @@read_only")
        assert cur.fetchone() == (1,), "the reader accepts writes"


def test_aurora_postgresql_readers_answer_aurora_replica_status(twin_factory: Callable[[str], Twin]) -> None:
    import psycopg

    twin = twin_factory("aurora-postgresql-rbac")
    db = twin.stack("Database")
    creds = secret(twin, db["SecretArn"])
    assert (creds["engine"], set(creds) >= {"dbClusterIdentifier"}) == ("aurora-postgresql", True)
    host, port = host_port(db["ReaderEndpoints"])
    with psycopg.connect(host=host, port=port, user=creds["username"], password=creds["password"],
                         dbname=creds["dbname"], sslmode="verify-full", sslrootcert=twin.ca_bundle) as conn:
        row = conn.execute("SELECT pg_is_in_recovery(), aurora_db_instance_identifier(), max(replica_lag_in_msec) "
                           "FROM aurora_replica_status() WHERE server_id = aurora_db_instance_identifier()").fetchone()
    assert row is not None and row[0] is True and row[2] is not None and 0 <= row[2] < 1000, row


@pytest.mark.parametrize("name", RBAC)
def test_rbac_users_sign_in_by_name_and_the_default_user_is_off(name: str,
                                                                twin_factory: Callable[[str], Twin]) -> None:
    twin = twin_factory(name)
    cache = twin.stack("Cache")
    creds = secret(twin, cache["AuthSecretArn"])
    assert creds["username"] == SHAPES[name].overrides["cache"].get("username", "app")
    assert len(creds["password"]) >= 32
    host, port = host_port(cache["Endpoint"])
    tls = {"ssl": True, "ssl_ca_certs": twin.ca_bundle, "socket_timeout": 5}
    if cache["ClusterMode"] == "enabled":
        app: redis.Redis | redis.RedisCluster = redis.RedisCluster(
            host=host, port=port, username=creds["username"], password=creds["password"], **tls)
    else:
        app = redis.Redis(host=host, port=port, username=creds["username"], password=creds["password"], **tls)
    prefix = SHAPES[name].overrides["cache"].get("key_prefixes", ["app_code:"])[0]
    for i in range(20):
        app.set(f"{prefix}rbac:{i}", i)
    assert app.get(f"{prefix}rbac:13") == b"13"
    # The access string limits the app to its prefixes: a key outside them is refused.
    with pytest.raises(redis.exceptions.NoPermissionError):
        app.set("elsewhere:1", 1)
    # And no @dangerous command: what would wipe, reconfigure, stall or inspect the whole server. (Not DEBUG:
    # Redis 7 refuses it to every client unless enable-debug-command is set, so it would prove nothing of the ACL.)
    # One node, directly: these commands name no key, so a cluster client could not route them.
    node = redis.Redis(host=host, port=port, username=creds["username"], password=creds["password"], **tls)
    for command in (("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "GET", "maxmemory"), ("KEYS", f"{prefix}*"),
                    ("CLIENT", "LIST"), ("ACL", "LIST"), ("SAVE",), ("REPLICAOF", "NO", "ONE")):
        with pytest.raises(redis.exceptions.NoPermissionError, match="no permissions to run"):
            node.execute_command(*command)
    node.close()
    assert app.get(f"{prefix}rbac:13") == b"13"  # nothing above ran
    app.close()
    with pytest.raises(redis.AuthenticationError):
        # No username means the default user, which RBAC leaves off (asked once: redis-py would retry the refusal).
        redis.Redis(host=host, port=port, password=creds["password"], retry=Retry(NoBackoff(), 0), **tls).ping()


def test_a_vpc_without_nat_gateways_is_built(twin_factory: Callable[[str], Twin],
                                            twin_assembly: Callable[[str], Path]) -> None:
    name = "mysql-no-nat"
    network = json.loads((twin_assembly(name) / f"{env_of(name)}-Network.template.json").read_text())
    assert not [r for r in network["Resources"].values() if r["Type"] == "AWS::EC2::NatGateway"]
    twin = twin_factory(name)
    ec2 = twin.client("ec2")
    outputs = twin.stack("Network")
    assert [v["VpcId"] for v in ec2.describe_vpcs(VpcIds=[outputs["VpcId"]])["Vpcs"]] == [outputs["VpcId"]]
    ids = [outputs["BastionInstanceId"], twin.stack("App")["AppHostInstanceId"]]
    found = [i["InstanceId"] for r in ec2.describe_instances(InstanceIds=ids)["Reservations"] for i in r["Instances"]]
    assert sorted(found) == sorted(ids)
