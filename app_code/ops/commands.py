"""`ops ...`: the operations of app_code.ops (backups, restores, copies, teardown verification), with what they
found or made printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK


def teardown_check(env: str, aws: AwsTarget, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.teardown import teardown_report

    left = teardown_report(env, aws)
    console = console or Console()
    if not left:
        console.print(f"{env}: nothing left behind")
        return EXIT_OK
    table = Table(title=f"{env}: left behind after cdk destroy")
    for column in ("kind", "resource", "stack"):
        table.add_column(column)
    for item in left:
        table.add_row(item.kind, item.name, item.stack)
    console.print(table)
    return EXIT_FAILED


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
