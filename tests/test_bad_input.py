"""Every bad input gets one clear line and an exit code, and leaves nothing half-done: one table, a row each.

A row gives the input, the exact line expected on stderr and the exit code. After each row: no process it
started is still alive (every child inherits the row's tag, found again in /proc/<pid>/environ), the paths it
names as its own state are gone, and the data it touched is as it was (`after`).

Config rows call stacks.config.load_environment, the very function app.py runs before any construct (app.py
prints the line and exits 1: tests/stacks/test_config.py runs it end to end). CLI rows call app_code's main()
in-process, as `python -m app_code` does.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.stacks.config import ConfigError, load_environment
from tests.fixtures_synth import project_context
from tests.moto_server import moto_server

TAG = "BAD_INPUT_ROW"
BOUND_S = 20  # an endpoint that does not answer must fail within this, never hang


@dataclass(frozen=True)
class Row:
    id: str
    expected: str
    code: int
    argv: tuple[str, ...] = ()  # app_code CLI arguments, with <placeholders> from the row's context
    config: Callable[[dict[str, Any]], None] | None = None  # mutates cdk.json's environments instead
    config_env: str = "dev"  # the environment the config rows synthesize
    needs: frozenset[str] = frozenset()  # fixtures: twin, blackhole, garbage, dev_out
    setup: Callable[[Ctx], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    gone: tuple[str, ...] = ()  # paths (<placeholders> allowed) that must not exist afterwards
    after: Callable[[Ctx], None] | None = None


@dataclass
class Ctx:
    tmp: Path
    values: dict[str, str] = field(default_factory=dict)
    twin: Any = None

    def fmt(self, text: str) -> str:
        """<name> placeholders: the row's temp dir and the ports, ARNs and names its setup made."""
        for name, value in {"tmp": str(self.tmp), **self.values}.items():
            text = text.replace(f"<{name}>", value)
        return text


# -- row helpers --------------------------------------------------------------------------------
def write(name: str, content: str | Callable[[Ctx], Any]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        data = content(ctx) if callable(content) else content
        path = ctx.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data))
    return setup


def twin_copy(outputs: Callable[[Ctx, dict[str, Any]], None] | None = None,
              twin_json: Callable[[Ctx, dict[str, Any]], None] | None = None) -> Callable[[Ctx], None]:
    """The running dev twin's outputs.json and twin.json, copied to <tmp>/copy and changed there."""
    def setup(ctx: Ctx) -> None:
        target = ctx.tmp / "copy"
        target.mkdir()
        out = json.loads(ctx.twin.outputs_file.read_text())
        info = json.loads(ctx.twin.twin_file.read_text())
        if outputs:
            outputs(ctx, out)
        if twin_json:
            twin_json(ctx, info)
        (target / "outputs.json").write_text(json.dumps(out))
        (target / "twin.json").write_text(json.dumps(info))
    return setup


def with_secret(value: str, key: str = "AppSecretArn") -> Callable[[Ctx, dict[str, Any]], None]:
    """Point the Database stack's `key` (the app user's secret, or SecretArn: the admin's) at a new secret in the
    twin's moto holding `value`, where BASE stands for the fields of the secret it replaces."""
    def change(ctx: Ctx, out: dict[str, Any]) -> None:
        sm = ctx.twin.client("secretsmanager")
        base = json.loads(sm.get_secret_value(SecretId=out["dev-Database"][key])["SecretString"])
        text = value.replace("BASE", json.dumps(base)[1:-1])
        arn = sm.create_secret(Name=f"bad-input/{uuid.uuid4().hex[:8]}", SecretString=text)["ARN"]
        out["dev-Database"][key] = ctx.values["secret"] = arn
    return change


def without(key: str) -> Callable[[Ctx, dict[str, Any]], None]:
    """The Database stack's outputs without `key`, as stacks older than it have them."""
    def change(ctx: Ctx, out: dict[str, Any]) -> None:
        del out["dev-Database"][key]
    return change


def wrong_arn(key: str) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(ctx: Ctx, out: dict[str, Any]) -> None:
        ctx.values["secret"] = out["dev-Database"][key]
        out["dev-Database"][key] += "x"
    return change


def app_user_unchanged(ctx: Ctx) -> None:
    """A refused bootstrap made no change: the next one finds nothing to do."""
    from cdk_data_tier.app.endpoints import Endpoints
    from cdk_data_tier.app.ops.bootstrap_db import bootstrap

    assert [s for s in bootstrap(Endpoints.from_outputs_file(ctx.twin.outputs_file)) if s.changed] == []


def endpoint(stack: str, key: str, listener: str) -> Callable[[Ctx, dict[str, Any]], None]:
    def change(ctx: Ctx, out: dict[str, Any]) -> None:
        out[f"dev-{stack}"][key] = f"127.0.0.1:{ctx.values[listener]}"
    return change


def other_key_schema(ctx: Ctx, out: dict[str, Any]) -> None:
    ddb = ctx.twin.client("dynamodb")
    name = ctx.values["table"] = f"bad-input-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    out["dev-Dynamo"]["TableName"] = name


def table_is_empty(ctx: Ctx) -> None:
    items = ctx.twin.client("dynamodb").scan(TableName=ctx.values["table"], Select="COUNT")["Count"]
    assert items == 0, f"the workload wrote {items} items into a table it should have refused"


def stale_assembly(ctx: Ctx) -> None:
    """dev's cloud assembly copied with its templates dated before the newest source file."""
    from cdk_data_tier.app.local.templates import ROOT, newest_source_file

    shutil.copytree(ctx.values["dev_out"], ctx.tmp / "old")
    for template in (ctx.tmp / "old").glob("*.template.json"):
        os.utime(template, (0, 0))
    ctx.values["newest"] = str(newest_source_file()[1].relative_to(ROOT))


def not_a_twin(ctx: Ctx) -> None:
    (ctx.tmp / "state").mkdir()
    (ctx.tmp / "state" / "notes.txt").write_text("mine")


def still_there(ctx: Ctx) -> None:
    assert (ctx.tmp / "state" / "notes.txt").read_text() == "mine", "down touched a directory that is not a twin"


def twin_still_up(ctx: Ctx) -> None:
    from cdk_data_tier.app.local import twin as twin_mod

    rows = twin_mod.status("dev", state_dir=ctx.twin.state_dir)
    assert rows and all(r["running"] and r["health"] == "ok" for r in rows), rows


def no_copies(ctx: Ctx) -> None:
    """A refused restore made nothing: no copy recorded, no table, no process beyond the twin's own."""
    from cdk_data_tier.app.local.state import State

    state = State.load(ctx.twin.state_dir)
    assert state is not None
    assert not any(state.data.get(k) for k in ("copies", "cache_copies", "db_copies")), "a copy was recorded"
    tables = ctx.twin.client("dynamodb").list_tables()["TableNames"]
    assert not [t for t in tables if t in ("no", "copy-x")], tables
    twin_still_up(ctx)


def backups_of_twin(ctx: Ctx) -> None:
    """What the twin's database has to restore from, and what it is called, as the messages name them."""
    info = json.loads(ctx.twin.twin_file.read_text())["database"]
    state = json.loads((ctx.twin.state_dir / "state.json").read_text())
    ctx.values.update(earliest=info["EarliestRestorableTime"], identifier=info["identifier"],
                      snapshots=", ".join(b["id"] for b in state.get("db_backups", [])),
                      copies=", ".join(sorted(state.get("db_copies", {}))) or "none")


def no_copy(ctx: Ctx) -> None:
    state = json.loads((ctx.twin.state_dir / "state.json").read_text())
    assert not [p for p in state["procs"] if p["name"].startswith("postgres-copy-") and
                p["name"].removeprefix("postgres-copy-") not in state.get("db_copies", {})], "a copy was left"
    assert set(state.get("db_copies", {})) == set(ctx.values["copies"].split(", ")) - {"none"}
    twin_still_up(ctx)


def outputs(**stacks: dict[str, str]) -> dict[str, dict[str, str]]:
    base = {"dev-Database": {"WriterEndpoint": "db.example:5433", "Port": "5433", "Engine": "postgres",
                             "DatabaseName": "app", "SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:x"},
            "dev-Dynamo": {"TableName": "t", "TableArn": "arn:aws:dynamodb:us-east-1:1:table/t", "PartitionKey": "pk"}}
    for name, values in stacks.items():
        base[name] = {**base.get(name, {}), **values}
    return {k: v for k, v in base.items() if v}


def app_stack(env: str, host: str) -> Callable[[Ctx], None]:
    """Stacks of `env` in the row's moto: Network alone (host "none"), or an App stack naming an app host that
    does not exist ("gone") or is stopped ("stopped")."""
    def setup(ctx: Ctx) -> None:
        import boto3

        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        cfn = session.client("cloudformation", endpoint_url=ctx.values["moto"])
        stacks = {f"{env}-Network": {"VpcId": "vpc-0a1b2c3d4e5f60718", "BastionInstanceId": "i-0a1b2c3d4e5f60718"}}
        if host != "none":
            instance = "i-0123456789abcdef0"
            if host == "stopped":
                ec2 = session.client("ec2", endpoint_url=ctx.values["moto"])
                instance = ec2.run_instances(ImageId="ami-12345678", MinCount=1, MaxCount=1)["Instances"][0][
                    "InstanceId"]
                ec2.stop_instances(InstanceIds=[instance])
            ctx.values["instance"] = instance
            stacks[f"{env}-App"] = {"AppHostInstanceId": instance, "AppVenv": "/opt/cdk-data-tier/venv",
                                    "AppRunAs": "data-tier"}
        for name, values in stacks.items():
            cfn.create_stack(StackName=name, TemplateBody=json.dumps({
                "Resources": {"Marker": {"Type": "AWS::SSM::Parameter", "Properties": {
                    "Name": f"/{name}/marker", "Type": "String", "Value": name}}},
                "Outputs": {k: {"Value": v} for k, v in values.items()}}))
    return setup


MOTO_ENV = {"AWS_ENDPOINT_URL": "<moto>", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
            "AWS_DEFAULT_REGION": "us-east-1"}
CONFIG = "config error: environments.dev."
REMOTE = "app_code remote: "
RUN = "app_code run: "
OPS = "app_code ops: "
ROWS = [
    # -- config values of every stack ---------------------------------------------------------
    Row("config-env-unknown", "config error: env='staging' is not a configured environment: allowed: dev, prod", 1,
        config=lambda e: None, config_env="staging"),
    Row("config-account", f"{CONFIG}account='12345' is not allowed: expected a 12-digit AWS account ID", 1,
        config=lambda e: e["dev"].update(account="12345")),
    Row("config-region", f"{CONFIG}region='mars-1' is not allowed: expected an AWS region such as 'us-east-1'", 1,
        config=lambda e: e["dev"].update(region="mars-1")),
    Row("config-removal", f"{CONFIG}removal='keep' is not allowed: Input should be 'destroy' or 'retain'", 1,
        config=lambda e: e["dev"].update(removal="keep")),
    Row("config-unknown-key", f"{CONFIG}cache.shard is not a known key: remove it or fix its spelling", 1,
        config=lambda e: e["dev"]["cache"].update(shard=2)),
    Row("config-network-nat", f"{CONFIG}network.nat_gateways=3 is not allowed: at most az_count (2)", 1,
        config=lambda e: e["dev"]["network"].update(nat_gateways=3)),
    Row("config-network-cidr",
        f"{CONFIG}network.vpc_cidr='10.0.0.0/8' is not allowed: prefix length must be /16 to /20", 1,
        config=lambda e: e["dev"]["network"].update(vpc_cidr="10.0.0.0/8")),
    Row("config-network-instance", f"{CONFIG}network.app_instance_type='large' is not allowed: expected an instance "
        "type like 't3.micro' (family.size)", 1, config=lambda e: e["dev"]["network"].update(app_instance_type="large")),
    Row("config-database-engine", f"{CONFIG}database.engine='oracle' is not allowed: Input should be 'postgres', "
        "'mysql', 'aurora-postgresql' or 'aurora-mysql'", 1, config=lambda e: e["dev"]["database"].update(engine="oracle")),
    Row("config-database-version", f"{CONFIG}database.engine_version='17' is not allowed: a full postgres version "
        "that aws-cdk-lib knows, such as '17.9' (no bare major)", 1,
        config=lambda e: e["dev"]["database"].update(engine_version="17")),
    Row("config-database-port", f"{CONFIG}database.port=5432 is not allowed: 1150-65535 and not the postgres default "
        "5432 (RDS.23)", 1, config=lambda e: e["dev"]["database"].update(port=5432)),
    Row("config-database-iam-user", f"{CONFIG}database.iam_auth_user='dbadmin' is not allowed: it must differ from "
        "admin_username, whose password rotation IAM-only login would break", 1,
        config=lambda e: e["dev"]["database"].update(iam_auth_user="dbadmin")),
    Row("config-database-windows", f"{CONFIG}database.backup_window='04:00-04:30' is not allowed: it overlaps "
        "maintenance_window 'sun:04:00-sun:04:30'", 1,
        config=lambda e: e["dev"]["database"].update(backup_window="04:00-04:30")),
    Row("config-dynamo-billing", f"{CONFIG}dynamo.billing='free' is not allowed: Input should be 'on_demand' or "
        "'provisioned'", 1, config=lambda e: e["dev"]["dynamo"].update(billing="free")),
    Row("config-dynamo-projection", f"{CONFIG}dynamo.gsis[0].projection='SOME' is not allowed: Input should be "
        "'ALL', 'KEYS_ONLY' or 'INCLUDE'", 1, config=lambda e: e["dev"]["dynamo"]["gsis"][0].update(projection="SOME")),
    Row("config-dynamo-lsi-without-sort-key", f"{CONFIG}dynamo.sort_key=None is not allowed with lsis: an LSI needs "
        "a table with a sort key", 1, config=lambda e: e["dev"]["dynamo"].update(sort_key=None)),
    Row("config-cache-engine", f"{CONFIG}cache.engine='memcached' is not allowed: Input should be 'valkey' or "
        "'redis'", 1, config=lambda e: e["dev"]["cache"].update(engine="memcached")),
    Row("config-cache-shards", f"{CONFIG}cache.shards=2 is not allowed: cluster_mode 'disabled' has exactly 1 shard "
        "(set cluster_mode 'enabled' to shard)", 1, config=lambda e: e["dev"]["cache"].update(shards=2)),
    Row("config-cache-port", f"{CONFIG}cache.port=6379 is not allowed: not the engine's default (ElastiCache.7, "
        "AwsSolutions-AEC5); for example 6380", 1, config=lambda e: e["dev"]["cache"].update(port=6379)),
    Row("config-cache-rotation", f"{CONFIG}cache.auth_rotation_days=120 is not allowed: Input should be less than "
        "or equal to 90", 1, config=lambda e: e["dev"]["cache"].update(auth_rotation_days=120)),
    # -- CLI arguments of every command ---------------------------------------------------------
    Row("cli-no-command", "python -m app_code: error: the following arguments are required: command (see --help)", 2,
        argv=()),
    Row("cli-unknown-command", "python -m app_code: error: argument command: invalid choice: 'deploy' (choose from "
        "'run', 'ops', 'demo', 'drill', 'remote', 'cost', 'local') (see --help)", 2, argv=("deploy",)),
    Row("cli-run-unknown-workload", "python -m app_code run: error: argument workload: invalid choice: 'kafka' "
        "(choose from 'sql', 'dynamo', 'cache', 'all') (see --help)", 2, argv=("run", "kafka", "--outputs", "x")),
    Row("cli-run-no-source", "python -m app_code run: error: one of the arguments --outputs --env is required "
        "(see --help)", 2, argv=("run", "sql")),
    Row("cli-run-two-sources", "python -m app_code run: error: argument --env: not allowed with argument --outputs "
        "(see --help)", 2, argv=("run", "sql", "--outputs", "x", "--env", "dev")),
    Row("cli-run-max-lag", "python -m app_code run: error: argument --max-lag: invalid float value: 'soon' "
        "(see --help)", 2, argv=("run", "sql", "--outputs", "x", "--max-lag", "soon")),
    Row("cli-run-ca-bundle", f"{RUN}CA bundle <tmp>/none.pem does not exist", 2,
        argv=("run", "sql", "--outputs", "<tmp>/o.json", "--db-ca-bundle", "<tmp>/none.pem"),
        setup=write("o.json", outputs())),
    Row("cli-ops-no-action", "python -m app_code ops: error: the following arguments are required: "
        "{bootstrap-db,teardown-check,backup,restore-db,restore-table,restore-cache,remove-copy} (see --help)", 2, argv=("ops",)),
    Row("cli-ops-teardown-no-env", "python -m app_code ops teardown-check: error: the following arguments are "
        "required: --env (see --help)", 2, argv=("ops", "teardown-check")),
    Row("cli-ops-teardown-unknown-env", "app_code ops: env 'staging' is not in cdk.json's environments: allowed: "
        "dev, prod", 2, argv=("ops", "teardown-check", "--env", "staging")),
    Row("cli-ops-teardown-no-assembly", "app_code ops: --cdk-out <tmp>/cdk.out does not exist: expected a cloud "
        "assembly (cdk synth -c env=dev -o <tmp>/cdk.out)", 2,
        argv=("ops", "teardown-check", "--env", "dev", "--cdk-out", "<tmp>/cdk.out")),
    Row("cli-ops-restore-no-target", "python -m app_code ops restore-table: error: the following arguments are "
        "required: --target (see --help)", 2, argv=("ops", "restore-table", "--outputs", "x")),
    Row("cli-ops-restore-table-no-point", "python -m app_code ops restore-table: error: one of the arguments "
        "--to-time --latest --backup is required (see --help)", 2,
        argv=("ops", "restore-table", "--outputs", "x", "--target", "copy")),
    Row("cli-ops-restore-table-bad-time", "app_code ops: --to-time 'yesterday' is not a time: expected ISO 8601 such "
        "as 2025-05-01T12:00:00Z", 2,
        argv=("ops", "restore-table", "--outputs", "x", "--to-time", "yesterday", "--target", "copy")),
    Row("cli-ops-restore-cache-no-snapshot", "python -m app_code ops restore-cache: error: the following arguments "
        "are required: --snapshot, --target (see --help)", 2, argv=("ops", "restore-cache", "--outputs", "x")),
    Row("cli-ops-restore-db-no-point", "python -m app_code ops restore-db: error: one of the arguments --to-time "
        "--latest --snapshot is required (see --help)", 2, argv=("ops", "restore-db", "--outputs", "x", "--target", "c")),
    Row("cli-ops-restore-db-two-points", "python -m app_code ops restore-db: error: argument --snapshot: not allowed "
        "with argument --latest (see --help)", 2,
        argv=("ops", "restore-db", "--outputs", "x", "--target", "c", "--latest", "--snapshot", "s")),
    Row("ops-restore-db-bad-identifier", f"{OPS}--target 'copy--1' is not a valid DB identifier: expected 1-63 "
        "letters, digits and hyphens, starting with a letter, without '--' or a trailing hyphen", 2,
        argv=("ops", "restore-db", "--outputs", "<tmp>/o.json", "--target", "copy--1", "--latest"),
        setup=write("o.json", outputs())),
    Row("ops-restore-db-bad-time", f"{OPS}--to-time 'yesterday' is not a time: expected ISO 8601 such as "
        "2025-05-01T12:00:00Z", 2,
        argv=("ops", "restore-db", "--outputs", "<tmp>/o.json", "--target", "c1", "--to-time", "yesterday"),
        setup=write("o.json", outputs())),
    Row("ops-restore-db-before-window", f"{OPS}--to-time 2001-01-01T00:00:00.000Z is before the twin's database's "
        "earliest restorable time <earliest>", 2, argv=("ops", "restore-db", "--outputs", "<twin_dir>", "--target",
                                                          "early-copy", "--to-time", "2001-01-01T00:00:00Z"),
        needs=frozenset({"twin"}), setup=backups_of_twin, after=no_copy),
    Row("ops-restore-db-name-taken", f"{OPS}--target '<identifier>' is already taken on the twin (DB identifiers are "
        "unique, case-insensitively): pick another name, or remove the copy first", 2,
        argv=("ops", "restore-db", "--outputs", "<twin_dir>", "--target", "<identifier>", "--latest"),
        needs=frozenset({"twin"}), setup=backups_of_twin, after=no_copy),
    Row("ops-restore-db-unknown-snapshot", f"{OPS}--snapshot 'nope' is not a snapshot of the twin's database "
        "(snapshots: <snapshots>)", 2,
        argv=("ops", "restore-db", "--outputs", "<twin_dir>", "--target", "c1", "--snapshot", "nope"),
        needs=frozenset({"twin"}), setup=backups_of_twin, after=no_copy),
    Row("cli-demo-unknown-flag", "python -m app_code: error: unrecognized arguments: --fast (see --help)", 2,
        argv=("demo", "--fast")),
    Row("cli-cost-unknown-env", "app_code cost: env 'staging' is not configured in cdk.json: allowed: dev, prod", 2,
        argv=("cost", "-e", "staging")),
    Row("cli-cost-no-assembly", "app_code cost: --cdk-out <tmp>/cdk.out does not exist: expected a cloud assembly "
        "(cdk synth -c env=dev -o <tmp>/cdk.out)", 2, argv=("cost", "-e", "dev", "--cdk-out", "<tmp>/cdk.out")),
    Row("cli-remote-no-action", "python -m app_code remote: error: the following arguments are required: {run} "
        "(see --help)", 2, argv=("remote",)),
    Row("cli-remote-no-env", "python -m app_code remote run: error: the following arguments are required: --env "
        "(see --help)", 2, argv=("remote", "run", "all")),
    Row("cli-remote-timeout", f"{REMOTE}--timeout 5: expected seconds from 30 to 172800 (Run Command's limits)", 2,
        argv=("remote", "run", "all", "--env", "dev", "--timeout", "5")),
    Row("remote-no-app-stack", f"{REMOTE}CloudFormation (nohost): stack nohost-App not found (stacks present: "
        "nohost-Network)", 2, argv=("remote", "run", "all", "--env", "nohost"), needs=frozenset({"moto"}),
        setup=app_stack("nohost", "none"), env=MOTO_ENV),
    Row("remote-no-app-host", f"{REMOTE}app host i-0123456789abcdef0 (gonehost-App output AppHostInstanceId) does "
        "not exist: deploy it again (cdk deploy gonehost-App)", 2, argv=("remote", "run", "all", "--env", "gonehost"),
        needs=frozenset({"moto"}), setup=app_stack("gonehost", "gone"), env=MOTO_ENV),
    Row("remote-app-host-stopped", f"{REMOTE}app host <instance> (stoppedhost-App output AppHostInstanceId) is "
        "stopped, not running: start it (aws ec2 start-instances --instance-ids <instance>) or deploy stoppedhost-App "
        "again", 2, argv=("remote", "run", "sql", "--env", "stoppedhost"), needs=frozenset({"moto"}),
        setup=app_stack("stoppedhost", "stopped"), env=MOTO_ENV),
    Row("cli-local-unknown-action", "python -m app_code local: error: argument local_command: invalid choice: "
        "'restart' (choose from 'up', 'down', 'status') (see --help)", 2, argv=("local", "restart")),
    # -- outputs files --------------------------------------------------------------------------
    Row("outputs-missing", f"{RUN}outputs file <tmp>/none.json does not exist", 2,
        argv=("run", "all", "--outputs", "<tmp>/none.json")),
    Row("outputs-not-json", f"{RUN}outputs file <tmp>/o.json: not JSON (Expecting property name enclosed in "
        "double quotes at line 1)", 2, argv=("run", "dynamo", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", "{'dev-Dynamo': {}}")),
    Row("outputs-not-stacks", RUN + "outputs file <tmp>/o.json: not shaped {StackName: {OutputKey: value}}",
        2, argv=("run", "dynamo", "--outputs", "<tmp>/o.json"), setup=write("o.json", "[1, 2]")),
    Row("outputs-wrong-stack", f"{RUN}outputs file <tmp>/o.json: stack dev-Cache not found (stacks present: "
        "dev-Database, dev-Dynamo)", 2, argv=("run", "cache", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", outputs())),
    Row("outputs-two-envs", f"{RUN}outputs file <tmp>/o.json: stacks of several environments (dev, prod); pick "
        "one with --env", 2, argv=("run", "dynamo", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", outputs(**{"prod-Dynamo": {"TableName": "t"}}))),
    Row("outputs-no-env", RUN + "outputs file <tmp>/o.json: no stack named <env>-{Network,Database,Dynamo,Cache,App}",
        2, argv=("run", "dynamo", "--outputs", "<tmp>/o.json"), setup=write("o.json", {"Other": {"A": "b"}})),
    Row("outputs-missing-key", f"{RUN}outputs file <tmp>/o.json: stack dev-Dynamo output PartitionKey is missing",
        2, argv=("run", "dynamo", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", {"dev-Dynamo": {"TableName": "t", "TableArn": "arn:aws:dynamodb:us-east-1:1:table/t"}})),
    Row("outputs-bad-port", f"{RUN}outputs file <tmp>/o.json: stack dev-Database output Port='5433x' is not a port",
        2, argv=("run", "sql", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", outputs(**{"dev-Database": {"Port": "5433x"}}))),
    Row("outputs-bad-engine", f"{RUN}outputs file <tmp>/o.json: stack dev-Database output Engine='oracle' is not "
        "one of postgres, mysql, aurora-postgresql, aurora-mysql", 2, argv=("run", "sql", "--outputs", "<tmp>/o.json"),
        setup=write("o.json", outputs(**{"dev-Database": {"Engine": "oracle"}}))),
    Row("outputs-twin-not-up", f"{RUN}no twin in <tmp>/state (<tmp>/state/outputs.json missing): run "
        "`python -m app_code local up`", 2, argv=("run", "all", "--outputs", "<tmp>/state"),
        setup=lambda ctx: (ctx.tmp / "state").mkdir()),
    Row("outputs-profile-for-twin", f"{RUN}--profile work: <tmp>/copy is a local twin's, which never uses AWS "
        "profiles", 2, argv=("run", "dynamo", "--outputs", "<tmp>/copy", "--profile", "work"),
        needs=frozenset({"twin"}), setup=twin_copy()),
    # -- secrets --------------------------------------------------------------------------------
    Row("secret-missing", f"{RUN}secret <secret>x cannot be read: An error occurred (ResourceNotFoundException) "
        "when calling the GetSecretValue operation: Secrets Manager can't find the specified secret.", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(wrong_arn("AppSecretArn"))),
    Row("secret-not-json", f"{RUN}secret <secret> is not JSON", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret("password: hunter2"))),
    Row("secret-no-password", f"{RUN}secret <secret> has no password", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret('{"username": "app"}'))),
    Row("secret-wrong-password", f"{RUN}database writer at <writer> refused the login of 'app' from secret "
        '<secret>: password authentication failed for user "app"; if the app user does not exist yet, run '
        "`python -m app_code ops bootstrap-db` (as the admin, once) first", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret('{BASE, "password": "not-the-password"}'))),
    Row("secret-wrong-password-mysql", f"{RUN}database writer at <writer> refused the login of 'app' from secret "
        "<secret>: Access denied for user 'app'@'127.0.0.1' (using password: YES); if the app user does not exist "
        "yet, run `python -m app_code ops bootstrap-db` (as the admin, once) first", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"mysql_twin"}),
        setup=twin_copy(with_secret('{BASE, "password": "not-the-password"}'))),
    Row("secret-app-missing", f"{RUN}outputs file <tmp>/copy/outputs.json: stack dev-Database output AppSecretArn is "
        "missing: workloads log in as the application user, never the admin; deploy the current Database stack, then "
        "run `python -m app_code ops bootstrap-db`", 2, argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"),
        needs=frozenset({"twin"}), setup=twin_copy(without("AppSecretArn"))),
    # -- bootstrap-db: the admin's secret, the app user's, the way in -----------------------------
    Row("bootstrap-no-admin-output", f"{OPS}outputs file <tmp>/copy/outputs.json: stack dev-Database output SecretArn "
        "is missing", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"), needs=frozenset({"twin"}),
        setup=twin_copy(without("SecretArn"))),
    Row("bootstrap-admin-secret-missing", f"{OPS}admin secret (output SecretArn): secret <secret>x cannot be read: An "
        "error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: Secrets Manager can't "
        "find the specified secret.", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"),
        needs=frozenset({"twin"}), setup=twin_copy(wrong_arn("SecretArn"))),
    Row("bootstrap-admin-wrong-password", f"{OPS}database writer at <writer> refused the admin login 'dbadmin' of "
        'secret <secret>: password authentication failed for user "dbadmin" (is the admin secret\'s password '
        "current?)", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret('{BASE, "password": "not-the-password"}', "SecretArn")), after=app_user_unchanged),
    Row("bootstrap-admin-wrong-password-mysql", f"{OPS}database writer at <writer> refused the admin login 'dbadmin' "
        "of secret <secret>: Access denied for user 'dbadmin'@'127.0.0.1' (using password: YES) (is the admin "
        "secret's password current?)", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"),
        needs=frozenset({"mysql_twin"}),
        setup=twin_copy(with_secret('{BASE, "password": "not-the-password"}', "SecretArn"))),
    Row("bootstrap-admin-no-password", f"{OPS}admin secret (output SecretArn) <secret> has no password", 2,
        argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret('{"username": "dbadmin"}', "SecretArn"))),
    Row("bootstrap-no-app-output", f"{OPS}outputs file <tmp>/copy/outputs.json: stack dev-Database output "
        "AppSecretArn is missing: the application user's secret comes with the current Database stack; deploy it, "
        "then run bootstrap-db again", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"),
        needs=frozenset({"twin"}), setup=twin_copy(without("AppSecretArn"))),
    Row("bootstrap-app-named-admin", f"{OPS}app user secret <secret>: username 'dbadmin' makes 'dbadmin', which is "
        "the admin's name; the app user, its rotation clone and its grant role need names of their own", 2,
        argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy"), needs=frozenset({"twin"}),
        setup=twin_copy(with_secret('{BASE, "username": "dbadmin"}')), after=app_user_unchanged),
    Row("bootstrap-via-not-host-port", f"{OPS}--via 'localhost': expected HOST:PORT of the forwarded port, e.g. "
        "127.0.0.1:15433", 2, argv=("ops", "bootstrap-db", "--outputs", "<tmp>/o.json", "--via", "localhost"),
        setup=write("o.json", outputs())),
    Row("bootstrap-via-closed", f"{OPS}database writer at <writer> (through 127.0.0.1:<closed>) is unreachable: "
        'connection failed: connection to server at "127.0.0.1", port <closed> failed: Connection refused Is the '
        "server running on that host and accepting TCP/IP connections?", 2,
        argv=("ops", "bootstrap-db", "--outputs", "<tmp>/copy", "--via", "127.0.0.1:<closed>"),
        needs=frozenset({"twin"}), setup=twin_copy()),
    # -- endpoints that are closed, silent, or something else --------------------------------------
    Row("endpoint-db-refused", f"{RUN}database writer at 127.0.0.1:<closed> is unreachable (Connection refused); "
        "is the twin up? (python -m app_code local up -e dev)", 2,
        argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(endpoint("Database", "WriterEndpoint", "closed"))),
    Row("endpoint-db-silent", f"{RUN}database writer at 127.0.0.1:<blackhole> is unreachable: connection timeout "
        "expired", 2, argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"),
        needs=frozenset({"twin", "blackhole"}), setup=twin_copy(endpoint("Database", "WriterEndpoint", "blackhole"))),
    Row("endpoint-db-port-taken", f"{RUN}database writer at 127.0.0.1:<garbage> is unreachable: connection failed: "
        'connection to server at "127.0.0.1", port <garbage> failed: received invalid response to SSL negotiation: H',
        2, argv=("run", "sql", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin", "garbage"}),
        setup=twin_copy(endpoint("Database", "WriterEndpoint", "garbage"))),
    Row("endpoint-cache-silent", f"{RUN}cache endpoint at 127.0.0.1:<blackhole> did not answer PING within 5 s "
        "(TLS handshake)", 2, argv=("run", "cache", "--outputs", "<tmp>/copy", "--no-progress"),
        needs=frozenset({"twin", "blackhole"}), setup=twin_copy(endpoint("Cache", "Endpoint", "blackhole"))),
    Row("endpoint-cache-port-taken", f"{RUN}cache endpoint at 127.0.0.1:<garbage> is not a Redis server with TLS: "
        "Error 1 connecting to 127.0.0.1:<garbage>. [SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006).",
        2, argv=("run", "cache", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin", "garbage"}),
        setup=twin_copy(endpoint("Cache", "Endpoint", "garbage"))),
    Row("endpoint-moto-silent", f"{RUN}http://127.0.0.1:<blackhole> did not answer DescribeTable within 5 s "
        "(ReadTimeoutError)", 2, argv=("run", "dynamo", "--outputs", "<tmp>/copy", "--no-progress"),
        needs=frozenset({"twin", "blackhole"}),
        setup=twin_copy(twin_json=lambda ctx, info: info.update(aws_endpoint_url=f"http://127.0.0.1:{ctx.values['blackhole']}"))),
    Row("endpoint-aws-refused", "app_code run: AWS_ENDPOINT_URL at 127.0.0.1:<closed> is unreachable (Connection "
        "refused)", 2, argv=("run", "dynamo", "--env", "dev"),
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:<closed>", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x",
             "AWS_DEFAULT_REGION": "us-east-1"}),
    # -- the twin: binaries, cloud assemblies, state directories ----------------------------------
    Row("local-up-unknown-env", "app_code local: env 'staging' is not in cdk.json's environments: allowed: dev, prod",
        1, argv=("local", "up", "-e", "staging", "--state-dir", "<tmp>/state"), gone=("<tmp>/state",)),
    Row("local-up-no-assembly", "app_code local: --cdk-out <tmp>/none does not exist: expected a cloud assembly "
        "(cdk synth -c env=dev -o <tmp>/none)", 1,
        argv=("local", "up", "--cdk-out", "<tmp>/none", "--state-dir", "<tmp>/state"), gone=("<tmp>/state",)),
    Row("local-up-empty-assembly", "app_code local: <tmp>/empty holds no dev-* templates (cdk synth -c env=dev -o "
        "<tmp>/empty)", 1, argv=("local", "up", "--cdk-out", "<tmp>/empty", "--state-dir", "<tmp>/state"),
        setup=lambda ctx: (ctx.tmp / "empty").mkdir(), gone=("<tmp>/state",)),
    Row("local-up-stale-assembly", "app_code local: <tmp>/old is older than <newest>: synthesize it again (cdk synth "
        "-c env=dev -o <tmp>/old), or leave --cdk-out out", 1,
        argv=("local", "up", "--cdk-out", "<tmp>/old", "--state-dir", "<tmp>/state"), needs=frozenset({"dev_out"}),
        setup=stale_assembly, gone=("<tmp>/state",)),
    Row("local-up-no-postgres", "app_code local: initdb not found (TWIN_PG_BINDIR=/nonexistent); install postgresql-15 "
        "or newer (initdb, postgres, pg_basebackup): apt-get install postgresql", 1,
        argv=("local", "up", "--cdk-out", "<dev_out>", "--state-dir", "<tmp>/state"), needs=frozenset({"dev_out"}),
        env={"TWIN_PG_BINDIR": "/nonexistent"}, gone=("<tmp>/state",)),
    Row("local-up-no-redis", "app_code local: redis-server not found (TWIN_REDIS_SERVER=/nonexistent/redis-server); "
        "install redis-server 7 built with TLS: apt-get install redis-server", 1,
        argv=("local", "up", "--cdk-out", "<dev_out>", "--state-dir", "<tmp>/state"), needs=frozenset({"dev_out"}),
        env={"TWIN_REDIS_SERVER": "/nonexistent/redis-server"}, gone=("<tmp>/state",)),
    Row("local-up-no-mariadb", "app_code local: mariadbd not found (TWIN_MARIADB_BINDIR=/nonexistent); install "
        "mariadb-server (mariadbd, mariadb-install-db): apt-get install mariadb-server", 1,
        argv=("local", "up", "--cdk-out", "<mysql_out>", "--state-dir", "<tmp>/state"),
        needs=frozenset({"mysql_out"}), env={"TWIN_MARIADB_BINDIR": "/nonexistent"}, gone=("<tmp>/state",)),
    Row("local-down-not-a-twin", "app_code local: <tmp>/state is not a twin state directory (no state.json): left "
        "alone", 1, argv=("local", "down", "--state-dir", "<tmp>/state"), setup=not_a_twin, after=still_there),
    Row("local-up-already-up", "app_code local: the dev twin is already up in <twin_dir>: `local down` first", 1,
        argv=("local", "up", "--state-dir", "<twin_dir>", "--cdk-out", "<dev_out>"),
        needs=frozenset({"twin", "dev_out"}), after=twin_still_up),
    # -- restores into copies: refused before anything is made ---------------------------------
    Row("ops-restore-table-bad-name", "app_code ops: --target 'no' is not a valid DynamoDB table name: 3-255 "
        "letters, digits, '_', '-' or '.'", 2, argv=("ops", "restore-table", "--outputs", "<twin_dir>", "--latest",
                                                     "--target", "no"),
        needs=frozenset({"twin"}), gone=("<twin_dir>/copies/no",), after=no_copies),
    Row("ops-restore-table-target-taken", "app_code ops: --target <table>: a table of that name already exists", 2,
        argv=("ops", "restore-table", "--outputs", "<twin_dir>", "--latest", "--target", "<table>"),
        needs=frozenset({"twin"}), setup=lambda ctx: ctx.values.update(table=ctx.twin.stack("Dynamo")["TableName"]),
        gone=("<twin_dir>/copies/<table>",), after=no_copies),
    Row("ops-restore-table-no-backup", "app_code ops: --backup arn:aws:dynamodb:us-east-1:1:table/t/backup/0: no "
        "such DynamoDB backup", 2, argv=("ops", "restore-table", "--outputs", "<twin_dir>", "--backup",
                                        "arn:aws:dynamodb:us-east-1:1:table/t/backup/0", "--target", "copy-x"),
        needs=frozenset({"twin"}), gone=("<twin_dir>/copies/copy-x",), after=no_copies),
    Row("ops-restore-cache-no-snapshot", "app_code ops: --snapshot nope: no such cache snapshot in "
        "<twin_dir>/snapshots/cache (`ops backup` takes one)", 2,
        argv=("ops", "restore-cache", "--outputs", "<twin_dir>", "--snapshot", "nope", "--target", "copy-x"),
        needs=frozenset({"twin"}), gone=("<twin_dir>/copies/copy-x",), after=no_copies),
    Row("ops-restore-cache-bad-name", "app_code ops: --target '9lives' is not a valid ElastiCache name: 1-40 "
        "letters, digits or hyphens, starting with a letter, no two hyphens in a row, not ending with a hyphen", 2,
        argv=("ops", "restore-cache", "--outputs", "<twin_dir>", "--snapshot", "nope", "--target", "9lives"),
        needs=frozenset({"twin"}), after=no_copies),
    Row("ops-remove-copy-unknown", "app_code ops: --target 'nope' is no restored copy of the twin in <twin_dir> "
        "(`ops restore-db`, `restore-table` and `restore-cache` make them)", 2,
        argv=("ops", "remove-copy", "--outputs", "<twin_dir>", "--target", "nope"), needs=frozenset({"twin"}),
        after=twin_still_up),
    Row("drill-restore-partition", "app_code drill: --partition-first is a fault of the failover drills, not of "
        "the restore drill", 2, argv=("drill", "restore", "--outputs", "<twin_dir>", "--partition-first"),
        needs=frozenset({"twin"}), after=no_copies),
    # -- a workload on a table with another key schema ------------------------------------------
    Row("dynamo-other-key-schema", "FAILED: 2 check(s) did not verify: dynamo describe table: outputs say GSIs "
        "['gsi1'] LSIs ['lsi1'] keys pk/sk; table has GSIs [] LSIs [] keys id/-; dynamo workload: DynamoError: table "
        "<table> does not match the Dynamo stack's outputs (see describe table)", 1,
        argv=("run", "dynamo", "--outputs", "<tmp>/copy", "--no-progress"), needs=frozenset({"twin"}),
        setup=twin_copy(other_key_schema), after=table_is_empty),
]


# -- the table ---------------------------------------------------------------------------------
def _listener(speak: bytes | None) -> Iterator[int]:
    """A loopback listener that accepts and then says nothing (None), or says `speak` and hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if speak is None:
                held.append(conn)
            else:
                conn.sendall(speak)
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture(scope="module")
def mysql_twin(twin_factory: Callable[[str], Any]) -> Any:
    return twin_factory("mysql-no-nat")


@pytest.fixture(scope="module")
def dev_out(dev: Any) -> Path:
    return Path(dev.outdir)


@pytest.fixture(scope="module")
def mysql_out(twin_assembly: Callable[[str], Path]) -> Path:
    return twin_assembly("mysql-no-nat")


@pytest.fixture(scope="module")
def moto() -> Iterator[str]:
    """moto's server on loopback, for the rows that reach AWS (each row's stacks have names of their own)."""
    with moto_server() as url:
        yield url


@pytest.fixture(scope="module")
def blackhole() -> Iterator[int]:
    yield from _listener(None)


@pytest.fixture(scope="module")
def garbage() -> Iterator[int]:
    yield from _listener(b"HTTP/1.1 400 Bad Request\r\n\r\n")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tagged(tag: str) -> list[int]:
    """Live processes whose environment carries the row's tag: whatever the row started and left running."""
    needle = f"{TAG}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state not in ("Z", "X"):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_table_has_at_least_40_rows_and_the_readme_says_how_many() -> None:
    assert len(ROWS) >= 40
    assert len({r.id for r in ROWS}) == len(ROWS)
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"table of {len(ROWS)} bad inputs" in readme


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input(row: Row, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
                   capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Ctx(tmp=tmp_path, values={"closed": str(_closed_port())})
    for need in sorted(row.needs):
        value = request.getfixturevalue(need)
        if need in ("twin", "mysql_twin"):
            ctx.twin = value
            ctx.values["writer"] = value.stack("Database")["WriterEndpoint"]
            ctx.values["twin_dir"] = str(value.state_dir)
        else:
            ctx.values[need] = str(value)
    if row.setup:
        row.setup(ctx)
    tag = uuid.uuid4().hex
    monkeypatch.setenv(TAG, tag)
    for key, value in row.env.items():
        monkeypatch.setenv(key, ctx.fmt(value))
    capsys.readouterr()

    started = time.monotonic()
    code, stderr = _run(row, ctx, capsys)
    elapsed = time.monotonic() - started

    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines == [ctx.fmt(row.expected)], stderr
    assert code == row.code
    assert elapsed < BOUND_S, f"took {elapsed:.1f}s"
    assert _tagged(tag) == [], "processes the row started are still running"
    for path in row.gone:
        assert not Path(ctx.fmt(path)).exists(), f"{ctx.fmt(path)} was left behind"
    if row.after:
        row.after(ctx)


def _run(row: Row, ctx: Ctx, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    if row.config is not None:
        context = copy.deepcopy(project_context())
        row.config(context["environments"])
        try:
            load_environment(context, row.config_env)
        except ConfigError as err:
            return 1, str(err)  # app.py: print(err, file=sys.stderr); sys.exit(1)
        return 0, ""
    from cdk_data_tier.app.cli import main

    try:
        code = main([ctx.fmt(a) for a in row.argv])
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


@pytest.fixture(autouse=True)
def _no_stray_copies(tmp_path: Path) -> Iterator[None]:
    yield
    shutil.rmtree(tmp_path, ignore_errors=True)
