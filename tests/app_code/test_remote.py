"""`remote run` against moto's server: it finds the app host from the App stack's outputs, sends the command with
SendCommand, waits with the `command_executed` waiter, and prints the host's output.

moto runs no command: every invocation it reports is `Success` with empty output. The host's side of a failure
(a check that did not verify, exit 1, its table on stdout) is therefore answered for GetCommandInvocation as it
leaves boto3, in the shape the SSM API documents; SendCommand and the waiter's polling still reach moto.
"""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace
from typing import Any

import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import AwsTarget
from tests.app_code.conftest import REGION

VENV = "/opt/cdk-data-tier/venv"


def _stack(aws: AwsTarget, name: str, outputs: dict[str, str]) -> None:
    """A CloudFormation stack in moto whose outputs are `outputs` (one harmless resource: a stack needs one)."""
    template = {"Resources": {"Marker": {"Type": "AWS::SSM::Parameter",
                                         "Properties": {"Name": f"/{name}/marker", "Type": "String", "Value": name}}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def _app_host(aws: AwsTarget, env: str, *, state: str = "running") -> str:
    ec2 = aws.client("ec2")
    instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=[instance])
    _stack(aws, f"{env}-App", {"AppHostInstanceId": instance, "AppVenv": VENV, "AppRunAs": "data-tier",
                               "AppRelease": "0.3.0-abc-def"})
    return instance


def _command_id(request: dict[str, Any]) -> str:
    """The CommandId of a GetCommandInvocation request, as botocore serialized it."""
    return json.loads(request["body"])["CommandId"]


@pytest.fixture
def on_moto(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return AwsTarget(region=REGION, endpoint_url=moto_url)


def test_remote_run_sends_the_hosts_own_cli_and_waits_for_it(on_moto, calls, capsys):
    env = f"r{uuid.uuid4().hex[:6]}"
    instance = _app_host(on_moto, env)

    rc = main(["remote", "run", "all", "--env", env, "--region", REGION])

    assert rc == 0, capsys.readouterr().err
    (sent,) = [p for op, p in calls if op == "SendCommand"]
    expected = f"runuser -u data-tier -- {VENV}/bin/data-tier run all --env {env} --region {REGION} --no-progress"
    assert sent["InstanceIds"] == [instance] and sent["DocumentName"] == "AWS-RunShellScript"
    assert sent["Parameters"] == {"commands": [expected], "executionTimeout": ["1800"]}
    # moto kept the command as sent, and the waiter asked for its invocation on that instance.
    (command,) = [c for c in on_moto.client("ssm").list_commands()["Commands"] if c["InstanceIds"] == [instance]]
    assert command["Parameters"]["commands"] == [expected]
    assert ("GetCommandInvocation", {"CommandId": command["CommandId"], "InstanceId": instance}) in calls
    assert f"AWS-RunShellScript {command['CommandId']} on {instance}" in capsys.readouterr().err


def test_a_failed_check_on_the_host_prints_its_table_and_exits_1(on_moto, monkeypatch, capsys):
    env = f"r{uuid.uuid4().hex[:6]}"
    instance = _app_host(on_moto, env)
    table = "workload  check   result\nsql       insert  FAILED  1 row missing\n"
    answer = {"InstanceId": instance, "Status": "Failed", "StatusDetails": "Failed", "ResponseCode": 1,
              "StandardOutputContent": table, "StandardErrorContent": "FAILED: 1 check(s) did not verify\n"}
    original = AwsTarget.client

    def client(self, service, **kwargs):
        made = original(self, service, **kwargs)
        ok = SimpleNamespace(status_code=200, headers={})
        made.meta.events.register("before-call.ssm.GetCommandInvocation",
                                  lambda params, **_: (ok, {**answer, "CommandId": _command_id(params)}))
        return made

    monkeypatch.setattr(AwsTarget, "client", client)

    rc = main(["remote", "run", "sql", "--env", env, "--region", REGION, "--timeout", "60"])

    out, err = capsys.readouterr()
    assert rc == 1
    assert out == table
    assert "FAILED: 1 check(s) did not verify" in err


def test_a_command_that_timed_out_on_the_host_is_a_failure_with_one_line(on_moto, monkeypatch, capsys):
    env = f"r{uuid.uuid4().hex[:6]}"
    instance = _app_host(on_moto, env)
    original = AwsTarget.client

    def client(self, service, **kwargs):
        made = original(self, service, **kwargs)
        ok = SimpleNamespace(status_code=200, headers={})
        made.meta.events.register("before-call.ssm.GetCommandInvocation", lambda params, **_: (ok, {
            "CommandId": _command_id(params), "InstanceId": instance, "Status": "TimedOut",
            "StatusDetails": "ExecutionTimedOut", "ResponseCode": -1, "StandardOutputContent": ""}))
        return made

    monkeypatch.setattr(AwsTarget, "client", client)

    rc = main(["remote", "run", "dynamo", "--env", env, "--region", REGION])

    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1
    assert err[-1] == f"app_code remote: the command ended ExecutionTimedOut (exit -1) on {instance}"
