"""`python -m app_code run|local|demo`: workloads against deployed or twin endpoints, with progress bars and a
summary table. Exit codes: 0 all verified, 1 a workload failed or a check did not verify, 2 bad input (unknown
workload, missing or malformed outputs, endpoints that do not answer), always as one line on stderr."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

from app_code.endpoints import AwsTarget, Endpoints, EndpointsError, HostPort

WORKLOADS = ("sql", "dynamo", "cache")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """Exit 2 with this one line."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints the usage block first; the contract is one clear line.
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> Parser:
    parser = Parser(prog="python -m app_code", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    run = sub.add_parser("run", help="run workloads against the endpoints of an environment")
    run.add_argument("workload", choices=(*WORKLOADS, "all"), help="which workload (all: sql, dynamo, cache)")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--outputs", metavar="FILE", type=Path,
                        help="a `cdk deploy --outputs-file` JSON, or the twin's .twin/<env>/outputs.json")
    source.add_argument("--env", metavar="NAME", help="read the outputs of <NAME>-* stacks with DescribeStacks")
    run.add_argument("--region", help="AWS region (default: AWS_REGION, the twin's, or the region in the ARNs)")
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
    actions = ops.add_subparsers(dest="ops_command", required=True, parser_class=Parser)
    check = actions.add_parser("teardown-check", help="list what `cdk destroy` left of an environment (exit 1 if any)")
    check.add_argument("--env", required=True, metavar="NAME")
    check.add_argument("--region")
    check.set_defaults(handler=cmd_teardown_check)
    for name, text, handler in (("backup", "on-demand DynamoDB backup and RDS snapshot", cmd_backup),
                                ("restore-table", "point-in-time restore of the table into a new one", cmd_restore)):
        action = actions.add_parser(name, help=text)
        where = action.add_mutually_exclusive_group(required=True)
        where.add_argument("--outputs", metavar="FILE", type=Path)
        where.add_argument("--env", metavar="NAME")
        action.add_argument("--region")
        if name == "restore-table":
            action.add_argument("--target", required=True, help="name of the new table")
        action.set_defaults(handler=handler)

    demo = sub.add_parser("demo", help="synth, local up, run all, summary, local down (also on failure)")
    demo.add_argument("-e", "--env", default="dev", help="environment of cdk.json (default dev)")
    demo.add_argument("--keep", action="store_true", help="leave the twin up afterwards")
    demo.add_argument("--state-dir", type=Path, help="the twin's state directory (default: .twin/<env>)")
    demo.set_defaults(handler=cmd_demo)

    _register_local(sub)
    return parser


def _register_local(sub) -> None:
    """The twin's own commands (app_code.local.cli), guarded so that `run` works whatever state they are in."""
    try:
        from app_code.local.cli import register
    except Exception as exc:  # noqa: BLE001 - any import failure of the twin must not take `run` down
        message = f"the local twin is not available: {type(exc).__name__}: {exc}"
        local = sub.add_parser("local", help="the local twin (unavailable)", add_help=False)
        local.add_argument("rest", nargs=argparse.REMAINDER)
        local.set_defaults(handler=lambda args, console=None: _bad_input(message))
        return
    register(sub)


def _bad_input(message: str) -> int:
    raise BadInput(message)


# --- run ---------------------------------------------------------------------------------------------------

def load_endpoints(args: argparse.Namespace) -> Endpoints:
    if args.outputs is not None:
        if args.outputs.is_dir():
            return Endpoints.from_twin(args.outputs)
        endpoints = Endpoints.from_outputs_file(args.outputs)
    else:
        aws = AwsTarget(region=args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                        endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
        _probe_url(aws.endpoint_url, "AWS_ENDPOINT_URL")
        endpoints = Endpoints.from_cloudformation(args.env, aws=aws)
    if args.region:
        endpoints.aws = dataclasses.replace(endpoints.aws, region=args.region)
    for bundle in (args.db_ca_bundle, args.cache_ca_bundle, endpoints.aws.ca_bundle):
        if bundle and not Path(bundle).is_file():
            raise BadInput(f"CA bundle {bundle} does not exist")
    return endpoints


def _probe(host: str, port: int, what: str, hint: str = "") -> None:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        raise BadInput(f"{what} at {host}:{port} is unreachable ({exc.strerror or exc}){hint}") from None


def _probe_url(url: str | None, what: str, hint: str = "") -> None:
    if url:
        parts = urlsplit(url)
        _probe(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), what, hint)


def preflight(endpoints: Endpoints, workloads: Sequence[str]) -> None:
    """Fail fast, as bad input, on outputs a workload cannot use or endpoints that do not answer."""
    twin = endpoints.aws.endpoint_url and endpoints.source.startswith("outputs file")
    hint = f"; is the twin up? (python -m app_code local up -e {endpoints.env})" if twin else ""
    _probe_url(endpoints.aws.endpoint_url, "the AWS API endpoint (moto)" if twin else "AWS_ENDPOINT_URL", hint)
    targets: list[tuple[HostPort, str]] = []
    if "sql" in workloads or "cache" in workloads:
        db = endpoints.database
        targets += [(db.writer, "database writer")] + [(r, "database replica") for r in db.readers]
    if "dynamo" in workloads:
        endpoints.dynamo  # noqa: B018 - parse (and so validate) the outputs before any work
    if "cache" in workloads:
        targets.append((endpoints.cache.endpoint, "cache endpoint"))
        if endpoints.cache.reader:
            targets.append((endpoints.cache.reader, "cache reader endpoint"))
    for hp, what in targets:
        _probe(hp.host, hp.port, what, hint)


def run_workloads(endpoints: Endpoints, workloads: Sequence[str], *, max_lag: float = 1.0,
                  db_ca_bundle: str | None = None, cache_ca_bundle: str | None = None, progress: bool = True):
    """Run the workloads in order and return the Recorder; a workload that raises is one failed row."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from app_code.metrics import Recorder
    from app_code.sql import SqlSettings

    sql_settings = SqlSettings(max_lag_s=max_lag, ca_bundle=db_ca_bundle or endpoints.aws.ca_bundle)
    cache_ca = cache_ca_bundle or endpoints.aws.ca_bundle
    recorder = Recorder()
    err_console = Console(stderr=True)
    with ExitStack() as stack:
        bars: list[Progress] = []  # started on the first load, so a run that fails before any prints no bar

        def track(label: str, total: int) -> Callable[[int], None]:
            if not progress:
                return lambda n: None
            if not bars:
                bars.append(stack.enter_context(Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err_console)))
            task = bars[0].add_task(label, total=total)
            return lambda n: bars[0].advance(task, n)

        for name in workloads:
            try:
                RUNNERS[name](endpoints, recorder, track, sql_settings, cache_ca)
            except (BadInput, EndpointsError):
                raise
            except Exception as exc:  # noqa: BLE001 - reported as a failed row, the other workloads still run
                unreachable = _unreachable(exc)
                if unreachable:
                    raise BadInput(f"{name}: {unreachable}") from None
                recorder.verify(name, "workload", False, fail=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return recorder


def _unreachable(exc: BaseException) -> str | None:
    from botocore.exceptions import EndpointConnectionError

    if isinstance(exc, EndpointConnectionError):
        return f"AWS endpoint unreachable: {exc}"
    return None


def _run_sql(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from app_code.sql import SqlClient, SqlWorkload

    with SqlClient.from_endpoints(endpoints, sql_settings) as client:
        SqlWorkload(client, recorder, progress=track).run()


def _run_dynamo(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from app_code.dynamo import DynamoWorkload

    DynamoWorkload(endpoints.dynamo, endpoints.aws, recorder, progress=track).run()


def _run_cache(endpoints: Endpoints, recorder, track, sql_settings, cache_ca) -> None:
    from app_code.cache import run_cache

    run_cache(endpoints, recorder, progress=track, sql_settings=sql_settings, ca_bundle=cache_ca)


RUNNERS = {"sql": _run_sql, "dynamo": _run_dynamo, "cache": _run_cache}


def cmd_run(args: argparse.Namespace, console=None) -> int:
    from app_code.metrics import render

    workloads = WORKLOADS if args.workload == "all" else (args.workload,)
    endpoints = load_endpoints(args)
    preflight(endpoints, workloads)
    recorder = run_workloads(endpoints, workloads, max_lag=args.max_lag, db_ca_bundle=args.db_ca_bundle,
                             cache_ca_bundle=args.cache_ca_bundle, progress=not args.no_progress)
    render(recorder)
    failures = recorder.failures
    if failures:
        print(f"FAILED: {len(failures)} check(s) did not verify: "
              + "; ".join(f"{f.workload} {f.operation}: {f.detail}" for f in failures), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _aws_from_env(region: str | None) -> AwsTarget:
    aws = AwsTarget(region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                    endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))
    _probe_url(aws.endpoint_url, "AWS_ENDPOINT_URL")
    return aws


def cmd_teardown_check(args: argparse.Namespace, console=None) -> int:
    from rich.console import Console
    from rich.table import Table

    from app_code.ops import teardown_report

    left = teardown_report(args.env, _aws_from_env(args.region))
    console = console or Console()
    if not left:
        console.print(f"{args.env}: nothing left behind")
        return EXIT_OK
    table = Table(title=f"{args.env}: left behind after cdk destroy")
    for column in ("kind", "resource", "stack"):
        table.add_column(column)
    for item in left:
        table.add_row(item.kind, item.name, item.stack)
    console.print(table)
    return EXIT_FAILED


def cmd_backup(args: argparse.Namespace, console=None) -> int:
    from rich.console import Console

    from app_code.ops import backup

    args.db_ca_bundle = args.cache_ca_bundle = None
    for made in backup(load_endpoints(args)):
        (console or Console()).print(f"{made.what}: {made.id} ({made.detail})")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace, console=None) -> int:
    from rich.console import Console

    from app_code.ops import restore_table_to_latest

    args.db_ca_bundle = args.cache_ca_bundle = None
    table = restore_table_to_latest(load_endpoints(args), args.target)
    (console or Console()).print(f"restored into {table['TableName']}: {table.get('ItemCount', '?')} items, "
                                 f"{table['TableStatus']}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, console=None) -> int:
    from app_code.demo import demo

    return demo(args.env, keep=args.keep, state_dir=args.state_dir)


def main(argv: Sequence[str] | None = None) -> int:
    # psycopg_pool logs every failed connection attempt as a warning; the CLI reports the outcome in one line.
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        # Every command's handler takes (args, console=None); the twin's `local` commands follow the same shape.
        rc = args.handler(args)
    except (BadInput, EndpointsError) as exc:
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
