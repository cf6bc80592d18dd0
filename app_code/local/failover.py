"""The twin's failover operations: what RDS and ElastiCache do on failure, done to the twin's processes.

The drills and tests call these with a twin's state directory. Each returns a `FailoverResult` with
what it did and how long promotion took, measured here: from the kill to the first write the new
primary accepts through the endpoint the clients use. Afterwards state.json and twin.json hold the
new roles and pids, so `local status` shows who is primary now.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from cdk_data_tier.app.local import ports
from cdk_data_tier.app.local.failover_result import FailoverResult
from cdk_data_tier.app.local.state import TWIN_FILE, State, running, write_json

T = TypeVar("T")


class FailoverError(RuntimeError):
    """The twin cannot do the operation asked (no such twin, shard or replica, an engine that lacks it)."""


@contextmanager
def _twin(state_dir: Path | str) -> Iterator[State]:
    with running(state_dir, FailoverError) as state:
        yield state
        _refresh_components(state)


def _family(state: State) -> str:
    kinds = {p.kind for p in state.procs}
    if "postgres" in kinds:
        return "postgres"
    if "mysql" in kinds:
        return "mysql"
    raise FailoverError("the twin has no database")


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ValueError as err:
        raise FailoverError(str(err)) from None


def fail_over_database(state_dir: Path | str, *, partition_standby_first: bool = False,
                       partition_hold_s: float = 0.3) -> FailoverResult:
    """Multi-AZ: kill the primary, promote the synchronous standby, move the writer endpoint.
    Single-AZ: reboot the writer (RDS's failover of an instance without a standby)."""
    with _twin(state_dir) as state:
        if _family(state) != "postgres":
            raise FailoverError("database failover is emulated for PostgreSQL templates only (the MySQL twin runs "
                                "no standby)")
        from cdk_data_tier.app.local import pg_failover  # noqa: PLC0415 - PostgreSQL only

        return _guard(lambda: pg_failover.fail_over(state, partition_standby_first=partition_standby_first,
                                                    partition_hold_s=partition_hold_s))


def fail_over_cache(state_dir: Path | str, *, shard: int = 1, partition_replicas_first: bool = False,
                    partition_hold_s: float = 0.3) -> FailoverResult:
    """Kill the primary of `shard` (1-based, ElastiCache's node group 0001 is shard 1) and promote a replica."""
    with _twin(state_dir) as state:
        from cdk_data_tier.app.local import redis_failover  # noqa: PLC0415

        return _guard(lambda: redis_failover.fail_over(state, shard=shard,
                                                       partition_replicas_first=partition_replicas_first,
                                                       partition_hold_s=partition_hold_s))


def pause_replay(state_dir: Path | str, replica: str | None = None) -> list[str]:
    """Stop applying replication on the replicas (or one): PostgreSQL pg_wal_replay_pause(), MariaDB
    STOP REPLICA SQL_THREAD. They keep receiving, so they catch up at once on resume."""
    return _replay(state_dir, replica, paused=True)


def resume_replay(state_dir: Path | str, replica: str | None = None) -> list[str]:
    return _replay(state_dir, replica, paused=False)


def _replay(state_dir: Path | str, replica: str | None, *, paused: bool) -> list[str]:
    with _twin(state_dir) as state:
        if _family(state) == "postgres":
            from cdk_data_tier.app.local import pg_failover  # noqa: PLC0415

            return _guard(lambda: pg_failover.set_replay(state, paused=paused, replica=replica))
        return _guard(lambda: _mysql_replay(state, paused=paused, replica=replica))


def _mysql_replay(state: State, *, paused: bool, replica: str | None) -> list[str]:
    import pymysql  # noqa: PLC0415

    info = json.loads(state.path(TWIN_FILE).read_text())
    creds = state.data.get("secrets", {}).get("database", {})
    chosen = [p for p in state.procs if p.kind == "mysql" and p.extra.get("role") == "replica"
              and replica in (None, p.extra.get("logical_id"))]
    if not chosen:
        raise ValueError(f"no replica {replica!r} in the twin")
    for rec in chosen:
        conn = pymysql.connect(host=ports.HOST, port=rec.port, user=creds.get("username"),
                               password=creds.get("password"), ssl={"ca": info.get("ca_bundle")}, connect_timeout=5)
        with conn, conn.cursor() as cur:
            cur.execute("STOP SLAVE SQL_THREAD" if paused else "START SLAVE SQL_THREAD")
    return [str(r.extra.get("logical_id")) for r in chosen]


def _refresh_components(state: State) -> None:
    """twin.json's components follow the processes: a promoted node's role, a replaced node's port."""
    path = state.path(TWIN_FILE)
    info: dict[str, Any] = json.loads(path.read_text())
    records = {p.name: p for p in state.procs}
    for comp in info.get("components", []):
        rec = records.get(comp.get("name", ""))
        if rec is not None and rec.port:
            comp["role"] = rec.extra.get("role", comp.get("role"))
            comp["port"], comp["endpoint"] = rec.port, f"{ports.HOST}:{rec.port}"
    write_json(path, info)


def main(argv: list[str] | None = None) -> int:
    """`python -m app_code.local.failover database|cache|pause-replay|resume-replay STATE_DIR`: one operation,
    its result as one JSON line. Drills run it in a process of its own, as a control plane runs apart from
    the clients: the kill and the promotion then take no CPU time from the workload they disrupt."""
    import argparse  # noqa: PLC0415
    import sys  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m app_code.local.failover", description=main.__doc__)
    parser.add_argument("operation", choices=("database", "cache", "pause-replay", "resume-replay"))
    parser.add_argument("state_dir", type=Path)
    parser.add_argument("--partition-first", action="store_true")
    parser.add_argument("--shard", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        if args.operation == "database":
            out: Any = fail_over_database(args.state_dir, partition_standby_first=args.partition_first).to_json()
        elif args.operation == "cache":
            out = fail_over_cache(args.state_dir, shard=args.shard,
                                  partition_replicas_first=args.partition_first).to_json()
        else:
            out = (pause_replay if args.operation == "pause-replay" else resume_replay)(args.state_dir)
    except FailoverError as err:
        print(f"failover: {err}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
