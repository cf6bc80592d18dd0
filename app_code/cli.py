"""`python -m app_code ...`: the command line of app_code."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from app_code.synth import SynthError, summarize, synthesize

USAGE_ERROR = 2


def _demo(args: argparse.Namespace, console: Console) -> int:
    console.print(f"[bold]synth[/] -c env={args.env}")
    outdir = synthesize(args.env)
    table = Table(title=f"{args.env}: synthesized stacks")
    for column in ("stack", "resources", "top resource types", "outputs"):
        table.add_column(column)
    for stack in summarize(outdir, args.env):
        top = ", ".join(f"{kind.split('::', 1)[1]}×{n}" for kind, n in stack.resources.most_common(4))
        table.add_row(stack.name, str(sum(stack.resources.values())), top, ", ".join(stack.outputs))
    console.print(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m app_code", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="synth, bring up the local twin, run every workload, print the report")
    demo.add_argument("-e", "--env", default="dev", help="environment in cdk.json (default: dev)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return args.handler(args, console)
    except SynthError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
