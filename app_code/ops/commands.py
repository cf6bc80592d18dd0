"""`ops bootstrap-db|teardown-check|backup|restore-table`: the operations of app_code.ops, with what they found or
made printed."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints, HostPort
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK


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


def backup(endpoints: Endpoints, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.backup import backup as make_backups

    for made in make_backups(endpoints):
        (console or Console()).print(f"{made.what}: {made.id} ({made.detail})")
    return EXIT_OK


def restore_table(endpoints: Endpoints, target: str, console: Console | None = None) -> int:
    from cdk_data_tier.app.ops.restore import restore_table_to_latest

    table = restore_table_to_latest(endpoints, target)
    (console or Console()).print(f"restored into {table['TableName']}: {table.get('ItemCount', '?')} items, "
                                 f"{table['TableStatus']}")
    return EXIT_OK
