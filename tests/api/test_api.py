"""The people's API: a short-lived token only after password and TOTP; the same gates as the web."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from tests.access.factories import PASSWORD

from contactpoint.access import services
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import ApiToken, User
from contactpoint.access.roles import Role
from contactpoint.access.totp import current_code
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _code(person: User) -> str:
    return current_code(TOTPDevice.objects.get(user=person, confirmed=True))


def _token_request(client: Client, username: str, password: str, code: str) -> Any:
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password, "code": code},
        content_type="application/json",
    )


def _bearer(raw: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


def test_password_and_code_give_a_15_minute_token_stored_only_as_a_digest(
    make_person: Callable[..., User],
) -> None:
    person = make_person()

    response = _token_request(Client(), person.username, PASSWORD, _code(person))

    assert response.status_code == 201
    raw = response.json()["token"]
    token = ApiToken.objects.get(user=person)
    assert raw.startswith("cpt_") and token.digest != raw and raw not in token.digest
    assert (token.expires_at - token.created_at) == dt.timedelta(minutes=15)
    assert AuditEvent.objects.filter(
        action=AccessAction.API_TOKEN_ISSUED, actor_id=person.pk
    ).exists()
    me = _bearer(raw).get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == person.username


@pytest.mark.parametrize("what", ["wrong password", "unknown user", "wrong code"])
def test_no_token_without_both_factors(make_person: Callable[..., User], what: str) -> None:
    person = make_person()
    code = _code(person)
    username, password = person.username, PASSWORD
    if what == "wrong password":
        password = "not the password at all"
    elif what == "unknown user":
        username = "nobody-here"
    else:
        code = f"{(int(code) + 1) % 1_000_000:06d}"

    response = _token_request(Client(), username, password, code)

    assert response.status_code == 401
    assert not ApiToken.objects.exists()


def test_unknown_user_and_wrong_password_answer_the_same(make_person: Callable[..., User]) -> None:
    person = make_person()
    wrong = _token_request(Client(), person.username, "nope nope nope", "123456")
    unknown = _token_request(Client(), "nobody-here", "nope nope nope", "123456")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_a_code_used_for_one_token_cannot_get_another(make_person: Callable[..., User]) -> None:
    person = make_person()
    code = _code(person)
    assert _token_request(Client(), person.username, PASSWORD, code).status_code == 201
    assert _token_request(Client(), person.username, PASSWORD, code).status_code == 401


def test_repeated_failures_lock_out_with_429(make_person: Callable[..., User]) -> None:
    person = make_person()
    for _ in range(5):
        _token_request(Client(), person.username, "wrong wrong wrong", "000000")
    response = _token_request(Client(), person.username, PASSWORD, _code(person))
    assert response.status_code == 429


def test_the_token_expires_after_15_minutes(make_person: Callable[..., User]) -> None:
    person = make_person()
    with time_machine.travel(dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        raw = services.issue_api_token(user=person, ip_address=None).raw
        assert _bearer(raw).get("/api/v1/me").status_code == 200
        clock.shift(dt.timedelta(minutes=15, seconds=1))
        response = _bearer(raw).get("/api/v1/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_stops_working(make_person: Callable[..., User]) -> None:
    raw = services.issue_api_token(user=make_person(), ip_address=None).raw
    assert _bearer(raw).delete("/api/v1/auth/token/current").status_code == 204
    assert _bearer(raw).get("/api/v1/me").status_code == 401


def test_suspension_stops_a_token_at_once(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    person = make_person()
    raw = services.issue_api_token(user=person, ip_address=None).raw
    services.suspend_account(actor=admin, person=person, reason="Investigation", ip_address=None)
    assert _bearer(raw).get("/api/v1/me").status_code == 401


def test_no_token_and_a_made_up_token_are_refused(db: None) -> None:
    assert Client().get("/api/v1/me").status_code == 401
    assert _bearer("cpt_madeup").get("/api/v1/me").status_code == 401
    assert _bearer("someone-elses-source-system-key").get("/api/v1/me").status_code == 401


def test_the_api_applies_the_same_gates_and_explains_them(make_person: Callable[..., User]) -> None:
    person = make_person(training_completed_on=None)
    raw = services.issue_api_token(user=person, ip_address=None).raw

    response = _bearer(raw).put(
        "/api/v1/auth/purpose", {"reason": "new_referral"}, content_type="application/json"
    )

    assert response.status_code == 403
    assert [r["gate"] for r in response.json()["reasons"]] == ["training_completed"]
    event = AuditEvent.objects.get(action=AccessAction.REFUSED, actor_id=person.pk)
    assert event.detail["what"] == "api"


def test_roles_are_enforced_on_the_api(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    raw = services.issue_api_token(user=admin, ip_address=None).raw
    response = _bearer(raw).put(
        "/api/v1/auth/purpose", {"reason": "new_referral"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["reasons"][0]["gate"] == "role_permits"


def test_a_reason_stated_through_the_api_is_kept_with_the_token(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    raw = services.issue_api_token(user=person, ip_address=None).raw

    response = _bearer(raw).put(
        "/api/v1/auth/purpose",
        {"reason": "other", "other": "Checking a transfer"},
        content_type="application/json",
    )

    assert response.status_code == 200
    assert _bearer(raw).get("/api/v1/me").json()["purpose"] == "other: Checking a transfer"
    assert (
        AuditEvent.objects.get(action=AccessAction.PURPOSE_STATED).purpose
        == "other: Checking a transfer"
    )


def test_the_openapi_schema_is_published(db: None) -> None:
    response = Client().get("/api/v1/schema?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/auth/token" in schema["paths"] and "/api/v1/me" in schema["paths"]
