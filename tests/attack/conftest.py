"""Fixtures shared by the protective-monitoring suites (tests/monitoring/support.py)."""

from tests.monitoring.support import database_store, quota_store, redis_store

__all__ = ["database_store", "quota_store", "redis_store"]


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    config.addinivalue_line(
        "markers", "attack: starts a real server on PostgreSQL and Redis (tests/attack)"
    )
