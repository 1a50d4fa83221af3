"""Sign-in: password then TOTP, no enumeration, lock-out, codes accepted once, audited."""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from tests.access.factories import PASSWORD

from contactpoint.access import signin
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import User
from contactpoint.access.totp import current_code
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _csrf_free(body: bytes) -> str:
    """A page without its per-response CSRF token, so two answers can be compared exactly."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body.decode())


def _password(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post("/sign-in", {"username": username, "password": password}, **extra)


def _code_for(person: User) -> str:
    return current_code(TOTPDevice.objects.get(user=person, confirmed=True))


def _actions(**filters: Any) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).values_list("action", flat=True))


def test_password_then_code_signs_in_and_is_audited(make_person: Callable[..., User]) -> None:
    person = make_person()
    client = Client()

    response = _password(client, person.username)
    assert response.status_code == 302 and response["Location"] == "/sign-in/code"
    assert client.get("/account").status_code == 302  # password alone does not sign in

    response = client.post("/sign-in/code", {"code": _code_for(person)})

    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/account").status_code == 200
    assert _actions(actor_id=person.pk) == [AccessAction.PASSWORD_ACCEPTED, AccessAction.SIGN_IN]


def test_the_code_is_checked_with_django_otp_totp(make_person: Callable[..., User]) -> None:
    person = make_person()
    device = TOTPDevice.objects.get(user=person)
    client = Client()
    _password(client, person.username)

    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    assert client.post("/sign-in/code", {"code": code}).status_code == 302


def test_unknown_user_and_wrong_password_get_the_same_answer(
    make_person: Callable[..., User],
) -> None:
    person = make_person()

    wrong_password = _password(Client(), person.username, "not the right password")
    unknown_user = _password(Client(), "nobody-" + person.username, "not the right password")

    assert wrong_password.status_code == unknown_user.status_code == 200
    assert _csrf_free(wrong_password.content) == _csrf_free(unknown_user.content).replace(
        "nobody-" + person.username, person.username
    )
    assert signin.INVALID_CREDENTIALS in wrong_password.content.decode()
    failures = AuditEvent.objects.filter(action=AccessAction.SIGN_IN_FAILED)
    assert failures.count() == 2
    assert all("not the right password" not in str(event.detail) for event in failures)


def test_an_unknown_user_still_costs_a_password_hash(make_person: Callable[..., User]) -> None:
    """The same time for unknown users: Django hashes the given password anyway."""
    make_person()
    with mock.patch("django.contrib.auth.base_user.make_password", wraps=lambda p: "x") as hashed:
        _password(Client(), "no-such-person", "whatever-it-is")
    assert hashed.call_count == 1


@pytest.mark.real_hasher
def test_passwords_are_stored_with_argon2(make_person: Callable[..., User]) -> None:
    person = make_person()
    person.refresh_from_db()
    assert person.password.startswith("argon2$")


def test_a_wrong_code_is_refused_and_audited_without_the_code(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    client = Client()
    _password(client, person.username)
    good = _code_for(person)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"

    response = client.post("/sign-in/code", {"code": wrong})

    assert response.status_code == 200
    assert signin.WRONG_CODE in response.content.decode()
    event = AuditEvent.objects.get(action=AccessAction.SECOND_FACTOR_FAILED)
    assert event.detail["reason"] == "wrong_code" and wrong not in str(event.detail)


def test_a_code_is_accepted_once(make_person: Callable[..., User]) -> None:
    person = make_person()
    first, second = Client(), Client()
    _password(first, person.username)
    _password(second, person.username)
    code = _code_for(person)

    assert first.post("/sign-in/code", {"code": code}).status_code == 302
    replay = second.post("/sign-in/code", {"code": code})

    assert replay.status_code == 200 and signin.WRONG_CODE in replay.content.decode()
    assert second.get("/account").status_code == 302
    event = AuditEvent.objects.get(action=AccessAction.SECOND_FACTOR_FAILED)
    assert event.detail["reason"] == "replayed"


@pytest.mark.django_db(transaction=True)
def test_a_code_used_twice_at_the_same_time_is_accepted_once(
    make_person: Callable[..., User],
) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("threads cannot share SQLite's in-memory test database; runs on PostgreSQL")
    person = make_person()
    code = _code_for(person)
    barrier = threading.Barrier(2)
    accepted: list[bool] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        request = mock.Mock(META={"REMOTE_ADDR": "10.0.0.9"}, session={})
        request.axes_locked_out = False
        try:
            barrier.wait()
            device, _ = signin.verify_code(request, user=person, code=code)
            accepted.append(device is not None)
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    # Patched once, outside the threads: lock-out bookkeeping is not what this test is about.
    with (
        mock.patch.object(signin.lockout, "record_failure", return_value=False),
        mock.patch.object(signin.lockout, "is_locked_out", return_value=False),
    ):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert errors == []
    assert sorted(accepted) == [False, True]


def test_a_suspended_person_is_told_after_a_correct_password(
    make_person: Callable[..., User],
) -> None:
    person = make_person(suspended_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    response = _password(Client(), person.username)

    assert response.status_code == 200
    assert "Your account is suspended" in response.content.decode()
    event = AuditEvent.objects.get(action=AccessAction.SIGN_IN_FAILED)
    assert event.detail["reason"] == "suspended" and event.actor_id == person.pk


# --- Lock-out ------------------------------------------------------------------------------------


def test_five_failures_lock_out_that_username_from_that_address_for_15_minutes(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    client = Client()
    with time_machine.travel(dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(5):
            _password(client, person.username, "wrong password here")

        locked = _password(client, person.username)  # even the right password
        assert locked.status_code == 429
        assert signin.LOCKED_OUT in locked.content.decode()
        assert AuditEvent.objects.filter(action=AccessAction.LOCKED_OUT).exists()

        # Another address is not locked out: nobody can lock a colleague out from elsewhere.
        elsewhere = _password(Client(), person.username, REMOTE_ADDR="192.0.2.44")
        assert elsewhere.status_code == 302

        clock.shift(dt.timedelta(minutes=16))
        assert _password(Client(), person.username).status_code == 302


def test_unknown_usernames_lock_out_the_same_way(db: None) -> None:
    client = Client()
    for _ in range(5):
        _password(client, "nobody-at-all", "wrong password here")
    assert _password(client, "nobody-at-all", "wrong password here").status_code == 429


def test_wrong_codes_count_towards_lock_out(make_person: Callable[..., User]) -> None:
    person = make_person()
    client = Client()
    _password(client, person.username)
    good = _code_for(person)
    wrong = f"{(int(good) + 7) % 1_000_000:06d}"
    device = TOTPDevice.objects.get(user=person)
    statuses = []
    for _ in range(5):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
        statuses.append(client.post("/sign-in/code", {"code": wrong}).status_code)

    assert statuses[-1] == 429
    assert client.post("/sign-in/code", {"code": good}).status_code == 429


# --- The steps around the code -------------------------------------------------------------------


def test_a_temporary_password_must_be_replaced_by_one_that_meets_the_policy(
    make_person: Callable[..., User],
) -> None:
    person = make_person(must_change_password=True, with_device=False)
    client = Client()
    assert _password(client, person.username)["Location"] == "/sign-in/new-password"

    weak = client.post(
        "/sign-in/new-password",
        {"new_password": "Contactpoint2024!", "confirm_password": "Contactpoint2024!"},
    )
    assert weak.status_code == 200 and "govuk-error-summary" in weak.content.decode()

    good = "maple kettle orbit lantern"
    response = client.post(
        "/sign-in/new-password", {"new_password": good, "confirm_password": good}
    )

    assert response["Location"] == "/sign-in/set-up-authenticator"
    person.refresh_from_db()
    assert person.check_password(good) and not person.must_change_password


def test_enrolment_shows_a_qr_code_and_confirms_the_device_with_a_code(
    make_person: Callable[..., User],
) -> None:
    person = make_person(with_device=False)
    client = Client()
    assert _password(client, person.username)["Location"] == "/sign-in/set-up-authenticator"

    page = client.get("/sign-in/set-up-authenticator").content.decode()
    assert "<svg" in page and "<?xml" not in page
    device = TOTPDevice.objects.get(user=person, confirmed=False)
    assert page.count("<svg") >= 1 and re.search(r'data-testid="totp-secret">[A-Z2-7]{32}<', page)

    response = client.post("/sign-in/set-up-authenticator", {"code": current_code(device)})

    assert response.status_code == 302
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/account").status_code == 200
    assert AccessAction.SECOND_FACTOR_ENROLLED in _actions(actor_id=person.pk)


def test_a_person_with_an_authenticator_cannot_enrol_another(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    client = Client()
    _password(client, person.username)
    response = client.get("/sign-in/set-up-authenticator")
    assert response["Location"] == "/sign-in/code"
    assert TOTPDevice.objects.filter(user=person).count() == 1


def test_the_step_between_password_and_code_expires_after_5_minutes(
    make_person: Callable[..., User],
) -> None:
    person = make_person()
    client = Client()
    with time_machine.travel(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC), tick=False) as clock:
        _password(client, person.username)
        clock.shift(dt.timedelta(minutes=6))
        response = client.get("/sign-in/code")
    assert response.status_code == 302 and "ended=pending_expired" in response["Location"]


def test_sign_out_needs_a_post_and_is_audited(signed_in: Callable[..., Any]) -> None:
    client, person = signed_in()

    assert client.get("/sign-out").status_code == 200
    assert client.get("/account").status_code == 200  # a GET never signs anyone out

    response = client.post("/sign-out")

    assert response["Location"] == "/sign-in?ended=signed_out"
    assert client.get("/account").status_code == 302
    assert AccessAction.SIGN_OUT in _actions(actor_id=person.pk)


def test_next_is_followed_only_within_the_site(make_person: Callable[..., User]) -> None:
    person = make_person()
    inside, outside = Client(), Client()
    inside.post("/sign-in?next=/account", {"username": person.username, "password": PASSWORD})
    outside.post(
        "/sign-in?next=https://evil.example/", {"username": person.username, "password": PASSWORD}
    )
    code = _code_for(person)
    assert inside.post("/sign-in/code", {"code": code})["Location"] == "/account"
    TOTPDevice.objects.filter(user=person).update(last_t=0, throttling_failure_count=0)
    assert outside.post("/sign-in/code", {"code": code})["Location"] == "/"
