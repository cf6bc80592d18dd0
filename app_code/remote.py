"""`remote run`: the workloads on the app host, through SSM Run Command, ending with the host's summary table.

The host runs `data-tier run WORKLOAD --env NAME` from the venv the App stack installed, as the unprivileged
account the stack names, and finds its endpoints itself (DescribeStacks with its own role). This side only
sends the command (AWS-RunShellScript), waits with boto3's `command_executed` waiter, bounded by the
command's own timeout, and prints what the host printed: its stdout here, its stderr to stderr. The exit code
is the host's (0 verified, 1 a check failed, 2 bad input there), or 1 when the command did not complete.
"""

from __future__ import annotations

import math
import shlex
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from cdk_data_tier.app.endpoints import AppEndpoints, Endpoints
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK, BadInput

DOCUMENT = "AWS-RunShellScript"
CONSOLE_SCRIPT = "data-tier"
# Run Command's limits on a shell command's run time (executionTimeout).
TIMEOUT_RANGE = (30, 172800)
# SSM returns at most this much of a command's output inline.
OUTPUT_LIMIT = 24000


@dataclass(frozen=True)
class Outcome:
    code: int
    status: str
    note: str | None = None  # one line on stderr when the command itself did not succeed


def host_command(app: AppEndpoints, workload: str, env: str, region: str) -> str:
    """What the host runs: its own CLI, as the account that cannot change it, reading its own endpoints."""
    cli = f"{app.venv}/bin/{CONSOLE_SCRIPT}"
    args = ["run", workload, "--env", env, "--region", region, "--no-progress"]
    return shlex.join(["runuser", "-u", app.run_as, "--", cli, *args])


def check_timeout(timeout_s: int) -> None:
    low, high = TIMEOUT_RANGE
    if not low <= timeout_s <= high:
        raise BadInput(f"--timeout {timeout_s}: expected seconds from {low} to {high} (Run Command's limits)")


def remote_run(endpoints: Endpoints, workload: str, *, timeout_s: int, poll_s: float = 5.0,
               out: TextIO | None = None, err: TextIO | None = None) -> int:
    from botocore.exceptions import ClientError, WaiterError

    out, err = out or sys.stdout, err or sys.stderr
    check_timeout(timeout_s)
    region = endpoints.aws.region
    if not region:
        raise BadInput("no AWS region: pass --region or set AWS_REGION (the host is told the same one)")
    app = endpoints.app
    _check_instance(endpoints, app)
    ssm = endpoints.aws.client("ssm")
    try:
        sent = ssm.send_command(
            InstanceIds=[app.instance_id], DocumentName=DOCUMENT,
            Comment=f"data-tier run {workload} --env {endpoints.env}"[:100],
            Parameters={"commands": [host_command(app, workload, endpoints.env, region)],
                        "executionTimeout": [str(timeout_s)]})
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "InvalidInstanceId":
            raise BadInput(f"app host {app.instance_id} is not managed by SSM (is it running, with its agent "
                           "registered? aws ssm describe-instance-information)") from None
        raise
    command_id = sent["Command"]["CommandId"]
    print(f"remote: {DOCUMENT} {command_id} on {app.instance_id} (release {app.release or 'unknown'})", file=err)
    try:
        # Polls GetCommandInvocation; stops at Success, and raises on Failed, Cancelled or TimedOut.
        ssm.get_waiter("command_executed").wait(
            CommandId=command_id, InstanceId=app.instance_id,
            WaiterConfig={"Delay": poll_s, "MaxAttempts": math.ceil((timeout_s + 60) / poll_s)})
    except WaiterError as exc:
        if not _finished(exc.last_response):
            print(f"app_code remote: command {command_id} gave no result within {timeout_s + 60} s "
                  f"(last status: {_status(exc.last_response)})", file=err)
            return EXIT_FAILED
    invocation = ssm.get_command_invocation(CommandId=command_id, InstanceId=app.instance_id)
    outcome = report(invocation, out, err)
    if outcome.note:
        print(f"app_code remote: {outcome.note}", file=err)
    return outcome.code


def report(invocation: dict[str, Any], out: TextIO, err: TextIO) -> Outcome:
    """Print the host's output, and say how the command ended."""
    stdout, stderr = invocation.get("StandardOutputContent", ""), invocation.get("StandardErrorContent", "")
    if stdout:
        out.write(stdout if stdout.endswith("\n") else stdout + "\n")
    if stderr:
        err.write(stderr if stderr.endswith("\n") else stderr + "\n")
    if len(stdout) >= OUTPUT_LIMIT:
        print(f"(SSM returned the first {OUTPUT_LIMIT} characters of the host's output)", file=err)
    status, code = invocation.get("Status", "Unknown"), invocation.get("ResponseCode", -1)
    if status == "Success":
        return Outcome(EXIT_OK, status)
    if status == "Failed" and code in (1, 2):
        return Outcome(code, status)  # the host's CLI said it: a check failed (1) or bad input there (2)
    details = invocation.get("StatusDetails") or status
    return Outcome(EXIT_FAILED, status, f"the command ended {details} (exit {code}) on {invocation.get('InstanceId')}")


def _check_instance(endpoints: Endpoints, app: AppEndpoints) -> None:
    """A named but missing or stopped host is the user's to fix; say so before sending anything."""
    from botocore.exceptions import ClientError

    ec2 = endpoints.aws.client("ec2")
    where = f"app host {app.instance_id} ({endpoints.env}-App output AppHostInstanceId)"
    try:
        reservations = ec2.describe_instances(InstanceIds=[app.instance_id])["Reservations"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"):
            raise BadInput(f"{where} does not exist: deploy it again (cdk deploy {endpoints.env}-App)") from None
        raise
    states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
    if states != ["running"]:
        state = states[0] if states else "gone"
        raise BadInput(f"{where} is {state}, not running: start it (aws ec2 start-instances --instance-ids "
                       f"{app.instance_id}) or deploy {endpoints.env}-App again")


def _finished(response: dict[str, Any] | None) -> bool:
    return _status(response) in ("Success", "Failed", "Cancelled", "TimedOut", "Cancelling")


def _status(response: dict[str, Any] | None) -> str:
    return str((response or {}).get("Status", "none"))
