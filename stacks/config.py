"""Typed, validated configuration: the only code that reads CDK context.

`load_config(app)` picks `-c env=NAME` (default `dev`) from the `environments` map in cdk.json and
validates it completely before any construct is built. Any problem becomes one `ConfigError` whose
message is a single line naming the key, the value and what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from cdk_data_tier.stacks import schedule_windows
from cdk_data_tier.stacks.cache_config import CacheConfig
from cdk_data_tier.stacks.database_config import DatabaseConfig
from cdk_data_tier.stacks.dynamo_config import DynamoConfig
from cdk_data_tier.stacks.notifications_config import NotificationsConfig
from cdk_data_tier.stacks.retention import data_loss_warnings, follow_environment

DEFAULT_ENV = "dev"
ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,15}$")
_EC2_TYPE = re.compile(r"^[a-z][a-z0-9-]*[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|metal|[0-9]*xlarge)$")


class ConfigError(ValueError):
    """A configuration problem, worded as one line for the person running synth."""


def _instance_type(prefix: str) -> AfterValidator:
    def check(value: str) -> str:
        body = value[len(prefix):] if value.startswith(prefix) else None
        if body is None or not _EC2_TYPE.match(body):
            raise ValueError(f"expected an instance type like {prefix + 't3.micro'!r} ({prefix}family.size)")
        return value

    return AfterValidator(check)


def _matches(pattern: str, expected: str) -> AfterValidator:
    """A pattern whose failure reads as what was expected, not as the regular expression."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(expected)
        return value

    return AfterValidator(check)


LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]
Ec2InstanceType = Annotated[str, _instance_type("")]
DbInstanceClass = Annotated[str, _instance_type("db.")]
CacheNodeType = Annotated[str, _instance_type("cache.")]


class Strict(BaseModel):
    """Unknown keys are typos: reject them instead of ignoring them."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NetworkConfig(Strict):
    vpc_cidr: str = "10.10.0.0/16"
    az_count: int = Field(default=2, ge=1, le=6)
    nat_gateways: int = Field(default=1, ge=0)
    bastion_instance_type: Ec2InstanceType = "t3.micro"
    app_instance_type: Ec2InstanceType = "t3.small"
    flow_log_retention_days: LogRetentionDays = 30
    session_log_retention_days: LogRetentionDays = 365
    # When AWS-RunPatchBaseline may patch (and reboot) the hosts, one at a time, weekly in UTC.
    patch_window: str = "sat:05:00-sat:07:00"

    @model_validator(mode="after")
    def _patch_window(self) -> NetworkConfig:
        if not schedule_windows.WEEKLY.match(self.patch_window):
            raise ValueError(f"patch_window={self.patch_window!r} is not allowed: 'ddd:hh24:mi-ddd:hh24:mi' in UTC, "
                             "e.g. 'sat:05:00-sat:07:00'")
        if not 60 <= schedule_windows.weekly_start(self.patch_window)[3] <= 24 * 60:
            raise ValueError(f"patch_window={self.patch_window!r} is not allowed: 1 to 24 hours")
        return self

    @property
    def patch_start(self) -> tuple[int, int, int]:
        day, hour, minute, _ = schedule_windows.weekly_start(self.patch_window)
        return day, hour, minute

    @model_validator(mode="after")
    def _nat_within_azs(self) -> NetworkConfig:
        if self.nat_gateways > self.az_count:
            raise ValueError(f"nat_gateways={self.nat_gateways} is not allowed: at most az_count ({self.az_count})")
        try:
            net = ipaddress.ip_network(self.vpc_cidr)
        except ValueError:
            raise ValueError(f"vpc_cidr={self.vpc_cidr!r} is not allowed: an IPv4 CIDR like 10.0.0.0/16") from None
        if not 16 <= net.prefixlen <= 20:
            raise ValueError(f"vpc_cidr={self.vpc_cidr!r} is not allowed: prefix length must be /16 to /20")
        return self


class EnvConfig(Strict):
    name: str
    account: Annotated[str, _matches(r"[0-9]{12}", "expected a 12-digit AWS account ID")]
    region: Annotated[str, _matches(r"[a-z]{2}(-gov)?-[a-z]+-[0-9]", "expected an AWS region such as 'us-east-1'")]
    # The one switch that keeps the data: the stores' removal and deletion_protection follow it unless set.
    removal: Literal["destroy", "retain"] = "destroy"
    termination_protection: bool = False
    network: NetworkConfig = NetworkConfig()
    database: DatabaseConfig = DatabaseConfig()
    dynamo: DynamoConfig = DynamoConfig()
    cache: CacheConfig = CacheConfig()
    notifications: NotificationsConfig = NotificationsConfig()

    @model_validator(mode="before")
    @classmethod
    def _stores_follow_removal(cls, data: Any) -> Any:
        # Before the stores validate, so that their own cross-field checks see the resolved values.
        return follow_environment(data, cls.model_fields["removal"].default)

    @model_validator(mode="after")
    def _windows_apart(self) -> EnvConfig:
        w = schedule_windows
        db, dynamo = self.database, self.dynamo
        backups = []
        if db.backup_plan_retention_days:
            if db.backup_plan_start_hour_utc is None and self.database_backup_plan_hour is None:
                raise ValueError("database.backup_plan_start_hour_utc=None is not allowed: no hour of the day is "
                                 "clear of backup_window and the maintenance windows; set one")
            backups.append((w.hourly("database.backup_plan_start_hour_utc", self.database_backup_plan_hour or 0),
                            [self._windows()["database.backup_window"]]))
        if dynamo.backup_plan_retention_days:
            backups.append((w.hourly("dynamo.backup_plan_start_hour_utc", dynamo.backup_plan_start_hour_utc), []))
        windows = self._windows()
        w.check_apart(patch=windows["network.patch_window"],
                      maintenance=[windows["database.maintenance_window"], windows["cache.maintenance_window"]],
                      store_windows=[windows["database.backup_window"], windows["cache.snapshot_window"]],
                      backups=backups)
        return self

    def _windows(self) -> dict[str, schedule_windows.Window]:
        w, db, cache = schedule_windows, self.database, self.cache
        return {
            "network.patch_window": w.weekly("network.patch_window", self.network.patch_window),
            "database.backup_window": w.daily("database.backup_window", db.backup_window),
            "database.maintenance_window": w.weekly("database.maintenance_window", db.maintenance_window),
            "cache.snapshot_window": w.daily("cache.snapshot_window", cache.snapshot_window),
            "cache.maintenance_window": w.weekly("cache.maintenance_window", cache.maintenance_window),
        }

    @property
    def database_backup_plan_hour(self) -> int | None:
        """The configured hour, or the first after the automated backup window that keeps clear of it, the
        maintenance windows and the patch window."""
        db = self.database
        if db.backup_plan_start_hour_utc is not None:
            return db.backup_plan_start_hour_utc
        windows = self._windows()
        return schedule_windows.first_clear_hour(
            "database.backup_plan_start_hour_utc", db.hour_after_backup_window,
            [windows[k] for k in ("database.backup_window", "database.maintenance_window", "cache.maintenance_window",
                                  "network.patch_window")])

    @property
    def warnings(self) -> tuple[str, ...]:
        """One line per explicit store key that loses data although this environment retains, and one when the
        alarm topics would notify nobody."""
        silent = () if self.notifications.any else (
            f"config warning: environments.{self.name}.notifications has no emails or https_urls: the alarm topics "
            "and database events reach nobody",)
        return data_loss_warnings(self.name, self.removal,
                                  {"database": self.database, "dynamo": self.dynamo, "cache": self.cache}) + silent

    def stack_name(self, concern: str) -> str:
        return f"{self.name}-{concern}"


def _explain(err: ValidationError, env: str, raw: Mapping[str, Any]) -> str:
    first = err.errors(include_url=False)[0]
    path = [str(p) for p in first["loc"]]
    # List items read as in the JSON they came from: gsis[0].name, not gsis.0.name.
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in ["environments", env, *first["loc"]])[1:]
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"config error: {key} is missing: {_expected_for(path)}"
    if first["type"] == "extra_forbidden":
        return f"config error: {key} is not a known key: remove it or fix its spelling"
    value: Any = raw
    for part in first["loc"]:
        if isinstance(part, int):
            value = value[part] if isinstance(value, list) and -len(value) <= part < len(value) else None
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    if "is not allowed" in msg:  # cross-field checks name their own key and value
        return f"config error: {key}.{msg}"
    return f"config error: {key}={value!r} is not allowed: {msg}"


def _expected_for(path: list[str]) -> str:
    return {
        "account": "expected a 12-digit AWS account ID",
        "region": "expected an AWS region such as 'us-east-1'",
    }.get(path[-1], "this key is required")


def load_environment(context: Mapping[str, Any], env: str | None) -> EnvConfig:
    env = env or DEFAULT_ENV
    environments = context.get("environments")
    if not isinstance(environments, Mapping) or not environments:
        raise ConfigError("config error: context key 'environments' is missing: expected a map of environments")
    if env not in environments:
        allowed = ", ".join(sorted(environments))
        raise ConfigError(f"config error: env={env!r} is not a configured environment: allowed: {allowed}")
    if not ENV_NAME.match(env):
        raise ConfigError(f"config error: env={env!r} is not allowed: lower-case letters, digits and '-', 1-16 chars")
    raw = environments[env]
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config error: environments.{env}={raw!r} is not allowed: expected a map of settings")
    try:
        return EnvConfig.model_validate({**raw, "name": env})
    except ValidationError as err:
        raise ConfigError(_explain(err, env, raw)) from None


def load_config(app: Any) -> EnvConfig:
    """Read `env` and `environments` from the app's context (cdk.json plus `-c` flags)."""
    node = app.node
    return load_environment({"environments": node.try_get_context("environments") or {}}, node.try_get_context("env"))
