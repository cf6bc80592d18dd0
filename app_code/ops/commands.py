"""`ops teardown-check|backup|restore-table`: the operations of app_code.ops, with what they found or made printed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.console import Console

from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK, BadInput


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
