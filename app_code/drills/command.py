"""`drill NAME`: pick the target (the twin's control, or AWS), confirm a disruptive AWS drill, run, report.

Exit codes: 0 every claim of the drill held, 1 one did not (the table or the JSON says which), 2 bad input
(including an AWS failover without confirmation), as one line.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from cdk_data_tier.app.drills.inject import AwsInjector, Injector, TwinInjector, twin_dir
from cdk_data_tier.app.drills.ledger import Report, render
from cdk_data_tier.app.errors import EXIT_FAILED, EXIT_OK, BadInput

DRILLS = ("db-failover", "cache-failover", "replica-lag", "dynamo-throttle", "restore")
DISRUPTIVE = ("db-failover", "cache-failover", "restore")
# What a drill does to a real environment, in the confirmation it asks for.
EFFECT = {"restore": ("writes markers into the real {env} environment and restores its database, table and cache "
                      "into new, billed copies (removed at the end)", "new copies beside the real resources")}


def confirm(env: str, drill: str, yes: bool) -> None:
    """A failover of a real environment happens only when asked for twice: --yes, or the env's name typed."""
    if yes:
        return
    effect, short = EFFECT.get(drill, ("fails over the real {env} environment", "a real failover"))
    if not sys.stdin.isatty():
        raise BadInput(f"drill {drill} {effect.format(env=env)}: pass --yes to confirm (no terminal to ask)")
    answer = input(f"drill {drill} disrupts {env} on AWS ({short}). Type {env!r} to go on: ").strip()
    if answer != env:
        raise BadInput(f"drill {drill}: not confirmed (typed {answer!r}, expected {env!r})")


def run(name: str, *, outputs: Path | None, env: str | None, region: str | None, profile: str | None,
        as_json: bool, yes: bool, partition: bool = False, durable: bool = False, shard: int = 1,
        console: Any = None) -> int:
    from cdk_data_tier.app.local.failover import FailoverError
    from cdk_data_tier.app.targets import load_endpoints

    endpoints = load_endpoints(outputs=outputs, env=env, region=region, profile=profile)
    state = twin_dir(outputs)
    if name == "restore":
        return _restore(endpoints, state, as_json=as_json, yes=yes, partition=partition, console=console)
    injector: Injector
    if state is not None:
        injector = TwinInjector(state)
    else:
        if partition:
            raise BadInput("--partition-first is a fault of the local twin (--outputs .twin/<env>), not of AWS")
        if name == "replica-lag":
            raise BadInput("replica-lag pauses replay with pg_wal_replay_pause(), which RDS does not grant; run it on "
                           "the twin (--outputs .twin/<env>)")
        if name in DISRUPTIVE:
            confirm(endpoints.env, name, yes)
        injector = AwsInjector(endpoints, endpoints.aws)
    try:
        report = _dispatch(name, endpoints, injector, partition=partition, durable=durable, shard=shard)
    except (FailoverError, ValueError) as exc:
        raise BadInput(f"drill {name}: {exc}") from None
    render(report, as_json=as_json, console=console)
    return EXIT_OK if report.ok else EXIT_FAILED


def _restore(endpoints: Any, state: Path | None, *, as_json: bool, yes: bool, partition: bool,
             console: Any) -> int:
    from cdk_data_tier.app.drills import restore

    if partition:
        raise BadInput("--partition-first is a fault of the failover drills, not of the restore drill")
    if state is None:
        confirm(endpoints.env, "restore", yes)
    report = restore.run(endpoints, twin=state)
    restore.render(report, as_json=as_json, console=console)
    return EXIT_OK if report.ok else EXIT_FAILED


def _dispatch(name: str, endpoints: Any, injector: Injector, *, partition: bool, durable: bool,
              shard: int) -> Report:
    if name == "db-failover":
        from cdk_data_tier.app.drills import db_failover

        return db_failover.run(endpoints, injector, partition=partition)
    if name == "cache-failover":
        from cdk_data_tier.app.drills import cache_failover

        return cache_failover.run(endpoints, injector, durable=durable, partition=partition, shard=shard)
    if name == "replica-lag":
        from cdk_data_tier.app.drills import replica_lag

        return replica_lag.run(endpoints, injector)
    from cdk_data_tier.app.drills import dynamo_throttle

    return dynamo_throttle.run(endpoints)
