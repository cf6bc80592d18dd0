"""`make demo`: synth -> `local up` -> `run all` -> summary -> `local down`, the last also on failure.

Each step is what a user would type; `local up`/`down` run as subprocesses of the same CLI so the demo
exercises exactly the commands the README documents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cdk_data_tier.app.project import ROOT


class DemoError(Exception):
    pass


def _local(console: Console, verb: str, env: str, state_dir: Path | None) -> None:
    extra = ["--state-dir", str(state_dir)] if state_dir else []
    shown = " ".join(["python -m app_code local", verb, "-e", env, *extra])
    console.print(f"[dim]$ {shown}[/]")
    if subprocess.run([sys.executable, "-m", "cdk_data_tier.app", "local", verb, "-e", env, *extra],
                      cwd=ROOT).returncode:
        raise DemoError(f"`{shown}` failed (its error is above)")


def _synth(console: Console, env: str) -> None:
    from cdk_data_tier.app.synth import SynthError, summarize, synthesize

    console.print(f"[dim]$ node_modules/.bin/cdk synth --quiet -c env={env}[/]")
    try:
        outdir = synthesize(env)
    except SynthError as exc:
        raise DemoError(str(exc)) from None
    table = Table(title=f"{env}: synthesized stacks")
    for column in ("stack", "resources", "outputs"):
        table.add_column(column)
    for stack in summarize(outdir, env):
        table.add_row(stack.name, str(sum(stack.resources.values())), ", ".join(stack.outputs))
    console.print(table)


def demo(env: str, *, keep: bool = False, state_dir: Path | None = None, console: Console | None = None) -> int:
    from cdk_data_tier.app.endpoints import Endpoints, EndpointsError
    from cdk_data_tier.app.errors import BadInput
    from cdk_data_tier.app.metrics import render
    from cdk_data_tier.app.preflight import preflight
    from cdk_data_tier.app.run import WORKLOADS, run_workloads

    console = console or Console(width=None if Console().is_terminal else 150)
    state_dir = state_dir.resolve() if state_dir else None
    from cdk_data_tier.app.local.state import default_state_dir

    twin_dir = state_dir or default_state_dir(env)
    started = False
    try:
        try:
            console.rule(f"1/4 synth ({env})")
            _synth(console, env)
            console.rule("2/4 local up")
            # A failed `up` stops what it started itself; `down` is only ours to call once `up` succeeded,
            # so a twin that was already up (and made `up` fail) is left alone.
            _local(console, "up", env, state_dir)
            started = True
            console.rule("3/4 run all")
            console.print(f"[dim]$ python -m app_code run all --outputs {twin_dir / 'outputs.json'}[/]")
            endpoints = Endpoints.from_twin(twin_dir)
            preflight(endpoints, WORKLOADS)
            recorder = run_workloads(endpoints, WORKLOADS)
            render(recorder, console)
            if recorder.failures:
                raise DemoError("; ".join(f"{f.workload} {f.operation}: {f.detail}" for f in recorder.failures))
        finally:
            if started and not keep:
                console.rule("4/4 local down")
                _local(console, "down", env, state_dir)
    except (DemoError, EndpointsError, BadInput) as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        return 1
    console.print(f"[green]demo passed[/]: every check verified against the {env} twin")
    return 0
