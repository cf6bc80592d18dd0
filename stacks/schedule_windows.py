"""The environment's recurring windows as sets of minutes of the week, and the check that they keep apart.

Each store validates its own windows' format (and, for the database, that its backup and maintenance windows
do not overlap). What no single store can see is the environment as a whole: the hosts reboot while they
patch, and a backup plan job should not start while its database is in maintenance or taking its automated
snapshot. EnvConfig runs `check_apart` once every section has validated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEK = 7 * 24 * 60
_HHMM = r"([01][0-9]|2[0-3]):([0-5][0-9])"
DAILY = re.compile(rf"^{_HHMM}-{_HHMM}$")
WEEKLY = re.compile(rf"^({'|'.join(DAYS)}):{_HHMM}-({'|'.join(DAYS)}):{_HHMM}$")


@dataclass(frozen=True)
class Window:
    key: str  # the config key, relative to environments.<env>
    value: str
    minutes: frozenset[int]

    def overlaps(self, other: Window) -> bool:
        return bool(self.minutes & other.minutes)


def _span(start: int, length: int) -> set[int]:
    return {(start + i) % WEEK for i in range(length)}


def daily(key: str, value: str) -> Window:
    m = DAILY.match(value)
    assert m, f"{key}={value!r} was validated as hh24:mi-hh24:mi"
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    length = (end - start) % (24 * 60)
    return Window(key, value, frozenset().union(*(_span(day * 24 * 60 + start, length) for day in range(7))))


def weekly_start(value: str) -> tuple[int, int, int, int]:
    """(day 0=Monday, hour, minute, length in minutes) of a `ddd:hh24:mi-ddd:hh24:mi` window."""
    m = WEEKLY.match(value)
    assert m, f"{value!r} was validated as ddd:hh24:mi-ddd:hh24:mi"
    start = DAYS.index(m[1]) * 24 * 60 + int(m[2]) * 60 + int(m[3])
    end = DAYS.index(m[4]) * 24 * 60 + int(m[5]) * 60 + int(m[6])
    return DAYS.index(m[1]), int(m[2]), int(m[3]), (end - start) % WEEK


def weekly(key: str, value: str) -> Window:
    day, hour, minute, length = weekly_start(value)
    return Window(key, value, frozenset(_span(day * 24 * 60 + hour * 60 + minute, length)))


def hourly(key: str, hour: int, note: str = "") -> Window:
    """The hour a backup plan's jobs may start in, every day (cdk_constructs/backup_plan.py START_WINDOW)."""
    value = f"{hour}" + (f" ({note})" if note else "")
    return Window(key, value, frozenset().union(*(_span(day * 24 * 60 + hour * 60, 60) for day in range(7))))


def first_overlap(window: Window, others: Iterable[Window]) -> Window | None:
    return next((other for other in others if window.overlaps(other)), None)


def check_apart(*, patch: Window, maintenance: Iterable[Window], store_windows: Iterable[Window],
                backups: Iterable[tuple[Window, Iterable[Window]]]) -> None:
    """Raise a one-line ValueError (`<key>=<value> is not allowed: ...`) when windows meet.

    patch: the hosts' patch window, kept clear of every maintenance and store window (the hosts reboot).
    backups: each backup plan's start window with the windows of its own store it must also avoid; every plan
    keeps clear of every maintenance window, the patch window included.
    """
    maintenance = list(maintenance)
    clash = first_overlap(patch, [*maintenance, *store_windows])
    if clash is not None:
        raise ValueError(f"{patch.key}={patch.value!r} is not allowed: it overlaps {clash.key} {clash.value!r}; the "
                         "hosts reboot while they patch, so keep it clear of the data stores' windows")
    for start, own in backups:
        clash = first_overlap(start, [*maintenance, patch, *own])
        if clash is not None:
            hour = min(start.minutes) // 60
            raise ValueError(f"{start.key}={start.value} is not allowed: jobs starting {hour:02d}:00-{hour + 1:02d}:00 "
                             f"UTC overlap {clash.key} {clash.value!r}; choose an hour clear of the maintenance "
                             "windows")


def first_clear_hour(key: str, after: int, avoid: Iterable[Window]) -> int | None:
    """The first hour from `after` on (wrapping at midnight) whose daily start window meets none of `avoid`."""
    avoid = list(avoid)
    return next((h % 24 for h in range(after, after + 24) if first_overlap(hourly(key, h % 24), avoid) is None), None)
