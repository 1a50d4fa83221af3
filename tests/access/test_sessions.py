"""Sessions end after 15 idle minutes or 12 hours, and at once on suspension or TOTP reset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client
from tests.access.factories import PASSWORD
from tests.conftest import sign_in_client, sign_in_with_pages

from contactpoint.access import services
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import User
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def test_fifteen_idle_minutes_end_the_session(make_person: Callable[..., User]) -> None:
    person = make_person()
    with time_machine.travel(START, tick=False) as clock:
        client = sign_in_client(Client(), person)
        clock.shift(dt.timedelta(minutes=14))
        assert client.get("/account").status_code == 200
        clock.shift(dt.timedelta(minutes=14))  # 28 minutes in, but only 14 idle
        assert client.get("/account").status_code == 200
        clock.shift(dt.timedelta(minutes=15, seconds=1))
        response = client.get("/account")

    assert response.status_code == 302 and response["Location"] == "/sign-in?ended=idle"
    assert client.get("/account").status_code == 302
    event = AuditEvent.objects.get(action=AccessAction.SESSION_EXPIRED)
    assert event.detail == {"reason": "idle"} and event.actor_id == person.pk


def test_twelve_hours_end_the_session_however_active(make_person: Callable[..., User]) -> None:
    person = make_person()
    with time_machine.travel(START, tick=False) as clock:
        client = sign_in_client(Client(), person)
        for _ in range(12 * 6 + 1):  # a request every 10 minutes, past 12 hours
            clock.shift(dt.timedelta(minutes=10))
            response = client.get("/account")
            if response.status_code != 200:
                break

    assert response.status_code == 302 and response["Location"] == "/sign-in?ended=absolute"
    assert AuditEvent.objects.get(action=AccessAction.SESSION_EXPIRED).detail == {
        "reason": "absolute"
    }


def test_the_sign_in_page_explains_why_the_session_ended(db: None) -> None:
    page = Client().get("/sign-in?ended=idle").content.decode()
    assert "You were signed out because you had not done anything for 15 minutes." in page


@pytest.mark.parametrize(
    "engine",
    [
        "django.contrib.sessions.backends.db",
        "django.contrib.sessions.backends.cache",
        "django.contrib.sessions.backends.signed_cookies",
    ],
)
def test_suspension_ends_every_session_at_once_whatever_the_session_store(
    make_person: Callable[..., User], settings: Any, engine: str
) -> None:
    settings.SESSION_ENGINE = engine
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    person = make_person()
    laptop = sign_in_with_pages(Client(), person, PASSWORD)
    phone = sign_in_with_pages(Client(), person, PASSWORD)
    assert laptop.get("/account").status_code == 200 and phone.get("/account").status_code == 200

    services.suspend_account(actor=admin, person=person, reason="Left the council", ip_address=None)

    assert laptop.get("/account").status_code == 302
    assert phone.get("/reason-for-access").status_code == 302


def test_resetting_the_authenticator_ends_the_sessions_it_verified(
    make_person: Callable[..., User],
) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    person = make_person()
    client = sign_in_client(Client(), person)

    services.reset_second_factor(actor=admin, person=person, ip_address=None)

    assert client.get("/account").status_code == 302


def test_changing_your_password_keeps_this_session_and_ends_the_others(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    here, elsewhere = sign_in_client(Client(), person), sign_in_client(Client(), person)
    new = "pebble orchard violin ferry"

    response = here.post(
        "/account/password",
        {
            "current_password": "correct horse battery staple",
            "new_password": new,
            "confirm_password": new,
        },
    )

    assert response.status_code == 302 and response["Location"] == "/account"
    assert here.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302
