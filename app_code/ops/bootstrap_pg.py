"""bootstrap-db on PostgreSQL (RDS, Aurora, the twin): as the admin, look at each grant and make the missing ones.

The grants go to one NOLOGIN role, `<app>_dml`, and every login of the app is a member of it: `<app>`, its
rotation clone `<app>_clone` (AWS's multi-user rotation alternates the two; when it has to create the clone it
also makes it a member of `<app>`) and the IAM user. So a rotation never loses a grant, whichever login is
current. The tables belong to the admin, who runs the migration; default privileges give `<app>_dml` DML on the
tables a later migration creates in the schema.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from cdk_data_tier.app.ops import migration
from cdk_data_tier.app.ops.bootstrap_plan import Connect, Plan, Server, Step
from cdk_data_tier.app.sql import login_refused

ERRORS = (psycopg.Error,)
SCHEMA = migration.PG_SCHEMA
TABLE_DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
TABLE_OTHER = ("TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_USE = ("USAGE", "SELECT")
# What an app login must not be: the attributes ALTER ROLE sets, each with the value it must have.
LOGIN_ATTRIBUTES = {"rolsuper": ("SUPERUSER", False), "rolcreatedb": ("CREATEDB", False),
                    "rolcreaterole": ("CREATEROLE", False), "rolreplication": ("REPLICATION", False),
                    "rolbypassrls": ("BYPASSRLS", False), "rolinherit": ("INHERIT", True)}


def connect(server: Server, user: str, password: str) -> psycopg.Connection:
    # Through a port forward the TLS name to check is still the writer's (libpq connects to hostaddr).
    params: dict[str, Any] = {"host": server.endpoint.host, "port": server.endpoint.port}
    if server.via is not None:
        params.update(hostaddr=server.via.host, port=server.via.port)
    params.update({"sslmode": "verify-full", "sslrootcert": server.ca_bundle} if server.ca_bundle
                  else {"sslmode": "require"})
    return psycopg.connect(**params, user=user, password=password, dbname=server.dbname, connect_timeout=5,
                           application_name="app_code-bootstrap", autocommit=True)


def run(conn: psycopg.Connection, plan: Plan, login: Connect) -> list[Step]:
    steps = [_migration(conn), _group(conn, plan.group), _connect_privilege(conn, plan), _schema_usage(conn, plan),
             _table_dml(conn, plan.group), _sequences(conn, plan.group), _default_privileges(conn, plan),
             _public_schema(conn)]
    rds_iam = _exists(conn, "rds_iam")
    for user in (plan.app, plan.clone):
        steps += _app_login(conn, plan, user, can_login=True, memberships={plan.group} | (
            {plan.app} if user == plan.clone else set()), required={plan.group})
    steps.append(_password(conn, plan, login))
    if plan.iam_user:
        # On RDS `rds_iam` turns password login off for its members and admits IAM tokens; elsewhere (the twin)
        # the IAM user exists with the same grants but cannot log in.
        steps += _app_login(conn, plan, plan.iam_user, can_login=rds_iam, memberships={plan.group, "rds_iam"},
                            required={plan.group, *(["rds_iam"] if rds_iam else [])})
    steps.append(_pgaudit(conn))
    return steps


# -- steps ------------------------------------------------------------------------------------------------
def _migration(conn: psycopg.Connection) -> Step:
    before = _tables(conn)
    had_schema = _one(conn, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", SCHEMA)
    with conn.transaction():
        for statement in migration.statements("postgres"):
            conn.execute(statement)
    made = [t for t in migration.tables("postgres") if t not in before]
    if not made and had_schema:
        return Step(f"schema {SCHEMA}", False, f"{', '.join(sorted(before))} present")
    return Step(f"schema {SCHEMA}", True, f"created {', '.join(([] if had_schema else [f'schema {SCHEMA}']) + made)}")


def _group(conn: psycopg.Connection, group: str) -> Step:
    row = conn.execute("SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
                       "FROM pg_roles WHERE rolname = %s", (group,)).fetchone()
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
        return Step(f"role {group}", True, "created NOLOGIN (holds the app's grants)")
    if any(row):
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
                     .format(sql.Identifier(group)))
        return Step(f"role {group}", True, "made NOLOGIN with no role attributes")
    return Step(f"role {group}", False, "NOLOGIN, no role attributes")


def _connect_privilege(conn: psycopg.Connection, plan: Plan) -> Step:
    what = f"CONNECT on database {plan.dbname}"
    if _one(conn, "SELECT has_database_privilege(%s, current_database(), 'CONNECT')", plan.group):
        return Step(what, False, f"{plan.group} may connect")
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(plan.dbname),
                                                                      sql.Identifier(plan.group)))
    return Step(what, True, f"granted to {plan.group}")


def _schema_usage(conn: psycopg.Connection, plan: Plan) -> Step:
    what = f"USAGE on schema {SCHEMA}"
    usage, create = _row(conn, "SELECT has_schema_privilege(%s, %s, 'USAGE'), has_schema_privilege(%s, %s, 'CREATE')",
                         plan.group, SCHEMA, plan.group, SCHEMA)
    done = []
    if not usage:
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA),
                                                                      sql.Identifier(plan.group)))
        done.append(f"granted USAGE to {plan.group}")
    if create:
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA),
                                                                         sql.Identifier(plan.group)))
        done.append("revoked CREATE")
    return Step(what, bool(done), "; ".join(done) or f"{plan.group} may use it, not create in it")


def _table_dml(conn: psycopg.Connection, group: str) -> Step:
    what = f"DML on the tables of {SCHEMA}"
    missing, extra = [], []
    for table in sorted(_tables(conn)):
        qualified = f"{SCHEMA}.{table}"
        for privilege in TABLE_DML + TABLE_OTHER:
            held = _one(conn, "SELECT has_table_privilege(%s, %s, %s)", group, qualified, privilege)
            if privilege in TABLE_DML and not held:
                missing.append((table, privilege))
            elif privilege in TABLE_OTHER and held:
                extra.append((table, privilege))
    if missing:
        conn.execute(sql.SQL("GRANT {} ON ALL TABLES IN SCHEMA {} TO {}").format(
            sql.SQL(", ").join(map(sql.SQL, TABLE_DML)), sql.Identifier(SCHEMA), sql.Identifier(group)))
    if extra:
        conn.execute(sql.SQL("REVOKE {} ON ALL TABLES IN SCHEMA {} FROM {}").format(
            sql.SQL(", ").join(map(sql.SQL, TABLE_OTHER)), sql.Identifier(SCHEMA), sql.Identifier(group)))
    done = ([f"granted {', '.join(TABLE_DML)} on {_names(missing)}"] if missing else []) + \
        ([f"revoked {', '.join(sorted({p for _, p in extra}))}"] if extra else [])
    return Step(what, bool(done), "; ".join(done) or f"{', '.join(TABLE_DML)} for {group}, nothing else")


def _sequences(conn: psycopg.Connection, group: str) -> Step:
    what = f"sequences of {SCHEMA}"
    names = [r[0] for r in conn.execute("SELECT sequence_name FROM information_schema.sequences "
                                        "WHERE sequence_schema = %s ORDER BY 1", (SCHEMA,))]
    missing = [n for n in names for p in SEQUENCE_USE
               if not _one(conn, "SELECT has_sequence_privilege(%s, %s, %s)", group, f"{SCHEMA}.{n}", p)]
    if missing:
        conn.execute(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
            sql.Identifier(SCHEMA), sql.Identifier(group)))
        return Step(what, True, f"granted USAGE, SELECT on {', '.join(sorted(set(missing)))}")
    return Step(what, False, f"USAGE, SELECT on {len(names)} sequence(s)" if names
                else "none yet (the default privileges cover new ones)")


def _default_privileges(conn: psycopg.Connection, plan: Plan) -> Step:
    """Tables and sequences the admin creates in the schema later (the next migration) come with the grants."""
    what = f"default privileges in {SCHEMA}"
    done = []
    for kind, objtype, privileges in (("TABLES", "r", TABLE_DML), ("SEQUENCES", "S", SEQUENCE_USE)):
        held = {r[0] for r in conn.execute(
            """SELECT a.privilege_type FROM pg_default_acl d JOIN pg_namespace n ON n.oid = d.defaclnamespace,
                      aclexplode(d.defaclacl) a
               WHERE d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = %s) AND n.nspname = %s
                 AND d.defaclobjtype = %s AND a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)""",
            (plan.admin, SCHEMA, objtype, plan.group))}
        if not set(privileges) <= held:
            conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {} TO {}").format(
                sql.Identifier(plan.admin), sql.Identifier(SCHEMA), sql.SQL(", ").join(map(sql.SQL, privileges)),
                sql.SQL(kind), sql.Identifier(plan.group)))
            done.append(f"{kind.lower()} the admin creates get {', '.join(privileges)}")
    return Step(what, bool(done), "; ".join(done) or f"new tables and sequences of {plan.admin} come with the grants")


def _public_schema(conn: psycopg.Connection) -> Step:
    """Before PostgreSQL 15 every role may create in `public`: DDL the app user must not have."""
    what = "CREATE on schema public"
    everyone = _one(conn, """SELECT EXISTS (SELECT 1 FROM pg_namespace n,
                                 aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
                             WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE')""")
    if everyone:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        return Step(what, True, "revoked from PUBLIC")
    return Step(what, False, "PUBLIC may not create there")


def _app_login(conn: psycopg.Connection, plan: Plan, user: str, *, can_login: bool, memberships: set[str],
               required: set[str]) -> list[Step]:
    """One login of the app: exists, has no role attributes, and is a member of exactly what it needs."""
    ident = sql.Identifier(user)
    row = conn.execute(f"SELECT rolcanlogin, {', '.join(LOGIN_ATTRIBUTES)} FROM pg_roles WHERE rolname = %s",
                       (user,)).fetchone()
    steps = []
    login = sql.SQL("LOGIN" if can_login else "NOLOGIN")
    if row is None:
        password = sql.SQL(" PASSWORD {}").format(sql.Literal(plan.password_of(user))) if can_login else sql.SQL("")
        conn.execute(sql.SQL("CREATE ROLE {} {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
                             "INHERIT{}").format(ident, login, password))
        steps.append(Step(f"user {user}", True, f"created {'LOGIN' if can_login else 'NOLOGIN (no IAM here)'}"))
    else:
        wrong = [name if want else "NO" + name for (name, want), held
                 in zip(LOGIN_ATTRIBUTES.values(), row[1:], strict=True) if bool(held) != want]
        if bool(row[0]) != can_login:
            wrong.insert(0, "LOGIN" if can_login else "NOLOGIN")
        if wrong:
            conn.execute(sql.SQL("ALTER ROLE {} {}").format(ident, sql.SQL(" ").join(map(sql.SQL, wrong))))
        steps.append(Step(f"user {user}", bool(wrong), f"set {' '.join(wrong)}" if wrong else
                          f"{'LOGIN' if can_login else 'NOLOGIN'}, no role attributes"))
    held = {r[0] for r in conn.execute("SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
                                       "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = %s)", (user,))}
    grant, revoke = sorted(required - held), sorted(held - memberships)
    for role in grant:
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), ident))
    for role in revoke:
        conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(role), ident))
    done = ([f"made a member of {', '.join(grant)}"] if grant else []) + \
        ([f"removed from {', '.join(revoke)}"] if revoke else [])
    steps.append(Step(f"memberships of {user}", bool(done), "; ".join(done) or f"member of {', '.join(sorted(held))}"))
    return steps


def _password(conn: psycopg.Connection, plan: Plan, login: Connect) -> Step:
    """The secret's login works; the admin sets the secret's password only when it does not (as rotation does)."""
    what = f"password of {plan.login}"
    try:
        login(plan.login, plan.password).close()
        return Step(what, False, "the app secret's password logs in")
    except psycopg.OperationalError as exc:
        if not login_refused(exc):
            raise
    conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(plan.login), sql.Literal(plan.password)))
    return Step(what, True, "set to the app secret's")


def _pgaudit(conn: psycopg.Connection) -> Step:
    what = "extension pgaudit"
    if _one(conn, "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pgaudit')"):
        return Step(what, False, "installed")
    preloaded = "pgaudit" in _one(conn, "SELECT current_setting('shared_preload_libraries')").split(",")
    available = _one(conn, "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pgaudit')")
    if not (preloaded and available):
        return Step(what, False, "not loaded by this server (shared_preload_libraries): nothing to create")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pgaudit")
    return Step(what, True, "created (pgaudit.log takes effect on DDL and role statements)")


# -- helpers ----------------------------------------------------------------------------------------------
def _tables(conn: psycopg.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (SCHEMA,))}


def _exists(conn: psycopg.Connection, role: str) -> bool:
    return bool(_one(conn, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s)", role))


def _row(conn: psycopg.Connection, query: str, *params: Any) -> tuple[Any, ...]:
    row = conn.execute(query, params).fetchone()
    assert row is not None  # every query here is an aggregate or an EXISTS: one row, always
    return row


def _one(conn: psycopg.Connection, query: str, *params: Any) -> Any:
    return _row(conn, query, *params)[0]


def _names(pairs: list[tuple[str, str]]) -> str:
    return ", ".join(sorted({t for t, _ in pairs}))
