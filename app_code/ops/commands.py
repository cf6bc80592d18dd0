"""`ops ...`: the operations of app_code.ops (backups, restores, copies, teardown verification), with what they
found or made printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints, HostPort
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK, BadInput


def bootstrap_db(endpoints: Endpoints, *, via: HostPort | None = None, ca_bundle: str | None = None,
                 console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.bootstrap_db import bootstrap

    steps = bootstrap(endpoints, via=via, ca_bundle=ca_bundle)
    console = console or Console()
    db = endpoints.database
    table = Table(title=f"bootstrap-db {endpoints.env}: {db.engine} at {db.writer}" + (f" via {via}" if via else ""))
    for column in ("step", "change", "detail"):
        table.add_column(column)
    for step in steps:
        table.add_row(step.what, "[yellow]changed[/]" if step.changed else "unchanged", step.detail)
    console.print(table)
    changed = sum(step.changed for step in steps)
    console.print(f"{changed} change(s)" if changed else "no changes: the database was already bootstrapped")
    return EXIT_OK


def teardown_plan(env: str, cdk_out: Path | None = None):
    """The environment's templates read as a teardown plan: the assembly given, else a current one (synthesized
    when missing or stale)."""
    from cdk_data_tier.app.local.templates import TemplateError, locate
    from cdk_data_tier.app.ops.teardown_plan import Plan
    from cdk_data_tier.app.synth import SynthError

    try:
        outdir = locate(env, cdk_out, echo=lambda message: print(message, file=sys.stderr))
    except (TemplateError, SynthError) as err:
        raise BadInput(" ".join(str(err).split())) from None
    return Plan.from_assembly(env, outdir)


def teardown_check(plan, aws: AwsTarget, console: Console | None = None, *, as_json: bool = False) -> int:
    """Exit 1 when anything left is an orphan, or a listing could not be made; 0 when only kept things remain."""
    from cdk_data_tier.app.ops.teardown import teardown_report

    report = teardown_report(plan, aws)
    console = console or Console()
    if report.configured_account and report.account and report.account != report.configured_account:
        print(f"warning: checked account {report.account}, but cdk.json deploys {report.env} to "
              f"{report.configured_account}: nothing found here says anything of that account", file=sys.stderr)
    if as_json:
        print(json.dumps(report.as_json(), indent=2, default=str))
        return EXIT_OK if report.clean else EXIT_FAILED
    where = f"{report.env} in {report.account or '?'}/{report.region}"
    # Two lines an item, not a table: the reasons are long, and carry the command that removes the item.
    for item in sorted(report.items, key=lambda i: (i.verdict != "orphan", i.kind, i.id)):
        style = "red" if item.verdict == "orphan" else "green"
        console.print(f"[{style}]{item.verdict:<8}[/{style}] {item.kind}: [bold]{item.id}[/bold] "
                      f"({item.stack or 'no stack'}, by {item.how_found})", highlight=False, soft_wrap=True)
        console.print(f"         {item.reason}", highlight=False, soft_wrap=True)
    for unchecked in report.unchecked:
        console.print(f"unchecked: {unchecked.what}: {unchecked.error}")
    kept = len(report.items) - len(report.orphans)
    console.print(f"{where}: {len(report.orphans)} orphan(s), {kept} expected"
                  f"{f', {len(report.unchecked)} listing(s) unchecked' if report.unchecked else ''}"
                  f"{'' if report.items else ': nothing left behind'}")
    return EXIT_OK if report.clean else EXIT_FAILED


def backup(endpoints: Endpoints, *, console: Console | None = None) -> int:
    """Exit 1 when a part failed (the others are still made and printed)."""
    from cdk_data_tier.app.ops.backup import backup as make_backups

    made = make_backups(endpoints)
    _say(console, [f"{b.what}: {b.id} ({b.detail})" for b in made])
    return EXIT_OK if all(b.ok for b in made) else EXIT_FAILED


def restore_table(endpoints: Endpoints, target: str, point: Any, *, outputs: Path | None,
                  write_to: Path | None = None, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.restore_db import twin_dir_of
    from cdk_data_tier.app.ops.restores import table_copy

    copy = table_copy(endpoints, target, point, twin=twin_dir_of(endpoints), out=write_to)
    _say(console, copy.report("dynamo", _remove_command(outputs, endpoints.env, target)))
    return EXIT_OK


def restore_cache(endpoints: Endpoints, snapshot: str, target: str, *, outputs: Path | None,
                  write_to: Path | None = None, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.restore_db import twin_dir_of
    from cdk_data_tier.app.ops.restores import cache_copy

    copy = cache_copy(endpoints, snapshot, target, twin=twin_dir_of(endpoints), out=write_to)
    _say(console, copy.report("cache", _remove_command(outputs, endpoints.env, copy.name)))
    return EXIT_OK


def remove_copy(endpoints: Endpoints, target: str, *, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.remove_copy import remove_copy as remove

    _say(console, [f"removed {what}" for what in remove(endpoints, target)])
    return EXIT_OK


def _remove_command(outputs: Path | None, env: str, target: str) -> str:
    where = f"--outputs {outputs}" if outputs else f"--env {env}"
    return f"python -m app_code ops remove-copy {where} --target {target}"


def _say(console: Console | None, lines: list[str]) -> None:
    out = console or Console()
    for line in lines:
        out.print(line, highlight=False, soft_wrap=True)


def restore_db(endpoints: Endpoints, *, target: str, to_time: str | None, latest: bool, snapshot: str | None,
               out: Path | None, as_json: bool, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.restore_db import RestoreFailed, iso, parse_time, restore_database

    console = console or Console()
    moment = parse_time(to_time) if to_time is not None else None
    try:
        copy = restore_database(endpoints, target=target, to_time=moment, latest=latest, snapshot=snapshot,
                                outputs_path=out, echo=(lambda _: None) if as_json else console.print)
    except RestoreFailed as err:
        print(f"app_code ops: {err}", file=sys.stderr)
        return EXIT_FAILED
    if as_json:
        print(json.dumps(copy.to_json()))
        return EXIT_OK
    console.print(f"restored {copy.target} ({copy.kind}) from {copy.source} to {iso(copy.restored_to)} in "
                  f"{copy.seconds:.1f}s: writer {copy.endpoint}", highlight=False)
    console.print(f"outputs: {copy.outputs_path}", highlight=False)
    console.print(f"use it:  python -m app_code run sql --outputs {copy.outputs_path}", highlight=False)
    console.print(f"remove:  {copy.remove_command}", highlight=False)
    return EXIT_OK
