"""A MySQL template runs on MariaDB: TLS forced, a replica that replays the primary, RDS-shaped secret."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import pymysql
import pytest

from app_code.local import twin
from app_code.local.binaries import MissingBinary, mariadb_bindir
from tests.local.helpers import assembly, fixture_stacks

pytestmark = pytest.mark.engines


def _mysql(stacks: dict[str, Any]) -> None:
    res = stacks["dev-Database"]["Resources"]
    res["DatabaseB269D8BB"]["Properties"].update(Engine="mysql", EngineVersion="8.0.39", Port="3306")
    res["ParameterGroup5E32DECB"]["Properties"] = {"Family": "mysql8.0", "Description": "TLS only",
                                                   "Parameters": {"require_secure_transport": "ON"}}
    stacks["dev-Database"]["Outputs"]["Engine"] = {"Value": "mysql"}


def test_mysql_primary_and_replica_on_mariadb() -> None:
    try:
        mariadb_bindir()
    except MissingBinary as err:
        pytest.skip(str(err))
    scratch = Path(tempfile.mkdtemp(prefix="twin-mysql-"))
    os.chmod(scratch, 0o711)
    out = assembly(scratch / "cdk.out", "dev", fixture_stacks("dev", "Database"), _mysql)
    try:
        up = twin.up("dev", state_dir=scratch / "state", cdk_out=out)
    except BaseException:
        shutil.rmtree(scratch)
        raise
    try:
        db = up.stack("Database")
        sm = boto3.client("secretsmanager", endpoint_url=up.aws_endpoint_url, region_name=up.region,
                          aws_access_key_id="x", aws_secret_access_key="x")
        secret = json.loads(sm.get_secret_value(SecretId=db["SecretArn"])["SecretString"])
        assert secret["engine"] == "mysql" and secret["username"] == "dbadmin"
        host, port = db["WriterEndpoint"].rsplit(":", 1)
        login = {"host": host, "user": secret["username"], "password": secret["password"], "connect_timeout": 5}
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(port=int(port), ssl_disabled=True, **login).close()  # require_secure_transport
        with pymysql.connect(port=int(port), database=secret["dbname"], ssl={"ca": up.ca_bundle}, autocommit=True,
                             **login) as conn, conn.cursor() as cur:
            cur.execute("create table t (id int primary key)")
            cur.execute("insert into t values (42)")
        rhost, rport = db["ReaderEndpoints"].rsplit(":", 1)
        deadline = time.monotonic() + 20
        with pymysql.connect(port=int(rport), database=secret["dbname"], ssl={"ca": up.ca_bundle}, autocommit=True,
                             **login) as conn, conn.cursor() as cur:
            while True:
                cur.execute("select count(*) from information_schema.tables where table_name = 't'")
                if cur.fetchone() == (1,):
                    cur.execute("select id from t")
                    if cur.fetchall() == ((42,),):
                        break
                assert time.monotonic() < deadline, "the replica did not replay the primary's write"
                time.sleep(0.1)
        rows = twin.status("dev", state_dir=up.state_dir)
        assert [r["health"] for r in rows] == ["ok"] * 3
    finally:
        twin.down("dev", state_dir=up.state_dir)
        left = up.state_dir.exists()
        shutil.rmtree(scratch, ignore_errors=True)
    assert not left
