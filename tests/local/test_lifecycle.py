"""up → status → down leaves nothing behind; a failed up cleans up; stale state; missing binaries."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cdk_data_tier.app.local import moto_server, postgres, proxy, redis_nodes, twin
from cdk_data_tier.app.local.binaries import MissingBinary
from cdk_data_tier.app.local.ports import in_use
from cdk_data_tier.app.local.procs import ProcRecord, StartError, is_running, starttime
from cdk_data_tier.app.local.state import State
from tests.fixtures_synth import Synthesized
from tests.local.helpers import assembly

pytestmark = pytest.mark.engines


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[ProcRecord]:
    """Every server process the twin starts during the test, recorded independently of its state file."""
    seen: list[ProcRecord] = []
    for module in (postgres, redis_nodes, moto_server, proxy):
        original = module.spawn

        def record(*args, _original=original, **kwargs):  # type: ignore[no-untyped-def]
            proc, rec = _original(*args, **kwargs)
            seen.append(rec)
            return proc, rec

        monkeypatch.setattr(module, "spawn", record)
    return seen


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A 0700 directory, like pytest's own tmp dirs: PostgreSQL's user cannot reach a state dir below it."""
    path = Path(tempfile.mkdtemp(prefix="twin-test-"))
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def assert_nothing_left(records: list[ProcRecord], state_dir: Path, external: list[str]) -> None:
    assert records, "the test recorded no process"
    assert [r.name for r in records if is_running(r)] == []
    assert [r.port for r in records if r.port and in_use(r.port)] == []
    assert not state_dir.exists()
    assert [d for d in external if Path(d).exists()] == []


def test_up_status_down_leaves_no_process_port_or_directory(scratch: Path, spawned: list[ProcRecord],
                                                            dev: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Database", "Cache", "Dynamo")
    state_dir = scratch / "state"
    up = twin.up("dev", state_dir=state_dir, cdk_out=out)
    external = State.load(state_dir).data["external_dirs"]  # type: ignore[union-attr]
    if os.geteuid() == 0:
        # scratch is 0700: the data of PostgreSQL's unprivileged user had to live elsewhere.
        assert len(external) == 1 and (state_dir / "pg").is_symlink()
    rows = twin.status("dev", state_dir=state_dir)
    assert {r["name"] for r in rows} == {r.name for r in spawned}
    assert all(r["running"] and r["health"] == "ok" for r in rows), rows
    assert json.loads(up.twin_file.read_text())["ca_bundle"] == up.ca_bundle
    stopped = twin.down("dev", state_dir=state_dir)
    assert sorted(stopped) == sorted(r.name for r in spawned)
    assert_nothing_left(spawned, state_dir, external)
    assert twin.status("dev", state_dir=state_dir) == []


def test_a_failed_up_stops_what_it_started(scratch: Path, spawned: list[ProcRecord], dev: Synthesized,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Database", "Cache", "Dynamo")
    # An executable that exits at once: redis "starts" and dies while PostgreSQL and moto come up.
    monkeypatch.setenv("TWIN_REDIS_SERVER", "/bin/false")
    external: list[str] = []
    original = State.add_external_dir

    def record(self: State, path: Path) -> None:
        external.append(str(path))
        original(self, path)

    monkeypatch.setattr(State, "add_external_dir", record)
    with pytest.raises(StartError, match="redis 0001-001: process exited with code 1"):
        twin.up("dev", state_dir=scratch / "state", cdk_out=out)
    assert {r.kind for r in spawned} >= {"redis", "moto", "postgres"}
    assert len(external) == (1 if os.geteuid() == 0 else 0)
    assert_nothing_left(spawned, scratch / "state", external)


@pytest.mark.parametrize("source, variable, value, names", [
    ("dev", "TWIN_PG_BINDIR", "/nonexistent/bin", ["initdb", "postgresql"]),
    ("dev", "TWIN_REDIS_SERVER", "/nonexistent/redis-server", ["redis-server", "apt-get install redis-server"]),
    ("mysql-no-nat", "TWIN_MARIADB_BINDIR", "/nonexistent/bin", ["mariadbd", "apt-get install mariadb-server"]),
])
def test_a_missing_binary_is_one_clear_error_before_anything_starts(
        scratch: Path, spawned: list[ProcRecord], monkeypatch: pytest.MonkeyPatch,
        twin_assembly: Callable[[str], Path], source: str, variable: str, value: str, names: list[str]) -> None:
    out = assembly(scratch / "cdk.out", twin_assembly(source), "dev", "Database", "Cache")
    monkeypatch.setenv(variable, value)
    with pytest.raises(MissingBinary) as err:
        twin.up("dev", state_dir=scratch / "state", cdk_out=out)
    assert all(name in str(err.value) for name in names) and "\n" not in str(err.value)
    assert spawned == [] and not (scratch / "state").exists()


def test_down_after_a_crash_ignores_stale_and_reused_pids(scratch: Path, spawned: list[ProcRecord],
                                                          dev: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Dynamo")
    state_dir = scratch / "state"
    twin.up("dev", state_dir=state_dir, cdk_out=out)
    with pytest.raises(twin.TwinError, match="already up"):
        twin.up("dev", state_dir=state_dir, cdk_out=out)
    (moto,) = spawned
    os.kill(moto.pid, signal.SIGKILL)
    os.waitpid(moto.pid, 0)
    # The state also names a pid that is gone and one reused by an unrelated process since.
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        state = State.load(state_dir)
        assert state is not None
        state.add_proc(ProcRecord("gone", "redis", pid=2**22 + 1, starttime=1, log="", port=None))
        state.add_proc(ProcRecord("reused", "redis", pid=bystander.pid, starttime=(starttime(bystander.pid) or 0) - 1,
                                  log="", port=None))
        assert twin.down("dev", state_dir=state_dir) == []
        assert bystander.poll() is None, "down signalled a process it did not start"
        assert not state_dir.exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_up_over_a_crashed_twin_replaces_it(scratch: Path, spawned: list[ProcRecord], dev: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Dynamo")
    state_dir = scratch / "state"
    twin.up("dev", state_dir=state_dir, cdk_out=out)
    os.kill(spawned[0].pid, signal.SIGKILL)
    os.waitpid(spawned[0].pid, 0)
    second = twin.up("dev", state_dir=state_dir, cdk_out=out)
    try:
        assert [r["health"] for r in twin.status("dev", state_dir=state_dir)] == ["ok"]
        assert second.aws_endpoint_url.endswith(f":{spawned[1].port}")
    finally:
        twin.down("dev", state_dir=state_dir)
    assert_nothing_left(spawned, state_dir, [])


def test_down_refuses_a_directory_that_is_not_a_twin(scratch: Path) -> None:
    (scratch / "keep.txt").write_text("mine")
    with pytest.raises(twin.TwinError, match="not a twin state directory"):
        twin.down("dev", state_dir=scratch)
    with pytest.raises(twin.TwinError, match="not a twin state directory"):
        twin.up("dev", state_dir=scratch, cdk_out=scratch)
    assert (scratch / "keep.txt").read_text() == "mine"


def test_up_after_an_up_killed_half_way_replaces_it(scratch: Path, spawned: list[ProcRecord],
                                                     dev: Synthesized) -> None:
    out = assembly(scratch / "cdk.out", dev.outdir, "dev", "Dynamo")
    state_dir = scratch / "state"
    twin.up("dev", state_dir=state_dir, cdk_out=out)
    state = State.load(state_dir)
    assert state is not None
    state.set("status", "starting")  # what an up killed before its end leaves: live servers, never "up"
    twin.up("dev", state_dir=state_dir, cdk_out=out)
    try:
        assert not is_running(spawned[0]) and is_running(spawned[1])
    finally:
        twin.down("dev", state_dir=state_dir)
    assert_nothing_left(spawned, state_dir, [])


def test_a_concurrent_up_is_refused(scratch: Path) -> None:
    state_dir = scratch / "state"
    state_dir.mkdir()
    State(state_dir, {"env": "dev", "status": "starting", "procs": []}).save()
    with open(state_dir / twin.LOCK_FILE, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(twin.TwinError, match="another `local up` is starting"):
            twin.up("dev", state_dir=state_dir, cdk_out=scratch)
