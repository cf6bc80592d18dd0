"""drill restore on the dev twin: the database and the table restored to a point between t1 and t2, the cache from
a snapshot taken between them, each copy read through its outputs file. It only adds copies and removes them, so
the session's twin serves; a restore to the latest time instead (the protection off) is caught."""

from __future__ import annotations

import pytest

from cdk_data_tier.app.drills import restore
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local.procs import is_running
from cdk_data_tier.app.local.state import State
from tests.drills.helpers import drill_json

pytestmark = pytest.mark.engines
PARTS = ("database", "table", "cache")


def _nothing_left(twin, procs_before: set[str]) -> None:
    state = State.load(twin.state_dir)
    assert {p.name for p in state.procs} == procs_before and all(is_running(p) for p in state.procs)
    for key in ("copies", "cache_copies", "db_copies"):
        assert not state.data.get(key), (key, state.data.get(key))
    assert not (twin.state_dir / "copies").exists() or not any((twin.state_dir / "copies").iterdir())


def test_every_copy_holds_the_t1_markers_and_none_of_t2(twin, capsys):
    before = {p.name for p in State.load(twin.state_dir).procs}

    rc, report, err = drill_json(twin, capsys, "restore")

    assert rc == 0, (report, err)
    for part in PARTS:
        got = report[part]
        assert got["t1_present"] is True and got["t2_absent"] is True, (part, got)
        assert got["found"] == {"t1": restore.MARKERS, "t2": 0}
        assert got["restored_to"] and 0 < got["seconds"] < 30, got
    assert report["database"]["restored_to"] == report["between"] == report["table"]["restored_to"]
    assert report["t1"] < report["between"] < report["t2"]
    assert report["cache"]["restored_to"].startswith("snapshot drill-")
    _nothing_left(twin, before)


def test_a_restore_to_the_latest_time_is_caught(twin):
    before = {p.name for p in State.load(twin.state_dir).procs}

    report = restore.run(Endpoints.from_twin(twin.state_dir), twin=twin.state_dir, wrong=True)

    assert not report.ok
    for part in PARTS:
        got = report.parts[part]
        assert got.error is None and got.t1_present and not got.t2_absent, (part, got)
        assert got.found["t2"] == restore.MARKERS
    _nothing_left(twin, before)
