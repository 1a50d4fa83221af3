"""Every change to organisations, accounts and tokens: one function, one transaction, one audit event.

Callers pass the acting person; each service checks that the actor may make the change
(object by object) and raises `NotPermitted` or `InvalidChange` with a message a person
understands. Certificate numbers, passwords and codes never reach the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access import selectors
from contactpoint.access.audit_actions import AccessAction, Outcome
from contactpoint.access.models import ApiToken, Organisation, User, vetting_expiry
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.access.vocabularies import (
    OTHER_REASON_MAX_LENGTH,
    OTHER_REASON_PATTERN,
    STATUS_TRANSITIONS,
    AccessReason,
    OrganisationStatus,
)
from contactpoint.audit.services import record_event

API_TOKEN_LIFETIME = dt.timedelta(minutes=15)
API_TOKEN_PREFIX = "cpt_"
CERTIFICATE_PATTERN = re.compile(r"^[A-Za-z0-9]{8,16}$")  # DBS certificates: 12 digits
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely


class AccessServiceError(Exception):
    """A change that was refused; the message is shown to the person who asked."""


class NotPermitted(AccessServiceError):
    """The actor may not make this change to this object."""


class InvalidChange(AccessServiceError):
    """The change makes no sense (for example an expired certificate)."""


# --- Audit helpers ------------------------------------------------------------------------------


def audit(
    action: AccessAction,
    *,
    actor: User | None,
    outcome: Outcome = Outcome.OK,
    ip_address: str | None = None,
    purpose: str = "",
    username: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Write one access event; the actor's organisation is recorded with it."""
    organisation = actor.organisation if actor is not None else None
    record_event(
        action=action,
        outcome=outcome,
        actor_id=actor.pk if actor is not None else None,
        actor_username=actor.get_username() if actor is not None else username[:150],
        organisation_code=organisation.code if organisation is not None else "",
        purpose=purpose,
        ip_address=ip_address,
        detail=detail or {},
    )


def _subject(person: User) -> dict[str, Any]:
    return {
        "person_id": person.pk,
        "person_username": person.get_username(),
        "person_organisation": person.organisation.code if person.organisation else "",
    }


def record_refusal(
    *,
    actor: User | None,
    ip_address: str | None,
    what: str,
    purpose: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a refused request (another organisation's person, a missing gate, a bad token)."""
    with transaction.atomic():
        audit(
            AccessAction.REFUSED,
            actor=actor,
            outcome=Outcome.REFUSED,
            ip_address=ip_address,
            purpose=purpose,
            detail={"what": what, **(detail or {})},
        )


# --- Organisations ------------------------------------------------------------------------------


def change_organisation_status(
    *, actor: User, organisation: Organisation, new_status: str, ip_address: str | None
) -> Organisation:
    """Move an organisation along onboarding -> accredited -> live -> suspended (national team only)."""
    if not role_has(actor.role, Capability.MANAGE_ORGANISATIONS):
        raise NotPermitted(
            "Only the national ContactPoint team can change an organisation's status."
        )
    if organisation.pk == actor.organisation_id:
        raise NotPermitted("You cannot change the status of your own organisation.")
    with transaction.atomic():
        locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
        if new_status not in STATUS_TRANSITIONS.get(locked.status, frozenset()):
            current = OrganisationStatus(locked.status).label
            raise InvalidChange(
                f"{locked.name} is {current.lower()}: it cannot move to that status from there."
            )
        previous = locked.status
        locked.status = new_status
        locked.status_changed_at = timezone.now()
        locked.status_changed_by = actor
        locked.save(update_fields=["status", "status_changed_at", "status_changed_by"])
        audit(
            AccessAction.ORGANISATION_STATUS_CHANGED,
            actor=actor,
            ip_address=ip_address,
            detail={"organisation": locked.code, "from": previous, "to": new_status},
        )
    return locked


# --- Accounts -----------------------------------------------------------------------------------


def generate_password() -> str:
    """A random password people can type: four groups of four (about 79 bits)."""
    groups = ("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(4))
    return "-".join(groups)


def _lock_managed_person(actor: User, person: User) -> User:
    """Re-read the person FOR UPDATE, refusing anyone outside the actor's remit."""
    if person.pk == actor.pk:
        raise NotPermitted("You cannot change your own account: ask another administrator.")
    if selectors.find_managed_person(actor, person.pk) is None:
        raise NotPermitted("You can only manage people in the organisations you administer.")
    return User.objects.select_for_update().get(pk=person.pk)


def create_account(
    *,
    actor: User,
    organisation: Organisation,
    username: str,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    ip_address: str | None,
) -> tuple[User, str]:
    """Create an account in an organisation the actor administers; returns it and a temporary password.

    The account starts with no gate met: vetting, training, agreement and authorisation are
    recorded separately, and the person must replace the temporary password at first sign-in.
    """
    if role not in selectors.assignable_roles(actor, organisation):
        raise NotPermitted("You cannot create an account with that role in that organisation.")
    if User.objects.filter(username__iexact=username).exists():
        raise InvalidChange("That username is already taken. Choose another.")
    temporary_password = generate_password()
    with transaction.atomic():
        person = User(
            username=username,
            first_name=first_name,
            last_name=last_name,
            email=email,
            role=role,
            organisation=organisation,
            must_change_password=True,
        )
        person.set_password(temporary_password)
        person.save()
        audit(
            AccessAction.ACCOUNT_CREATED,
            actor=actor,
            ip_address=ip_address,
            detail={**_subject(person), "role": role},
        )
    return person, temporary_password


def issue_temporary_password(*, actor: User, person: User, ip_address: str | None) -> str:
    """Give a person a new temporary password (forgotten password); ends their sessions."""
    temporary_password = generate_password()
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        locked.set_password(temporary_password)
        locked.must_change_password = True
        locked.session_epoch += 1
        locked.save(update_fields=["password", "must_change_password", "session_epoch"])
        audit(
            AccessAction.TEMPORARY_PASSWORD_SET,
            actor=actor,
            ip_address=ip_address,
            detail=_subject(locked),
        )
    return temporary_password


def mask_certificate(certificate_number: str) -> str:
    """Keep only the last four characters: '001234567890' -> '****7890'."""
    return "****" + certificate_number[-4:]


def record_vetting(
    *,
    actor: User,
    person: User,
    certificate_number: str,
    issued_on: dt.date,
    ip_address: str | None,
    today: dt.date | None = None,
) -> User:
    """Record an enhanced vetting check; only a masked reference is kept or audited."""
    today = today or timezone.localdate()
    number = certificate_number.replace(" ", "")
    if not CERTIFICATE_PATTERN.fullmatch(number):
        raise InvalidChange(
            "Enter the certificate number as it is printed: 8 to 16 letters or digits."
        )
    if issued_on > today:
        raise InvalidChange("The issue date must be today or in the past.")
    if vetting_expiry(issued_on) <= today:
        raise InvalidChange(
            "That certificate was issued more than 3 years ago, so it cannot make the "
            "account usable. Record the renewed check instead."
        )
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        locked.vetting_certificate_masked = mask_certificate(number)
        locked.vetting_issued_on = issued_on
        locked.vetting_recorded_at = timezone.now()
        locked.vetting_recorded_by = actor
        locked.save()
        audit(
            AccessAction.VETTING_RECORDED,
            actor=actor,
            ip_address=ip_address,
            detail={
                **_subject(locked),
                "certificate": locked.vetting_certificate_masked,
                "issued_on": issued_on.isoformat(),
            },
        )
    return locked


def _record_date(
    *,
    actor: User,
    person: User,
    on: dt.date,
    field_prefix: str,
    date_field: str,
    action: AccessAction,
    ip_address: str | None,
) -> User:
    if on > timezone.localdate():
        raise InvalidChange("The date must be today or in the past.")
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        setattr(locked, date_field, on)
        setattr(locked, f"{field_prefix}_recorded_at", timezone.now())
        setattr(locked, f"{field_prefix}_recorded_by", actor)
        locked.save()
        audit(
            action,
            actor=actor,
            ip_address=ip_address,
            detail={**_subject(locked), "on": on.isoformat()},
        )
    return locked


def record_training(
    *, actor: User, person: User, completed_on: dt.date, ip_address: str | None
) -> User:
    """Record that the person completed ContactPoint training."""
    return _record_date(
        actor=actor,
        person=person,
        on=completed_on,
        field_prefix="training",
        date_field="training_completed_on",
        action=AccessAction.TRAINING_RECORDED,
        ip_address=ip_address,
    )


def record_shielding_training(
    *, actor: User, person: User, completed_on: dt.date, ip_address: str | None
) -> User:
    """Record shielding training, which only shielding officers take."""
    if person.role != Role.SHIELDING_OFFICER:
        raise InvalidChange("Shielding training is recorded only for shielding officers.")
    return _record_date(
        actor=actor,
        person=person,
        on=completed_on,
        field_prefix="shielding_training",
        date_field="shielding_training_completed_on",
        action=AccessAction.SHIELDING_TRAINING_RECORDED,
        ip_address=ip_address,
    )


def record_agreement(
    *, actor: User, person: User, signed_on: dt.date, ip_address: str | None
) -> User:
    """Record that the person signed the ContactPoint user agreement."""
    return _record_date(
        actor=actor,
        person=person,
        on=signed_on,
        field_prefix="agreement",
        date_field="agreement_signed_on",
        action=AccessAction.AGREEMENT_RECORDED,
        ip_address=ip_address,
    )


def authorise_account(*, actor: User, person: User, ip_address: str | None) -> User:
    """The organisation's authorisation: the last of the recorded gates."""
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        locked.authorised_at = timezone.now()
        locked.authorised_by = actor
        locked.save(update_fields=["authorised_at", "authorised_by"])
        audit(
            AccessAction.ACCOUNT_AUTHORISED,
            actor=actor,
            ip_address=ip_address,
            detail=_subject(locked),
        )
    return locked


def suspend_account(*, actor: User, person: User, reason: str, ip_address: str | None) -> User:
    """Suspend an account and end every session and API token it has, at once."""
    reason = reason.strip()
    if not reason:
        raise InvalidChange("Enter why the account is being suspended.")
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        if locked.is_suspended:
            raise InvalidChange("That account is already suspended.")
        _suspend(locked, reason=reason[:200], by=actor)
        audit(
            AccessAction.ACCOUNT_SUSPENDED,
            actor=actor,
            ip_address=ip_address,
            detail={**_subject(locked), "reason": locked.suspension_reason},
        )
    return locked


def _suspend(person: User, *, reason: str, by: User | None) -> None:
    """Mark suspended and end all access: sessions by the epoch, tokens by revocation."""
    now = timezone.now()
    person.suspended_at = now
    person.suspended_by = by
    person.suspension_reason = reason
    person.session_epoch += 1
    person.save(
        update_fields=["suspended_at", "suspended_by", "suspension_reason", "session_epoch"]
    )
    ApiToken.objects.filter(user=person, revoked_at__isnull=True).update(revoked_at=now)


def reenable_account(*, actor: User, person: User, ip_address: str | None) -> User:
    """Lift a suspension; every other gate must still hold for the account to be usable."""
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        if not locked.is_suspended:
            raise InvalidChange("That account is not suspended.")
        locked.suspended_at = None
        locked.suspended_by = None
        locked.suspension_reason = ""
        locked.save(update_fields=["suspended_at", "suspended_by", "suspension_reason"])
        audit(
            AccessAction.ACCOUNT_REENABLED,
            actor=actor,
            ip_address=ip_address,
            detail=_subject(locked),
        )
    return locked


def reset_second_factor(*, actor: User, person: User, ip_address: str | None) -> User:
    """Remove the person's authenticator (lost phone); they enrol a new one at next sign-in.

    Only an administrator can do this (issue 3), and it ends the person's sessions, since a
    session verified by the old device must not outlive it.
    """
    with transaction.atomic():
        locked = _lock_managed_person(actor, person)
        removed, _ = TOTPDevice.objects.filter(user=locked).delete()
        locked.session_epoch += 1
        locked.save(update_fields=["session_epoch"])
        ApiToken.objects.filter(user=locked, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit(
            AccessAction.SECOND_FACTOR_RESET,
            actor=actor,
            ip_address=ip_address,
            detail={**_subject(locked), "devices_removed": removed},
        )
    return locked


# --- The person's own account -------------------------------------------------------------------


def change_own_password(*, user: User, new_password: str, ip_address: str | None) -> User:
    """Set a new password (already validated against the policy) and end other sessions."""
    validate_password(new_password, user)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        locked.set_password(new_password)
        locked.must_change_password = False
        locked.session_epoch += 1
        locked.save(update_fields=["password", "must_change_password", "session_epoch"])
        audit(AccessAction.PASSWORD_CHANGED, actor=locked, ip_address=ip_address)
    return locked


def validate_purpose(*, reason: str, other: str) -> tuple[str, str]:
    """Check a reason for access; returns (reason, other) cleaned, or raises InvalidChange."""
    if reason not in AccessReason.values:
        raise InvalidChange("Select why you need to use ContactPoint.")
    other = " ".join(other.split())
    if reason != AccessReason.OTHER:
        return reason, ""
    if not other:
        raise InvalidChange("Enter your reason.")
    if len(other) > OTHER_REASON_MAX_LENGTH:
        raise InvalidChange(f"Your reason must be {OTHER_REASON_MAX_LENGTH} characters or fewer.")
    if not re.fullmatch(OTHER_REASON_PATTERN, other):
        raise InvalidChange(
            "Your reason can only include letters, numbers, spaces and punctuation."
        )
    return reason, other


# --- API tokens ---------------------------------------------------------------------------------


def token_digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    raw: str  # shown once to the caller, never stored


def issue_api_token(*, user: User, ip_address: str | None) -> IssuedToken:
    """Issue a 15-minute bearer token; call only after password and TOTP both succeeded."""
    raw = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            digest=token_digest(raw),
            prefix=raw[: len(API_TOKEN_PREFIX) + 6],
            created_at=now,
            expires_at=now + API_TOKEN_LIFETIME,
            ip_address=ip_address,
        )
        audit(
            AccessAction.API_TOKEN_ISSUED,
            actor=user,
            ip_address=ip_address,
            detail={"token": token.prefix, "expires_at": token.expires_at.isoformat()},
        )
    return IssuedToken(token=token, raw=raw)


def revoke_api_token(*, token: ApiToken, ip_address: str | None) -> None:
    with transaction.atomic():
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        audit(
            AccessAction.API_TOKEN_REVOKED,
            actor=token.user,
            ip_address=ip_address,
            detail={"token": token.prefix},
        )


def state_token_purpose(
    *, token: ApiToken, reason: str, other: str, ip_address: str | None
) -> ApiToken:
    """Keep a reason for access with an API token, as the web keeps it with the session."""
    reason, other = validate_purpose(reason=reason, other=other)
    with transaction.atomic():
        token.purpose, token.purpose_other = reason, other
        token.save(update_fields=["purpose", "purpose_other"])
        audit(
            AccessAction.PURPOSE_STATED,
            actor=token.user,
            ip_address=ip_address,
            purpose=selectors.describe_purpose(reason, other),
            detail={"token": token.prefix},
        )
    return token


def record_csrf_refusal(
    *, actor: User | None, ip_address: str | None, path: str, reason: str, purpose: str = ""
) -> None:
    """Audit a request refused for a missing or forged CSRF token."""
    with transaction.atomic():
        audit(
            AccessAction.CSRF_REFUSED,
            actor=actor,
            outcome=Outcome.REFUSED,
            ip_address=ip_address,
            purpose=purpose,
            detail={"path": path[:200], "reason": reason[:200]},
        )
