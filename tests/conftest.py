"""Shared fixtures: fast password hashing, organisations, people, signed-in clients."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access.models import Organisation, User
from contactpoint.access.signin import LAST_SEEN_SESSION_KEY, SIGNED_IN_AT_SESSION_KEY

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest, settings: Any) -> None:
    """Argon2 is deliberately slow; tests use MD5 unless marked @pytest.mark.real_hasher."""
    if request.node.get_closest_marker("real_hasher") is None:
        settings.PASSWORD_HASHERS = FAST_HASHERS


@pytest.fixture(autouse=True)
def _quota_keys_of_this_test_alone(settings: Any) -> Iterator[None]:
    """With REDIS_URL set, each test counts quotas under a Redis key prefix of its own.

    Test databases restart their id sequences, so without this a person in one run shares the
    Redis counters of the person with the same id in an earlier run that day.
    """
    url = str(getattr(settings, "REDIS_URL", "") or "")
    if not url:
        yield
        return
    prefix = f"contactpoint-test:{uuid.uuid4().hex[:12]}"
    settings.CONTACTPOINT_QUOTA_KEY_PREFIX = prefix
    yield
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.3)
        for key in client.scan_iter(f"{prefix}:*", count=1000):
            client.delete(key)
    except redis.RedisError:
        pass  # a test that stopped Redis on purpose; its keys expire within two days


@pytest.fixture(autouse=True)
def _starting_data_in_transactional_tests(request: pytest.FixtureRequest) -> None:
    """Put back the reference data that migrations load, for tests that flush the database.

    A transactional test ends with a flush that empties every table, migrations' data
    included; serialized_rollback would restore it but collides with the content types that
    Django recreates after another test's flush. Re-applying the (idempotent) loaders does not.
    """
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    from contactpoint.access.organisations import create_missing_organisations
    from contactpoint.index.models import LocalAuthority, PostcodeDistrict
    from contactpoint.index.reference import apply_local_authorities

    if not LocalAuthority.objects.exists():
        apply_local_authorities(LocalAuthority, PostcodeDistrict)
    create_missing_organisations(Organisation, LocalAuthority)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_hasher: use the production password hashers")


@pytest.fixture
def manchester(db: None) -> Organisation:
    """Manchester's organisation: a pilot LA, live from the start (migration access.0002)."""
    return Organisation.objects.get(kind="local_authority", name="Manchester")


@pytest.fixture
def make_person(db: None) -> Callable[..., User]:
    """Build a fully gated person; pass fields to fail a gate (e.g. authorised_at=None)."""
    from tests.access.factories import PersonFactory

    def make(**fields: Any) -> User:
        return PersonFactory(**fields)

    return make


def sign_in_client(client: Client, person: User) -> Client:
    """Give a test client a fully signed-in session (password and TOTP) without the pages."""
    client.force_login(person, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    device = TOTPDevice.objects.filter(user=person, confirmed=True).first()
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    now = time.time()
    session[SIGNED_IN_AT_SESSION_KEY] = now
    session[LAST_SEEN_SESSION_KEY] = now
    session.save()
    return client


@pytest.fixture
def signed_in(make_person: Callable[..., User]) -> Callable[..., tuple[Client, User]]:
    """A client signed in as a new fully gated person of the given role (and fields)."""

    def make(**fields: Any) -> tuple[Client, User]:
        person = make_person(**fields)
        return sign_in_client(Client(), person), person

    return make


def sign_in_with_pages(client: Client, person: User, password: str) -> Client:
    """Sign in through the real pages (password, then a fresh TOTP code)."""
    from contactpoint.access.totp import current_code

    response = client.post("/sign-in", {"username": person.username, "password": password})
    assert response.status_code == 302, response.content.decode()[:500]
    device = TOTPDevice.objects.get(user=person, confirmed=True)
    # Each code is accepted once: let this sign-in reuse the current time step in tests.
    TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    response = client.post("/sign-in/code", {"code": current_code(device)})
    assert response.status_code == 302, response.content.decode()[:500]
    return client
