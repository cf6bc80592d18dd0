"""Bench helpers: a throwaway twin for a benchmark, or the deployed environment `--outputs` names."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdk_data_tier.app.local import twin


@contextmanager
def throwaway_twin(env: str = "dev", cdk_out: Path | None = None) -> Iterator[Path]:
    """A twin in a private state dir for the benchmarks, stopped and removed afterwards; yields its outputs file."""
    parent = Path(tempfile.mkdtemp(prefix=f"twin-{env}-bench-"))
    os.chmod(parent, 0o711)  # PostgreSQL runs as an unprivileged user when we are root: it must get through
    state = parent / "state"
    try:
        yield twin.up(env, state_dir=state, cdk_out=cdk_out).outputs_file
    finally:
        twin.down(env, state_dir=state)
        shutil.rmtree(parent, ignore_errors=True)


@contextmanager
def bench_outputs(outputs: Path | None, env: str, cdk_out: Path | None) -> Iterator[Path]:
    """--outputs as given, or a throwaway twin when there is none."""
    if outputs is not None:
        yield outputs
    else:
        with throwaway_twin(env, cdk_out) as path:
            yield path
