"""The engine table: pinned full versions only, default ports, TLS and log parameters per engine."""

from __future__ import annotations

import pytest

from cdk_data_tier.constructs.database_engine import (
    ENGINES,
    FLAVORS,
    audit_parameters,
    engine_parameters,
    known_versions,
)


@pytest.mark.parametrize("engine", ENGINES)
def test_defaults_are_full_versions_the_library_knows(engine: str) -> None:
    versions = known_versions(engine)
    assert FLAVORS[engine].default_version in versions
    # A bare major ("17", "8.0") would let RDS pick the minor: never offered.
    assert not any(v.count(".") == 0 for v in versions)
    assert "8.0" not in versions and "17" not in versions


def test_tls_is_forced_on_every_engine() -> None:
    assert engine_parameters("postgres", slow_query_ms=500)["rds.force_ssl"] == "1"
    assert engine_parameters("aurora-postgresql", slow_query_ms=500)["log_min_duration_statement"] == "500"
    assert engine_parameters("mysql", slow_query_ms=1500)["require_secure_transport"] == "1"
    assert engine_parameters("mysql", slow_query_ms=1500)["long_query_time"] == "1.5"
    assert engine_parameters("aurora-mysql", slow_query_ms=1000)["require_secure_transport"] == "ON"


def test_postgres_and_aurora_mysql_audit_through_parameters_and_mysql_through_its_option() -> None:
    assert audit_parameters("aurora-mysql")["server_audit_logging"] == "1"
    assert audit_parameters("mysql") == {}
    for engine in ("postgres", "aurora-postgresql"):
        params = audit_parameters(engine)
        assert "pgaudit" in params["shared_preload_libraries"].split(",")
        assert set(params["pgaudit.log"].split(",")) == {"ddl", "role"}
        assert params["pgaudit.log_parameter"] == "0"


def test_reserved_admin_names_cover_the_engine_defaults() -> None:
    assert "postgres" in FLAVORS["postgres"].reserved_users
    assert "admin" in FLAVORS["mysql"].reserved_users and "admin" in FLAVORS["postgres"].reserved_users
