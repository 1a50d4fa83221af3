"""Helpers for the protective-monitoring tests: people, lookups through the real services, stores.

Lookups go through search.services (search_children, view_child), so each writes its audit
event and calls access.protective exactly as a page or the API would.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from tests.access.factories import PersonFactory
from tests.search.support import criteria

from contactpoint.access.models import Alert, Organisation, User
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective import quotas
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.access.roles import Role
from contactpoint.search.services import (
    ChildNotFound,
    SearchResults,
    search_children,
    view_child,
)

PURPOSE = "safeguarding_concern"
TEST_REDIS_URL = os.environ.get("CONTACTPOINT_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")

# A Tuesday in term time, in London, for tests that need an ordinary working day.
A_TUESDAY = dt.date(2026, 11, 24)


def working_time(hour: int, minute: int = 0, day: dt.date = A_TUESDAY) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def practitioner(**fields: Any) -> User:
    """A fully gated Manchester practitioner (override any field)."""
    fields.setdefault("role", Role.PRACTITIONER)
    fields.setdefault("last_name", "Quennell")
    return PersonFactory(**fields)


def organisation(name: str = "Manchester") -> Organisation:
    return Organisation.objects.get(kind="local_authority", name=name)


def search_as(person: User, **words: Any) -> SearchResults | LookupRefused:
    """One search through the service; a stopped lookup is returned, not raised."""
    try:
        return search_children(
            viewer=viewer_for(person), criteria=criteria(**words), purpose=PURPOSE
        )
    except LookupRefused as refused:
        return refused


def view_as(person: User, contactpoint_id: str) -> Any:
    """One record view through the service: the projection, ChildNotFound or LookupRefused."""
    try:
        return view_child(
            viewer=viewer_for(person), contactpoint_id=contactpoint_id, purpose=PURPOSE
        )
    except (LookupRefused, ChildNotFound) as answer:
        return answer


def alert_rules(person: User) -> set[str]:
    """The rules that raised an alert about this person."""
    return set(Alert.objects.filter(subject_user=person).values_list("rule", flat=True))


def is_suspended(person: User) -> bool:
    return User.objects.get(pk=person.pk).is_suspended


def redis_reachable(url: str = TEST_REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.3).ping())
    except redis.RedisError:
        return False


def start_of_a_store_minute(*, needed_seconds: float = 20) -> None:
    """Wait for Redis's next minute if its current one ends within `needed_seconds`.

    The Redis store counts in its own clock's minutes (time-machine cannot move them), so a test
    that makes a minute's worth of lookups must not straddle the boundary.
    """
    import time

    import redis

    seconds, micros = redis.Redis.from_url(TEST_REDIS_URL).time()
    left = 60 - (seconds % 60 + micros / 1_000_000)
    if left < needed_seconds:
        time.sleep(left + 0.05)


@pytest.fixture
def database_store(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Quotas in the database, on a clock that time-machine can move (the store's clock)."""
    import time

    settings.REDIS_URL = ""
    monkeypatch.setattr(quotas, "_database_now", lambda cursor: int(time.time()))


@pytest.fixture
def redis_store(settings: Any) -> Iterator[str]:
    """Quotas in a real Redis (DB 5 unless told), under a prefix of this test's own; cleaned up."""
    import redis

    if not redis_reachable():
        pytest.skip(f"Redis is not reachable at {TEST_REDIS_URL}")
    prefix = f"contactpoint-test:{uuid.uuid4().hex[:12]}"
    settings.REDIS_URL = TEST_REDIS_URL
    settings.CONTACTPOINT_QUOTA_KEY_PREFIX = prefix
    yield prefix
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(params=["database", "redis"])
def quota_store(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on each store."""
    request.getfixturevalue(f"{request.param}_store")
    return str(request.param)
