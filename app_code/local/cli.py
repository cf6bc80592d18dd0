"""`python -m app_code local up|down|status`: the twin from the command line.

`register(subparsers)` adds the `local` command to app_code's CLI; `python -m app_code.local`
runs it on its own.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cdk_data_tier.app.local import twin
from cdk_data_tier.app.local.binaries import MissingBinary
from cdk_data_tier.app.local.procs import StartError
from cdk_data_tier.app.local.state import State, default_state_dir
from cdk_data_tier.app.local.templates import TemplateError
from cdk_data_tier.app.synth import SynthError

FAILURES = (MissingBinary, StartError, SynthError, TemplateError, twin.TwinError)


def register(subparsers: Any) -> None:
    local = subparsers.add_parser("local", help="the local twin of the data tier: up, down, status",
                                  description="Build the data tier on loopback from the synthesized templates.")
    actions = local.add_subparsers(dest="local_command", required=True)
    for name, handler, text in (("up", _up, "start the twin (synthesizes first when cdk.out is missing or stale)"),
                                ("down", _down, "stop every process of the twin and remove its state"),
                                ("status", _status, "each component, its port, health and replication")):
        cmd = actions.add_parser(name, help=text, description=text)
        cmd.add_argument("-e", "--env", default="dev", help="environment in cdk.json (default: dev)")
        cmd.add_argument("--state-dir", type=Path, default=None, help="state directory (default: .twin/<env>)")
        cmd.add_argument("--cdk-out", type=Path, default=None,
                         help="cloud assembly to read (default: a fresh cdk.out or cdk.out.<env>, else synth)")
        cmd.set_defaults(handler=_run(handler))


def _run(handler: Any) -> Any:
    # app_code's CLI calls handler(args, console); a failure is one line on stderr and exit code 1. What a
    # server logged before it failed (a StartError's tail) goes to stdout above it, where it can be read.
    def wrapped(args: argparse.Namespace, console: Console | None = None) -> int:
        console = console or Console()
        try:
            return int(handler(args, console))
        except FAILURES as err:
            first, *details = str(err).splitlines() or [type(err).__name__]
            if details:
                console.print("\n".join(details), highlight=False, markup=False)
            print(f"app_code local: {first}", file=sys.stderr)
            return 1

    return wrapped


def _up(args: argparse.Namespace, console: Console) -> int:
    started = time.monotonic()
    with console.status(f"local up -e {args.env}") as spinner:
        def echo(message: str) -> None:
            spinner.update(message)
            console.print(f"  {message}", highlight=False)

        result = twin.up(args.env, state_dir=args.state_dir, cdk_out=args.cdk_out, echo=echo)
    console.print(f"[green]twin {args.env} up[/] in {time.monotonic() - started:.1f}s: "
                  f"outputs {result.outputs_file}, twin {result.twin_file}")
    _print_status(args, console)
    return 0


def _down(args: argparse.Namespace, console: Console) -> int:
    where = args.state_dir or default_state_dir(args.env)
    state = State.load(where)
    stopped = twin.down(args.env, state_dir=args.state_dir)
    console.print(f"twin {state.env if state else args.env} down: stopped {len(stopped)} process(es), "
                  f"removed {where}")
    return 0


def _status(args: argparse.Namespace, console: Console) -> int:
    return 0 if _print_status(args, console) else 3


def _print_status(args: argparse.Namespace, console: Console) -> bool:
    rows = twin.status(args.env, state_dir=args.state_dir)
    if not rows:
        console.print(f"twin {args.env}: not up")
        return False
    table = Table(title=f"twin {args.env}")
    table.add_column("component", no_wrap=True)
    for column in ("role", "port", "pid", "health", "replication"):
        table.add_column(column)
    healthy = True
    for row in rows:
        ok = row["running"] and row["health"] == "ok"
        healthy &= ok
        table.add_row(_short(row["name"]), row["role"], str(row["port"]), str(row["pid"]),
                      f"[green]{row['health']}[/]" if ok else f"[red]{row['health']}[/]", row["replication"])
    console.print(table)
    _print_engines(twin.engine_versions(args.env, state_dir=args.state_dir), console)
    _print_restorable(twin.restorable(args.env, state_dir=args.state_dir), console)
    return healthy


def _print_restorable(found: dict[str, Any], console: Console) -> None:
    """What describe_db_instances reports of the twin's automated backups, and what was made of them."""
    if not found:
        return
    if "error" in found:
        console.print(f"database backups: [red]{found['error']}[/]", highlight=False)
        return
    console.print(f"database restorable: EarliestRestorableTime {found['EarliestRestorableTime']}, "
                  f"LatestRestorableTime {found['LatestRestorableTime']}; snapshots: "
                  f"{', '.join(found['snapshots']) or 'none'}; restored copies: {', '.join(found['copies']) or 'none'}",
                  highlight=False)


def _print_engines(engines: dict[str, Any], console: Console) -> None:
    """The template's engine next to the one the twin runs: features newer than the local one are missing."""
    if not engines:
        return
    table = Table(title="engines: template vs local")
    for column in ("component", "template", "local", ""):
        table.add_column(column, no_wrap=True)
    for component, info in sorted(engines.items()):
        same = bool(info.get("matches"))
        table.add_row(component, str(info.get("template")), str(info.get("local")),
                      "[green]same[/]" if same else "[yellow]differs[/]")
    console.print(table)


def _short(name: str) -> str:
    # CDK logical ids end in an 8-hex-digit hash of the construct path: noise in a table.
    return re.sub(r"(?<=[A-Za-z0-9])[0-9A-F]{8}(?=(-standby)?$)", "", name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app_code.local", description=__doc__)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["local", *(sys.argv[1:] if argv is None else argv)])
    return int(args.handler(args, Console()))
