"""The reason for access: a fixed list, kept with the session, recorded on audit events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import RequestFactory

from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.roles import Role
from contactpoint.access.selectors import get_request_purpose
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_a_practitioner_states_a_reason_and_it_is_kept_and_recorded(
    signed_in: Callable[..., Any],
) -> None:
    client, person = signed_in()

    response = client.post("/reason-for-access?next=/account", {"reason": "safeguarding_concern"})

    assert response.status_code == 302 and response["Location"] == "/account"
    request = RequestFactory().get("/")
    request.session = client.session
    assert get_request_purpose(request) == "safeguarding_concern"
    event = AuditEvent.objects.get(action=AccessAction.PURPOSE_STATED)
    assert event.purpose == "safeguarding_concern" and event.actor_id == person.pk


def test_later_audit_events_carry_the_reason(signed_in: Callable[..., Any]) -> None:
    client, person = signed_in()
    client.post("/reason-for-access", {"reason": "other", "other": "Checking a school transfer"})

    client.post("/sign-out")

    event = AuditEvent.objects.get(action=AccessAction.SIGN_OUT)
    assert event.purpose == "other: Checking a school transfer" and event.actor_id == person.pk


@pytest.mark.parametrize(
    ("other", "message"),
    [
        ("", "Enter your reason."),
        ("x" * 101, "100 characters or fewer"),
        ("<script>alert(1)</script>", "letters, numbers, spaces and punctuation"),
    ],
)
def test_an_other_reason_must_be_short_plain_words(
    signed_in: Callable[..., Any], other: str, message: str
) -> None:
    client, _ = signed_in()

    response = client.post("/reason-for-access", {"reason": "other", "other": other})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action=AccessAction.PURPOSE_STATED).exists()


def test_a_reason_outside_the_list_is_refused(signed_in: Callable[..., Any]) -> None:
    client, _ = signed_in()
    response = client.post("/reason-for-access", {"reason": "curiosity"})
    assert response.status_code == 200 and "govuk-error-summary" in response.content.decode()


def test_roles_that_never_search_are_not_asked_for_a_reason(signed_in: Callable[..., Any]) -> None:
    client, _ = signed_in(role=Role.LA_ADMINISTRATOR)
    assert client.get("/reason-for-access").status_code == 403
