"""Fail the twin's PostgreSQL writer over as RDS does, and delay replay on its replicas.

Multi-AZ: the primary is killed (SIGKILL to its process group: a crash, nothing flushed), the
synchronous standby is promoted, and the writer endpoint (the proxy) moves to it. The replicas stream
through that endpoint and follow the new timeline by themselves (recovery_target_timeline is
`latest` by default); one that had received WAL past the promotion point cannot, and is rebuilt from
a fresh base backup of the new primary. Then the failed primary is replaced, as RDS replaces a failed
instance: rebuilt as the new primary's synchronous standby, on its old port.

Single-AZ: there is no standby. RDS reboots the instance, and so does the twin: a fast shutdown
(what was committed is written out first) and a restart on the same port. The writer is down meanwhile.

`partition_standby_first` is the fault that makes the difference between a synchronous and an
asynchronous standby visible on loopback, where replication takes microseconds: the standby is cut
off from the primary (its primary_conninfo emptied, so its WAL receiver stops) before the kill. With
`synchronous_standby_names` set, commits made meanwhile block and their clients never get an answer;
without it they are acknowledged and then lost with the primary.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from cdk_data_tier.app.local.failover_result import Clock, FailoverResult
from cdk_data_tier.app.local.postgres import WRITER_FRONTEND, PgNode, PostgresTwin
from cdk_data_tier.app.local.procs import StartError, kill, run, wait_until
from cdk_data_tier.app.local.state import State

TIMEOUT = 60
AHEAD_TIMEOUT = 5


def _admin(db: PostgresTwin, port: int, dbname: str = "postgres", timeout: int = 3) -> psycopg.Connection:
    node = PgNode("admin", "", db.root, port)
    return psycopg.connect(db.conninfo(node, dbname).replace("connect_timeout=3", f"connect_timeout={timeout}"),
                           autocommit=True)


def _one(db: PostgresTwin, node: PgNode, query: str, params: tuple[Any, ...] = ()) -> Any:
    with _admin(db, node.port) as conn:
        row = conn.execute(query, params).fetchone()
        return row[0] if row else None


def _writable(db: PostgresTwin) -> bool:
    """A transaction that takes a transaction id commits through the writer endpoint."""
    with _admin(db, db.writer_port, db.spec.dbname) as conn:
        with conn.transaction():
            return conn.execute("SELECT NOT pg_is_in_recovery(), pg_current_xact_id()").fetchone()[0] is True  # type: ignore[index]


def fail_over(state: State, *, partition_standby_first: bool = False, partition_hold_s: float = 0.3) -> FailoverResult:
    db = PostgresTwin.attach(state)
    if db.standby is None:
        if partition_standby_first:
            raise ValueError("partition_standby_first: a single-AZ database has no standby to cut off")
        return _reboot(db)
    old, new = db.primary, db.standby
    result = FailoverResult(target="database", mode="multi-az", old_primary=old.name, new_primary=new.name,
                            injected=f"SIGKILL {old.name}, promote {new.name}")
    if partition_standby_first:
        result.behind_bytes = _partition(db, new, partition_hold_s)
        result.partitioned = True
        result.injected = f"standby {new.name} cut off, then {result.injected}"
    clock = Clock()
    result.killed_at = clock.now()
    kill(state.proc(f"postgres-{old.name}"), signal.SIGKILL)
    _one(db, new, "SELECT pg_promote(true, %s)", (TIMEOUT,))
    fork = _switchpoint(db, new)
    # Sampled before the endpoint moves: until then no replica can have reached the new primary.
    diverged = [r for r in db.replicas if _one(db, r, "SELECT coalesce(pg_last_wal_receive_lsn() > %s::pg_lsn, false)",
                                               (fork,))]
    assert db.proxy is not None
    db.proxy.route(WRITER_FRONTEND, [new.name])
    wait_until(lambda: _writable(db), timeout=TIMEOUT, what="the promoted standby accepting writes")
    result.writable_at = clock.now()
    result.promotion_ms = round((result.writable_at - result.killed_at) * 1000, 1)
    new.role, old.role = "primary", "standby"
    db.primary, db.standby = new, old
    _set_role(state, new)
    db.save()
    db.arm_archive_timeout()  # the new writer closes its segments every archive_timeout from now on
    started = time.monotonic()
    _rebuild(db, old, diverged)
    result.resynced = [r.name for r in diverged]
    db.make_synchronous(old)
    result.replaced = old.name
    result.replace_ms = round((time.monotonic() - started) * 1000, 1)
    if db.proxy.frontend(WRITER_FRONTEND).servers[old.name] != old.port:
        db.proxy.route(WRITER_FRONTEND, [new.name], moved={old.name: old.port})
    wait_until(db._all_streaming, timeout=TIMEOUT, what="postgres replicas streaming from the new primary")
    db.save()
    return result


def _partition(db: PostgresTwin, standby: PgNode, hold_s: float) -> int:
    """Cut the standby off from the primary; returns how far the primary got ahead of it meanwhile."""
    with _admin(db, standby.port) as conn:
        conn.execute("ALTER SYSTEM SET primary_conninfo = ''")
        conn.execute("SELECT pg_reload_conf()")
    wait_until(lambda: _one(db, standby, "SELECT count(*) = 0 FROM pg_stat_wal_receiver"), timeout=TIMEOUT,
               what=f"the WAL receiver of {standby.name} stopping")
    received = _one(db, standby, "SELECT pg_last_wal_receive_lsn()::text")
    started = time.monotonic()

    def behind() -> int | None:
        gap = int(_one(db, db.primary, "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s::pg_lsn)", (received,)))
        return gap if gap > 0 and time.monotonic() - started >= hold_s else None

    # The fault has an effect only once the primary holds WAL the standby lacks: wait for a write to arrive.
    try:
        return int(wait_until(behind, timeout=hold_s + AHEAD_TIMEOUT, what="a write during the partition"))
    except StartError:
        return 0  # nothing was written meanwhile: the partition made no difference, and the result says so


def _switchpoint(db: PostgresTwin, node: PgNode) -> str:
    """Where the promoted node's new timeline forked off (the last line of its newest .history file)."""
    with _admin(db, node.port) as conn:
        name = conn.execute("SELECT name FROM pg_ls_waldir() WHERE name LIKE '%.history' "
                            "ORDER BY name DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
        text = conn.execute("SELECT pg_read_file('pg_wal/' || %s)", (name,)).fetchone()[0]  # type: ignore[index]
    return str([line for line in text.splitlines() if line.strip()][-1].split()[1])


def _rebuild(db: PostgresTwin, standby: PgNode, replicas: list[PgNode]) -> None:
    """The failed primary as the new standby, and the replicas that cannot follow, from one fresh base backup of
    the new primary (copied for each: one backup costs seconds on 2 cores, a copy a fraction of one)."""
    nodes = [standby, *replicas]
    for node in nodes:
        kill(db.state.proc(f"postgres-{node.name}"), signal.SIGKILL)
    # rm, not shutil.rmtree: thousands of small files, several times faster on a busy machine.
    run(["rm", "-rf", *(str(n.datadir) for n in nodes)], what="removing the replaced data directories")
    db._base_backup(standby)  # its primary_conninfo names the new primary itself
    for replica in replicas:
        run(["cp", "-a", standby.datadir, replica.datadir], what=f"copy of the base backup for {replica.name}",
            user=db.user, cwd=db.root, env=db.env)
        db.follow_writer(replica)  # ... and theirs the writer endpoint
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        for job in [pool.submit(db._launch, n, db._replica_ready, same_port=True) for n in nodes]:
            job.result()


def _set_role(state: State, node: PgNode) -> None:
    rec = state.proc(f"postgres-{node.name}")
    rec.extra = {**rec.extra, "role": node.role}
    state.replace_proc(rec)


def _reboot(db: PostgresTwin) -> FailoverResult:
    primary = db.primary
    result = FailoverResult(target="database", mode="single-az reboot", old_primary=primary.name,
                            new_primary=primary.name, injected=f"reboot {primary.name} (no standby: single-AZ)")
    clock = Clock()
    result.killed_at = clock.now()
    # A fast shutdown, not a crash: RDS reboots a single-AZ instance, and what was committed stays.
    kill(db.state.proc(f"postgres-{primary.name}"), signal.SIGINT, group=False, timeout=TIMEOUT)
    db._launch(primary, db._primary_ready, same_port=True)
    wait_until(lambda: _writable(db), timeout=TIMEOUT, what="the rebooted primary accepting writes")
    result.writable_at = clock.now()
    result.promotion_ms = round((result.writable_at - result.killed_at) * 1000, 1)
    db.arm_archive_timeout()
    wait_until(db._all_streaming, timeout=TIMEOUT, what="postgres replicas streaming again")
    return result


def set_replay(state: State, *, paused: bool, replica: str | None = None) -> list[str]:
    """Pause (or resume) WAL replay on the replicas (or the one named): a replica that lags on purpose."""
    db = PostgresTwin.attach(state)
    chosen = [r for r in db.replicas if replica in (None, r.name)]
    if not chosen:
        raise ValueError(f"no replica {replica!r}: the twin has {', '.join(r.name for r in db.replicas) or 'none'}")
    for node in chosen:
        _one(db, node, "SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")
    return [n.name for n in chosen]
