"""Restore the database into a NEW instance beside the source: the twin's real PITR, or RDS's restore APIs.

The API other modules call (its signatures stay stable):

    restore_database(source, *, target, to_time=None, latest=False, snapshot=None, outputs_path=None,
                     echo=None) -> RestoredCopy
        source    Endpoints (`--outputs .twin/<env>` or `--env NAME`), or a twin's state directory (Path).
        target    the new instance's name; an RDS identifier (1-63 letters, digits, hyphens, a letter first,
                  no "--", no trailing hyphen), on the twin as well.
        exactly one of:
          to_time   a timezone-aware datetime inside [earliest, latest] restorable (naive = UTC);
          latest    True: the latest restorable time;
          snapshot  a snapshot id that `ops backup` printed (the twin: a base backup / dump; AWS: an RDS
                    snapshot, or an Aurora cluster snapshot).
        outputs_path  where the copy's outputs file goes (default: the twin's <state>/restores/<target>/outputs.json;
                  AWS: ./restore-<target>/outputs.json). `python -m app_code run sql --outputs <it>` runs against it.
        Bad input (a time outside the window, a taken name, a bad identifier, an unknown snapshot) raises
        RestoreError, one line, before anything is made; a restore that fails later removes what it made.

    RestoredCopy(target, kind, source, restored_to, outputs_path, endpoint, seconds, remove_command)
        kind: twin-postgres | twin-mysql | rds-instance | aurora-cluster; restored_to: the UTC instant the copy
        holds (a snapshot: the time it was taken).

    remove_copy(source, *, target) -> list[str]   what it stopped / deleted (only copies restore_database made)
    restorable_window(source) -> RestoreWindow(earliest, latest)   as describe_db_instances / _clusters report it

On the twin the copy is a real server process recorded in the twin's state, so `local down` stops it too.
"""

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
    if not window.earliest <= moment <= window.latest:
        raise RestoreError(f"--to-time {iso(moment)} is outside {where}'s restorable window [{iso(window.earliest)}, "
                           f"{iso(window.latest)}]")


def check_choice(to_time: datetime | None, latest: bool, snapshot: str | None) -> None:
    given = [name for name, value in (("--to-time", to_time), ("--latest", latest), ("--snapshot", snapshot)) if value]
    if len(given) != 1:
        raise RestoreError(f"restore-db needs exactly one of --to-time, --latest, --snapshot (got "
                           f"{', '.join(given) or 'none'})")


def _twin_dir(source: Any) -> Path | None:
    """The twin's state directory behind `source`, or None when it is AWS (a deploy's outputs, CloudFormation)."""
    from cdk_data_tier.app.endpoints import Endpoints
    from cdk_data_tier.app.local.state import STATE_FILE

    if isinstance(source, str | Path):
        path = Path(source)
        path = path.parent if path.is_file() else path
        if not (path / STATE_FILE).exists():
            raise RestoreError(f"{source} is not a running twin's state directory (no {STATE_FILE})")
        return path
    if isinstance(source, Endpoints) and source.aws.static_credentials:
        path = Path(source.source.removeprefix("outputs file ")).parent
        if not (path / STATE_FILE).exists():
            raise RestoreError(f"{source.source} belongs to no running twin (no {path / STATE_FILE}); a restored "
                               "copy cannot be restored again")
        return path
    return None


def restore_database(source: Any, *, target: str, to_time: datetime | None = None, latest: bool = False,
                     snapshot: str | None = None, outputs_path: Path | None = None,
                     echo: Echo | None = None) -> RestoredCopy:
    check_choice(to_time, latest, snapshot)
    check_identifier(target)
    moment = aware(to_time) if to_time is not None else None
    say = echo or (lambda _: None)
    twin_dir = _twin_dir(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local.db_copies import restore_on_twin

        return restore_on_twin(twin_dir, target=target, to_time=moment, latest=latest, snapshot=snapshot,
                               outputs_path=outputs_path, echo=say)
    from cdk_data_tier.app.ops.rds_restore import restore_on_aws

    return restore_on_aws(source, target=target, to_time=moment, latest=latest, snapshot=snapshot,
                          outputs_path=outputs_path, echo=say)


def remove_copy(source: Any, *, target: str, echo: Echo | None = None) -> list[str]:
    check_identifier(target)
    say = echo or (lambda _: None)
    twin_dir = _twin_dir(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local.db_copies import remove_on_twin

        return remove_on_twin(twin_dir, target=target, echo=say)
    from cdk_data_tier.app.ops.rds_restore import remove_on_aws

    return remove_on_aws(source, target=target, echo=say)


def restorable_window(source: Any) -> RestoreWindow:
    twin_dir = _twin_dir(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local.db_copies import window_on_twin

        return window_on_twin(twin_dir)
    from cdk_data_tier.app.ops.rds_restore import window_on_aws

    return window_on_aws(source)
