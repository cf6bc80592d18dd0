"""What one of the twin's failover operations did, as the drills and `local status` report it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FailoverResult:
    target: str  # database | cache
    mode: str  # multi-az | single-az reboot | cluster mode off | cluster mode on
    old_primary: str
    new_primary: str
    injected: str  # what was done, in one line
    partitioned: bool = False  # the standby / replicas were cut off before the kill
    behind_bytes: int | None = None  # what the primary held that its standby lacked at the kill (database)
    killed_at: float = 0.0  # epoch seconds: drills match it against their own timeline
    writable_at: float = 0.0
    promotion_ms: float = 0.0  # from the kill to the first write accepted through the endpoint
    resynced: list[str] = field(default_factory=list)  # replicas that could not follow and were rebuilt
    replaced: str | None = None  # the failed node, back as a replica/standby of the new primary
    replace_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Clock:
    """Epoch times for the report, measured on the monotonic clock."""

    def __init__(self) -> None:
        self.epoch, self.mono = time.time(), time.monotonic()

    def now(self) -> float:
        return self.epoch + (time.monotonic() - self.mono)
