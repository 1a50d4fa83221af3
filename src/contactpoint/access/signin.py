"""Sign-in and sign-out: the steps that need the HTTP request (lock-out, session, login).

Password first, then (if needed) a new password and TOTP enrolment, then the TOTP code.
Until the code is accepted the person is NOT logged in: the session holds only a short-lived
"pending" marker, so a stolen password alone never yields an authenticated session.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access import lockout
from contactpoint.access.audit_actions import AccessAction, Outcome
from contactpoint.access.client import client_ip
from contactpoint.access.models import User
from contactpoint.access.selectors import (
    PURPOSE_SESSION_KEY,
    describe_purpose,
    get_request_purpose,
    has_confirmed_device,
)
from contactpoint.access.services import audit, change_own_password, validate_purpose
from contactpoint.access.totp import code_was_replayed

PENDING_SESSION_KEY = "access.pending"
SIGNED_IN_AT_SESSION_KEY = "access.signed_in_at"
LAST_SEEN_SESSION_KEY = "access.last_seen"
PENDING_LIFETIME_SECONDS = 5 * 60
LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"

# One message for an unknown username and a wrong password, so neither is revealed.
INVALID_CREDENTIALS = "Enter a correct username and password. Both are case-sensitive."
LOCKED_OUT = (
    "There have been too many failed attempts to sign in from here. Wait 15 minutes and try "
    "again, or ask your ContactPoint administrator for help."
)
WRONG_CODE = "Enter the 6-digit code shown in your authenticator app now. Each code works once."


class Stage(StrEnum):
    NEW_PASSWORD = "new_password"
    ENROL = "enrol"
    CODE = "code"


@dataclass(frozen=True)
class StepResult:
    ok: bool
    message: str = ""
    locked_out: bool = False
    next_stage: Stage | None = None


# --- Password ---------------------------------------------------------------------------------


def check_password(
    request: HttpRequest, *, username: str, password: str
) -> tuple[User | None, StepResult]:
    """Check a username and password through axes and audit the outcome.

    Unknown usernames and wrong passwords take the same path through Django's ModelBackend,
    which hashes the given password even when there is no such user, so both the answer and
    the time taken are the same.
    """
    ip_address = client_ip(request)
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        with transaction.atomic():
            audit(
                AccessAction.LOCKED_OUT,
                actor=None,
                outcome=Outcome.REFUSED,
                ip_address=ip_address,
                username=username,
                detail={"step": "password"},
            )
        return None, StepResult(False, LOCKED_OUT, locked_out=True)
    if not isinstance(user, User):
        with transaction.atomic():
            audit(
                AccessAction.SIGN_IN_FAILED,
                actor=None,
                outcome=Outcome.FAILED,
                ip_address=ip_address,
                username=username,
                detail={"step": "password"},
            )
        return None, StepResult(False, INVALID_CREDENTIALS)
    if user.is_suspended:
        with transaction.atomic():
            audit(
                AccessAction.SIGN_IN_FAILED,
                actor=user,
                outcome=Outcome.REFUSED,
                ip_address=ip_address,
                detail={"step": "password", "reason": "suspended"},
            )
        return None, StepResult(
            False, "Your account is suspended. Ask your organisation's ContactPoint administrator."
        )
    with transaction.atomic():
        audit(AccessAction.PASSWORD_ACCEPTED, actor=user, ip_address=ip_address)
    return user, StepResult(True)


def next_stage_for(user: User) -> Stage:
    if user.must_change_password:
        return Stage.NEW_PASSWORD
    if not has_confirmed_device(user):
        return Stage.ENROL
    return Stage.CODE


def submit_password(request: HttpRequest, *, username: str, password: str) -> StepResult:
    """First step of web sign-in: on success the session holds a pending marker only."""
    if request.user.is_authenticated:
        sign_out(request, reason="new_sign_in")
    user, result = check_password(request, username=username, password=password)
    if user is None:
        return result
    request.session.cycle_key()  # a new session id for the pending state: no fixation
    _set_pending(request, user)
    return StepResult(True, next_stage=next_stage_for(user))


def _set_pending(request: HttpRequest, user: User) -> None:
    request.session[PENDING_SESSION_KEY] = {
        "user_id": user.pk,
        "auth_hash": user.get_session_auth_hash(),
        "started_at": time.time(),
    }


def get_pending_user(request: HttpRequest) -> User | None:
    """The person between password and code, if that state is fresh and still valid."""
    pending = request.session.get(PENDING_SESSION_KEY)
    if not isinstance(pending, dict):
        return None
    if time.time() - float(pending.get("started_at", 0)) > PENDING_LIFETIME_SECONDS:
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    user_id = pending.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = User.objects.select_related("organisation").filter(pk=user_id).first()
    if (
        user is None
        or user.is_suspended
        or user.get_session_auth_hash() != pending.get("auth_hash")
    ):
        request.session.pop(PENDING_SESSION_KEY, None)
        return None
    return user


def submit_new_password(request: HttpRequest, *, user: User, new_password: str) -> StepResult:
    """Replace a temporary password during sign-in (the policy was checked by the form)."""
    user = change_own_password(user=user, new_password=new_password, ip_address=client_ip(request))
    _set_pending(request, user)  # the password changed, so the pending hash must follow
    return StepResult(True, next_stage=next_stage_for(user))


# --- Second factor ----------------------------------------------------------------------------


def get_or_create_enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed device whose secret the enrolment page shows (the same one until used)."""
    if has_confirmed_device(user):
        raise PermissionError("this person already has an authenticator; an admin must reset it")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def verify_code(
    request: HttpRequest, *, user: User, code: str, enrolling: bool = False
) -> tuple[TOTPDevice | None, StepResult]:
    """Check a TOTP code against the person's device, accepting each code at most once.

    The device row is locked (SELECT ... FOR UPDATE; on SQLite the IMMEDIATE transaction
    serialises writers) so that two requests racing with the same code cannot both pass:
    the second sees the first's `last_t` and is refused as a replay.
    """
    username = user.get_username()
    ip_address = client_ip(request)
    if lockout.is_locked_out(request, username):
        with transaction.atomic():
            audit(
                AccessAction.LOCKED_OUT,
                actor=user,
                outcome=Outcome.REFUSED,
                ip_address=ip_address,
                detail={"step": "code"},
            )
        return None, StepResult(False, LOCKED_OUT, locked_out=True)
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=not enrolling)
            .order_by("pk")
            .first()
        )
        if device is not None:
            previous_t = device.last_t
            allowed, _ = device.verify_is_allowed()
            if device.verify_token(code):
                if enrolling:
                    device.confirmed = True
                    device.save(update_fields=["confirmed"])
                    audit(AccessAction.SECOND_FACTOR_ENROLLED, actor=user, ip_address=ip_address)
                return device, StepResult(True)
            if not allowed:
                reason = "throttled"
            elif code_was_replayed(device, code, previous_t):
                reason = "replayed"
            else:
                reason = "wrong_code"
        else:
            reason = "no_device"
        audit(
            AccessAction.SECOND_FACTOR_FAILED,
            actor=user,
            outcome=Outcome.FAILED,
            ip_address=ip_address,
            detail={"reason": reason, "enrolling": enrolling},
        )
    if lockout.record_failure(request, username):
        with transaction.atomic():
            audit(
                AccessAction.LOCKED_OUT,
                actor=user,
                outcome=Outcome.REFUSED,
                ip_address=ip_address,
                detail={"step": "code"},
            )
        return None, StepResult(False, LOCKED_OUT, locked_out=True)
    return None, StepResult(False, WRONG_CODE)


def submit_code(
    request: HttpRequest, *, user: User, code: str, enrolling: bool = False
) -> StepResult:
    """Last step of web sign-in: on a good code the person is logged in."""
    device, result = verify_code(request, user=user, code=code, enrolling=enrolling)
    if device is None:
        return result
    complete_sign_in(request, user=user, device=device)
    return StepResult(True)


def complete_sign_in(request: HttpRequest, *, user: User, device: TOTPDevice) -> None:
    """Log the person in with the device that verified them, and start the session clocks."""
    user.otp_device = device  # type: ignore[attr-defined]  # django-otp persists it on login
    with transaction.atomic():
        login(request, user, backend=LOGIN_BACKEND)
        now = time.time()
        request.session.pop(PENDING_SESSION_KEY, None)
        request.session[SIGNED_IN_AT_SESSION_KEY] = now
        request.session[LAST_SEEN_SESSION_KEY] = now
        audit(AccessAction.SIGN_IN, actor=user, ip_address=client_ip(request))


# --- Reason for access and sign-out -----------------------------------------------------------


def state_purpose(request: HttpRequest, *, reason: str, other: str) -> None:
    """Keep the reason for access with the session; it is recorded on every later audit event."""
    reason, other = validate_purpose(reason=reason, other=other)
    user = request.user
    assert isinstance(user, User)
    with transaction.atomic():
        request.session[PURPOSE_SESSION_KEY] = {
            "reason": reason,
            "other": other,
            "stated_at": time.time(),
        }
        audit(
            AccessAction.PURPOSE_STATED,
            actor=user,
            ip_address=client_ip(request),
            purpose=describe_purpose(reason, other),
        )


def sign_out(request: HttpRequest, *, reason: str = "signed_out") -> None:
    """End the session (audited); reason is 'signed_out', 'idle', 'absolute' or similar."""
    user = request.user
    if isinstance(user, User):
        action = (
            AccessAction.SIGN_OUT
            if reason in {"signed_out", "new_sign_in"}
            else AccessAction.SESSION_EXPIRED
        )
        with transaction.atomic():
            audit(
                action,
                actor=user,
                ip_address=client_ip(request),
                purpose=get_request_purpose(request),
                detail={"reason": reason},
            )
    logout(request)


def session_age_limits() -> tuple[int, int]:
    """(idle, absolute) session limits in seconds, from settings."""
    return (
        int(getattr(settings, "SESSION_IDLE_TIMEOUT_SECONDS", 15 * 60)),
        int(getattr(settings, "SESSION_ABSOLUTE_TIMEOUT_SECONDS", 12 * 60 * 60)),
    )
