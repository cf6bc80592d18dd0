"""`make demo`'s orchestration: every step in order, and `local down` after a successful `local up` whatever
happens next (the end-to-end run itself is `make demo`)."""

from __future__ import annotations

import pytest

from cdk_data_tier.app import demo as demo_mod
from cdk_data_tier.app.demo import DemoError, demo


@pytest.fixture
def steps(monkeypatch, tmp_path):
    calls: list[str] = []
    outcome = {"synth": None, "up": None}

    def synth(console, env):
        calls.append("synth")
        if outcome["synth"]:
            raise DemoError(outcome["synth"])

    def local(console, verb, env, state_dir):
        calls.append(verb)
        if verb == "up" and outcome["up"]:
            raise DemoError(outcome["up"])

    monkeypatch.setattr(demo_mod, "_synth", synth)
    monkeypatch.setattr(demo_mod, "_local", local)
    return calls, outcome


def test_a_run_that_fails_still_takes_the_twin_down(steps, tmp_path, capsys):
    calls, _ = steps
    # `up` "succeeded" but left no outputs: the run fails after the twin is up.
    assert demo("dev", state_dir=tmp_path / "state") == 1
    assert calls == ["synth", "up", "down"]
    assert "demo failed: no twin in" in capsys.readouterr().out


def test_a_failed_synth_starts_nothing(steps, tmp_path):
    calls, outcome = steps
    outcome["synth"] = "cdk synth -c env=dev failed"
    assert demo("dev", state_dir=tmp_path) == 1
    assert calls == ["synth"]


def test_a_failed_up_is_not_followed_by_down(steps, tmp_path):
    """`up` cleans up after itself; a `down` here could stop a twin someone else had already started."""
    calls, outcome = steps
    outcome["up"] = "the dev twin is already up"
    assert demo("dev", state_dir=tmp_path) == 1
    assert calls == ["synth", "up"]


def test_keep_leaves_the_twin_up(steps, tmp_path):
    calls, _ = steps
    demo("dev", keep=True, state_dir=tmp_path / "state")
    assert calls == ["synth", "up"]
