"""PostgreSQL as a normal user: no user switch, data in the state dir.

As root (CI) every other test runs PostgreSQL through the user switch; this one forks, becomes an
unprivileged user and brings up a primary and a replica as that user. It stops at PostgreSQL because
this machine's Python lives under /root, which a normal user cannot execute (moto runs on it).
"""

from __future__ import annotations

import multiprocessing
import os
import pwd
import shutil
import tempfile
import traceback
from pathlib import Path
from typing import Any

import pytest

from cdk_data_tier.app.local import postgres
from cdk_data_tier.app.local.procs import is_running, stop
from cdk_data_tier.app.local.spec import DatabaseSpec
from cdk_data_tier.app.local.state import State
from cdk_data_tier.app.local.tls import make_tls

pytestmark = [pytest.mark.engines,
              pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user, every twin test runs this path")]


def _as_user(uid: int, gid: int, root: str, queue: Any) -> None:
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.environ["HOME"] = root
        state = State.create(Path(root) / "state", "dev")
        spec = DatabaseSpec(stack="dev-Database", engine="postgres", engine_version=None, writer_id="Primary",
                            reader_ids=("Replica",), cluster_id=None, username="dbadmin", dbname="app", port=5432,
                            force_tls=True, secret_id=None)
        pg = postgres.PostgresTwin(state, spec, "pw-of-a-normal-user", make_tls(state.path("tls"), "dev"))
        try:
            pg.start()
            result: dict[str, Any] = {"run_user": pg.user, "root": str(pg.root), "owner": pwd.getpwuid(pg.root.stat().st_uid).pw_name,
                      "nodes": [postgres.describe(pg.conninfo(n, "postgres")) for n in pg.nodes()]}
        finally:
            records = state.procs
            stop(records)
            state.remove()
        result["left_running"] = [r.name for r in records if is_running(r)]
        queue.put(result)
    except BaseException:  # noqa: BLE001 - the parent reports it
        queue.put({"error": traceback.format_exc()})


def test_postgres_primary_and_replica_as_a_normal_user() -> None:
    user = pwd.getpwnam("postgres") if _exists("postgres") else pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix="twin-user-"))
    os.chmod(root, 0o755)
    os.chown(root, user.pw_uid, user.pw_gid)
    try:
        ctx = multiprocessing.get_context("fork")
        queue = ctx.Queue()
        child = ctx.Process(target=_as_user, args=(user.pw_uid, user.pw_gid, str(root), queue))
        child.start()
        result = queue.get(timeout=120)
        child.join(30)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    assert "error" not in result, result.get("error")
    assert result["run_user"] is None, "a normal user runs PostgreSQL as itself"
    assert result["root"] == str(root / "state" / "pg") and result["owner"] == user.pw_name
    assert [n["role"] for n in result["nodes"]] == ["primary", "replica"]
    assert result["nodes"][1]["replication"].startswith("streaming")
    assert result["left_running"] == []


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True
