"""Bad database config fails synth with one line naming the key, the value and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cdk_data_tier.stacks.config import ConfigError, load_environment
from tests.fixtures_synth import project_context

AURORA = {"engine": "aurora-postgresql", "multi_az": None, "allocated_storage_gib": None,
          "max_allocated_storage_gib": None}


def _load(database: dict[str, Any], env: str = "dev") -> Any:
    context = copy.deepcopy(project_context())
    context["environments"][env]["database"] = {**context["environments"][env]["database"], **database}
    return load_environment(context, env)


@pytest.mark.parametrize(
    ("database", "expected"),
    [
        ({"engine": "oracle"},
         "config error: environments.dev.database.engine='oracle' is not allowed: Input should be 'postgres', 'mysql', "
         "'aurora-postgresql' or 'aurora-mysql'"),
        ({"read_replicas": -1},
         "config error: environments.dev.database.read_replicas=-1 is not allowed: Input should be greater than or "
         "equal to 0"),
        ({"read_replicas": 16},
         "config error: environments.dev.database.read_replicas=16 is not allowed: Input should be less than or equal "
         "to 15"),
        ({**AURORA, "multi_az": True},
         "config error: environments.dev.database.multi_az=True is not allowed with engine='aurora-postgresql': leave "
         "it null"),
        ({**AURORA, "allocated_storage_gib": 100},
         "config error: environments.dev.database.allocated_storage_gib=100 is not allowed with "
         "engine='aurora-postgresql'"),
        ({**AURORA, "instance_class": "db.t4g.small"},
         "config error: environments.dev.database.instance_class='db.t4g.small' is not allowed with "
         "engine='aurora-postgresql': Aurora needs at least a .medium class"),
        ({"engine_version": "17"},
         "config error: environments.dev.database.engine_version='17' is not allowed: a full postgres version that "
         "aws-cdk-lib knows, such as '17.9' (no bare major)"),
        ({"engine": "mysql"},
         "config error: environments.dev.database.engine_version='17.9' is not allowed: a full mysql version"),
        ({"port": 5432},
         "config error: environments.dev.database.port=5432 is not allowed: 1150-65535 and not the postgres default "
         "5432 (RDS.23)"),
        ({"port": 80},
         "config error: environments.dev.database.port=80 is not allowed: 1150-65535"),
        ({"admin_username": "postgres"},
         "config error: environments.dev.database.admin_username='postgres' is not allowed: reserved or the "
         "well-known default for postgres (RDS.25)"),
        ({"engine": "mysql", "engine_version": "8.4.8", "admin_username": "admin"},
         "config error: environments.dev.database.admin_username='admin' is not allowed"),
        ({"admin_username": "1admin"},
         "config error: environments.dev.database.admin_username='1admin' is not allowed: String should match pattern"),
        ({"iam_auth_user": "dbadmin"},
         "config error: environments.dev.database.iam_auth_user='dbadmin' is not allowed: it must differ from "
         "admin_username"),
        ({"app_username": "postgres"},
         "config error: environments.dev.database.app_username='postgres' is not allowed: reserved or the "
         "well-known default for postgres"),
        ({"app_username": "dbadmin"},
         "config error: environments.dev.database.app_username='dbadmin' is not allowed: it and its rotation twin "
         "'dbadmin_clone' must differ from admin_username ('dbadmin')"),
        ({"app_username": "app", "iam_auth_user": "app_clone"},
         "config error: environments.dev.database.app_username='app' is not allowed: it and its rotation twin "
         "'app_clone' must differ from iam_auth_user ('app_clone')"),
        ({"engine": "mysql", "engine_version": "8.4.8", "app_username": "application"},
         "config error: environments.dev.database.app_username='application' is not allowed with engine='mysql': at "
         "most 10 characters, so that its rotation twin 'application_clone' stays within the 16 that the MySQL "
         "multi-user rotation accepts"),
        ({"app_username": "app-user"},
         "config error: environments.dev.database.app_username='app-user' is not allowed: String should match "
         "pattern"),
        ({"instance_class": "t4g.medium"},
         "config error: environments.dev.database.instance_class='t4g.medium' is not allowed: String should match "
         "pattern"),
        ({"max_allocated_storage_gib": 21},
         "config error: environments.dev.database.max_allocated_storage_gib=21 is not allowed: Input should be greater "
         "than or equal to 22"),
        ({"allocated_storage_gib": 100, "max_allocated_storage_gib": 105},
         "config error: environments.dev.database.max_allocated_storage_gib=105 is not allowed: at least 10% above "
         "allocated_storage_gib (100)"),
        ({"backup_retention_days": 0},
         "config error: environments.dev.database.backup_retention_days=0 is not allowed: Input should be greater "
         "than or equal to 1"),
        ({"backup_window": "3am"},
         "config error: environments.dev.database.backup_window='3am' is not allowed: 'hh24:mi-hh24:mi' in UTC"),
        ({"backup_window": "03:00-03:15"},
         "config error: environments.dev.database.backup_window='03:00-03:15' is not allowed: at least 30 minutes"),
        ({"backup_window": "04:15-04:45"},
         "config error: environments.dev.database.backup_window='04:15-04:45' is not allowed: it overlaps "
         "maintenance_window 'sun:04:00-sun:04:30'"),
        ({"maintenance_window": "sunday 4am"},
         "config error: environments.dev.database.maintenance_window='sunday 4am' is not allowed: "
         "'ddd:hh24:mi-ddd:hh24:mi' in UTC"),
        ({"removal": "retain"},
         "config error: environments.dev.database.removal='retain' is not allowed: Input should be 'destroy' or "
         "'snapshot'"),
        ({"backup_plan_retention_days": 35},
         "config error: environments.dev.database.backup_plan_retention_days=35 is not allowed with "
         "removal='destroy'"),
        ({"secret_rotation_days": 120},
         "config error: environments.dev.database.secret_rotation_days=120 is not allowed: Input should be less than "
         "or equal to 90"),
        ({"performance_insights_retention_days": 30},
         "config error: environments.dev.database.performance_insights_retention_days=30 is not allowed: 7, a "
         "multiple of 31 up to 713, or 731"),
        ({"log_retention_days": 10},
         "config error: environments.dev.database.log_retention_days=10 is not allowed: Input should be 1, 3, 5, 7"),
        ({"monitoring_interval_seconds": 0},
         "config error: environments.dev.database.monitoring_interval_seconds=0 is not allowed: Input should be 1, 5"),
        ({"alarms": {"cpu_percent": 150}},
         "config error: environments.dev.database.alarms.cpu_percent=150 is not allowed: Input should be less than "
         "or equal to 100"),
        ({"replicas": 2},
         "config error: environments.dev.database.replicas is not a known key: remove it or fix its spelling"),
    ],
    ids=["unknown-engine", "negative-replicas", "too-many-replicas", "aurora-multi-az", "aurora-storage",
         "aurora-small-class", "bare-major", "version-of-another-engine", "default-port", "port-out-of-range",
         "admin-postgres", "admin-mysql", "admin-pattern", "iam-user-is-admin", "app-user-reserved",
         "app-user-is-admin", "app-clone-is-iam-user", "mysql-clone-name-too-long", "app-user-pattern", "class-without-db-prefix",
         "max-storage-floor", "max-storage-too-close", "no-backups", "backup-window-format", "backup-window-short",
         "windows-overlap", "maintenance-window-format", "retain-removal", "vault-with-destroy", "rotation-too-rare",
         "pi-retention", "log-retention", "monitoring-interval", "alarm-threshold", "unknown-key"],
)
def test_bad_database_config(database: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        _load(database)
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(expected), str(err.value)


@pytest.mark.parametrize("engine", ["postgres", "mysql", "aurora-postgresql", "aurora-mysql"])
def test_each_engine_gets_a_pinned_version_and_a_nondefault_port_by_default(engine: str) -> None:
    cfg = _load({"engine": engine, "engine_version": "", "port": 0,
                 **({k: None for k in ("multi_az", "allocated_storage_gib", "max_allocated_storage_gib")}
                    if engine.startswith("aurora") else {})}).database
    assert cfg.engine_version.count(".") >= 1
    assert cfg.port in (5433, 3307)


def test_committed_environments_are_valid() -> None:
    dev, prod = _load({}).database, _load({}, "prod").database
    assert (dev.multi_az, dev.removal, dev.deletion_protection) == (False, "destroy", False)
    assert (prod.multi_az, prod.removal, prod.deletion_protection) == (True, "snapshot", True)
    assert prod.read_replicas >= 1 and dev.read_replicas == 1
    assert (dev.backup_retention_days, prod.backup_retention_days) == (7, 14)


def test_windows_may_cross_midnight() -> None:
    cfg = _load({"backup_window": "23:45-00:15", "maintenance_window": "sun:01:00-sun:01:30"})
    assert cfg.database.backup_window == "23:45-00:15"
    with pytest.raises(ConfigError, match="overlaps"):
        _load({"backup_window": "23:45-00:15", "maintenance_window": "sat:23:30-sun:01:00"})
