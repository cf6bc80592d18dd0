"""The cache credential rotation function, step by step as Secrets Manager drives it, against moto.

moto keeps real secret versions and stages, and real replication groups and users. It takes but
ignores AuthToken on ModifyReplicationGroup, and has no ModifyUser at all: the ElastiCache calls are
recorded on the way out (and ModifyUser answered there), so each test checks what was asked of
ElastiCache and what Secrets Manager holds after every step.
"""

from __future__ import annotations

import importlib.util
import io
import json
import string
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from cdk_data_tier.constructs.cache_auth_rotation import HANDLER_DIR

REGION = "us-east-1"
STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")


def _load_handler() -> Any:
    spec = importlib.util.spec_from_file_location("cache_auth_rotation_index", Path(HANDLER_DIR) / "index.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler = _load_handler()


class Context:
    def __init__(self, remaining_ms: int = 120_000) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class Recorder:
    """ElastiCache Modify* calls as boto3 builds them; ModifyUser is answered here (moto lacks it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name.startswith("Modify"):
            self.calls.append((model.name, json.loads(json.dumps(params, default=str))))

    def answer(self, model: Any, **_: Any) -> Any:
        if model.name == "ModifyUser":
            user_id = self.calls[-1][1]["UserId"]
            return (AWSResponse("https://elasticache.invalid/", 200, {}, None),
                    {"UserId": user_id, "Status": "modifying", "ResponseMetadata": {"HTTPStatusCode": 200}})
        return None


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    for name in ("SECRETS_MANAGER_ENDPOINT", "ELASTICACHE_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    recorder = Recorder()
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("region_name", REGION)
        made = real_client(service, *args, **kwargs)
        if service == "elasticache":
            made.meta.events.register("before-parameter-build.elasticache.*", recorder.record)
            made.meta.events.register("before-call.elasticache.*", recorder.answer)
        return made

    with mock_aws():
        # handler.boto3 is boto3 itself: the tests' own clients go through here too, which records nothing
        # of theirs (they modify nothing).
        monkeypatch.setattr(handler.boto3, "client", client)
        yield recorder


def _secret(value: dict[str, Any]) -> tuple[Any, str]:
    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(Name=f"cache-{uuid.uuid4().hex[:8]}", SecretString=json.dumps(value))["ARN"]
    return sm, arn


def _enable_rotation(sm: Any, arn: str) -> str:
    """Turn rotation on as Secrets Manager does, and return the version it starts (AWSPENDING, no value yet)."""
    lam = boto3.client("lambda", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"r{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("index.py", "def lambda_handler(event, context): pass\n")
    fn = lam.create_function(FunctionName=f"f{uuid.uuid4().hex[:8]}", Runtime="python3.12", Role=role,
                             Handler="index.lambda_handler", Code={"ZipFile": buffer.getvalue()})["FunctionArn"]
    token = str(uuid.uuid4())
    sm.rotate_secret(SecretId=arn, ClientRequestToken=token, RotationLambdaARN=fn,
                     RotationRules={"AutomaticallyAfterDays": 30}, RotateImmediately=False)
    return token


def _pending_token(sm: Any, arn: str) -> str:
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    return next(v for v, s in stages.items() if "AWSPENDING" in s)


def _group(password: str) -> str:
    ec = boto3.client("elasticache", region_name=REGION)
    ec.create_replication_group(ReplicationGroupId="app-cache", ReplicationGroupDescription="x", Engine="valkey",
                                CacheNodeType="cache.t4g.micro", TransitEncryptionEnabled=True, AuthToken=password)
    return "app-cache"


def _run(arn: str, token: str, *steps: str, context: Context | None = None) -> None:
    for step in steps:
        handler.lambda_handler({"SecretId": arn, "ClientRequestToken": token, "Step": step}, context or Context())


def _current(sm: Any, arn: str) -> dict[str, Any]:
    # By stage: moto answers a bare GetSecretValue from the first version even after AWSCURRENT has moved.
    return json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])


def test_auth_token_rotates_in_then_is_set_once_clients_read_it(aws: Recorder, monkeypatch) -> None:
    old = "a" * 64
    sm, arn = _secret({"password": old})
    monkeypatch.setenv("MODE", "auth_token")
    monkeypatch.setenv("REPLICATION_GROUP_ID", _group(old))
    _enable_rotation(sm, arn)
    token = _pending_token(sm, arn)

    _run(arn, token, "createSecret")
    pending = json.loads(sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")["SecretString"])
    new = pending["password"]
    assert len(new) == 64 and set(new) <= set(string.ascii_letters + string.digits) and new != old
    assert _current(sm, arn)["password"] == old  # nothing changes for clients yet
    _run(arn, token, "createSecret")  # a retried step keeps the password it made
    assert json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")["SecretString"])["password"] == new

    _run(arn, token, "setSecret", "testSecret")
    assert aws.calls == [("ModifyReplicationGroup", {"ReplicationGroupId": "app-cache", "AuthToken": new,
                                                     "AuthTokenUpdateStrategy": "ROTATE", "ApplyImmediately": True})]
    assert _current(sm, arn)["password"] == old

    _run(arn, token, "finishSecret")
    assert _current(sm, arn)["password"] == new
    assert aws.calls[1] == ("ModifyReplicationGroup", {"ReplicationGroupId": "app-cache", "AuthToken": new,
                                                       "AuthTokenUpdateStrategy": "SET", "ApplyImmediately": True})
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    assert "AWSCURRENT" in stages[token] and any("AWSPREVIOUS" in s for s in stages.values())
    _run(arn, token, "finishSecret")  # already current: nothing more is asked of the cache
    assert len(aws.calls) == 2


def test_rbac_user_keeps_current_and_new_password_until_the_next_rotation(aws: Recorder, monkeypatch) -> None:
    old = "b" * 64
    sm, arn = _secret({"username": "app", "password": old})
    ec = boto3.client("elasticache", region_name=REGION)
    ec.create_user(UserId="app-user", UserName="app", Engine="valkey", AccessString="on ~* +@all", Passwords=[old])
    monkeypatch.setenv("MODE", "rbac")
    monkeypatch.setenv("USER_ID", "app-user")
    _enable_rotation(sm, arn)
    token = _pending_token(sm, arn)

    _run(arn, token, *STEPS)
    rotated = _current(sm, arn)
    assert rotated["username"] == "app" and rotated["password"] != old
    assert aws.calls == [("ModifyUser", {"UserId": "app-user", "AuthenticationMode": {
        "Type": "password", "Passwords": [old, rotated["password"]]}})]


def test_a_cache_still_applying_a_change_fails_the_step_cleanly(aws: Recorder, monkeypatch) -> None:
    sm, arn = _secret({"password": "c" * 64})
    monkeypatch.setenv("MODE", "auth_token")
    monkeypatch.setenv("REPLICATION_GROUP_ID", _group("c" * 64))
    _enable_rotation(sm, arn)
    token = _pending_token(sm, arn)
    _run(arn, token, "createSecret")
    monkeypatch.setattr(handler.Cache, "status", lambda self: "modifying")
    monkeypatch.setattr(handler, "POLL_SECONDS", 0.01)
    with pytest.raises(handler.NotReady, match="app-cache is modifying: it takes no new credential"):
        _run(arn, token, "setSecret")
    with pytest.raises(handler.NotReady, match="app-cache is still modifying"):
        _run(arn, token, "testSecret", context=Context(remaining_ms=handler.SAFETY_MARGIN_MS + 50))
    assert aws.calls == []
    assert _current(sm, arn)["password"] == "c" * 64


@pytest.mark.parametrize(("event_change", "match"), [
    ({"ClientRequestToken": "not-a-version"}, "has no version not-a-version to rotate to"),
    ({"Step": "undoSecret"}, "step 'undoSecret' is not a rotation step"),
])
def test_bad_events_are_one_clear_error(aws: Recorder, monkeypatch, event_change: dict[str, str], match: str) -> None:
    sm, arn = _secret({"password": "d" * 64})
    monkeypatch.setenv("MODE", "auth_token")
    monkeypatch.setenv("REPLICATION_GROUP_ID", _group("d" * 64))
    _enable_rotation(sm, arn)
    event = {"SecretId": arn, "ClientRequestToken": _pending_token(sm, arn), "Step": "createSecret", **event_change}
    with pytest.raises(ValueError, match=match):
        handler.lambda_handler(event, Context())


def test_a_secret_without_rotation_or_a_function_without_its_target_is_refused(aws: Recorder, monkeypatch) -> None:
    sm, arn = _secret({"password": "e" * 64})
    monkeypatch.setenv("MODE", "auth_token")
    monkeypatch.setenv("REPLICATION_GROUP_ID", "app-cache")
    token = sm.describe_secret(SecretId=arn)["VersionIdsToStages"].popitem()[0]
    with pytest.raises(ValueError, match="does not have rotation enabled"):
        _run(arn, token, "createSecret")
    monkeypatch.setenv("MODE", "rbac")
    monkeypatch.delenv("USER_ID", raising=False)
    with pytest.raises(ValueError, match="USER_ID is not set: MODE=rbac rotates the credential of that resource"):
        _run(arn, token, "createSecret")
    monkeypatch.setenv("MODE", "iam")
    with pytest.raises(ValueError, match="MODE='iam' is not allowed: 'auth_token' or 'rbac'"):
        _run(arn, token, "createSecret")
