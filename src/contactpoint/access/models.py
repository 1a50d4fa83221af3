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


# --- Protective monitoring (issue 6): quotas, the facts monitoring needs, alerts ---------------
# Declared here because Django keeps an app's models in one module; the workflows that use them
# live in contactpoint.access.protective.


class QuotaCounter(models.Model):
    """Lookups one person made in one fixed window: the database quota store.

    Used when Redis is not configured. Each lookup is one atomic upsert
    (INSERT ... ON CONFLICT DO UPDATE SET count = count + 1), so parallel requests in any
    number of processes are all counted and none can read a stale total.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=8)
    # Seconds since the epoch (UTC) of the window's start, from the database's clock.
    window_start = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "window_start"], name="quota_counter_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period}@{self.window_start}: {self.count}"


class QuotaChildSeen(models.Model):
    """One child disclosed to one person in one fixed window, for a monitoring rule's count:
    today's children from outside the person's region (period "far"), and today's opened
    records of children with a current sensitive service (period "sensitive").

    The unique constraint makes "distinct" exact under concurrency: INSERT ... ON CONFLICT DO
    NOTHING, then a count of the window's rows.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    period = models.CharField(max_length=16)
    window_start = models.BigIntegerField()
    child_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "window_start", "child_id"], name="quota_child_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.period}@{self.window_start}: child {self.child_id}"


class QuotaChildDisclosed(models.Model):
    """When a child was last disclosed to a person (database store of distinct children).

    Distinct children are counted over *rolling* periods (the last hour, 24 hours, 7 days), so
    a person cannot take a day's limit before midnight and another just after: one row per
    (person, child), its time moved forward on each disclosure, counted by how recent it is.
    The unique constraint makes "distinct" exact under concurrency.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    child_id = models.BigIntegerField()
    last_disclosed = models.BigIntegerField()  # the store's clock, seconds since the epoch

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "child_id"], name="quota_child_disclosed")
        ]
        # No index on last_disclosed: every lookup moves it, and only the daily prune reads it.

    def __str__(self) -> str:
        return f"{self.user_id}: child {self.child_id} at {self.last_disclosed}"


class ActivityBaseline(models.Model):
    """A person's usual number of lookups a day, worked out from the audit log once a day."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    computed_on = models.DateField()
    daily_mean = models.FloatField()
    active_days = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"{self.user_id}: {self.daily_mean:.1f} a day over {self.active_days} days"


class HomeAddress(models.Model):
    """Where a person lives, recorded by their administrator for monitoring only.

    The 2009 breaches were staff "testing" the system on their own families: a lookup of a
    child at the person's own address raises an alert. Used for nothing else.
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="home_address")
    postcode = models.CharField(max_length=8)
    line_1 = models.CharField(max_length=100, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"home address of {self.user_id}"


class AlertSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class AlertAudience(models.TextChoices):
    SECURITY_OFFICER = "security_officer", "The organisation's security officer"
    LA_CONTACTPOINT_TEAM = "la_contactpoint_team", "The child's local authority ContactPoint team"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    INVESTIGATING = "investigating", "Investigating"
    CLOSED = "closed", "Closed"


class AlertOutcome(models.TextChoices):
    LEGITIMATE = "legitimate", "Legitimate use: no further action"
    ADVICE_GIVEN = "advice_given", "Advice or refresher training given"
    MISUSE_CONFIRMED = "misuse_confirmed", "Misuse confirmed: disciplinary action"
    REFERRED = "referred", "Referred to the police or the Information Commissioner"


class Alert(models.Model):
    """Something monitoring noticed, in one organisation's queue until a person closes it."""

    # No index of their own on organisation and subject_user: alert_queue and alert_subject
    # lead with them. Every lookup that raises an alert writes each index in its COMMIT.
    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="alerts", db_index=False
    )
    audience = models.CharField(max_length=24, choices=AlertAudience.choices)
    rule = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=AlertSeverity.choices)
    summary = models.CharField(max_length=300)
    detail = models.JSONField(default=dict)
    # Who did it. The username is kept as well, so that the alert outlives the account.
    subject_user = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="alerts_about",
        db_index=False,
    )
    subject_username = models.CharField(max_length=150)
    subject_organisation_code = models.CharField(max_length=40, blank=True)
    # The child concerned, for alerts about one child (a shielded record viewed).
    contactpoint_id = models.CharField(max_length=12, blank=True)
    account_suspended = models.BooleanField(default=False)
    # One alert per rule, person and window (or child): repeats update nothing and stay quiet.
    # Unique through a constraint (see Meta), not unique=True, which on PostgreSQL also builds
    # a LIKE-pattern index that no query uses.
    dedupe_key = models.CharField(max_length=160)
    raised_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=20, choices=AlertOutcome.choices, blank=True)
    outcome_note = models.TextField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-raised_at", "-pk"]
        indexes = [
            models.Index(
                fields=["organisation", "audience", "status", "raised_at"], name="alert_queue"
            ),
            models.Index(fields=["subject_user", "raised_at"], name="alert_subject"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="alert_dedupe_key_unique"),
            models.CheckConstraint(
                name="alert_closed_has_outcome",
                condition=(Q(status="closed") & ~Q(outcome=""))
                | (~Q(status="closed") & Q(outcome="")),
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_severity_display()} alert {self.pk}: {self.rule} ({self.subject_username})"
        )

    @property
    def reference(self) -> str:
        """How people refer to an alert, and its URL: A12."""
        return f"A{self.pk}"
