"""Day counts that CloudWatch Logs accepts, mapped onto aws_logs.RetentionDays."""

from __future__ import annotations

from aws_cdk import aws_logs as logs

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)
# RetentionDays lists its finite members in ascending order, the same order as RETENTION_DAYS.
_BY_DAYS = dict(zip(RETENTION_DAYS, [m for m in logs.RetentionDays if m.name != "INFINITE"], strict=True))


def retention_days(days: int) -> logs.RetentionDays:
    try:
        return _BY_DAYS[days]
    except KeyError:
        allowed = ", ".join(map(str, RETENTION_DAYS))
        raise ValueError(f"log retention of {days} days is not allowed: one of {allowed}") from None
