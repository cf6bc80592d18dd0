"""The AWS side of the failover drills: which calls leave boto3, and the confirmation a real failover needs.

RDS's reboot and Aurora's failover run against moto's server. moto has no ElastiCache TestFailover, so that
call is checked as it leaves boto3 (a botocore event hook records it and answers for the service).
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.drills.inject import AwsInjector
from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from tests.app_code.conftest import cdk_outputs

FAST = {"Delay": 1, "MaxAttempts": 30}  # moto's instances are available at once: no need to poll slowly


def _endpoints(aws: AwsTarget, outputs_file, secret: dict[str, Any], **stacks) -> Endpoints:
    """`secret` as the app user's (the attachment's identifier keys in it); the admin's SecretArn names a secret
    that does not exist, so a drill that read it would fail."""
    env = f"t{uuid.uuid4().hex[:6]}"
    arn = aws.client("secretsmanager").create_secret(Name=f"{env}/db", SecretString=json.dumps(secret))["ARN"]
    data = cdk_outputs(env, Database={"AppSecretArn": arn}, **stacks)
    endpoints = Endpoints.from_outputs_file(outputs_file(data))
    endpoints.aws = aws
    return endpoints


def test_db_failover_reboots_the_writer_with_force_failover(aws, outputs_file, calls):
    ident = f"w{uuid.uuid4().hex[:8]}"
    aws.client("rds").create_db_instance(DBInstanceIdentifier=ident, Engine="postgres", DBInstanceClass="db.t3.micro",
                                         MasterUsername="dbadmin", MasterUserPassword="not-a-real-one-1",
                                         AllocatedStorage=20, MultiAZ=True)
    endpoints = _endpoints(aws, outputs_file, {"username": "app", "password": "x", "dbInstanceIdentifier": ident})

    event = AwsInjector(endpoints, aws, wait=FAST).fail_over_database(partition=False)

    assert ("RebootDBInstance", {"DBInstanceIdentifier": ident, "ForceFailover": True}) in calls
    assert any(op == "DescribeDBInstances" and p.get("DBInstanceIdentifier") == ident for op, p in calls)  # waited
    assert event.promotion_ms is None  # AWS does not say


def test_aurora_fails_over_the_cluster(aws, outputs_file, calls):
    ident = f"c{uuid.uuid4().hex[:8]}"
    rds = aws.client("rds")
    rds.create_db_cluster(DBClusterIdentifier=ident, Engine="aurora-postgresql", MasterUsername="dbadmin",
                          MasterUserPassword="not-a-real-one-1")
    for member in ("writer", "reader"):  # a failover needs somewhere to go
        rds.create_db_instance(DBInstanceIdentifier=f"{ident}-{member}", DBClusterIdentifier=ident,
                               Engine="aurora-postgresql", DBInstanceClass="db.r6g.large")
    endpoints = _endpoints(aws, outputs_file, {"username": "app", "password": "x", "dbClusterIdentifier": ident})

    AwsInjector(endpoints, aws, wait=FAST).fail_over_database(partition=False)

    assert ("FailoverDBCluster", {"DBClusterIdentifier": ident}) in calls


def test_cache_failover_tests_failover_on_one_node_group(aws, outputs_file, calls, monkeypatch):
    endpoints = _endpoints(aws, outputs_file, {"username": "u", "password": "x"})
    group = {"ReplicationGroupId": "prod-cache", "Status": "available",
             "ConfigurationEndpoint": {"Address": endpoints.cache.endpoint.host, "Port": 6380}, "NodeGroups": []}
    original = AwsTarget.client

    def client(self, service, **kwargs):  # ElastiCache answers from here: moto lacks TestFailover
        made = original(self, service, **kwargs)
        ok = SimpleNamespace(status_code=200, headers={})
        made.meta.events.register("before-call.elasticache.DescribeReplicationGroups",
                                  lambda **_: (ok, {"ReplicationGroups": [group]}))
        made.meta.events.register("before-call.elasticache.TestFailover", lambda **_: (ok, {"ReplicationGroup": group}))
        return made

    monkeypatch.setattr(AwsTarget, "client", client)

    event = AwsInjector(endpoints, aws, wait=FAST).fail_over_cache(shard=2, partition=False)

    assert ("TestFailover", {"ReplicationGroupId": "prod-cache", "NodeGroupId": "0002"}) in calls
    assert event.injected == "test_failover(prod-cache, 0002)"


def test_an_aws_failover_is_refused_without_confirmation(outputs_file, capsys):
    path = outputs_file(cdk_outputs("prod"))

    rc = main(["drill", "db-failover", "--outputs", str(path)])

    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "fails over the real prod environment: pass --yes" in err


def test_the_restore_drill_on_aws_asks_for_confirmation_first(outputs_file, capsys):
    """It writes into the real environment and creates billed copies: --yes, or the env's name typed."""
    path = outputs_file(cdk_outputs("prod"))

    rc = main(["drill", "restore", "--outputs", str(path)])

    err = capsys.readouterr().err.strip()
    assert rc == 2 and err == ("app_code drill: drill restore writes markers into the real prod environment and "
                               "restores its database, table and cache into new, billed copies (removed at the end): "
                               "pass --yes to confirm (no terminal to ask)")


@pytest.mark.parametrize("argv, message", [
    (["drill", "cache-failover", "--partition-first", "--yes"], "--partition-first is a fault of the local twin"),
    (["drill", "cache-failover", "--shard", "0"], "--shard 0: node groups are numbered from 1"),
    (["drill", "chaos-monkey"], "invalid choice: 'chaos-monkey'"),
    (["drill", "replica-lag"], "replica-lag pauses replay with pg_wal_replay_pause(), which RDS does not grant"),
])
def test_bad_drill_input_is_one_line_and_exit_2(outputs_file, capsys, argv, message):
    path = outputs_file(cdk_outputs("prod"))
    with pytest.raises(SystemExit) if argv[1] == "chaos-monkey" else _no_raise() as raised:
        rc = main([*argv, "--outputs", str(path)])
    rc = raised.value.code if raised else rc  # type: ignore[union-attr]
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and message in err, err


class _no_raise:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def test_a_missing_haproxy_is_one_error_naming_the_package(monkeypatch):
    from cdk_data_tier.app.local.binaries import MissingBinary, haproxy

    monkeypatch.setenv("TWIN_HAPROXY", "/nonexistent/haproxy")
    with pytest.raises(MissingBinary, match=r"haproxy not found \(TWIN_HAPROXY=/nonexistent/haproxy\); install "
                                            r"haproxy 2.4 or newer .*apt-get install haproxy"):
        haproxy()
