"""A twin of its own for each drill module that breaks one: failovers kill processes, so no other test's
twin (the session's `twin`, `twin_prod`) is touched and the order of the tests never matters."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cdk_data_tier.app.local import twin as twin_mod
from cdk_data_tier.app.local.twin import Twin
from tests.fixtures_twin import reachable_state_dir


@pytest.fixture(scope="module")
def own_twin(twin_assembly: Callable[[str], Path]) -> Iterator[Callable[[str], Twin]]:
    """env -> a twin of that env for this module alone, stopped at the module's end."""
    started: list[Twin] = []

    def up(env: str) -> Twin:
        state_dir = reachable_state_dir(env)
        try:
            started.append(twin_mod.up(env, state_dir=state_dir, cdk_out=twin_assembly(env)))
        except BaseException:
            shutil.rmtree(state_dir.parent, ignore_errors=True)
            raise
        return started[-1]

    yield up
    for one in started:
        twin_mod.down(one.env, state_dir=one.state_dir)
        shutil.rmtree(one.state_dir.parent, ignore_errors=True)
