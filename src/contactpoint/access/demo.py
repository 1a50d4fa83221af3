"""Demo accounts: one per role, fully gated, so that a newcomer can sign in (demo only)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from axes.utils import reset as reset_lockouts
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access.models import Organisation, User
from contactpoint.access.organisations import NATIONAL_TEAM_CODE
from contactpoint.access.roles import Role
from contactpoint.access.services import generate_password
from contactpoint.access.totp import base32_secret, otpauth_uri
from contactpoint.access.vocabularies import LIVE_STATUSES, OrganisationKind, OrganisationStatus
from contactpoint.config import Environment

PREFERRED_DEMO_AUTHORITY = "Manchester"
DEMO_SURNAME = "Demo"


class DemoRefused(RuntimeError):
    """Demo accounts exist only in the demo environment."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    organisation: str
    totp_secret: str
    otpauth_uri: str


def demo_organisation() -> Organisation:
    """Manchester if present and live, else the first live pilot LA."""
    live_las = Organisation.objects.filter(
        kind=OrganisationKind.LOCAL_AUTHORITY, status__in=LIVE_STATUSES
    ).order_by("name")
    organisation = live_las.filter(name=PREFERRED_DEMO_AUTHORITY).first() or live_las.first()
    if organisation is None:
        raise DemoRefused("No live pilot local authority: run `contactpoint migrate` first.")
    return organisation


def create_demo_accounts(*, today: dt.date | None = None) -> list[DemoAccount]:
    """Create or refresh one fully gated account per role; returns their credentials.

    Idempotent: re-running keeps each account and its authenticator secret, gives it a
    fresh printed password, clears suspensions and lock-outs, and re-records the gates.
    """
    if settings.ENVIRONMENT is not Environment.DEMO:
        raise DemoRefused(
            f"Demo accounts are created only when CONTACTPOINT_ENV=demo (this is {settings.ENVIRONMENT})."
        )
    today = today or timezone.localdate()
    local_authority = demo_organisation()
    national_team = Organisation.objects.get(code=NATIONAL_TEAM_CODE)
    if national_team.status not in LIVE_STATUSES:
        national_team.status = OrganisationStatus.LIVE_NATIONAL
        national_team.save(update_fields=["status"])
    accounts = []
    with transaction.atomic():
        for role in Role:
            organisation = national_team if role == Role.NATIONAL_TEAM else local_authority
            accounts.append(_refresh_account(role, organisation, today))
    return accounts


def _refresh_account(role: Role, organisation: Organisation, today: dt.date) -> DemoAccount:
    username = f"demo.{role.value.replace('_', '-')}"
    password = generate_password()
    now = timezone.now()
    user, _ = User.objects.get_or_create(username=username)
    user.first_name = role.label
    user.last_name = DEMO_SURNAME
    user.email = f"{username}@example.invalid"
    user.organisation = organisation
    user.role = role
    user.is_active = True
    user.set_password(password)
    user.must_change_password = False
    user.vetting_certificate_masked = "****0000"
    user.vetting_issued_on = today
    user.training_completed_on = today
    user.shielding_training_completed_on = today if role == Role.SHIELDING_OFFICER else None
    user.agreement_signed_on = today
    for gate in ("vetting", "training", "agreement"):
        setattr(user, f"{gate}_recorded_at", now)
    if role == Role.SHIELDING_OFFICER:
        user.shielding_training_recorded_at = now
    user.authorised_at = now
    user.suspended_at = None
    user.suspension_reason = ""
    user.session_epoch += 1
    user.save()
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
    reset_lockouts(username=username)
    return DemoAccount(
        username=username,
        password=password,
        role=role.label,
        organisation=organisation.name,
        totp_secret=base32_secret(device),
        otpauth_uri=otpauth_uri(device),
    )
