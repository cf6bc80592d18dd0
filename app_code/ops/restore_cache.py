"""`ops restore-cache --snapshot NAME --target NAME`: a new replication group seeded from a snapshot.

On the twin these are new redis nodes loading the snapshot's RDB files (app_code.local.redis_restore); on AWS,
`create_replication_group(SnapshotName=...)` with the source group's settings (app_code.ops.cache_copy). Either
way the copy's outputs are the Cache stack's, with the copy's endpoints.
"""

from __future__ import annotations

import time
from pathlib import Path

from cdk_data_tier.app.endpoints import Endpoints
from cdk_data_tier.app.ops.copies import Copy, check_cache_id


def restore_cache(endpoints: Endpoints, snapshot: str, target: str, *,
                  twin: Path | None) -> tuple[Copy, dict[str, str], list[str]]:
    """(the copy, its endpoint outputs, the twin processes it runs in: none on AWS)."""
    target = check_cache_id("--target", target)
    if twin is None:
        from cdk_data_tier.app.ops import cache_copy

        group, values, seconds = cache_copy.restore(endpoints, snapshot, target)
        copy = Copy("cache", target, f"snapshot {snapshot}", seconds=seconds,
                    detail={"arn": group.get("ARN", ""), "status": group.get("Status", "")})
        return copy, values, []
    from cdk_data_tier.app.local import redis_restore
    from cdk_data_tier.app.local.state import State

    state = State.load(twin)
    assert state is not None
    started = time.monotonic()
    nodes, snap = redis_restore.restore(state, snapshot, target)
    seconds = time.monotonic() - started
    copy = Copy("cache", target, f"snapshot {snapshot} of {snap.created}", seconds=seconds,
                detail={"nodes": len(nodes.nodes), "keys_loaded": redis_restore.keys_loaded(nodes)})
    return copy, redis_restore.endpoints(nodes), [nodes.proc_name(n) for n in nodes.nodes]
