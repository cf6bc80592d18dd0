"""Database restores on the MySQL twin, against real MariaDB: a snapshot (consistent dump) plus the binlog replayed to
a time between two marker writes, the latest restorable time, and a snapshot on its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pymysql
import pytest

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local import twin as twin_mod
from cdk_data_tier.app.local.procs import is_running
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.twin import Twin
from cdk_data_tier.app.ops.backup import backup
from cdk_data_tier.app.ops.restore_db import RestoreError, remove_copy, restorable_window, restore_database

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def mysql_twin(twin_factory: Callable[[str], Twin]) -> Twin:
    return twin_factory("mysql-no-nat")


def connect(outputs: Path) -> pymysql.connections.Connection:
    ep = Endpoints.from_outputs_file(outputs)
    secret = ep.secret(ep.database.admin_secret_arn)
    return pymysql.connect(host=ep.database.writer.host, port=ep.database.writer.port, user=secret["username"],
                           password=secret["password"], database=ep.database.database_name,
                           ssl={"ca": ep.aws.ca_bundle}, autocommit=True, connect_timeout=5)


class Marks:
    def __init__(self, outputs: Path) -> None:
        self.outputs, self.table = outputs, f"restore_marks_{uuid.uuid4().hex[:8]}"
        with connect(outputs) as conn, conn.cursor() as cur:
            cur.execute(f"CREATE TABLE {self.table} (name varchar(40) PRIMARY KEY)")

    def write(self, name: str) -> datetime:
        with connect(self.outputs) as conn, conn.cursor() as cur:
            cur.execute(f"INSERT INTO {self.table} VALUES (%s)", (name,))
        return datetime.now(UTC)

    def read(self, outputs: Path) -> list[str]:
        with connect(outputs) as conn, conn.cursor() as cur:
            cur.execute(f"SELECT name FROM {self.table} ORDER BY name")
            return [r[0] for r in cur.fetchall()]


@pytest.fixture
def copies(mysql_twin: Twin) -> Iterator[Callable[..., Any]]:
    made: list[str] = []

    def restore(**kwargs: Any) -> Any:
        kwargs.setdefault("target", f"copy-{uuid.uuid4().hex[:8]}")
        made.append(kwargs["target"])
        return restore_database(mysql_twin.state_dir, **kwargs)

    yield restore
    state = State.load(mysql_twin.state_dir)
    for target in made:
        if state is not None and target in state.data.get("db_copies", {}):
            remove_copy(mysql_twin.state_dir, target=target)


def test_point_in_time_between_two_writes_replays_the_binlog_to_it(mysql_twin: Twin, copies) -> None:
    marks = Marks(mysql_twin.outputs_file)
    marks.write("t1")
    # Binlog times are whole seconds: a restore to T holds what began before floor(T), so T is a second past t1.
    time.sleep(1.1)
    between = datetime.now(UTC)
    time.sleep(0.2)
    marks.write("t2")
    copy = copies(to_time=between)
    assert copy.kind == "twin-mysql" and copy.restored_to == between.replace(microsecond=0)
    assert marks.read(copy.outputs_path) == ["t1"]
    assert marks.read(mysql_twin.outputs_file) == ["t1", "t2"]


def test_latest_includes_the_last_committed_write(mysql_twin: Twin, copies) -> None:
    marks = Marks(mysql_twin.outputs_file)
    marks.write("early")
    last = marks.write("last")
    assert restorable_window(mysql_twin.state_dir).latest >= last  # the binlog is the live primary's
    copy = copies(latest=True)
    assert marks.read(copy.outputs_path) == ["early", "last"]


def test_restore_from_the_snapshot_ops_backup_took(mysql_twin: Twin, copies) -> None:
    marks = Marks(mysql_twin.outputs_file)
    marks.write("before")
    made = {b.what: b for b in backup(Endpoints.from_twin(mysql_twin.state_dir), label=f"t{uuid.uuid4().hex[:6]}")}
    snapshot = made["twin database snapshot"]
    assert "binlog" in snapshot.detail
    marks.write("after")
    copy = copies(snapshot=snapshot.id)
    assert marks.read(copy.outputs_path) == ["before"]
    # Users and passwords come back with the dump: the copy takes the source's credentials.
    with connect(copy.outputs_path) as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone()[0].startswith("dbadmin@")


def test_a_time_before_the_first_snapshot_is_refused(mysql_twin: Twin) -> None:
    earliest = restorable_window(mysql_twin.state_dir).earliest
    with pytest.raises(RestoreError, match="is before the twin's database's earliest restorable time"):
        restore_database(mysql_twin.state_dir, target="too-early", to_time=earliest.replace(year=2001))


def test_remove_copy_stops_the_server_and_deletes_its_data(mysql_twin: Twin) -> None:
    copy = restore_database(mysql_twin.state_dir, target="gone-soon", latest=True)
    state = State.load(mysql_twin.state_dir)
    assert state is not None
    rec = state.proc("mysql-copy-gone-soon")
    datadir = Path(state.data["db_copies"]["gone-soon"]["datadir"])
    assert is_running(rec) and datadir.exists()
    remove_copy(mysql_twin.state_dir, target="gone-soon")
    assert not is_running(rec) and not datadir.exists() and not copy.outputs_path.exists()
    assert "gone-soon" not in twin_mod.restorable("dev", state_dir=mysql_twin.state_dir)["copies"]
