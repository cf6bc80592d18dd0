"""The SQL workload's MySQL path (PyMySQL, multi-row INSERT, binlog-position catch-up, Seconds_Behind lag)
against the twin's MariaDB primary and replica, the stand-in for RDS MySQL."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.metrics import Recorder
from cdk_data_tier.app.sql import SqlClient, SqlWorkload, query

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def mysql_twin(twin_factory):
    """The twin of the synthesized MySQL shape (tests/fixtures_twin.py SHAPES), shared with tests/local."""
    return twin_factory("mysql-no-nat")


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
