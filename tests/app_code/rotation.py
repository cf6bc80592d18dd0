"""AWS's multi-user rotation of the app user's secret, done against the twin as its function does it.

The function (SecretsManagerRDS{PostgreSQL,MySQL}RotationMultiUser, aws-samples/aws-secrets-manager-rotation-
lambdas) alternates the secret between `<user>` and `<user>_clone`. Its setSecret logs in as the master (the
secret's `masterarn`) and, on PostgreSQL, creates a missing clone with `CREATE ROLE ... WITH LOGIN PASSWORD` and
`GRANT <current> TO <clone>`, or else sets its password; on MySQL it creates a missing clone, replays the current
user's `SHOW GRANTS` onto it and sets its password. finishSecret then makes the new version AWSCURRENT.
The tests run the same statements, so what they prove about grants holds for the real rotation.
"""

from __future__ import annotations

import json
from typing import Any

from psycopg import sql

from cdk_data_tier.app.endpoints import Endpoints

CLONE = "_clone"


def alternate(username: str) -> str:
    return username.removesuffix(CLONE) if username.endswith(CLONE) else username + CLONE


def rotate_like_aws(endpoints: Endpoints, admin: Any, password: str, *, username: str | None = None) -> str:
    """One rotation of AppSecretArn to `password` (to `username`, default the other login); the new username."""
    sm = endpoints.aws.client("secretsmanager")
    arn = endpoints.database.app_login_arn
    current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
    pending = username or alternate(current["username"])
    if endpoints.database.family == "postgres":
        _set_postgres(admin, current["username"], pending, password)
    else:
        _set_mysql(admin, current["username"], pending, password)
    sm.put_secret_value(SecretId=arn, SecretString=json.dumps({**current, "username": pending, "password": password}),
                        VersionStages=["AWSCURRENT"])
    return pending


def _set_postgres(admin: Any, current: str, pending: str, password: str) -> None:
    if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (pending,)).fetchone() is None:
        admin.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(sql.Identifier(pending),
                                                                            sql.Literal(password)))
        admin.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(current), sql.Identifier(pending)))
    else:
        admin.execute(sql.SQL("ALTER USER {} WITH PASSWORD {}").format(sql.Identifier(pending), sql.Literal(password)))


def _set_mysql(admin: Any, current: str, pending: str, password: str) -> None:
    with admin.cursor() as cur:
        cur.execute("SELECT User FROM mysql.user WHERE User = %s", (pending,))
        if cur.rowcount == 0:
            cur.execute("CREATE USER %s IDENTIFIED BY %s", (pending, password))
        cur.execute("SHOW GRANTS FOR %s", (current,))
        for (grant,) in cur.fetchall():
            cur.execute(grant.split(" TO ")[0].replace("%", "%%") + " TO %s", (pending,))
        cur.execute("SELECT VERSION()")
        version = cur.fetchone()[0]
        option = "%s" if version.startswith("8") else "PASSWORD(%s)"  # the function's own test of the version
        cur.execute("SET PASSWORD FOR %s = " + option, (pending, password))
