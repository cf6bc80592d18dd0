"""Table and cache restores as `ops` and the restore drill run them: the name checked, the restore made, the copy's
outputs file written and, on the twin, the copy recorded (app_code.ops.copies), so it can be used and removed."""

from __future__ import annotations

from pathlib import Path

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops import copies
from cdk_data_tier.app.ops.copies import Copy
from cdk_data_tier.app.ops.restore_table import Point


def table_copy(endpoints: Endpoints, target: str, point: Point, *, twin: Path | None, out: Path | None = None) -> Copy:
    from cdk_data_tier.app.ops.restore_table import restore_table

    if twin is not None:
        copies.check_free(twin, target)
    path = out or copies.outputs_path(twin, target)
    copies.check_writable(path)
    copy, values = restore_table(endpoints, target, point)
    copies.write_outputs(endpoints, copy, values, path, twin=twin, drop=("StreamArn",))
    if twin is not None:
        copies.record(twin, copy, dirs=[str(path.parent)], extra={"table": target})
    return copy


def cache_copy(endpoints: Endpoints, snapshot: str, target: str, *, twin: Path | None,
               out: Path | None = None) -> Copy:
    from cdk_data_tier.app.ops.restore_cache import restore_cache

    name = copies.check_cache_id("--target", target)
    if twin is not None:
        copies.check_free(twin, name)
    path = out or copies.outputs_path(twin, name)
    copies.check_writable(path)
    copy, values, procs = restore_cache(endpoints, snapshot, name, twin=twin)
    try:
        copies.write_outputs(endpoints, copy, values, path, twin=twin)
    finally:  # recorded even when the file could not be written: remove-copy (or local down) stops its nodes
        if twin is not None:
            copies.record(twin, copy, procs=procs, dirs=[str(path.parent)])
    return copy
