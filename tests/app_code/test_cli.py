"""`python -m app_code run`: exit codes, one-line errors, and a real run against the twin."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cdk_data_tier.app.cli import main
from tests.app_code.conftest import cdk_outputs

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "app_code", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_unknown_workload_is_exit_2_with_one_line():
    result = cli("run", "kafka", "--outputs", "outputs.json")
    assert result.returncode == 2
    assert "invalid choice: 'kafka' (choose from 'sql', 'dynamo', 'cache', 'all')" in one_line(result.stderr)


def test_an_outputs_source_is_required():
    result = cli("run", "sql")
    assert result.returncode == 2
    assert "one of the arguments --outputs --env is required" in one_line(result.stderr)


def test_a_missing_outputs_file_is_exit_2(tmp_path):
    result = cli("run", "all", "--outputs", str(tmp_path / "outputs.json"))
    assert result.returncode == 2
    assert one_line(result.stderr) == f"app_code run: outputs file {tmp_path}/outputs.json does not exist"


def test_a_malformed_outputs_file_is_exit_2(outputs_file):
    path = outputs_file("{'dev-Network': ")
    result = cli("run", "dynamo", "--outputs", str(path))
    assert result.returncode == 2
    assert one_line(result.stderr).startswith(f"app_code run: outputs file {path}: not JSON")


def test_outputs_without_the_workloads_stack_name_it(outputs_file):
    data = {k: v for k, v in cdk_outputs().items() if k != "dev-Dynamo"}
    result = cli("run", "dynamo", "--outputs", str(outputs_file(data)))
    assert result.returncode == 2
    assert "stack dev-Dynamo not found" in one_line(result.stderr)


def test_a_twin_that_is_not_up_is_exit_2(tmp_path, outputs_file):
    dead = free_port()
    outputs_file(cdk_outputs(Database={"WriterEndpoint": f"127.0.0.1:{free_port()}", "ReaderEndpoints": ""}))
    (tmp_path / "twin.json").write_text(json.dumps({"env": "dev", "region": "us-east-1", "ca_bundle": "",
                                                    "aws_endpoint_url": f"http://127.0.0.1:{dead}"}))
    result = cli("run", "sql", "--outputs", str(tmp_path / "outputs.json"))
    assert result.returncode == 2
    line = one_line(result.stderr)
    assert f"the AWS API endpoint (moto) at 127.0.0.1:{dead} is unreachable" in line
    assert "is the twin up? (python -m app_code local up -e dev)" in line


def test_an_unreachable_database_is_exit_2(moto_url, outputs_file, tmp_path):
    port = free_port()
    outputs_file(cdk_outputs(Database={"WriterEndpoint": f"127.0.0.1:{port}", "ReaderEndpoints": ""}))
    (tmp_path / "twin.json").write_text(json.dumps({"env": "dev", "region": "us-east-1",
                                                    "aws_endpoint_url": moto_url}))
    assert main(["run", "sql", "--outputs", str(tmp_path / "outputs.json"), "--no-progress"]) == 2


def test_describe_stacks_without_stacks_is_exit_2(moto_url):
    result = cli("run", "dynamo", "--env", "nosuchenv", env={"AWS_ENDPOINT_URL": moto_url,
                                                            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
                                                            "AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 2
    assert "CloudFormation has no stack nosuchenv-" in one_line(result.stderr)


def test_describe_stacks_at_an_unreachable_endpoint_is_exit_2():
    port = free_port()
    result = cli("run", "dynamo", "--env", "dev", env={"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"})
    assert result.returncode == 2
    assert f"AWS_ENDPOINT_URL at 127.0.0.1:{port} is unreachable" in one_line(result.stderr)


@pytest.mark.engines
def test_run_sql_on_the_twin_prints_the_summary_and_exits_0(twin):
    result = cli("run", "sql", "--outputs", str(twin.outputs_file), "--no-progress")
    assert result.returncode == 0, result.stderr
    for text in ("app_code run summary", "operation", "p50 ms", "p99 ms", "ops/s", "verified",
                 "bulk load (COPY)", "3,000", "OK"):
        assert text in result.stdout
    assert "FAIL" not in result.stdout


@pytest.mark.engines
def test_a_verification_mismatch_exits_non_zero(twin, tmp_path):
    """Outputs that name an index the table lacks: the read-back check fails and so does the run."""
    outputs = json.loads(twin.outputs_file.read_text())
    outputs[f"{twin.env}-Dynamo"]["GsiNames"] += ",ghostIndex"
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    shutil.copyfile(twin.twin_file, tmp_path / "twin.json")
    result = cli("run", "dynamo", "--outputs", str(tmp_path / "outputs.json"), "--no-progress")
    assert result.returncode == 1
    assert "FAIL" in result.stdout
    assert "FAILED: " in result.stderr and "dynamo describe table" in result.stderr


@pytest.mark.engines
def test_a_database_behind_a_foreign_ca_is_exit_2_in_one_line(twin, tmp_path):
    from cdk_data_tier.app.local.tls import make_tls

    other = make_tls(tmp_path / "other", "stranger")
    result = cli("run", "sql", "--outputs", str(twin.outputs_file), "--db-ca-bundle", str(other.ca))  # bars on
    assert result.returncode == 2
    assert "database writer at 127.0.0.1:" in one_line(result.stderr)
    assert "certificate verify failed" in result.stderr


def test_app_code_never_imports_aws_cdk():
    code = ("import sys, app_code.cli, app_code.sql, app_code.dynamo, app_code.cache, app_code.ops.commands, app_code.demo, app_code.run, app_code.targets; "
            "app_code.cli.build_parser(); print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('aws_cdk', 'constructs', 'jsii', 'cdk_nag')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.engines
def test_run_with_env_reads_describe_stacks_and_runs_on_real_engines(twin):
    """The --env path: the same outputs published as CloudFormation stacks (in the twin's moto) are enough."""
    import uuid

    from cdk_data_tier.app.endpoints import TWIN_CREDENTIALS, AwsTarget

    env = f"cfn{uuid.uuid4().hex[:6]}"
    aws = AwsTarget(region=twin.region, endpoint_url=twin.aws_endpoint_url, static_credentials=TWIN_CREDENTIALS)
    cfn = aws.client("cloudformation")
    for concern in ("Database", "Dynamo", "Cache"):
        outputs = twin.stack(concern)
        cfn.create_stack(StackName=f"{env}-{concern}", TemplateBody=json.dumps({
            "Resources": {"Marker": {"Type": "AWS::SSM::Parameter", "Properties": {
                "Type": "String", "Value": concern, "Name": f"/{env}/{concern}"}}},
            "Outputs": {k: {"Value": v} for k, v in outputs.items() if v != ""}}))
    result = cli("run", "sql", "--env", env, "--db-ca-bundle", twin.ca_bundle, "--cache-ca-bundle", twin.ca_bundle,
                 "--no-progress", env={"AWS_ENDPOINT_URL": twin.aws_endpoint_url, "AWS_REGION": twin.region,
                                       "AWS_ACCESS_KEY_ID": "twin", "AWS_SECRET_ACCESS_KEY": "twin"})
    assert result.returncode == 0, result.stderr
    assert "bulk load (COPY)" in result.stdout and "FAIL" not in result.stdout
