"""`ops bootstrap-db`: the one-time setup of the database that only the admin may do, run by an operator.

As the admin (SecretArn) it runs the app's schema migration, then makes the application user of AppSecretArn
(and its multi-user rotation's `<user>_clone`, and the IAM user of IamAuthUser) able to do DML on the app's
tables and nothing else: no DDL, no CREATE ROLE, no superuser. Every step looks before it acts, so a second
run changes nothing and says so. app_code's workloads then log in as the application user only.

Why a command and not a deploy-time custom resource (docs/security.md#the-bootstrap): the same code runs
against the twin and AWS, against real engines in the tests, and needs no function of its own inside the
isolated subnets holding the admin's password.
"""

from __future__ import annotations

from typing import Any

from cdk_data_tier.app.endpoints import DatabaseEndpoints, Endpoints, EndpointsError, HostPort
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.ops.bootstrap_plan import CLONE_SUFFIX, Plan, Server, Step
from cdk_data_tier.app.sql import login_refused, one_line, server_reason


def bootstrap(endpoints: Endpoints, *, via: HostPort | None = None, ca_bundle: str | None = None) -> list[Step]:
    db = endpoints.database
    admin = _secret(endpoints, db.admin_secret_arn, "admin secret (output SecretArn)")
    app_arn = db.app_secret_arn
    if not app_arn:
        raise BadInput(f"{db.where} output AppSecretArn is missing: the application user's secret comes with the "
                       "current Database stack; deploy it, then run bootstrap-db again")
    app = _secret(endpoints, app_arn, "app user secret (output AppSecretArn)")
    plan = _plan(admin, app, db.iam_user, db.database_name, app_arn)
    server = Server(db.writer, db.database_name, ca_bundle or endpoints.aws.ca_bundle, via)
    if db.family == "postgres":
        from cdk_data_tier.app.ops import bootstrap_pg as engine
    else:
        from cdk_data_tier.app.ops import bootstrap_mysql as engine  # type: ignore[no-redef]

    def connect(user: str, password: str) -> Any:
        return engine.connect(server, user, password)

    try:
        conn = connect(plan.admin, admin["password"])
    except engine.ERRORS as exc:
        if login_refused(exc):
            raise BadInput(f"database writer at {server} refused the admin login {plan.admin!r} of secret "
                           f"{db.admin_secret_arn}: {server_reason(exc)} (is the admin secret's password current?)"
                           ) from None
        raise BadInput(f"database writer at {server} is unreachable: {one_line(exc)}") from None
    with conn:
        steps = engine.run(conn, plan, connect)
    if db.readers and via is None:
        steps.append(_replicas(db, admin, server))
    return steps


def _replicas(db: DatabaseEndpoints, admin: dict[str, Any], server: Server) -> Step:
    """The replicas hold the users and grants before anyone logs in there (an asynchronous replica replays the
    bootstrap's commits a little later). Through one forwarded port only the writer is reachable: then not."""
    from cdk_data_tier.app.sql import Credentials, SqlClient, SqlSettings

    creds = Credentials(str(admin["username"]), str(admin["password"]), db.database_name)
    with SqlClient(db, creds, SqlSettings(ca_bundle=server.ca_bundle, pool_max=1)) as client:
        seconds = client.wait_for_replicas(deadline=60.0)
    return Step(f"replicas ({len(db.readers)})", False, f"replayed the bootstrap ({seconds:.2f}s)")


def _secret(endpoints: Endpoints, arn: str, what: str) -> dict[str, Any]:
    try:
        value = endpoints.secret(arn)
    except EndpointsError as exc:
        raise BadInput(f"{what}: {exc}") from None
    missing = [k for k in ("username", "password") if not value.get(k)]
    if missing:
        raise BadInput(f"{what} {arn} has no {', '.join(missing)}")
    return value


def _plan(admin: dict[str, Any], app: dict[str, Any], iam_user: str | None, dbname: str, arn: str) -> Plan:
    login = str(app["username"])
    base = login.removesuffix(CLONE_SUFFIX)
    names = {str(admin["username"]): "the admin", (iam_user or ""): "the IAM user"}
    for name in (base, base + CLONE_SUFFIX, f"{base}_dml"):
        if name in names:
            raise BadInput(f"app user secret {arn}: username {login!r} makes {name!r}, which is {names[name]}'s name; "
                           "the app user, its rotation clone and its grant role need names of their own")
    return Plan(admin=str(admin["username"]), login=login, password=str(app["password"]), app=base,
                clone=base + CLONE_SUFFIX, iam_user=iam_user, dbname=dbname)
