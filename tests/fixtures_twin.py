"""Session fixtures that bring the local twin up once and tear it down at the end.

`twin` is the dev twin (cluster mode disabled), `twin_prod` the prod one, and `twin_cluster` the prod
twin when prod's cache has cluster mode on (skipped otherwise). Each environment starts at most once
per session (per xdist worker), only when a test asks for it, and from the same synthesized templates
as the stack tests (the `dev`/`prod` synth fixtures), so no extra synth is paid for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app_code.local import twin as twin_mod
from app_code.local.twin import Twin


def reachable_state_dir(env: str) -> Path:
    """A fresh state dir that PostgreSQL's user can reach when we are root (pytest's tmp dirs are 0700)."""
    parent = Path(tempfile.mkdtemp(prefix=f"twin-{env}-"))
    os.chmod(parent, 0o711)
    return parent / "state"


@pytest.fixture(scope="session")
def twin_assembly(request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """env -> the cloud assembly the twin of that env reads (synthesized once per session)."""
    cache: dict[str, Path] = {}

    def get(env: str) -> Path:
        if env not in cache:
            cache[env] = request.getfixturevalue(env).outdir
        return cache[env]

    return get


@pytest.fixture(scope="session")
def twin_factory(twin_assembly: Callable[[str], Path]) -> Iterator[Callable[[str], Twin]]:
    """env -> that env's running twin, started on first use and stopped at the end of the session."""
    running: dict[str, Twin] = {}

    def get(env: str) -> Twin:
        if env not in running:
            state_dir = reachable_state_dir(env)
            try:
                running[env] = twin_mod.up(env, state_dir=state_dir, cdk_out=twin_assembly(env))
            except BaseException:
                shutil.rmtree(state_dir.parent, ignore_errors=True)  # up already stopped what it started
                raise
        return running[env]

    yield get
    for started in running.values():
        twin_mod.down(started.env, state_dir=started.state_dir)
        shutil.rmtree(started.state_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def twin(twin_factory: Callable[[str], Twin]) -> Twin:
    return twin_factory("dev")


@pytest.fixture(scope="session")
def twin_prod(twin_factory: Callable[[str], Twin]) -> Twin:
    return twin_factory("prod")


@pytest.fixture(scope="session")
def twin_cluster(twin_prod: Twin) -> Twin:
    if twin_prod.stack("Cache").get("ClusterMode") != "enabled":
        pytest.skip("prod's cache has cluster mode disabled: no cluster-mode twin to test against")
    return twin_prod
