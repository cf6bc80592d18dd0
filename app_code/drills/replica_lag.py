"""replica-lag: replay stops on the replicas mid-workload; readers must never see stale data they must not see.

Each round writes a row through the writer, reads it back as a read-your-writes caller (SqlClient routes
that to the writer), and reads a row the router may send to a replica. While replay is paused the replicas'
measured lag passes the bound and the router sends plain reads to the writer; once replay resumes and the
replicas catch up, reads go back to them. Reads per target are counted before, during and after.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import replace
from typing import Any

from cdk_data_tier.app.drills.db_failover import _counts, require_ledger
from cdk_data_tier.app.drills.inject import Injector
from cdk_data_tier.app.drills.ledger import Ledger, Report, sql_client
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.sql import SqlClient, SqlSettings, execute, query

MAX_LAG_S = 1.0  # the routing bound (the workloads' default): lag up to it is served by the replicas
PHASE_READS = 20  # reads on the expected target that end a phase
TIMEOUT = 60
PHASES = ("before", "during", "after")


def run(endpoints: Endpoints, injector: Injector, *, read_your_writes: bool = True,
        settings: SqlSettings | None = None) -> Report:
    base = settings or SqlSettings(ca_bundle=endpoints.aws.ca_bundle)
    client = sql_client(endpoints, replace(base, max_lag_s=MAX_LAG_S, lag_probe_interval_s=0.05))
    client.open()
    if not client.readers:
        client.close()
        raise ValueError("replica-lag needs read replicas; this database has none")
    ledger, run_id = Ledger(), uuid.uuid4().hex[:12]
    plain: dict[str, Counter] = {p: Counter() for p in PHASES}  # phase -> target -> plain (routed) reads
    ryw: dict[str, Counter] = {p: Counter() for p in PHASES}  # the same for the read-your-writes reads
    stale_ryw: Counter[str] = Counter()
    stale_plain: Counter[str] = Counter()
    seq = 0
    paused: list[str] = []
    names: list[str] = []
    behind = 0

    def read(key: str, pool: Any) -> bool:
        rows = ledger.call(lambda: client.transaction(lambda conn: query(
            conn, f"SELECT count(*) FROM {client.dialect.drill_effects} WHERE key_ = %s", (key,)), pool),
            client.dialect.transient)
        return bool(rows[0][0] == 1)

    def round_(phase: str) -> None:
        nonlocal seq
        key, seq = f"{run_id}:{seq}", seq + 1
        ledger.write(key, lambda: client.write(lambda conn: execute(
            conn, f"INSERT INTO {client.dialect.drill_effects} (key_, run, seq) VALUES (%s, %s, %s)",
            (key, run_id, seq))),
            client.dialect.transient)
        own = client.route(read_your_writes=read_your_writes)
        ryw[phase][_target(client, own)] += 1
        if not read(key, own):
            stale_ryw[phase] += 1
        routed = client.route()
        plain[phase][_target(client, routed)] += 1
        if not read(key, routed):
            stale_plain[phase] += 1  # allowed: within the lag bound a plain reader may be behind

    def until(phase: str, target: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while plain[phase][target] < PHASE_READS:
            if time.monotonic() > deadline:
                raise TimeoutError(f"replica-lag {phase}: fewer than {PHASE_READS} plain reads went to the {target} "
                                   f"within {TIMEOUT}s ({dict(plain[phase])})")
            round_(phase)

    try:
        require_ledger(client)
        client.wait_for_replicas()
        until("before", "replica")
        paused = names = injector.pause_replay()
        # The lag is real, checked directly rather than through the router's window: a row acknowledged by the
        # writer after the pause is absent on every replica (timing-free, unlike counting stale routed reads).
        probe = f"{run_id}:probe"
        ledger.write(probe, lambda: client.write(lambda conn: execute(
            conn, f"INSERT INTO {client.dialect.drill_effects} (key_, run, seq) VALUES (%s, %s, %s)",
            (probe, run_id, -1))),
            client.dialect.transient)
        behind = sum(not read(probe, pool) for pool in client.readers)
        until("during", "writer")
        injector.resume_replay()
        paused = []
        until("after", "replica")
        counts = _counts(client, ledger, run_id)
    finally:
        if paused:
            injector.resume_replay()
        client.close()
    report = Report("replica-lag", injector.where, f"replay paused on {', '.join(names)}", ledger)
    report.settle(counts)
    report.checks = {"no acknowledged write lost": report.lost == 0,
                     "read-your-writes reads never stale": sum(stale_ryw.values()) == 0,
                     "the paused replicas were behind": behind == len(client.readers),
                     "plain reads left the lagging replicas": plain["during"]["writer"] >= PHASE_READS,
                     "plain reads back on the replicas after catch-up": plain["after"]["replica"] >= PHASE_READS}
    report.extra = {"read_your_writes": read_your_writes, "max_lag_s": MAX_LAG_S,
                    "plain_reads": {p: dict(c) for p, c in plain.items()},
                    "ryw_reads": {p: dict(c) for p, c in ryw.items()},
                    "stale_ryw_reads": sum(stale_ryw.values()), "stale_plain_reads": dict(stale_plain),
                    "replicas_behind_during_pause": behind}
    return report


def _target(client: SqlClient, pool: Any) -> str:
    return "writer" if pool is client.writer else "replica"
