"""`python -m app_code run|ops|drill|demo|remote|cost|local`: argument parsing, and the dispatch to each command's
own module.

Exit codes: 0 all verified, 1 a workload failed or a check did not verify, 2 bad input (unknown workload,
missing or malformed outputs, endpoints that do not answer), always as one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from cdk_data_tier.app.aws_session import ProfileError
from cdk_data_tier.app.endpoints import EndpointsError
from cdk_data_tier.app.errors import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, BadInput

WORKLOAD_CHOICES = ("sql", "dynamo", "cache", "all")


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage block first; the contract is one clear line.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _target_flags(parser: argparse.ArgumentParser, *, outputs: bool = True,
                  region_help: str = "AWS region (default: AWS_REGION, the twin's, or the region in the ARNs)") -> None:
    """--outputs FILE|DIR (a deploy's outputs or the twin) or --env NAME (AWS), with --region and --profile."""
    if outputs:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--outputs", metavar="FILE", type=Path,
                            help="a `cdk deploy --outputs-file` JSON, or the twin's .twin/<env> (or its outputs.json)")
        source.add_argument("--env", metavar="NAME", help="read the outputs of <NAME>-* stacks with DescribeStacks")
    else:
        parser.add_argument("--env", required=True, metavar="NAME")
    parser.add_argument("--region", help=region_help)
    parser.add_argument("--profile", metavar="NAME",
                        help="AWS profile for AWS targets (default: AWS_PROFILE, else the default chain); "
                             "the twin uses none")


def _copy_outputs_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="FILE", type=Path,
                        help="where the copy's outputs file goes (default: the twin's <state>/copies/<target>/"
                             "outputs.json, or ./restore-<target>/outputs.json on AWS)")


def build_parser() -> Parser:
    parser = Parser(prog="python -m app_code", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run workloads against the endpoints of an environment")
    run.add_argument("workload", choices=WORKLOAD_CHOICES, help="which workload (all: sql, dynamo, cache)")
    _target_flags(run)
    run.add_argument("--db-ca-bundle", metavar="PEM", default=os.environ.get("APP_CODE_DB_CA_BUNDLE"),
                     help="trust store for the database's TLS, e.g. the RDS global-bundle.pem (verify-full); "
                          "default: the twin's CA, or sslmode=require on AWS")
    run.add_argument("--cache-ca-bundle", metavar="PEM", default=os.environ.get("APP_CODE_CACHE_CA_BUNDLE"),
                     help="trust store for the cache's TLS; default: the twin's CA, or the system store on AWS "
                          "(ElastiCache certificates are Amazon-issued)")
    run.add_argument("--max-lag", type=float, default=1.0, metavar="SECONDS",
                     help="replica lag above which reads go to the writer (default 1.0)")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.set_defaults(handler=cmd_run)

    ops = sub.add_parser("ops", help="backups, point-in-time restore, teardown verification")
    # The metavar names the choices in "arguments are required", where argparse would show the dest.
    actions = ops.add_subparsers(
        dest="ops_command", required=True, parser_class=Parser,
        metavar="{bootstrap-db,teardown-check,backup,restore-db,restore-table,restore-cache,remove-copy}")
    boot = actions.add_parser(
        "bootstrap-db", help="as the admin, once: the app schema, and the application user with DML only",
        description="Run by an operator with the admin secret (SecretArn): the schema migration, then the "
                    "application user of AppSecretArn, its rotation clone and the IAM user, with DML on the app's "
                    "tables and nothing else. Idempotent: a second run changes nothing and says so. On AWS, "
                    "through the bastion's port forward (--via).")
    _target_flags(boot)
    boot.add_argument("--via", metavar="HOST:PORT",
                      help="connect through this forwarded port (aws ssm start-session ... "
                           "AWS-StartPortForwardingSessionToRemoteHost) instead of the writer endpoint")
    boot.add_argument("--db-ca-bundle", metavar="PEM", default=os.environ.get("APP_CODE_DB_CA_BUNDLE"),
                      help="trust store for the database's TLS (the RDS global-bundle.pem); default: the twin's CA, "
                           "or sslmode=require on AWS")
    boot.set_defaults(handler=cmd_bootstrap_db)
    check = actions.add_parser("teardown-check", help="list what `cdk destroy` left of an environment, kept or "
                               "orphaned (exit 1 on an orphan)")
    _target_flags(check, outputs=False, region_help="AWS region (default: the environment's region in cdk.json)")
    check.add_argument("--json", action="store_true", help="one JSON object: env, items, orphans")
    check.add_argument("--cdk-out", type=Path, metavar="DIR",
                       help="a cloud assembly of the environment (default: cdk.out.<env>, synthesized when stale)")
    check.set_defaults(handler=cmd_teardown_check)
    backup = actions.add_parser("backup", help="a database snapshot, a cache snapshot and a table backup, named "
                                "<env>-<UTC time> and tagged alike")
    _target_flags(backup)
    backup.set_defaults(handler=cmd_backup)
    restore = actions.add_parser("restore-table", help="the table restored into a new one: to a time, the latest "
                                 "restorable time, or from a backup")
    _target_flags(restore)
    point = restore.add_mutually_exclusive_group(required=True)
    point.add_argument("--to-time", metavar="T", help="ISO 8601 time inside the restorable window, e.g. "
                       "2025-05-01T12:00:00Z (no zone: UTC)")
    point.add_argument("--latest", action="store_true", help="the latest restorable time")
    point.add_argument("--backup", metavar="ARN", help="an on-demand backup (`ops backup` prints its ARN)")
    restore.add_argument("--target", required=True, help="name of the new table")
    _copy_outputs_flag(restore)
    restore.set_defaults(handler=cmd_restore_table)
    restore_db = actions.add_parser(
        "restore-db", help="restore the database into a new instance: to a time, the latest restorable time, or a "
                           "snapshot", description="A new DB instance beside the source. The twin: a real PostgreSQL "
        "recovered from its base backup and WAL archive (MariaDB: snapshot plus binlog) on a free port. AWS: "
        "restore_db_instance_to_point_in_time / _from_db_snapshot (Aurora: the cluster calls and a writer), in the "
        "source's subnet group, security groups, parameter group and KMS key. Writes an outputs file for the copy.")
    _target_flags(restore_db)
    point = restore_db.add_mutually_exclusive_group(required=True)
    point.add_argument("--to-time", metavar="T", help="ISO 8601 time inside the restorable window (naive = UTC)")
    point.add_argument("--latest", action="store_true", help="the latest restorable time")
    point.add_argument("--snapshot", metavar="ID", help="a snapshot `ops backup` made (AWS: any DB/cluster snapshot)")
    restore_db.add_argument("--target", required=True, metavar="NAME", help="identifier of the new instance")
    restore_db.add_argument("--out", type=Path, metavar="FILE",
                            help="outputs file of the copy (default: the twin's <state>/copies/<NAME>/outputs.json; "
                                 "AWS: ./restore-<NAME>/outputs.json)")
    restore_db.add_argument("--json", action="store_true", help="print the restored copy as one JSON object")
    restore_db.set_defaults(handler=cmd_restore_db)
    cache = actions.add_parser("restore-cache", help="a new replication group seeded from a cache snapshot")
    _target_flags(cache)
    cache.add_argument("--snapshot", required=True, metavar="NAME", help="a cache snapshot (`ops backup` prints it)")
    cache.add_argument("--target", required=True, metavar="NAME", help="the new replication group's id")
    _copy_outputs_flag(cache)
    cache.set_defaults(handler=cmd_restore_cache)

    remove = actions.add_parser("remove-copy", help="remove a copy that a restore made: a table, a cache or a "
                                "database (twin: stop it, delete its data; AWS: delete it, without a final snapshot)")
    _target_flags(remove)
    remove.add_argument("--target", required=True, metavar="NAME", help="the copy's name, as the restore printed it")
    remove.set_defaults(handler=cmd_remove_copy)

    demo = sub.add_parser("demo", help="synth, local up, run all, summary, local down (also on failure)")
    demo.add_argument("-e", "--env", default="dev", help="environment of cdk.json (default dev)")
    demo.add_argument("--keep", action="store_true", help="leave the twin up afterwards")
    demo.add_argument("--state-dir", type=Path, help="the twin's state directory (default: .twin/<env>)")
    demo.set_defaults(handler=cmd_demo)

    drill = sub.add_parser("drill", help="a steady workload through one injected event: failover, lag, throttling; "
                           "or a restore of backups to a point in time, checked marker by marker",
                           description="Run a drill: a workload, one event, and a report of what was acknowledged, "
                                       "present, lost and duplicated. On the twin (--outputs .twin/<env>) the twin's "
                                       "control injects the event; on AWS (--env) the failover APIs do.")
    from cdk_data_tier.app.drills.command import DRILLS

    drill.add_argument("drill", choices=DRILLS, help="which drill")
    _target_flags(drill)
    drill.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    drill.add_argument("--yes", action="store_true", help="confirm a failover (or the restore drill's copies) of a "
                       "real (AWS) environment")
    drill.add_argument("--partition-first", action="store_true",
                       help="twin only: cut the standby / replicas off before the kill (acknowledged writes then "
                            "exist on the primary alone: what asynchronous replication loses)")
    drill.add_argument("--durable", action="store_true",
                       help="cache-failover: writes are acknowledged only after WAIT saw a replica take them")
    drill.add_argument("--shard", type=int, default=1, metavar="N",
                       help="cache-failover: the node group to fail over (1 = ElastiCache's 0001; default 1)")
    drill.set_defaults(handler=cmd_drill)

    remote = sub.add_parser("remote", help="run the workloads on the app host (SSM Run Command)")
    remote_actions = remote.add_subparsers(dest="remote_command", metavar="{run}", required=True, parser_class=Parser)
    remote_run = remote_actions.add_parser(
        "run", help="run workloads on the app host of --env and print its summary table",
        description="Send `data-tier run WORKLOAD --env NAME` to the app host (stack <NAME>-App) with SSM Run "
                    "Command, wait for it, and print what the host printed; the exit code is the host's.")
    remote_run.add_argument("workload", choices=WORKLOAD_CHOICES, help="which workload (all: sql, dynamo, cache)")
    _target_flags(remote_run, outputs=False)
    remote_run.add_argument("--timeout", type=int, default=1800, metavar="SECONDS",
                            help="how long the host may run it (default 1800)")
    remote_run.set_defaults(handler=cmd_remote_run)

    cost = sub.add_parser("cost", help="estimated monthly cost of an environment, from its synthesized templates")
    cost.add_argument("-e", "--env", required=True, help="environment of cdk.json")
    cost.add_argument("--json", action="store_true", help="the rows and the total as one JSON object")
    cost.add_argument("--cdk-out", type=Path, metavar="DIR",
                      help="a cloud assembly of the environment (default: cdk.out.<env>, synthesized when stale)")
    cost.add_argument("--live", action="store_true",
                      help="instance prices from the AWS Price List API (needs AWS credentials) instead of the sheet")
    cost.add_argument("--profile", metavar="NAME", help="AWS profile for --live")
    cost.set_defaults(handler=cmd_cost)

    _register_local(sub)
    return parser


def _register_local(sub) -> None:
    """The twin's own commands (app_code.local.cli), guarded so that `run` works whatever state they are in."""
    try:
        from cdk_data_tier.app.local.cli import register
    except Exception as exc:  # noqa: BLE001 - any import failure of the twin must not take `run` down
        message = f"the local twin is not available: {type(exc).__name__}: {exc}"
        local = sub.add_parser("local", help="the local twin (unavailable)", add_help=False)
        local.add_argument("rest", nargs=argparse.REMAINDER)
        local.set_defaults(handler=lambda args, console=None: _bad_input(message))
        return
    register(sub)


def _bad_input(message: str) -> int:
    raise BadInput(message)


def _endpoints(args: argparse.Namespace, *ca_bundles: str | None):
    from cdk_data_tier.app.targets import load_endpoints

    return load_endpoints(outputs=args.outputs, env=args.env, region=args.region, profile=args.profile,
                          ca_bundles=ca_bundles)


def cmd_run(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.run import run

    endpoints = _endpoints(args, args.db_ca_bundle, args.cache_ca_bundle)
    return run(endpoints, args.workload, max_lag=args.max_lag, db_ca_bundle=args.db_ca_bundle,
               cache_ca_bundle=args.cache_ca_bundle, progress=not args.no_progress)


def cmd_bootstrap_db(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.endpoints import HostPort
    from cdk_data_tier.app.ops.commands import bootstrap_db

    via = None
    if args.via is not None:
        host, sep, port = args.via.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise BadInput(f"--via {args.via!r}: expected HOST:PORT of the forwarded port, e.g. 127.0.0.1:15433")
        via = HostPort(host, int(port))
    return bootstrap_db(_endpoints(args, args.db_ca_bundle), via=via, ca_bundle=args.db_ca_bundle, console=console)


def cmd_teardown_check(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import teardown_check, teardown_plan
    from cdk_data_tier.app.targets import aws_target

    aws = aws_target(args.region, args.profile)  # the profile is checked before any synth
    plan = teardown_plan(args.env, args.cdk_out)
    if not args.region and plan.region:
        # The stacks live in the environment's region: a shell's AWS_REGION must not point the check elsewhere.
        aws = dataclasses.replace(aws, region=plan.region)
    return teardown_check(plan, aws, console, as_json=args.json)


def cmd_backup(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import backup

    return backup(_endpoints(args), console=console)


def cmd_restore_table(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import restore_table
    from cdk_data_tier.app.ops.restore_db import parse_time
    from cdk_data_tier.app.ops.restore_table import Point

    point = Point(to_time=parse_time(args.to_time) if args.to_time else None, latest=args.latest,
                  backup_arn=args.backup)
    return restore_table(_endpoints(args), args.target, point, outputs=args.outputs, write_to=args.out,
                         console=console)


def cmd_restore_cache(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import restore_cache

    return restore_cache(_endpoints(args), args.snapshot, args.target, outputs=args.outputs,
                         write_to=args.out, console=console)


def cmd_remove_copy(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import remove_copy

    return remove_copy(_endpoints(args), args.target, console=console)


def cmd_restore_db(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import restore_db

    return restore_db(_endpoints(args), target=args.target, to_time=args.to_time, latest=args.latest,
                      snapshot=args.snapshot, out=args.out, as_json=args.json, console=console)


def cmd_drill(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.drills.command import run

    if args.shard < 1:
        raise BadInput(f"--shard {args.shard}: node groups are numbered from 1")
    return run(args.drill, outputs=args.outputs, env=args.env, region=args.region, profile=args.profile,
               as_json=args.json, yes=args.yes, partition=args.partition_first, durable=args.durable,
               shard=args.shard, console=console)


def cmd_remote_run(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.remote import check_timeout, remote_run
    from cdk_data_tier.app.targets import load_endpoints

    check_timeout(args.timeout)  # before any AWS call
    endpoints = load_endpoints(outputs=None, env=args.env, region=args.region, profile=args.profile)
    return remote_run(endpoints, args.workload, timeout_s=args.timeout)


def cmd_demo(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.demo import demo

    return demo(args.env, keep=args.keep, state_dir=args.state_dir)


def cmd_cost(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.cost.command import cost

    return cost(args.env, as_json_output=args.json, cdk_out=args.cdk_out, live=args.live, profile=args.profile)


def main(argv: Sequence[str] | None = None) -> int:
    # psycopg_pool logs every failed connection attempt as a warning; the CLI reports the outcome in one line.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Every command's handler takes (args, console=None); the twin's `local` commands follow the same shape.
        rc = args.handler(args)
    except (BadInput, EndpointsError, ProfileError) as exc:
        print(f"app_code {args.command}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

        if not isinstance(exc, BotoCoreError | ClientError):
            raise
        print(f"app_code {args.command}: {' '.join(str(exc).split())}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(exc, EndpointConnectionError) else EXIT_FAILED
    except KeyboardInterrupt:
        print(f"app_code {args.command}: interrupted", file=sys.stderr)
        return 130
    return EXIT_OK if rc is None else int(rc)
