"""The install step of the synthesized App stack, run here: it proves the wheelhouse is complete.

The document's script is taken from dev's template with the association's parameters filled in, as SSM
Agent would, and run with bash. The assets `cdk deploy` would upload sit in moto's S3, in the bucket and
under the keys of the asset manifest, and the script fetches them with the real `aws` CLI. pip gets no index
and a dead proxy, so nothing can come from the internet. Only what belongs to the host itself is different
here: the install root is a temporary folder instead of /opt/cdk-data-tier, and `rpm` and `useradd` are
stand-ins that report python3.11 installed and the `data-tier` account created (this machine keeps its
packages and its accounts). The installed venv then runs the workloads against the dev twin.

dev's host is x86_64 with glibc 2.34, so its wheelhouse loads on this x86_64 machine (glibc 2.36). On a
machine that cannot load the host's wheels, the same code path builds a wheelhouse for this machine instead
(`Platform.local()`) and the App stack is synthesized with it; the Graviton wheelhouse is checked for its
wheels' tags only (tests/stacks/test_app_stack.py), since no aarch64 machine is at hand.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.constructs.wheelhouse import Platform, build_wheelhouse
from cdk_data_tier.stacks.app_release import EXTRA, PROJECT_DIR
from tests.fixtures_synth import Synthesized, synthesize
from tests.moto_server import moto_server

REGION = "us-east-1"
STAND_INS = {"rpm": "exit 0\n", "useradd": "exit 0\n"}


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def release(dev: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """dev's App stack, with a wheelhouse this machine can load."""
    host = dev.tier.app.install.wheelhouse.platform
    here = Platform.local()
    if here.machine == host.machine and here.glibc >= host.glibc and here.python == host.python:
        return dev
    wheelhouse = build_wheelhouse(PROJECT_DIR, extra=EXTRA, platform=here)
    return synthesize("dev", tmp_path_factory.mktemp("cdk.out.local"), wheelhouse=wheelhouse)


def _association(synth: Synthesized) -> dict[str, str]:
    (association,) = synth.template("App").find_resources("AWS::SSM::Association").values()
    return {k: v[0] for k, v in association["Properties"]["Parameters"].items()}


def _upload(synth: Synthesized, endpoint: str, **replace: bytes) -> None:
    """What `cdk deploy` publishes: each asset of the manifest, a folder zipped, under its object key."""
    import boto3

    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="x",
                      aws_secret_access_key="x")
    manifest = json.loads((synth.outdir / f"{synth.config.stack_name('App')}.assets.json").read_text())
    for asset in manifest["files"].values():
        if not asset["displayName"].startswith("Install/"):
            continue
        (dest,) = asset["destinations"].values()
        source = synth.outdir / asset["source"]["path"]
        if asset["source"]["packaging"] == "zip":
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in sorted(source.iterdir()):
                    archive.write(path, path.name)
            body = buffer.getvalue()
        else:
            body = source.read_bytes()
        try:
            s3.create_bucket(Bucket=dest["bucketName"])
        except s3.exceptions.BucketAlreadyOwnedByYou:
            pass
        s3.put_object(Bucket=dest["bucketName"], Key=dest["objectKey"], Body=body)
    for key, body in replace.items():
        s3.put_object(Bucket=_association(synth)["Bucket"], Key=key, Body=body)


def _script(synth: Synthesized, root: Path, **parameters: str) -> str:
    """The document's script as SSM Agent runs it: its parameters pasted in from the association."""
    (document,) = synth.template("App").find_resources("AWS::SSM::Document").values()
    (step,) = document["Properties"]["Content"]["mainSteps"]
    text = "\n".join(step["inputs"]["runCommand"]) + "\n"
    for name, value in {**_association(synth), **parameters}.items():
        text = text.replace(f"{{{{ {name} }}}}", value)
    assert "{{" not in text
    assert text.count("root=/opt/cdk-data-tier\n") == 1
    return text.replace("root=/opt/cdk-data-tier\n", f"root={root}\n")


def _host_env(tmp: Path, endpoint: str) -> dict[str, str]:
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in STAND_INS.items():
        (bin_dir / name).write_text("#!/bin/sh\n" + body)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "AWS_", "VIRTUAL_ENV"))}
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return {
        **env, "PATH": f"{bin_dir}:{env['PATH']}", "HOME": str(home),
        # The instance role's stand-in: moto's S3, placeholder keys, none of this machine's AWS config.
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # No index, no pip config, and a proxy that answers nothing: only the wheelhouse can be installed.
        "PIP_CONFIG_FILE": os.devnull, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _run(script: str, env: dict[str, str], tmp: Path) -> subprocess.CompletedProcess[str]:
    path = tmp / "install.sh"
    path.write_text(script)
    assert shutil.which("aws", path=env["PATH"]), "the aws CLI is needed here, as on Amazon Linux 2023"
    return subprocess.run(["bash", str(path)], env=env, capture_output=True, text=True, timeout=900, check=False)


@pytest.mark.engines
def test_the_release_installs_offline_and_runs_the_workloads(release: Synthesized, moto_s3: str, twin: Any,
                                                            tmp_path: Path) -> None:
    _upload(release, moto_s3)
    root, env = tmp_path / "opt", _host_env(tmp_path, moto_s3)
    params = _association(release)

    first = _run(_script(release, root), env, tmp_path)

    assert first.returncode == 0, first.stderr
    venv = root / "releases" / params["Release"] / "venv"
    assert (root / "venv").resolve() == venv
    assert first.stdout.strip().endswith(f"installed {params['Requirement']} (release {params['Release']}) at "
                                         f"{root}/venv")
    frozen = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True,
                            env=env, check=True).stdout.split()
    pins = (release.outdir / json.loads((release.outdir / "dev-App.assets.json").read_text())["files"][
        params["DependenciesKey"].removesuffix(".zip")]["source"]["path"] / "requirements.txt").read_text().split()
    installed = {line.lower().replace("_", "-") for line in frozen if not line.startswith(("pip==", "setuptools=="))}
    assert installed == {p.lower() for p in pins} | {params["Requirement"]}

    # The release runs the workloads against real engines, with only what the wheelhouse held.
    ran = subprocess.run([str(root / "venv" / "bin" / "data-tier"), "run", "all", "--outputs", str(twin.state_dir),
                          "--no-progress"], env={**env, "NO_COLOR": "1"}, capture_output=True, text=True,
                         timeout=600, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "FAILED" not in ran.stdout and "sql" in ran.stdout and "dynamo" in ran.stdout and "cache" in ran.stdout

    again = _run(_script(release, root), env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "is already installed" in again.stdout


def test_a_wheelhouse_missing_a_wheel_fails_and_leaves_the_installed_release(release: Synthesized, moto_s3: str,
                                                                            tmp_path: Path) -> None:
    """The same install proves nothing unless it can fail: without one wheel, pip stops and nothing is half-done."""
    params = _association(release)
    staged = release.outdir / json.loads((release.outdir / "dev-App.assets.json").read_text())["files"][
        params["DependenciesKey"].removesuffix(".zip")]["source"]["path"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(staged.iterdir()):
            if not path.name.startswith("redis-"):
                archive.write(path, path.name)
    broken = "f" * 64 + ".zip"
    _upload(release, moto_s3, **{broken: buffer.getvalue()})
    root, env = tmp_path / "opt", _host_env(tmp_path, moto_s3)
    (root / "releases" / "earlier" / "venv").mkdir(parents=True)
    (root / "venv").symlink_to(root / "releases" / "earlier" / "venv")

    failed = _run(_script(release, root, DependenciesKey=broken, Release="broken"), env, tmp_path)

    assert failed.returncode != 0
    assert "redis==" in failed.stderr and "No matching distribution" in failed.stderr, failed.stderr
    assert (root / "venv").resolve() == root / "releases" / "earlier" / "venv"  # still the earlier release
    assert sorted(p.name for p in (root / "releases").iterdir()) == ["earlier"]  # the partial venv is gone
