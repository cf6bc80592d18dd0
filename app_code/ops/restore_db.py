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
    snapshot_database(source, *, label) -> (what, id, detail)   a manual snapshot (`ops backup`'s database part)
    twin_dir_of(source) -> Path | None   the twin's state directory behind `source` (None: AWS)

On the twin the copy is a real server process recorded in the twin's state, so `local down` stops it too.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from cdk_data_tier.app.ops.restore_model import (  # noqa: F401 - the API's names, re-exported
    IDENTIFIER_RULE,
    Echo,
    RestoredCopy,
    RestoreError,
    RestoreFailed,
    RestoreWindow,
    aware,
    check_choice,
    check_identifier,
    check_in_window,
    iso,
    parse_time,
)


def twin_dir_of(source: Any) -> Path | None:
    """The twin's state directory behind `source`, or None when it is AWS (a deploy's outputs, CloudFormation)."""
    from cdk_data_tier.app.local.state import STATE_FILE, TWIN_FILE

    if isinstance(source, str | Path):
        path = Path(source)
        path = path.parent if path.is_file() else path
        if not (path / STATE_FILE).exists():
            raise RestoreError(f"{source} is not a running twin's state directory (no {STATE_FILE})")
        return path
    where = str(getattr(source, "source", ""))
    if not where.startswith("outputs file "):
        return None  # CloudFormation: AWS
    path = Path(where.removeprefix("outputs file ")).parent
    if (path / STATE_FILE).exists():
        return path
    if (path / TWIN_FILE).exists():
        raise RestoreError(f"{where} belongs to no running twin (no {path / STATE_FILE}): a restored copy cannot be "
                           "restored or backed up again, use the source twin's --outputs")
    return None


def restore_database(source: Any, *, target: str, to_time: datetime | None = None, latest: bool = False,
                     snapshot: str | None = None, outputs_path: Path | None = None,
                     echo: Echo | None = None) -> RestoredCopy:
    check_choice(to_time, latest, snapshot)
    check_identifier(target)
    moment = aware(to_time) if to_time is not None else None
    say = echo or (lambda _: None)
    twin_dir = twin_dir_of(source)
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
    twin_dir = twin_dir_of(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local.db_copies import remove_on_twin

        return remove_on_twin(twin_dir, target=target, echo=say)
    from cdk_data_tier.app.ops.rds_restore import remove_on_aws

    return remove_on_aws(source, target=target, echo=say)


def restorable_window(source: Any) -> RestoreWindow:
    twin_dir = twin_dir_of(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local.db_copies import window_on_twin

        return window_on_twin(twin_dir)
    from cdk_data_tier.app.ops.rds_restore import window_on_aws

    return window_on_aws(source)


def snapshot_database(source: Any, *, label: str) -> tuple[str, str, str]:
    """A manual snapshot named <identifier>-<label>: on the twin a base backup (PostgreSQL) or a consistent dump at
    a binlog position (MariaDB); on AWS an RDS snapshot, or an Aurora cluster snapshot, tagged like the copies."""
    twin_dir = twin_dir_of(source)
    if twin_dir is not None:
        from cdk_data_tier.app.local import db_backups

        with db_backups.running(twin_dir) as state:
            made = db_backups.snapshot(state, f"{db_backups.identifier(state)}-{label}")
            db_backups.window(state)  # the new snapshot may start the window: twin.json follows
        return "twin database snapshot", made["id"], made["detail"]
    from cdk_data_tier.app.ops.rds_restore import snapshot_on_aws

    return snapshot_on_aws(source, label=label)
