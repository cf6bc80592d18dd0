"""`ops bootstrap-db` against the twin's real PostgreSQL and MariaDB: the app user it makes can do the workloads'
DML and nothing an admin can, a second run changes nothing, what is missing or too much is put right, and the
grants survive AWS's multi-user rotation.

Every test leaves the session's twin bootstrapped as it found it (the tests run in any order).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pymysql
import pytest

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local.twin import Twin
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.ops.bootstrap_db import bootstrap
from cdk_data_tier.app.sql import SqlClient, SqlWorkload, app_login, query
from tests.app_code.rotation import rotate_like_aws

pytestmark = pytest.mark.engines

TWINS = {"postgres": "dev", "mysql": "mysql-no-nat"}


@pytest.fixture(params=list(TWINS), scope="module")
def db_twin(request: pytest.FixtureRequest, twin_factory) -> Twin:
    return twin_factory(TWINS[request.param])


@pytest.fixture
def endpoints(db_twin: Twin) -> Endpoints:
    return Endpoints.from_outputs_file(db_twin.outputs_file)


def _secret(endpoints: Endpoints, arn: str) -> dict[str, Any]:
    return endpoints.secret(arn)


@contextmanager
def login(endpoints: Endpoints, user: str, password: str) -> Iterator[Any]:
    """A plain autocommit connection to the writer (psycopg or PyMySQL)."""
    db, ca = endpoints.database, endpoints.aws.ca_bundle
    if db.family == "postgres":
        with psycopg.connect(host=db.writer.host, port=db.writer.port, user=user, password=password,
                             dbname=db.database_name, sslmode="verify-full", sslrootcert=ca, autocommit=True) as conn:
            yield conn
    else:
        conn = pymysql.connect(host=db.writer.host, port=db.writer.port, user=user, password=password,
                               database=db.database_name, ssl_ca=ca, autocommit=True)
        with conn:
            yield conn


@contextmanager
def as_admin(endpoints: Endpoints) -> Iterator[Any]:
    secret = _secret(endpoints, endpoints.database.admin_secret_arn)
    with login(endpoints, secret["username"], secret["password"]) as conn:
        yield conn


@contextmanager
def as_app(endpoints: Endpoints) -> Iterator[Any]:
    creds = app_login(endpoints)[0]
    with login(endpoints, creds.username, creds.password) as conn:
        yield conn


def run(conn: Any, statement: str, params: tuple = ()) -> list[tuple]:
    if isinstance(conn, psycopg.Connection):
        cur = conn.execute(statement, params or None)
        return list(cur.fetchall()) if cur.description else []
    with conn.cursor() as cur:
        cur.execute(statement, params or None)
        return list(cur.fetchall())


def refused(conn: Any, statement: str) -> str:
    """The server's refusal of `statement`, as its error text (the test fails if the server runs it)."""
    errors = (psycopg.errors.InsufficientPrivilege,) if isinstance(conn, psycopg.Connection) else \
        (pymysql.err.OperationalError, pymysql.err.ProgrammingError)
    with pytest.raises(errors) as caught:
        run(conn, statement)
    return str(caught.value)


def changes(endpoints: Endpoints) -> dict[str, str]:
    return {s.what: s.detail for s in bootstrap(endpoints) if s.changed}


def test_the_twin_came_up_bootstrapped_and_a_second_run_changes_nothing(endpoints, db_twin, capsys):
    assert changes(endpoints) == {}
    assert main(["ops", "bootstrap-db", "--outputs", str(db_twin.state_dir)]) == 0
    out = capsys.readouterr().out
    assert "no changes: the database was already bootstrapped" in out
    assert "changed" not in out.replace("unchanged", "")


def test_the_workload_runs_as_the_app_user_never_the_admin(endpoints):
    admin = _secret(endpoints, endpoints.database.admin_secret_arn)["username"]
    app = app_login(endpoints)[0].username
    assert app != admin
    recorder = Recorder()
    with SqlClient.from_endpoints(endpoints) as client:
        SqlWorkload(client, recorder, crud_rows=5, replica_reads=20, orders=3).run()
        who = "SELECT current_user" if endpoints.database.family == "postgres" else "SELECT CURRENT_USER()"
        on_writer = client.write(lambda conn: query(conn, who))[0][0]
        on_replica = client.read(lambda conn: query(conn, who))[0][0]
        lag = client.replica_lag(client.readers[0])
    assert not recorder.failures, recorder.failures
    assert {on_writer.split("@")[0], on_replica.split("@")[0]} == {app}
    assert client.routing.counts["replica"] > 0 and lag < 1.0
    ops = {r.operation: r for r in recorder.rows()}
    assert ops["login (least privilege)"].verified and ops["login (least privilege)"].detail.startswith(f"as {app}")


def test_the_app_user_can_see_replication_lag(endpoints):
    """The read/write split measures lag on the replica: the app user's grants must let it (MySQL's SHOW REPLICA
    STATUS needs a privilege of its own), or a lagging replica would look like a writer with no lag."""
    if endpoints.database.family == "postgres":
        return  # pg_last_wal_replay_lsn() and friends are open to every role
    creds = app_login(endpoints)[0]
    replica = endpoints.database.readers[0]
    conn = pymysql.connect(host=replica.host, port=replica.port, user=creds.username, password=creds.password,
                           ssl_ca=endpoints.aws.ca_bundle, autocommit=True, cursorclass=pymysql.cursors.DictCursor)
    with conn, conn.cursor() as cur:
        cur.execute("SHOW SLAVE STATUS")
        status = cur.fetchone()
    assert status and status["Slave_SQL_Running"] == "Yes"


def test_the_app_user_does_dml_and_nothing_an_admin_can(endpoints):
    postgres = endpoints.database.family == "postgres"
    products, orders = ("catalog.products", "catalog.orders") if postgres else ("products", "orders")
    other = "public.admin_only" if postgres else "admin_only"
    with as_admin(endpoints) as admin:
        if postgres:
            run(admin, f"CREATE TABLE IF NOT EXISTS {other} (id int PRIMARY KEY)")
        else:
            # MySQL's schema is its database: the admin's table elsewhere lives in a database of its own.
            run(admin, "CREATE DATABASE IF NOT EXISTS admin_db")
            run(admin, f"CREATE TABLE IF NOT EXISTS admin_db.{other} (id int PRIMARY KEY)")
    try:
        with as_app(endpoints) as app:
            sku = f"BOOT-{secrets.token_hex(4)}"
            run(app, f"INSERT INTO {products} (sku, name, brand, category, subcategory, price, currency, stock, "
                     "rating, review_count, color, weight_grams, tags, created_at, description) VALUES "
                     "(%s, 'n', 'b', 'c', 's', 1.00, 'EUR', 1, 4.5, 1, 'red', 1, 't', '2024-01-01', 'd')", (sku,))
            run(app, f"UPDATE {products} SET stock = 2 WHERE sku = %s", (sku,))
            assert run(app, f"SELECT stock FROM {products} WHERE sku = %s", (sku,)) == [(2,)]
            run(app, f"DELETE FROM {products} WHERE sku = %s", (sku,))
            if postgres:
                assert run(app, "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
                                "WHERE rolname = current_user") == [(False, False, False)]
                assert "must be owner" in refused(app, f"DROP TABLE {orders}")
                assert "must be owner" in refused(app, f"DROP TABLE {other}")
                assert "permission denied" in refused(app, f"SELECT * FROM {other}")
                assert "permission denied to create role" in refused(app, "CREATE ROLE intruder")
                assert "permission denied to create role" in refused(app, "CREATE USER intruder PASSWORD 'x'")
                assert "permission denied for schema public" in refused(app, "CREATE TABLE public.mine (i int)")
                assert "permission denied for schema catalog" in refused(app, "CREATE TABLE catalog.mine (i int)")
                assert "permission denied for database" in refused(app, "CREATE SCHEMA mine")
                assert "permission denied" in refused(app, f"TRUNCATE {orders}")
                assert "must be owner" in refused(app, f"ALTER TABLE {products} ADD COLUMN x int")
            else:
                grants = " ".join(r[0] for r in run(app, "SHOW GRANTS"))
                assert "ALL PRIVILEGES" not in grants and "SUPER" not in grants and "GRANT OPTION" not in grants
                assert "DROP command denied" in refused(app, f"DROP TABLE {orders}")
                assert "DROP command denied" in refused(app, "DROP TABLE admin_db.admin_only")
                assert "SELECT command denied" in refused(app, "SELECT * FROM admin_db.admin_only")
                assert "CREATE USER" in refused(app, "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'")
                assert "CREATE command denied" in refused(app, "CREATE TABLE mine (i int)")
                assert "Access denied" in refused(app, "CREATE DATABASE mine")
                assert "ALTER command denied" in refused(app, f"ALTER TABLE {products} ADD COLUMN x int")
                assert "denied" in refused(app, "SELECT * FROM mysql.user")
    finally:
        with as_admin(endpoints) as admin:
            run(admin, f"DROP TABLE IF EXISTS {other}" if postgres else "DROP DATABASE IF EXISTS admin_db")


def test_a_table_a_later_migration_adds_comes_with_the_grants(endpoints):
    """The admin runs the next migration; the app user gets DML on its table (and its sequence) without a new
    bootstrap: PostgreSQL's default privileges, MySQL's grant on the whole database."""
    postgres = endpoints.database.family == "postgres"
    table = "catalog.later" if postgres else "later"
    key = "id serial PRIMARY KEY" if postgres else "id int AUTO_INCREMENT PRIMARY KEY"
    with as_admin(endpoints) as admin:
        run(admin, f"CREATE TABLE {table} ({key}, v int NOT NULL)")
    try:
        with as_app(endpoints) as app:
            run(app, f"INSERT INTO {table} (v) VALUES (1)")
            run(app, f"UPDATE {table} SET v = 2")
            assert run(app, f"SELECT v FROM {table}") == [(2,)]
            run(app, f"DELETE FROM {table}")
            refused(app, f"DROP TABLE {table}")
    finally:
        with as_admin(endpoints) as admin:
            run(admin, f"DROP TABLE {table}")


def test_a_missing_grant_or_an_extra_power_is_put_right_then_nothing_changes(endpoints):
    app = app_login(endpoints)[0].username
    with as_admin(endpoints) as admin:
        if endpoints.database.family == "postgres":
            run(admin, f"REVOKE DELETE ON catalog.orders FROM {app}_dml")
            run(admin, f"ALTER ROLE {app} CREATEROLE")
            run(admin, f"GRANT pg_read_all_data TO {app}")
            expected = {"DML on the tables of catalog", f"user {app}", f"memberships of {app}"}
        else:
            run(admin, f"GRANT CREATE, DROP ON {endpoints.database.database_name}.* TO '{app}'@'%'")
            run(admin, f"REVOKE DELETE ON {endpoints.database.database_name}.* FROM '{app}'@'%'")
            expected = {f"grants of {app}"}
    made = changes(endpoints)
    assert set(made) == expected, made
    if endpoints.database.family == "postgres":
        assert made[f"user {app}"] == "set NOCREATEROLE"
        assert made[f"memberships of {app}"] == "removed from pg_read_all_data"
    else:
        assert "revoked CREATE ON `" in made[f"grants of {app}"] and "DROP ON `" in made[f"grants of {app}"]
    assert changes(endpoints) == {}


def test_the_grants_survive_a_rotation_that_creates_the_clone(endpoints):
    """The clone the bootstrap made is gone (say, dropped by hand); the rotation's function creates it again its
    own way, and it can do the workload's DML at once. The next bootstrap gives it the grants directly too."""
    creds = app_login(endpoints)[0]
    clone = f"{creds.username}_clone"
    postgres = endpoints.database.family == "postgres"
    with as_admin(endpoints) as admin:
        run(admin, f"DROP ROLE {clone}" if postgres else f"DROP USER '{clone}'@'%'")
        try:
            assert rotate_like_aws(endpoints, admin, "Cl0ne-" + secrets.token_urlsafe(12)) == clone
            recorder = Recorder()
            with SqlClient.from_endpoints(endpoints) as client:
                SqlWorkload(client, recorder, crud_rows=3, replica_reads=10, orders=2).run()
            assert not recorder.failures, recorder.failures
            assert {r.operation: r for r in recorder.rows()}["login (least privilege)"].detail.startswith(
                f"as {clone}")
            made = changes(endpoints)
            assert set(made) <= {f"memberships of {clone}", f"grants of {clone}"}, made
        finally:
            rotate_like_aws(endpoints, admin, creds.password, username=creds.username)
            changes(endpoints)
    assert app_login(endpoints)[0] == creds
    assert changes(endpoints) == {}


def test_a_wrong_app_password_in_the_database_is_set_from_the_secret(endpoints):
    creds = app_login(endpoints)[0]
    with as_admin(endpoints) as admin:
        if endpoints.database.family == "postgres":
            run(admin, f"ALTER ROLE {creds.username} PASSWORD 'not-the-secret'")
        else:
            run(admin, f"ALTER USER '{creds.username}'@'%' IDENTIFIED BY 'not-the-secret'")
    assert changes(endpoints) == {f"password of {creds.username}": "set to the app secret's"}
    with as_app(endpoints) as app:
        assert run(app, "SELECT 1") == [(1,)]


def test_the_app_secret_holds_the_attachment_fields(endpoints):
    """As on AWS once the secret is attached: the endpoint, and the master secret its rotation logs in with."""
    value = json.loads(endpoints.aws.client("secretsmanager").get_secret_value(
        SecretId=endpoints.database.app_login_arn)["SecretString"])
    assert value["masterarn"] == endpoints.database.admin_secret_arn
    assert (value["host"], int(value["port"])) == (endpoints.database.writer.host, endpoints.database.writer.port)
    assert value["engine"] == endpoints.database.engine and value["dbname"] == endpoints.database.database_name
    assert "dbInstanceIdentifier" in value or "dbClusterIdentifier" in value
