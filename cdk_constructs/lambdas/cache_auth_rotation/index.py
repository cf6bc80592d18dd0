"""Secrets Manager rotation of an ElastiCache AUTH token or RBAC user password.

Secrets Manager calls this once per step (createSecret, setSecret, testSecret, finishSecret), each
with the version being rotated in (ClientRequestToken). Every step may run again after a failure,
so each one checks what is already done before doing it.

The cache accepts two credentials while clients move over:
- AUTH token: setSecret ROTATEs the new token in (old and new both work); once Secrets Manager has
  made it AWSCURRENT, finishSecret SETs it as the only token. Connections already open stay logged in.
- RBAC user: setSecret gives the user [current, new] as its two passwords. The old one keeps working
  until the next rotation replaces it, a whole rotation period for clients to re-read the secret.

Environment: MODE (auth_token | rbac), REPLICATION_GROUP_ID or USER_ID, and the VPC endpoints'
URLs (SECRETS_MANAGER_ENDPOINT, ELASTICACHE_ENDPOINT) when the function has no other way out.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

import boto3

log = logging.getLogger()
log.setLevel(logging.INFO)

PASSWORD_LENGTH = 64  # the construct's generated secrets: 64 alphanumerics, within ElastiCache's 16-128
POLL_SECONDS = 10
SAFETY_MARGIN_MS = 30_000  # stop polling while there is still time to fail cleanly


class NotReady(Exception):
    """The cache is still applying a change; Secrets Manager retries the rotation later."""


def _client(service: str, endpoint_env: str) -> Any:
    return boto3.client(service, endpoint_url=os.environ.get(endpoint_env) or None)


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    sm = _client("secretsmanager", "SECRETS_MANAGER_ENDPOINT")
    cache = Cache.from_env(_client("elasticache", "ELASTICACHE_ENDPOINT"))
    metadata = sm.describe_secret(SecretId=arn)
    if not metadata.get("RotationEnabled"):
        raise ValueError(f"secret {arn} does not have rotation enabled")
    stages = metadata.get("VersionIdsToStages", {})
    if token not in stages:
        raise ValueError(f"secret {arn} has no version {token} to rotate to")
    if "AWSCURRENT" in stages[token]:
        log.info("version %s of %s is already AWSCURRENT", token, arn)
        return
    if "AWSPENDING" not in stages[token]:
        raise ValueError(f"version {token} of secret {arn} is not AWSPENDING")
    steps = {"createSecret": create_secret, "setSecret": set_secret, "testSecret": test_secret,
             "finishSecret": finish_secret}
    if step not in steps:
        raise ValueError(f"step {step!r} is not a rotation step: one of {', '.join(steps)}")
    deadline = time.monotonic() + (context.get_remaining_time_in_millis() - SAFETY_MARGIN_MS) / 1000
    steps[step](sm, cache, arn, token, deadline)


class Cache:
    def __init__(self, client: Any, mode: str, target: str) -> None:
        self.client, self.mode, self.target = client, mode, target

    @classmethod
    def from_env(cls, client: Any) -> Cache:
        mode = os.environ.get("MODE", "")
        key = {"auth_token": "REPLICATION_GROUP_ID", "rbac": "USER_ID"}.get(mode)
        if key is None:
            raise ValueError(f"MODE={mode!r} is not allowed: 'auth_token' or 'rbac'")
        if not os.environ.get(key):
            raise ValueError(f"{key} is not set: MODE={mode} rotates the credential of that resource")
        return cls(client, mode, os.environ[key])

    def status(self) -> str:
        if self.mode == "rbac":
            return str(self.client.describe_users(UserId=self.target)["Users"][0]["Status"])
        group = self.client.describe_replication_groups(ReplicationGroupId=self.target)["ReplicationGroups"][0]
        if group.get("PendingModifiedValues", {}).get("AuthTokenStatus"):
            return "modifying"
        return str(group["Status"])

    def ready(self) -> bool:
        return self.status() in ("available", "active")

    def add(self, current: str, new: str) -> None:
        """Make `new` valid beside `current`."""
        if self.mode == "rbac":
            self.client.modify_user(UserId=self.target,
                                    AuthenticationMode={"Type": "password", "Passwords": [current, new]})
        else:
            self.client.modify_replication_group(ReplicationGroupId=self.target, AuthToken=new,
                                                 AuthTokenUpdateStrategy="ROTATE", ApplyImmediately=True)

    def settle(self, password: str) -> None:
        """Once clients read `password` as AWSCURRENT: AUTH tokens drop the old one (RBAC keeps it a period)."""
        if self.mode == "auth_token":
            self.client.modify_replication_group(ReplicationGroupId=self.target, AuthToken=password,
                                                 AuthTokenUpdateStrategy="SET", ApplyImmediately=True)


def _value(sm: Any, arn: str, stage: str, token: str | None = None) -> dict[str, Any]:
    kwargs = {"SecretId": arn, "VersionStage": stage, **({"VersionId": token} if token else {})}
    value = json.loads(sm.get_secret_value(**kwargs)["SecretString"])
    if not isinstance(value, dict) or not isinstance(value.get("password"), str):
        raise ValueError(f"secret {arn} ({stage}) is not JSON with a string 'password'")
    return value


def create_secret(sm: Any, cache: Cache, arn: str, token: str, deadline: float) -> None:
    current = _value(sm, arn, "AWSCURRENT")
    try:
        if _value(sm, arn, "AWSPENDING", token)["password"] != current["password"]:
            log.info("createSecret: version %s already holds a new password", token)
            return
        # A pending version that repeats the current password (some emulators copy it in) is no rotation.
    except sm.exceptions.ResourceNotFoundException:
        pass
    password = sm.get_random_password(PasswordLength=PASSWORD_LENGTH, ExcludePunctuation=True,
                                      IncludeSpace=False)["RandomPassword"]
    sm.put_secret_value(SecretId=arn, ClientRequestToken=token, SecretString=json.dumps({**current,
                        "password": password}), VersionStages=["AWSPENDING"])
    log.info("createSecret: new password stored as version %s", token)


def set_secret(sm: Any, cache: Cache, arn: str, token: str, deadline: float) -> None:
    current, pending = _value(sm, arn, "AWSCURRENT"), _value(sm, arn, "AWSPENDING", token)
    if not cache.ready():
        raise NotReady(f"{cache.target} is {cache.status()}: it takes no new credential until it is available")
    cache.add(current["password"], pending["password"])
    log.info("setSecret: %s now accepts version %s beside the current one", cache.target, token)


def test_secret(sm: Any, cache: Cache, arn: str, token: str, deadline: float) -> None:
    """The change is live once the cache has applied it; until then the new password may be refused."""
    while not cache.ready():
        if time.monotonic() + POLL_SECONDS > deadline:
            raise NotReady(f"{cache.target} is still {cache.status()}: the new credential is not applied yet")
        time.sleep(POLL_SECONDS)
    log.info("testSecret: %s has applied version %s", cache.target, token)


def finish_secret(sm: Any, cache: Cache, arn: str, token: str, deadline: float) -> None:
    stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
    sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                   RemoveFromVersionId=current)
    cache.settle(_value(sm, arn, "AWSCURRENT")["password"])
    log.info("finishSecret: version %s is AWSCURRENT (was %s)", token, current)
