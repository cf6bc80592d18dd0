"""A cache with RBAC users instead of an AUTH token: the template's user, its secret, no default user."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import redis

from app_code.local import twin
from tests.local.helpers import assembly, fixture_stacks
from tests.local.test_templates import RG, rbac

pytestmark = pytest.mark.engines


def _two_shards(stacks: dict[str, Any]) -> None:
    rbac(stacks)
    stacks["dev-Cache"]["Resources"][RG]["Properties"]["NumNodeGroups"] = 2


def test_rbac_user_on_a_cluster() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="twin-rbac-"))
    stacks = {"dev-Cache": fixture_stacks("prod", "Cache")["prod-Cache"]}
    out = assembly(scratch / "cdk.out", "dev", stacks, _two_shards)
    try:
        up = twin.up("dev", state_dir=scratch / "state", cdk_out=out)
    except BaseException:
        shutil.rmtree(scratch)
        raise
    try:
        cache = up.stack("Cache")
        sm = boto3.client("secretsmanager", endpoint_url=up.aws_endpoint_url, region_name=up.region,
                          aws_access_key_id="x", aws_secret_access_key="x")
        secret = json.loads(sm.get_secret_value(SecretId=cache["AuthSecretArn"])["SecretString"])
        assert secret["username"] == "app" and len(secret["password"]) >= 32
        host, port = cache["Endpoint"].rsplit(":", 1)
        app = redis.RedisCluster(host=host, port=int(port), username="app", password=secret["password"], ssl=True,
                                 ssl_ca_certs=up.ca_bundle, socket_timeout=5)
        for i in range(50):
            app.set(f"k{i}", i)
        assert app.get("k42") == b"42"
        with pytest.raises(redis.AuthenticationError):
            # No username means the default user, which is off.
            redis.Redis(host=host, port=int(port), password=secret["password"], ssl=True, ssl_ca_certs=up.ca_bundle,
                        socket_timeout=5).ping()
        assert all(r["health"] == "ok" for r in twin.status("dev", state_dir=up.state_dir))
    finally:
        twin.down("dev", state_dir=up.state_dir)
        left = up.state_dir.exists()
        shutil.rmtree(scratch, ignore_errors=True)
    assert not left
