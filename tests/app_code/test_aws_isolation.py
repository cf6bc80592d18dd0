"""The user's AWS configuration: never read on the twin's path, honoured (profile included) on the AWS path.

A user's shell often has AWS_PROFILE set, SSO, or a `credential_process`; none of it may change what the twin
does, and their keys must never be sent to a loopback moto. Against AWS, `--profile` picks the profile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from tests.app_code.conftest import REGION
from tests.fixtures_twin import reachable_state_dir

ROOT = Path(__file__).resolve().parents[2]
USER_KEY = "AKIAUSERSREALKEY0001"


def credential_process(tmp_path: Path, name: str, *, key: str | None) -> tuple[str, Path]:
    """A credential_process line that leaves a marker when it runs, and prints `key` (or fails without one)."""
    marker = tmp_path / f"{name}.ran"
    script = tmp_path / f"{name}.py"
    reply = json.dumps({"Version": 1, "AccessKeyId": key, "SecretAccessKey": "secret"}) if key else ""
    script.write_text(f"import pathlib, sys\npathlib.Path({str(marker)!r}).touch()\n"
                      + (f"print({reply!r})\n" if key else "sys.exit('the SSO session has expired')\n"))
    return f"{sys.executable} {script}", marker


def users_shell(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of an engineer's shell: a profile that isn't there, a default profile whose
    credential_process fails, real-looking keys, and a proxy. Returns it and the process's marker."""
    process, marker = credential_process(tmp_path, "sso", key=None)
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {process}\nregion = eu-west-3\n"
                      f"[profile work]\ncredential_process = {process}\n")
    return {**os.environ, "AWS_PROFILE": "some-profile-of-mine", "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"), "AWS_ACCESS_KEY_ID": USER_KEY,
            "AWS_SECRET_ACCESS_KEY": "user-secret", "AWS_REGION": "eu-west-3",
            "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}, marker


def signed_with(client) -> list[str]:
    """The access key of every request the client sends, read off its Authorization header."""
    keys: list[str] = []

    def record(request, **_):
        header = request.headers.get("Authorization", b"")
        text = header.decode() if isinstance(header, bytes) else header
        keys.append(text.split("Credential=", 1)[1].split("/", 1)[0])

    client.meta.events.register("before-send", record)
    return keys


def app_code(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app_code", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.engines
def test_the_twin_path_ignores_the_users_aws_configuration(dev, tmp_path: Path) -> None:
    env, marker = users_shell(tmp_path)
    state = reachable_state_dir("dev")
    try:
        up = app_code("local", "up", "-e", "dev", "--state-dir", str(state), "--cdk-out", str(dev.outdir), env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        status = app_code("local", "status", "-e", "dev", "--state-dir", str(state), env=env)
        assert status.returncode == 0 and "moto" in status.stdout, status.stdout + status.stderr
        assert "unhealthy" not in status.stdout
        run = app_code("run", "dynamo", "--outputs", str(state), "--no-progress", env=env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "FAIL" not in run.stdout
    finally:
        down = app_code("local", "down", "-e", "dev", "--state-dir", str(state), env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert not marker.exists(), "the twin ran the user's credential_process"


@pytest.mark.engines
def test_the_users_keys_never_reach_the_twins_moto(twin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env, marker = users_shell(tmp_path)
    for key in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(key, env[key])
    for make in (lambda s: Endpoints.from_twin(twin.state_dir).aws.client(s), twin.client):
        ddb = make("dynamodb")
        keys = signed_with(ddb)
        ddb.list_tables()  # through the proxy this would fail: the twin's calls go straight to loopback
        assert keys == ["twin"]
        assert ddb.meta.region_name == twin.region  # not the shell's eu-west-3
    assert not marker.exists()


def test_the_aws_path_signs_with_the_named_profile(moto_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    alpha, alpha_ran = credential_process(tmp_path, "alpha", key="AKIAALPHAPROFILE0001")
    config = tmp_path / "config"
    config.write_text(f"[profile alpha]\ncredential_process = {alpha}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "some-other-profile")  # --profile wins over the shell's choice
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    sts = AwsTarget(region=REGION, endpoint_url=moto_url, profile="alpha").client("sts")
    keys = signed_with(sts)
    assert sts.get_caller_identity()["Account"]
    assert keys == ["AKIAALPHAPROFILE0001"] and alpha_ran.exists()


def test_ops_against_aws_honour_profile(moto_url: str, tmp_path: Path, dev, monkeypatch: pytest.MonkeyPatch) -> None:
    alpha, alpha_ran = credential_process(tmp_path, "alpha", key="AKIAALPHAPROFILE0001")
    config = tmp_path / "config"
    config.write_text(f"[profile alpha]\ncredential_process = {alpha}\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "AWS_CONFIG_FILE": str(config),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_ENDPOINT_URL": moto_url}
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "987654321098")  # an account of its own: other tests' leftovers aren't in it
    result = app_code("ops", "teardown-check", "--env", "dev", "--cdk-out", str(dev.outdir), "--region", REGION,
                      "--profile", "alpha", env=env)
    assert result.returncode == 0, result.stderr
    assert "nothing left behind" in result.stdout
    assert alpha_ran.exists(), "the named profile's credential_process was not used"


def test_a_profile_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("[profile alpha]\nregion = us-east-1\n")
    env = {**os.environ, "AWS_CONFIG_FILE": str(config)}
    result = app_code("ops", "teardown-check", "--env", "dev", "--profile", "nosuch", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"app_code ops: AWS profile 'nosuch' (--profile) is not in {config}: expected a "
                                     "[profile nosuch] section (aws configure --profile nosuch)")


@pytest.mark.engines
def test_a_profile_for_the_twin_is_refused(twin) -> None:
    result = app_code("run", "dynamo", "--outputs", str(twin.state_dir), "--profile", "alpha", env=dict(os.environ))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"app_code run: --profile alpha: {twin.state_dir} is a local twin's, which "
                                     "never uses AWS profiles")
