"""`python -m app_code run|ops|drill|demo|remote|cost|local`: argument parsing, and the dispatch to each command's
own module.

Exit codes: 0 all verified, 1 a workload failed or a check did not verify, 2 bad input (unknown workload,
missing or malformed outputs, endpoints that do not answer), always as one line on stderr.
"""

from __future__ import annotations

import argparse
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


def _target_flags(parser: argparse.ArgumentParser, *, outputs: bool = True) -> None:
    """--outputs FILE|DIR (a deploy's outputs or the twin) or --env NAME (AWS), with --region and --profile."""
    if outputs:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--outputs", metavar="FILE", type=Path,
                            help="a `cdk deploy --outputs-file` JSON, or the twin's .twin/<env> (or its outputs.json)")
        source.add_argument("--env", metavar="NAME", help="read the outputs of <NAME>-* stacks with DescribeStacks")
    else:
        parser.add_argument("--env", required=True, metavar="NAME")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION, the twin's, or the region in the ARNs)")
    parser.add_argument("--profile", metavar="NAME",
                        help="AWS profile for AWS targets (default: AWS_PROFILE, else the default chain); "
                             "the twin uses none")


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
    actions = ops.add_subparsers(dest="ops_command", metavar="{teardown-check,backup,restore-table}", required=True,
                                 parser_class=Parser)
    check = actions.add_parser("teardown-check", help="list what `cdk destroy` left of an environment (exit 1 if any)")
    _target_flags(check, outputs=False)
    check.set_defaults(handler=cmd_teardown_check)
    backup = actions.add_parser("backup", help="on-demand DynamoDB backup and RDS snapshot")
    _target_flags(backup)
    backup.set_defaults(handler=cmd_backup)
    restore = actions.add_parser("restore-table", help="point-in-time restore of the table into a new one")
    _target_flags(restore)
    restore.add_argument("--target", required=True, help="name of the new table")
    restore.set_defaults(handler=cmd_restore_table)

    demo = sub.add_parser("demo", help="synth, local up, run all, summary, local down (also on failure)")
    demo.add_argument("-e", "--env", default="dev", help="environment of cdk.json (default dev)")
    demo.add_argument("--keep", action="store_true", help="leave the twin up afterwards")
    demo.add_argument("--state-dir", type=Path, help="the twin's state directory (default: .twin/<env>)")
    demo.set_defaults(handler=cmd_demo)

    drill = sub.add_parser("drill", help="a steady workload through one injected event: failover, lag, throttling",
                           description="Run a drill: a workload, one event, and a report of what was acknowledged, "
                                       "present, lost and duplicated. On the twin (--outputs .twin/<env>) the twin's "
                                       "control injects the event; on AWS (--env) the failover APIs do.")
    from cdk_data_tier.app.drills.command import DRILLS

    drill.add_argument("drill", choices=DRILLS, help="which drill")
    _target_flags(drill)
    drill.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    drill.add_argument("--yes", action="store_true", help="confirm a failover of a real (AWS) environment")
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


def cmd_teardown_check(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import teardown_check
    from cdk_data_tier.app.targets import aws_target

    return teardown_check(args.env, aws_target(args.region, args.profile), console)


def cmd_backup(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import backup

    return backup(_endpoints(args), console)


def cmd_restore_table(args: argparse.Namespace, console=None) -> int:
    from cdk_data_tier.app.ops.commands import restore_table

    return restore_table(_endpoints(args), args.target, console)


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
