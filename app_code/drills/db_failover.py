"""db-failover: a steady stream of idempotent writes through the writer endpoint while the writer fails over.

Each write inserts its idempotency key (primary key) and its effect row (no unique constraint, so a write
applied twice is countable) in one transaction; a retry after an unknown outcome finds the key and adds
nothing. Every acknowledged write is read back through the writer at once. After the event, the effect
rows of the run are counted: an acknowledged key without one is lost, a key with two is duplicated.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from typing import Any

from cdk_data_tier.app.drills.inject import Injector
from cdk_data_tier.app.drills.ledger import Ledger, Report, sql_client, wait_for
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.sql import SqlClient, SqlSettings, execute, query, require_tables

WARMUP_WRITES = 10  # acknowledged before the event, and again after it
TIMEOUT = 180


def require_ledger(client: SqlClient) -> None:
    """The drill's tables come with the bootstrap's migration: the app user the drill logs in as cannot make them."""
    require_tables(client, client.dialect.drill_keys, client.dialect.drill_effects)


def _writer(client: SqlClient, ledger: Ledger, run: str, stop: threading.Event, misreads: list[str]) -> None:
    d = client.dialect
    claim = (f"INSERT IGNORE INTO {d.drill_keys} (key_, run) VALUES (%s, %s)" if d.family == "mysql" else
             f"INSERT INTO {d.drill_keys} (key_, run) VALUES (%s, %s) ON CONFLICT (key_) DO NOTHING")
    seq = 0
    while not stop.is_set():
        key = f"{run}:{seq}"

        def tx(key: str = key, seq: int = seq) -> None:
            with client.writer.connection() as conn:
                if execute(conn, claim, (key, run)) == 1:  # 0: a retry of a write that did commit
                    execute(conn, f"INSERT INTO {d.drill_effects} (key_, run, seq) VALUES (%s, %s, %s)",
                            (key, run, seq))

        if ledger.write(key, tx, client.dialect.transient):
            def read(key: str = key) -> list[tuple]:
                with client.writer.connection() as conn:
                    return query(conn, f"SELECT count(*) FROM {d.drill_effects} WHERE key_ = %s", (key,))

            try:
                if ledger.call(read, client.dialect.transient)[0][0] != 1:
                    misreads.append(key)
            except Exception:  # noqa: BLE001 - a read that never succeeds is a misread, the drill goes on
                misreads.append(key)
        seq += 1


def run(endpoints: Endpoints, injector: Injector, *, partition: bool = False,
        settings: SqlSettings | None = None) -> Report:
    base = settings or SqlSettings(ca_bundle=endpoints.aws.ca_bundle)
    # Connections wait for the endpoint rather than fail fast: the twin's proxy holds them through a promotion.
    client = sql_client(endpoints, replace(base, connect_timeout=10, pool_max=2))
    client.open()
    ledger, run_id, stop = Ledger(), uuid.uuid4().hex[:12], threading.Event()
    misreads: list[str] = []
    try:
        require_ledger(client)
        thread = threading.Thread(target=_writer, args=(client, ledger, run_id, stop, misreads), daemon=True)
        thread.start()
        wait_for(lambda: len(ledger.acknowledged) >= WARMUP_WRITES or not thread.is_alive(), timeout=TIMEOUT,
                 what="writes before the failover")
        started = time.time()
        event = injector.fail_over_database(partition=partition)
        after = len(ledger.acknowledged)
        wait_for(lambda: len(ledger.acknowledged) >= after + WARMUP_WRITES or not thread.is_alive(),
                 timeout=TIMEOUT, what="writes after the failover")
        stop.set()
        thread.join(timeout=TIMEOUT)
        counts = _counts(client, ledger, run_id)
    finally:
        stop.set()
        client.close()
    report = Report("db-failover", injector.where, event.injected, ledger, promotion_ms=event.promotion_ms)
    report.settle(counts)
    report.checks = {"no acknowledged write lost": report.lost == 0, "no write applied twice": report.duplicated == 0,
                     "every read saw its write": not misreads}
    if event.promotion_ms is not None and not partition:
        # Only for the failover alone: a partition first stalls the clients for its own duration too.
        report.checks["downtime within promotion + 1 s"] = ledger.downtime_ms <= event.promotion_ms + 1000
    report.extra = {"partitioned_first": partition, "misreads": len(misreads),
                    "event_s": round(time.time() - started, 2), **_twin_detail(event.detail)}
    return report


def _counts(client: SqlClient, ledger: Ledger, run_id: str) -> dict[str, int]:
    d = client.dialect

    def count() -> dict[str, int]:
        with client.writer.connection() as conn:
            rows = query(conn, f"SELECT key_, count(*) FROM {d.drill_effects} WHERE run = %s GROUP BY key_", (run_id,))
            execute(conn, f"DELETE FROM {d.drill_effects} WHERE run = %s", (run_id,))
            execute(conn, f"DELETE FROM {d.drill_keys} WHERE run = %s", (run_id,))
        return {str(k): int(n) for k, n in rows}

    return ledger.call(count, client.dialect.transient)


def _twin_detail(detail: dict[str, Any] | None) -> dict[str, Any]:
    if not detail:
        return {}
    keys = ("old_primary", "new_primary", "behind_bytes", "resynced", "replaced", "replace_ms")
    return {k: detail[k] for k in keys if detail.get(k) not in (None, [], "")}
