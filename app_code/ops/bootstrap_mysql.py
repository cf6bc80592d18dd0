"""bootstrap-db on MySQL (RDS for MySQL, Aurora MySQL, MariaDB on the twin): users and their grants, as the admin.

Each app login holds its grants directly, not through a MySQL role: AWS's multi-user rotation copies the current
user's `SHOW GRANTS` onto `<app>_clone`, which carries direct grants across but leaves a role granted and
inactive (it sets no default role). The grants are DML on the app's database (MySQL's schema), so tables a later
migration adds are covered, plus reading the replication status that the read/write split measures lag with.
"""

from __future__ import annotations

from typing import Any

import pymysql

from cdk_data_tier.app.ops import migration
from cdk_data_tier.app.ops.bootstrap_plan import Connect, Plan, Server, Step
from cdk_data_tier.app.sql import login_refused

ERRORS = (pymysql.err.Error,)
HOST = "%"  # as RDS's rotation functions create users: from any address the security groups admit
DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
# SHOW REPLICA STATUS needs REPLICATION CLIENT on MySQL; MariaDB split it into BINLOG MONITOR and SLAVE MONITOR.
MONITOR = {"mysql": ("REPLICATION CLIENT",), "mariadb": ("BINLOG MONITOR", "SLAVE MONITOR")}
ER_PLUGIN_IS_NOT_LOADED = 1524


def connect(server: Server, user: str, password: str) -> pymysql.connections.Connection:
    target = server.via or server.endpoint
    # Through a port forward the certificate still chains to the CA, but names the writer, not 127.0.0.1.
    verify_name = bool(server.ca_bundle) and server.via is None
    tls: dict[str, Any] = {"ssl_ca": server.ca_bundle, "ssl_verify_cert": True, "ssl_verify_identity": verify_name} \
        if server.ca_bundle else {"ssl": {}}
    return pymysql.connect(host=target.host, port=target.port, user=user, password=password, database=server.dbname,
                           connect_timeout=5, autocommit=True, charset="utf8mb4", **tls)


def run(conn: pymysql.connections.Connection, plan: Plan, login: Connect) -> list[Step]:
    flavor = "mariadb" if "mariadb" in _one(conn, "SELECT VERSION()").lower() else "mysql"
    steps = [_migration(conn, plan)]
    for user in (plan.app, plan.clone):
        steps.append(_user(conn, plan, user))
        steps.append(_grants(conn, plan, user, flavor))
    steps.append(_password(conn, plan, login))
    if plan.iam_user:
        steps.append(_iam_user(conn, plan.iam_user))
        steps.append(_grants(conn, plan, plan.iam_user, flavor))
    return steps


def _migration(conn: pymysql.connections.Connection, plan: Plan) -> Step:
    before = _tables(conn)
    with conn.cursor() as cur:
        for statement in migration.statements("mysql"):
            cur.execute(statement)
    made = [t for t in migration.tables("mysql") if t not in before]
    what = f"tables of database {plan.dbname}"
    return Step(what, True, f"created {', '.join(made)}") if made else Step(what, False, f"{', '.join(sorted(before))}"
                                                                                         " present")


def _user(conn: pymysql.connections.Connection, plan: Plan, user: str) -> Step:
    if _exists(conn, user):
        return Step(f"user {user}", False, "exists")
    _execute(conn, "CREATE USER %s@%s IDENTIFIED BY %s", user, HOST, plan.password_of(user))
    return Step(f"user {user}", True, "created")


def _iam_user(conn: pymysql.connections.Connection, user: str) -> Step:
    if _exists(conn, user):
        return Step(f"user {user}", False, "exists")
    try:
        _execute(conn, "CREATE USER %s@%s IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL", user, HOST)
        return Step(f"user {user}", True, "created for IAM authentication (AWSAuthenticationPlugin)")
    except pymysql.err.OperationalError as exc:
        if exc.args[0] != ER_PLUGIN_IS_NOT_LOADED:
            raise
    # Not RDS (the twin's MariaDB): the same user and grants, but no way to log in.
    _execute(conn, "CREATE USER %s@%s ACCOUNT LOCK", user, HOST)
    return Step(f"user {user}", True, "created locked (no AWSAuthenticationPlugin on this server)")


def _grants(conn: pymysql.connections.Connection, plan: Plan, user: str, flavor: str) -> Step:
    """Exactly DML on the app's database and the replication monitor privileges: anything else is revoked."""
    want = {("*.*", p) for p in MONITOR[flavor]} | {(f"`{plan.dbname}`.*", p) for p in DML}
    held = _privileges(conn, user)
    what = f"grants of {user}"
    if held == want:
        return Step(what, False, f"{', '.join(DML)} on {plan.dbname}.*, {', '.join(MONITOR[flavor])}")
    if held:
        _execute(conn, "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", user, HOST)
    _execute(conn, f"GRANT {', '.join(MONITOR[flavor])} ON *.* TO %s@%s", user, HOST)
    _execute(conn, f"GRANT {', '.join(DML)} ON `{plan.dbname.replace('`', '``')}`.* TO %s@%s", user, HOST)
    extra = sorted(f"{p} ON {scope}" for scope, p in held - want)
    return Step(what, True, f"granted {', '.join(DML)} on {plan.dbname}.*, {', '.join(MONITOR[flavor])}"
                + (f"; revoked {', '.join(extra)}" if extra else ""))


def _password(conn: pymysql.connections.Connection, plan: Plan, login: Connect) -> Step:
    what = f"password of {plan.login}"
    try:
        login(plan.login, plan.password).close()
        return Step(what, False, "the app secret's password logs in")
    except pymysql.err.OperationalError as exc:
        if not login_refused(exc):
            raise
    _execute(conn, "ALTER USER %s@%s IDENTIFIED BY %s", plan.login, HOST, plan.password)
    return Step(what, True, "set to the app secret's")


# -- helpers ----------------------------------------------------------------------------------------------
def _privileges(conn: pymysql.connections.Connection, user: str) -> set[tuple[str, str]]:
    """(scope, privilege) of every grant `user`@`%` holds, GRANT OPTION as a privilege of its own."""
    grantee = f"'{user}'@'{HOST}'"
    held: set[tuple[str, str]] = set()
    for query, scope in (
            ("SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = %s",
             lambda r: "*.*"),
            ("SELECT PRIVILEGE_TYPE, IS_GRANTABLE, TABLE_SCHEMA FROM information_schema.SCHEMA_PRIVILEGES "
             "WHERE GRANTEE = %s", lambda r: f"`{r[2]}`.*"),
            ("SELECT PRIVILEGE_TYPE, IS_GRANTABLE, TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLE_PRIVILEGES "
             "WHERE GRANTEE = %s", lambda r: f"`{r[2]}`.`{r[3]}`"),
            ("SELECT PRIVILEGE_TYPE, IS_GRANTABLE, TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME "
             "FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = %s", lambda r: f"`{r[2]}`.`{r[3]}`({r[4]})")):
        with conn.cursor() as cur:
            cur.execute(query, (grantee,))
            for row in cur.fetchall():
                if row[0] != "USAGE":
                    held.add((scope(row), row[0]))
                if row[1] == "YES":
                    held.add((scope(row), "GRANT OPTION"))
    return held


def _tables(conn: pymysql.connections.Connection) -> set[str]:
    with conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        return {r[0] for r in cur.fetchall()}


def _exists(conn: pymysql.connections.Connection, user: str) -> bool:
    return bool(_one(conn, "SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s", user, HOST))


def _execute(conn: pymysql.connections.Connection, statement: str, *params: Any) -> None:
    with conn.cursor() as cur:
        cur.execute(statement, params)


def _one(conn: pymysql.connections.Connection, query: str, *params: Any) -> Any:
    with conn.cursor() as cur:
        cur.execute(query, params or None)
        return cur.fetchone()[0]
