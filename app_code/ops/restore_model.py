"""What a database restore is asked and gives back, shared by its twin and AWS back ends: the checks of its
inputs (identifier, time, choice) and the RestoredCopy it returns. app_code.ops.restore_db is the API."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.errors import BadInput

Echo = Callable[[str], None]
IDENTIFIER_RULE = "1-63 letters, digits and hyphens, starting with a letter, without '--' or a trailing hyphen"
_IDENTIFIER = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


class RestoreError(BadInput):
    """A restore (or a copy's removal) that cannot be done as asked: one line naming the input and what was expected."""


class RestoreFailed(RuntimeError):
    """A restore that was started and failed (recovery, a dump's load, a waiter): what was made is removed again,
    and the message says why, in one line."""


@dataclass(frozen=True)
class RestoreWindow:
    earliest: datetime
    latest: datetime

    def to_json(self) -> dict[str, str]:
        return {"EarliestRestorableTime": iso(self.earliest), "LatestRestorableTime": iso(self.latest)}


@dataclass(frozen=True)
class RestoredCopy:
    target: str
    kind: str  # twin-postgres | twin-mysql | rds-instance | aurora-cluster
    source: str  # the source instance's (or cluster's) identifier
    restored_to: datetime
    outputs_path: Path
    endpoint: str  # host:port of the copy's writer
    seconds: float
    remove_command: str

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "source": self.source, "restored_to": iso(self.restored_to),
                "outputs": str(self.outputs_path), "endpoint": self.endpoint, "seconds": round(self.seconds, 2),
                "remove": self.remove_command}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_identifier(name: str, what: str = "--target") -> str:
    """RDS's rule for DB instance and cluster identifiers, checked before any call."""
    if not 1 <= len(name) <= 63 or not _IDENTIFIER.match(name) or name.endswith("-"):
        raise RestoreError(f"{what} {name!r} is not a valid DB identifier: expected {IDENTIFIER_RULE}")
    return name


def aware(moment: datetime) -> datetime:
    """A naive datetime is UTC (RDS's RestoreTime is UTC)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_time(text: str) -> datetime:
    """--to-time: ISO 8601 (2025-05-01T12:00:00Z, ...+02:00, or naive = UTC)."""
    try:
        return aware(datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise RestoreError(f"--to-time {text!r} is not a time: expected ISO 8601 such as 2025-05-01T12:00:00Z") \
            from None


def check_in_window(moment: datetime, window: RestoreWindow, where: str) -> None:
    if moment < window.earliest:
        raise RestoreError(f"--to-time {iso(moment)} is before {where}'s earliest restorable time "
                           f"{iso(window.earliest)}")
    if moment > window.latest:
        raise RestoreError(f"--to-time {iso(moment)} is after {where}'s latest restorable time {iso(window.latest)}")


def check_choice(to_time: datetime | None, latest: bool, snapshot: str | None) -> None:
    given = [name for name, value in (("--to-time", to_time), ("--latest", latest), ("--snapshot", snapshot)) if value]
    if len(given) != 1:
        raise RestoreError(f"restore-db needs exactly one of --to-time, --latest, --snapshot (got "
                           f"{', '.join(given) or 'none'})")
