"""The README's cost table is what `python -m app_code cost` says for the synthesized dev and prod."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdk_data_tier.app.cost.command import build

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_readme_shows_the_total_and_the_three_biggest_lines(env, request):
    est = build(env, request.getfixturevalue(env).outdir)
    row = next(line for line in README.read_text().splitlines() if line.startswith(f"| {env} ({est.region}) |"))
    assert f"**${est.total:,.2f}**" in row
    assert f"{len(est.not_priced)} " in row
    for line in est.biggest(3):
        assert f"{line.resource} ${line.monthly:,.2f}" in row
