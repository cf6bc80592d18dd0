"""The SQL workload's MySQL path (PyMySQL, multi-row INSERT, binlog-position catch-up, Seconds_Behind lag)
against the twin's MariaDB primary and replica, the stand-in for RDS MySQL."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from app_code.endpoints import Endpoints
from app_code.local import twin as twin_mod
from app_code.local.binaries import MissingBinary, mariadb_bindir
from app_code.metrics import Recorder
from app_code.sql import SqlClient, SqlWorkload, query
from tests.local.helpers import assembly, fixture_stacks

pytestmark = pytest.mark.engines


def _mysql(stacks: dict[str, Any]) -> None:
    res = stacks["dev-Database"]["Resources"]
    res["DatabaseB269D8BB"]["Properties"].update(Engine="mysql", EngineVersion="8.0.39", Port="3306")
    res["ParameterGroup5E32DECB"]["Properties"] = {"Family": "mysql8.0", "Description": "TLS only",
                                                   "Parameters": {"require_secure_transport": "ON"}}
    stacks["dev-Database"]["Outputs"]["Engine"] = {"Value": "mysql"}


@pytest.fixture(scope="module")
def mysql_twin():
    try:
        mariadb_bindir()
    except MissingBinary as err:
        pytest.skip(str(err))
    scratch = Path(tempfile.mkdtemp(prefix="twin-mysql-app-"))
    os.chmod(scratch, 0o711)
    out = assembly(scratch / "cdk.out", "dev", fixture_stacks("dev", "Database"), _mysql)
    up = twin_mod.up("dev", state_dir=scratch / "state", cdk_out=out)
    try:
        yield up
    finally:
        twin_mod.down("dev", state_dir=up.state_dir)
        shutil.rmtree(scratch, ignore_errors=True)


def test_the_workload_verifies_everything_on_mysql(mysql_twin):
    endpoints = Endpoints.from_outputs_file(mysql_twin.outputs_file)
    assert endpoints.database.family == "mysql"
    recorder = Recorder()
    with SqlClient.from_endpoints(endpoints) as client:
        SqlWorkload(client, recorder).run()
        assert client.replica_lag(client.readers[0]) == 0.0
        cipher = client.read(lambda conn: query(conn, "SHOW SESSION STATUS LIKE 'Ssl_cipher'"))
    assert not recorder.failures, recorder.failures
    ops = {r.operation: r for r in recorder.rows()}
    assert ops["bulk load (multi-row INSERT)"].count == 3000
    assert ops["select by key (routed)"].detail == "300 to replica"
    assert cipher[0][1], "the replica connection is not encrypted"
