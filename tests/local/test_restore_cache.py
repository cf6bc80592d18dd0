"""Cache snapshots and restores on the twin, with real redis in both cluster modes: a snapshot holds every key
written before it and none written after; the copy runs with the source's TLS and AUTH on new ports, its outputs
file points clients at it, and removing it (or `local down`) leaves none of its processes."""

from __future__ import annotations

import json
import uuid

import pytest

from cdk_data_tier.app.cache import CacheAuth, connect
from cdk_data_tier.app.cli import main
from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.local.procs import is_running
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.ops import copies

pytestmark = pytest.mark.engines
KEYS = 200  # spread over every slot range of a cluster's shards


def _client(endpoints: Endpoints):
    return connect(endpoints.cache, CacheAuth.from_endpoints(endpoints), ca_bundle=endpoints.aws.ca_bundle)


@pytest.mark.parametrize("name", ["twin", "twin_prod"])
def test_a_restored_cache_holds_the_keys_of_its_snapshot_and_no_later_ones(name, request, capsys):
    twin = request.getfixturevalue(name)
    source = Endpoints.from_twin(twin.state_dir)
    client = _client(source)
    run = uuid.uuid4().hex[:6]
    for i in range(KEYS):
        client.set(f"restore:{run}:t1:{i}", str(i))
    snapshot, target = f"snap-{run}", f"copy-{run}"

    capsys.readouterr()
    assert main(["ops", "backup", "--outputs", str(twin.state_dir)]) == 0
    made = capsys.readouterr().out
    assert "cache snapshot: " in made and "dynamodb backup: arn:aws:dynamodb:" in made
    group = json.loads(twin.twin_file.read_text())["cache"]["replication_group_id"]
    assert made.split("cache snapshot: ", 1)[1].startswith(f"{group}-")
    from cdk_data_tier.app.local import redis_snapshot

    snap = redis_snapshot.take(State.load(twin.state_dir), snapshot, source=f"{twin.env}-Cache")
    assert len(snap.shards) == source.cache.cluster_mode + 1  # dev: 1 shard, prod: 2
    for i in range(KEYS):
        client.set(f"restore:{run}:t2:{i}", str(i))
        client.set(f"restore:{run}:t1:{i}", "changed")

    assert main(["ops", "restore-cache", "--outputs", str(twin.state_dir), "--snapshot", snapshot,
                 "--target", target]) == 0
    out = capsys.readouterr().out
    outputs = twin.state_dir / "copies" / target / "outputs.json"
    assert f"use it:  python -m app_code run cache --outputs {outputs}" in out
    try:
        copy = Endpoints.from_outputs_file(outputs)
        assert copy.cache.endpoint != source.cache.endpoint and copy.cache.tls == source.cache.tls
        assert copy.cache.cluster_mode == source.cache.cluster_mode
        restored = _client(copy)  # the source's AUTH secret, the twin's CA
        assert all(restored.get(f"restore:{run}:t1:{i}") == str(i) for i in range(KEYS))
        assert not any(restored.exists(f"restore:{run}:t2:{i}") for i in range(KEYS))
        state = State.load(twin.state_dir)
        procs = copies.recorded(twin.state_dir)[target]["procs"]
        assert len(procs) == len(State.load(twin.state_dir).data["redis"]["nodes"])
        assert all(is_running(state.proc(p)) for p in procs)
        stack = json.loads(outputs.read_text())[f"{twin.env}-Cache"]
        assert stack["CopyKind"] == "cache" and stack["RestoredTo"].startswith(f"snapshot {snapshot} of ")
    finally:
        assert main(["ops", "remove-copy", "--outputs", str(twin.state_dir), "--target", target]) == 0
    state = State.load(twin.state_dir)
    assert not any(p.name.startswith(f"redis-{target}-") for p in state.procs)
    assert target not in state.data.get("cache_copies", {}) and not (twin.state_dir / "copies" / target).exists()
    assert all(is_running(p) for p in state.procs)  # the twin's own nodes untouched


def test_snapshot_and_restore_refuse_bad_names_and_leave_nothing(twin, capsys):
    state = str(twin.state_dir)
    cases = [
        (["--snapshot", "nope", "--target", "copy-x"], f"app_code ops: --snapshot nope: no such cache snapshot in {twin.state_dir}/snapshots/cache (`ops backup` "
                                                       "takes one)"),
        (["--snapshot", "nope", "--target", "9lives"], "app_code ops: --target '9lives' is not a valid ElastiCache "
                                                       "name: 1-40 letters, digits or hyphens, starting with a letter, "
                                                       "no two hyphens in a row, not ending with a hyphen"),
    ]
    before = [p.name for p in State.load(twin.state_dir).procs]
    for args, expected in cases:
        capsys.readouterr()
        assert main(["ops", "restore-cache", "--outputs", state, *args]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(expected) and "\n" not in err, err
    assert [p.name for p in State.load(twin.state_dir).procs] == before
    assert not (twin.state_dir / "copies" / "copy-x").exists()
