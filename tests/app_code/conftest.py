"""Fixtures of the app_code tests that need no twin: an in-process moto server and outputs files."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from cdk_data_tier.app.endpoints import AwsTarget
from tests.moto_server import moto_server

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_url():
    """moto's real HTTP server on a free loopback port (boto3 talks to it like to AWS)."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        os.environ.setdefault(key, value)
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(moto_url) -> AwsTarget:
    return AwsTarget(region=REGION, endpoint_url=moto_url)


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, dict[str, Any]]]:
    """Every (operation, parameters) app_code's boto3 clients send, recorded as they leave boto3."""
    seen: list[tuple[str, dict[str, Any]]] = []
    original = AwsTarget.client

    def client(self, service, **kwargs):
        made = original(self, service, **kwargs)
        made.meta.events.register("provide-client-params.*.*", lambda params, model, **_: seen.append(
            (model.name, dict(params))))
        return made

    monkeypatch.setattr(AwsTarget, "client", client)
    return seen


def cdk_outputs(env: str = "dev", **overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    """What `cdk deploy --all --outputs-file` writes for the five stacks (values shaped like real ones)."""
    acct = "111111111111"
    outputs = {
        f"{env}-Network": {"VpcId": "vpc-0a1b2c3d4e5f60718", "BastionInstanceId": "i-0123456789abcdef0"},
        f"{env}-App": {"AppHostInstanceId": "i-0fedcba9876543210", "AppVenv": "/opt/cdk-data-tier/venv",
                       "AppRunAs": "data-tier", "AppRelease": "0.3.0-0123456789ab-ba9876543210"},
        f"{env}-Database": {
            "WriterEndpoint": f"{env}-database-primary.c9akciq32.{REGION}.rds.amazonaws.com",
            "ReaderEndpoints": f"{env}-database-replica1.c9akciq32.{REGION}.rds.amazonaws.com",
            "Port": "5433", "Engine": "postgres", "DatabaseName": "catalog",
            "SecretArn": f"arn:aws:secretsmanager:{REGION}:{acct}:secret:{env}/database/admin-AbCdEf",
            "AppSecretArn": f"arn:aws:secretsmanager:{REGION}:{acct}:secret:{env}/database/app-GhIjKl",
            "IamAuthUser": "app_iam",
        },
        f"{env}-Dynamo": {"TableName": f"{env}-catalog", "GsiNames": "gsi1", "LsiNames": "lsi1",
                          "TableArn": f"arn:aws:dynamodb:{REGION}:{acct}:table/{env}-catalog",
                          "PartitionKey": "pk", "SortKey": "sk"},
        f"{env}-Cache": {"Endpoint": f"master.{env}-cache.abc123.use1.cache.amazonaws.com", "Port": "6380",
                         "ReaderEndpoint": f"replica.{env}-cache.abc123.use1.cache.amazonaws.com",
                         "ClusterMode": "disabled", "TlsEnabled": "true", "Engine": "valkey",
                         "AuthSecretArn": f"arn:aws:secretsmanager:{REGION}:{acct}:secret:{env}/cache/auth-XyZ123"},
    }
    for stack, values in overrides.items():
        outputs[f"{env}-{stack}"] = {**outputs[f"{env}-{stack}"], **values}
    return outputs


@pytest.fixture
def outputs_file(tmp_path):
    def write(data: dict | str, name: str = "outputs.json"):
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
        return path
    return write
