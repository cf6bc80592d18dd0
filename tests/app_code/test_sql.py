"""The SQL workload against the twin's real PostgreSQL primary and streaming replica, logged in as the app user."""

from __future__ import annotations

import time

import psycopg
import pytest

from cdk_data_tier.app.endpoints import Endpoints, HostPort
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.retry import Backoff, RetriesExhausted
from cdk_data_tier.app.sql import (
    Credentials,
    SqlClient,
    SqlSettings,
    SqlWorkload,
    Unreachable,
    app_login,
    execute,
    executing,
    query,
)
from tests.app_code.rotation import rotate_like_aws

pytestmark = pytest.mark.engines

PROBE = "catalog.rw_probe"


@pytest.fixture(scope="module")
def endpoints(twin) -> Endpoints:
    return Endpoints.from_outputs_file(twin.outputs_file)


@pytest.fixture(scope="module")
def creds(endpoints) -> Credentials:
    """The application user's, as every workload logs in (never the admin's)."""
    return app_login(endpoints)[0]


@pytest.fixture(scope="module")
def admin_creds(endpoints) -> Credentials:
    db = endpoints.database
    return Credentials.from_secret(endpoints.secret(db.admin_secret_arn), db.database_name, db.admin_secret_arn)


def client(endpoints, creds, **settings) -> SqlClient:
    return SqlClient(endpoints.database, creds, SqlSettings(ca_bundle=endpoints.aws.ca_bundle, **settings)).open()


def admin(endpoints, creds, node: HostPort) -> psycopg.Connection:
    """A plain admin (on the twin: superuser) connection to one node, for what a workload must never do
    (DDL, reconfigure, kill)."""
    return psycopg.connect(host=node.host, port=node.port, user=creds.username, password=creds.password,
                           dbname=creds.dbname, sslmode="verify-full", sslrootcert=endpoints.aws.ca_bundle,
                           autocommit=True)


@pytest.fixture(scope="module")
def probe_table(endpoints, creds, admin_creds):
    """A table the admin adds after the bootstrap, as a later migration would: the bootstrap's default privileges
    give the app user DML on it, and nothing more."""
    with admin(endpoints, admin_creds, endpoints.database.writer) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {PROBE} (id int PRIMARY KEY, v int NOT NULL)")
    with client(endpoints, creds) as c:
        c.write(lambda conn: execute(conn, f"DELETE FROM {PROBE}"))
        c.wait_for_replicas()
    return PROBE


def test_the_workload_verifies_everything_on_primary_and_replica(endpoints, creds):
    recorder = Recorder()
    with client(endpoints, creds) as c:
        SqlWorkload(c, recorder).run()
        routed = dict(c.routing.counts)
    assert not recorder.failures, recorder.failures
    ops = {r.operation: r for r in recorder.rows()}
    assert ops["bulk load (COPY)"].count == 3000 and ops["bulk load (COPY)"].verified
    assert ops["replica catch-up"].verified
    assert ops["select by key (routed)"].detail == "300 to replica"  # an idle, caught-up replica takes the reads
    assert routed["writer"] > 0 and routed["replica"] == 300


def test_connections_are_tls_verified_against_the_ca(endpoints, creds):
    with client(endpoints, creds) as c:
        ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
        assert c.read(lambda conn: query(conn, ssl), read_your_writes=True) == [(True,)]
        assert c.read(lambda conn: query(conn, ssl)) == [(True,)]
        assert "sslmode=verify-full" in c.writer.pool.conninfo


def test_a_certificate_from_another_ca_is_refused(endpoints, creds, tmp_path):
    from cdk_data_tier.app.local.tls import make_tls

    other = make_tls(tmp_path / "other", "stranger")
    settings = SqlSettings(ca_bundle=str(other.ca), connect_timeout=2)
    with pytest.raises(Unreachable, match="database writer at 127.0.0.1:.* is unreachable: .*certificate verify failed"):
        SqlClient(endpoints.database, creds, settings).open()


def test_credentials_come_from_the_secret_not_the_outputs(twin, creds):
    assert creds.password and creds.password not in twin.outputs_file.read_text()


def test_read_your_writes_never_sees_a_stale_read_from_a_delayed_replica(endpoints, creds, admin_creds, probe_table):
    """The replica applies commits 2 s late. Readers that need their own writes always get them (from the
    writer); other readers may see old data, but never older than the lag bound once it is measured."""
    replica = endpoints.database.readers[0]
    relaxed = client(endpoints, creds, max_lag_s=60.0)  # tolerates the delay: reads stay on the replica
    strict = client(endpoints, creds, max_lag_s=0.5)
    with admin(endpoints, admin_creds, replica) as rep:
        rep.execute("ALTER SYSTEM SET recovery_min_apply_delay = '2s'")
        rep.execute("SELECT pg_reload_conf()")
        try:
            deadline = time.monotonic() + 10
            while rep.execute("SHOW recovery_min_apply_delay").fetchone()[0] != "2s":
                assert time.monotonic() < deadline, "the replica did not take the delay"
                time.sleep(0.05)
            get = lambda conn: query(conn, f"SELECT v FROM {PROBE} WHERE id = 1")  # noqa: E731
            stale_seen = 0
            for n in range(1, 9):
                relaxed.write(lambda conn, n=n: execute(
                    conn, f"INSERT INTO {PROBE} VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", (n,)))
                assert relaxed.read(get, read_your_writes=True) == [(n,)]
                assert strict.read(get, read_your_writes=True) == [(n,)]
                if relaxed.read(get) != [(n,)]:
                    stale_seen += 1  # the relaxed reader really was served by the delayed replica
                time.sleep(0.1)
            assert stale_seen >= 6, "the replica was not delayed: the test proves nothing"
            # The strict reader measured the lag (about 2 s, from the replica) and went to the writer.
            assert strict.route() is strict.writer
            assert strict.routing.last_lag["replica1"] > 0.5
            assert strict.read(get) == [(8,)]
            assert relaxed.route() is not relaxed.writer
        finally:
            rep.execute("ALTER SYSTEM RESET recovery_min_apply_delay")
            rep.execute("SELECT pg_reload_conf()")
    relaxed.wait_for_replicas()
    deadline = time.monotonic() + 10
    while strict.route() is not strict.readers[0]:  # caught up: the replica takes reads again
        assert time.monotonic() < deadline, f"replica still routed around, lag {strict.routing.last_lag}"
        time.sleep(0.1)
    relaxed.close()
    strict.close()


def test_a_dropped_connection_reruns_the_whole_transaction_once(endpoints, creds, admin_creds, probe_table):
    attempts: list[int] = []
    with client(endpoints, creds) as c, admin(endpoints, admin_creds, endpoints.database.writer) as killer:
        def tx(conn) -> int:
            attempts.append(conn.info.backend_pid)
            execute(conn, f"INSERT INTO {PROBE} VALUES (2, 1) ON CONFLICT (id) DO UPDATE SET v = {PROBE}.v + 1")
            if len(attempts) == 1:  # the server goes away mid-transaction (failover, admin shutdown)
                killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
                time.sleep(0.1)
            return query(conn, f"SELECT v FROM {PROBE} WHERE id = 2")[0][0]

        c.write(lambda conn: execute(conn, f"DELETE FROM {PROBE} WHERE id = 2"))
        assert c.write(tx) == 1  # the first attempt's insert died with its connection
        assert len(attempts) == 2 and attempts[0] != attempts[1]
        assert c.routing.retries == 1
        assert c.read(lambda conn: query(conn, f"SELECT v FROM {PROBE} WHERE id = 2"), read_your_writes=True) == [(1,)]


def test_a_constraint_violation_is_not_retried(endpoints, creds, probe_table):
    attempts = []
    with client(endpoints, creds) as c:
        def tx(conn):
            attempts.append(1)
            execute(conn, f"INSERT INTO {PROBE} VALUES (3, NULL)")

        with pytest.raises(psycopg.errors.NotNullViolation):
            c.write(tx)
    assert len(attempts) == 1


def test_retries_stop_at_their_bound(endpoints, creds, admin_creds):
    settings = SqlSettings(ca_bundle=endpoints.aws.ca_bundle, backoff=Backoff(attempts=3, base=0.01))
    with SqlClient(endpoints.database, creds, settings).open() as c, \
            admin(endpoints, admin_creds, endpoints.database.writer) as killer:
        attempts = []

        def always_killed(conn):
            attempts.append(1)
            killer.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
            time.sleep(0.05)
            execute(conn, "SELECT 1")

        with pytest.raises(RetriesExhausted, match="gave up after 3 attempts"):
            c.write(always_killed)
    assert len(attempts) == 3


def test_an_unreachable_database_is_one_clear_error(endpoints, creds):
    import socket

    from cdk_data_tier.app.endpoints import DatabaseEndpoints

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    db = endpoints.database
    dead = DatabaseEndpoints(HostPort("127.0.0.1", port), (), port, db.admin_secret_arn, db.engine, db.database_name)
    with pytest.raises(Unreachable, match=f"database writer at 127.0.0.1:{port} is unreachable"):
        SqlClient(dead, creds, SqlSettings(ca_bundle=endpoints.aws.ca_bundle, connect_timeout=1)).open()


def _kill_pools(admins: list[psycopg.Connection]) -> None:
    """The pools' connections die (a failover, a restart): the next ones log in afresh."""
    for node in admins:
        node.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE application_name LIKE 'app_code-%%' AND pid <> pg_backend_pid()")


def _whoami(c: SqlClient) -> str:
    return c.write(lambda conn: query(conn, "SELECT current_user"))[0][0]


def test_connections_opened_after_a_rotation_log_in_as_the_secret_says(endpoints, creds, admin_creds, probe_table):
    """AWS's multi-user rotation, step by step as its function does it (tests/app_code/rotation.py): the first
    rotation moves the secret to `<app>_clone` with a new password and leaves `<app>` logged in; the second gives
    `<app>` a new password. A client that reads the secret for each new connection follows both, and keeps its
    DML (the grants live in the role both logins belong to); a client that read it once fails after the second."""
    db = endpoints.database
    admins = [admin(endpoints, admin_creds, node) for node in (db.writer, *db.readers)]
    rotating = SqlClient.from_endpoints(endpoints, SqlSettings(ca_bundle=endpoints.aws.ca_bundle)).open()
    pinned = client(endpoints, creds, connect_timeout=2, backoff=Backoff(attempts=2, base=0.01, cap=0.01, deadline=1))
    bump = executing(f"UPDATE {PROBE} SET v = v + 1 WHERE id = 3")
    try:
        for c in (rotating, pinned):
            c.write(lambda conn: execute(conn, f"INSERT INTO {PROBE} VALUES (3, 1) ON CONFLICT (id) DO NOTHING"))
        clone = rotate_like_aws(endpoints, admins[0], "Rot4ted-" + creds.password[8:])
        assert clone == f"{creds.username}_clone"
        _kill_pools(admins)
        assert rotating.write(bump) == 1 and _whoami(rotating) == clone
        assert pinned.write(bump) == 1 and _whoami(pinned) == creds.username  # the previous login still works
        rotating.wait_for_replicas()
        assert rotating.read(lambda conn: query(conn, f"SELECT v FROM {PROBE} WHERE id = 3")) == [(3,)]
        assert rotating.routing.counts["replica"] >= 1  # the replica's pool logged in afresh too
        assert rotate_like_aws(endpoints, admins[0], "Tw1ce-" + creds.password[6:]) == creds.username
        _kill_pools(admins)
        assert rotating.write(bump) == 1 and _whoami(rotating) == creds.username
        # A password read once is the old one, and the error says so (not only that the pool timed out).
        with pytest.raises(RetriesExhausted, match="password authentication failed"):
            pinned.write(lambda conn: execute(conn, "SELECT 1"))
    finally:
        rotate_like_aws(endpoints, admins[0], creds.password, username=creds.username)
        rotating.close()
        pinned.close()
        for node in admins:
            node.close()
    assert app_login(endpoints)[0] == creds
