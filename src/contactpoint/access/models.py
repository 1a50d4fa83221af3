"""Organisations, the people who work in them, and the API tokens people are issued.

Models keep data integrity (constraints); the workflows that change them live in services.py
and every change there is audited.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import (
    LIVE_STATUSES,
    PRE_LIVE_STATUSES,
    OrganisationKind,
    OrganisationStatus,
)
from contactpoint.index.models import LocalAuthority

ORGANISATION_CODE = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_\-]*$", "An organisation code is letters, digits, - and _"
)
VETTING_VALID_YEARS = 3


def vetting_expiry(issued_on: dt.date) -> dt.date:
    """The day a vetting check stops counting: three years after issue (issue 3)."""
    try:
        return issued_on.replace(year=issued_on.year + VETTING_VALID_YEARS)
    except ValueError:  # issued on 29 February: expires on 1 March
        return dt.date(issued_on.year + VETTING_VALID_YEARS, 3, 1)


class Organisation(models.Model):
    """A local authority, national partner, employer registered with an LA, or the national team."""

    code = models.CharField(max_length=40, unique=True, validators=[ORGANISATION_CODE])
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=20, choices=OrganisationKind.choices)
    # The LA itself (kind local_authority) or the LA an employer is registered with.
    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(
        max_length=20, choices=OrganisationStatus.choices, default=OrganisationStatus.ONBOARDING
    )
    status_changed_at = models.DateTimeField(default=timezone.now)
    status_changed_by = models.ForeignKey(
        "access.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="organisation_la_matches_kind",
                condition=(
                    Q(kind__in=["local_authority", "employer"], local_authority__isnull=False)
                    | Q(
                        kind__in=["national_partner", "national_team"], local_authority__isnull=True
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["local_authority"],
                condition=Q(kind="local_authority"),
                name="one_organisation_per_local_authority",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_accredited_or_live(self) -> bool:
        return self.status in PRE_LIVE_STATUSES


class User(AbstractUser):
    """A person with a ContactPoint account: one organisation, one role, and the gate records.

    Each gate record keeps when and by whom it was recorded, so that an auditor can see who
    vouched for what (issue 3: "each recorded with date and who recorded it").
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="people"
    )
    role = models.CharField(max_length=30, choices=Role.choices, default=Role.PRACTITIONER)

    # Enhanced vetting (criminal records) check. Only the last four characters of the
    # certificate number are kept: enough to match a paper record, useless to anyone else.
    vetting_certificate_masked = models.CharField(max_length=16, blank=True)
    vetting_issued_on = models.DateField(null=True, blank=True)
    vetting_recorded_at = models.DateTimeField(null=True, blank=True)
    vetting_recorded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    training_completed_on = models.DateField(null=True, blank=True)
    training_recorded_at = models.DateTimeField(null=True, blank=True)
    training_recorded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    shielding_training_completed_on = models.DateField(null=True, blank=True)
    shielding_training_recorded_at = models.DateTimeField(null=True, blank=True)
    shielding_training_recorded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    agreement_signed_on = models.DateField(null=True, blank=True)
    agreement_recorded_at = models.DateTimeField(null=True, blank=True)
    agreement_recorded_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    authorised_at = models.DateTimeField(null=True, blank=True)
    authorised_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    suspension_reason = models.CharField(max_length=200, blank=True)

    # Set when an administrator issues a temporary password: the next sign-in must replace it.
    must_change_password = models.BooleanField(default=False)
    # Bumped to end every session of this user at once (suspension, TOTP reset, new password).
    session_epoch = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        """Django checks this on every request; mixing in the epoch ends all sessions at once.

        Works with any session backend (database, cache, signed cookies), because the check
        happens when a session is read, not by finding and deleting sessions.
        """
        return salted_hmac(
            "contactpoint.access.User.session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    def vetting_expires_on(self) -> dt.date | None:
        """The day the vetting check stops counting: three years after issue."""
        if self.vetting_issued_on is None:
            return None
        return vetting_expiry(self.vetting_issued_on)


class ApiToken(models.Model):
    """A short-lived bearer token for a person, issued only after password and TOTP.

    Only a SHA-256 digest of the token is stored: the token carries 256 random bits, so a slow
    hash adds nothing, and a stolen table yields no usable token. Source systems' credentials
    are a different thing and live in `feeds`.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    purpose = models.CharField(max_length=30, blank=True)
    purpose_other = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expires_at"], name="api_token_user_expiry")]

    def __str__(self) -> str:
        return f"{self.prefix}… for {self.user_id}"

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now
