"""Config of the `<env>-Database` stack (validated by stacks/config.py; no context reads here).

Field checks describe what is allowed; cross-field checks word their own `key=value is not allowed: ...`
so that stacks/config.py can print them as one line under `environments.<env>.database`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cdk_data_tier.constructs.database_engine import FLAVORS, EngineName, known_versions

# stacks/config.py imports this module, so its DbInstanceClass / LogRetentionDays are restated here.
_DB_CLASS = r"^db\.[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(micro|small|medium|large|metal|[0-9]*xlarge)$"
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]
_IDENTIFIER = r"^[A-Za-z][A-Za-z0-9_]*$"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = r"([01][0-9]|2[0-3]):([0-5][0-9])"
_BACKUP_WINDOW = re.compile(rf"^{_HHMM}-{_HHMM}$")
_MAINTENANCE_WINDOW = re.compile(rf"^({'|'.join(_DAYS)}):{_HHMM}-({'|'.join(_DAYS)}):{_HHMM}$")
_WEEK = 7 * 24 * 60
# Performance Insights keeps 7 days free, or whole months (31 days each) up to 2 years (731).
PI_RETENTION_DAYS = (7, *(31 * m for m in range(1, 24)), 731)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseAlarms(_Strict):
    cpu_percent: int = Field(default=80, ge=1, le=100)
    # RDS instances alarm on FreeStorageSpace; Aurora (whose volume grows itself) on FreeLocalStorage.
    free_storage_gib: int = Field(default=5, ge=1)
    freeable_memory_mib: int = Field(default=256, ge=16)
    replica_lag_seconds: int = Field(default=60, ge=1)
    connections: int = Field(default=200, ge=1)
    evaluation_minutes: int = Field(default=5, ge=1, le=60)


class DatabaseConfig(_Strict):
    engine: EngineName = "postgres"
    # A full version the pinned aws-cdk-lib knows ("17.9", "8.4.8", "8.0.mysql_aurora.3.10.1"); empty or null
    # means this project's pin for the engine (FLAVORS).
    engine_version: str = ""
    instance_class: str = Field(default="db.t4g.medium", pattern=_DB_CLASS)
    # 0 means the engine's default port plus one: RDS.23 / AwsSolutions-RDS11 reject the default port.
    port: int = 0
    database_name: str = Field(default="app", min_length=1, max_length=63, pattern=_IDENTIFIER)
    admin_username: str = Field(default="dbadmin", min_length=1, max_length=16, pattern=_IDENTIFIER)
    # The database user that IAM authentication admits (created by app_code with rds_iam / AWSAuthenticationPlugin).
    iam_auth_user: str = Field(default="app_iam", min_length=1, max_length=16, pattern=_IDENTIFIER)
    # The password user app_code logs in as (its own rotated secret); multi-user rotation alternates it with
    # `<app_username>_clone`, so both names are kept clear of the other users.
    app_username: str = Field(default="app", min_length=1, max_length=16, pattern=_IDENTIFIER)
    # RDS instances only (null means 20 GiB, autoscaling to 100 GiB, single-AZ); Aurora storage grows by
    # itself and its readers in other AZs are the standbys, so for Aurora these stay null.
    allocated_storage_gib: int | None = Field(default=None, ge=20, le=65536)
    max_allocated_storage_gib: int | None = Field(default=None, ge=22, le=65536)
    multi_az: bool | None = None
    # Same-region read replicas, or Aurora readers.
    read_replicas: int = Field(default=1, ge=0, le=15)
    backup_retention_days: int = Field(default=7, ge=1, le=35)
    backup_window: str = "03:00-03:30"
    maintenance_window: str = "sun:04:00-sun:04:30"
    # An AWS Backup plan on top of the automated backups; null for none (its vault outlives `cdk destroy`).
    backup_plan_retention_days: int | None = Field(default=None, ge=1, le=36500)
    # When the plan's jobs start (within the hour, UTC); null means the first hour after backup_window closes
    # (RDS runs one snapshot at a time) that is clear of the maintenance windows (stacks/schedule_windows.py).
    backup_plan_start_hour_utc: int | None = Field(default=None, ge=0, le=23)
    # CKV_AWS_304 (and good sense) want credentials rotated at least every 90 days.
    secret_rotation_days: int = Field(default=30, ge=1, le=90)
    # Both null follow the environment's `removal` (stacks/retention.py): `retain` means protection on and
    # `snapshot`, `destroy` means off and `destroy`. Inside an EnvConfig they are never null.
    deletion_protection: bool | None = None
    # `snapshot` keeps a final snapshot (plus the key, secret and logs it needs); there is no `retain`, which
    # would have to keep the security group, subnet and parameter groups alive around an orphaned instance.
    removal: Literal["destroy", "snapshot"] | None = None
    log_retention_days: LogRetentionDays = 30
    monitoring_interval_seconds: Literal[1, 5, 10, 15, 30, 60] = 60
    performance_insights_retention_days: int = 7
    slow_query_ms: int = Field(default=1000, ge=0, le=3_600_000)
    alarm_topic: bool = True
    alarms: DatabaseAlarms = DatabaseAlarms()

    @property
    def hour_after_backup_window(self) -> int:
        return (int(self.backup_window.split("-")[1][:2]) + 1) % 24

    @property
    def aurora(self) -> bool:
        return FLAVORS[self.engine].aurora

    @property
    def storage_gib(self) -> int:
        return self.allocated_storage_gib or 20

    @property
    def max_storage_gib(self) -> int:
        return self.max_allocated_storage_gib or max(100, self.storage_gib * 2)

    @model_validator(mode="before")
    @classmethod
    def _engine_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            flavor = FLAVORS.get(data.get("engine", "postgres"))
            if flavor is not None:
                data = dict(data)
                if not data.get("engine_version"):
                    data["engine_version"] = flavor.default_version
                if not data.get("port"):
                    data["port"] = flavor.default_port + 1
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DatabaseConfig:
        flavor = FLAVORS[self.engine]
        if self.engine_version not in known_versions(self.engine):
            raise ValueError(f"engine_version={self.engine_version!r} is not allowed: a full {self.engine} version "
                             f"that aws-cdk-lib knows, such as {flavor.default_version!r} (no bare major)")
        if self.port == flavor.default_port or not 1150 <= self.port <= 65535:
            raise ValueError(f"port={self.port} is not allowed: 1150-65535 and not the {self.engine} default "
                             f"{flavor.default_port} (RDS.23)")
        for key in ("admin_username", "iam_auth_user", "app_username"):
            if getattr(self, key).lower() in flavor.reserved_users:
                raise ValueError(f"{key}={getattr(self, key)!r} is not allowed: reserved or the well-known default "
                                 f"for {self.engine} (RDS.25); not one of {', '.join(sorted(flavor.reserved_users))}")
        if self.iam_auth_user == self.admin_username:
            raise ValueError(f"iam_auth_user={self.iam_auth_user!r} is not allowed: it must differ from "
                             "admin_username, whose password rotation IAM-only login would break")
        app_names = {self.app_username.lower(), f"{self.app_username}_clone".lower()}
        for key in ("admin_username", "iam_auth_user"):
            if getattr(self, key).lower() in app_names:
                raise ValueError(f"app_username={self.app_username!r} is not allowed: it and its rotation twin "
                                 f"{self.app_username + '_clone'!r} must differ from {key} ({getattr(self, key)!r})")
        if self.engine.endswith("mysql") and len(self.app_username) > 10:
            # MySQL user names stop at 32 characters, but AWS's multi-user rotation refuses a clone name over 16.
            raise ValueError(f"app_username={self.app_username!r} is not allowed with engine={self.engine!r}: at most "
                             f"10 characters, so that its rotation twin {self.app_username + '_clone'!r} stays "
                             "within the 16 that the MySQL multi-user rotation accepts")
        if self.aurora:
            for key in ("multi_az", "allocated_storage_gib", "max_allocated_storage_gib"):
                if getattr(self, key) is not None:
                    raise ValueError(f"{key}={getattr(self, key)!r} is not allowed with engine={self.engine!r}: "
                                     "leave it null; Aurora storage grows by itself and its readers are the "
                                     "Multi-AZ standbys")
            if self.instance_class.endswith((".micro", ".small")):
                raise ValueError(f"instance_class={self.instance_class!r} is not allowed with engine="
                                 f"{self.engine!r}: Aurora needs at least a .medium class")
        elif self.max_storage_gib < self.storage_gib * 1.1:
            raise ValueError(f"max_allocated_storage_gib={self.max_storage_gib} is not allowed: at least "
                             f"10% above allocated_storage_gib ({self.storage_gib}) for storage autoscaling")
        if self.backup_plan_retention_days and self.removal == "destroy":
            raise ValueError(f"backup_plan_retention_days={self.backup_plan_retention_days} is not allowed with "
                             "removal='destroy': the backup vault outlives `cdk destroy` while the key of its "
                             "recovery points does not; set removal 'snapshot', or leave it unset in an "
                             "environment with removal 'retain'")
        if self.performance_insights_retention_days not in PI_RETENTION_DAYS:
            raise ValueError(f"performance_insights_retention_days={self.performance_insights_retention_days} is not "
                             "allowed: 7, a multiple of 31 up to 713, or 731")
        _check_windows(self.backup_window, self.maintenance_window)
        return self


def _minutes(hh: str, mm: str) -> int:
    return int(hh) * 60 + int(mm)


def _check_windows(backup: str, maintenance: str) -> None:
    b = _BACKUP_WINDOW.match(backup)
    if not b:
        raise ValueError(f"backup_window={backup!r} is not allowed: 'hh24:mi-hh24:mi' in UTC, e.g. '03:00-03:30'")
    m = _MAINTENANCE_WINDOW.match(maintenance)
    if not m:
        raise ValueError(f"maintenance_window={maintenance!r} is not allowed: 'ddd:hh24:mi-ddd:hh24:mi' in UTC, "
                         "e.g. 'sun:04:00-sun:04:30'")
    b_start, b_end = _minutes(*b.group(1, 2)), _minutes(*b.group(3, 4))
    b_len = (b_end - b_start) % (24 * 60)
    m_start = _DAYS.index(m.group(1)) * 24 * 60 + _minutes(*m.group(2, 3))
    m_end = _DAYS.index(m.group(4)) * 24 * 60 + _minutes(*m.group(5, 6))
    m_len = (m_end - m_start) % _WEEK
    if b_len < 30:
        raise ValueError(f"backup_window={backup!r} is not allowed: at least 30 minutes")
    if not 30 <= m_len <= 24 * 60:
        raise ValueError(f"maintenance_window={maintenance!r} is not allowed: 30 minutes to 24 hours")
    maintenance_minutes = {(m_start + i) % _WEEK for i in range(m_len)}
    for day in range(7):
        if any((day * 24 * 60 + b_start + i) % _WEEK in maintenance_minutes for i in range(b_len)):
            raise ValueError(f"backup_window={backup!r} is not allowed: it overlaps maintenance_window "
                             f"{maintenance!r}")
