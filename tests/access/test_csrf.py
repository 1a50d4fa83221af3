"""Forms need their CSRF token: a forged or missing one is refused, explained and audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from tests.access.factories import PASSWORD
from tests.conftest import sign_in_client

from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import User
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _token(page: str) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def test_sign_in_without_a_csrf_token_is_refused_and_audited(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    client = Client(enforce_csrf_checks=True)

    response = client.post("/sign-in", {"username": person.username, "password": PASSWORD})

    assert response.status_code == 403
    assert "Your form could not be sent" in response.content.decode()
    assert AuditEvent.objects.get(action=AccessAction.CSRF_REFUSED).outcome == "refused"


def test_sign_in_with_the_pages_token_is_accepted(make_person: Callable[..., User]) -> None:
    person = make_person()
    client = Client(enforce_csrf_checks=True)
    token = _token(client.get("/sign-in").content.decode())

    response = client.post(
        "/sign-in",
        {"username": person.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302


def test_a_forged_token_cannot_suspend_anyone(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    person = make_person()
    client = sign_in_client(Client(enforce_csrf_checks=True), admin)
    client.get(f"/people/{person.pk}/suspend")  # sets the CSRF cookie

    response = client.post(
        f"/people/{person.pk}/suspend", {"reason": "forged", "csrfmiddlewaretoken": "x" * 64}
    )

    assert response.status_code == 403
    person.refresh_from_db()
    assert not person.is_suspended
    event = AuditEvent.objects.get(action=AccessAction.CSRF_REFUSED)
    assert event.actor_id == admin.pk and event.detail["path"] == f"/people/{person.pk}/suspend"
