"""The access app's fixed lists: organisation kinds and statuses, and reasons for access."""

from __future__ import annotations

from django.db import models

from contactpoint.access.roles import Role


class OrganisationKind(models.TextChoices):
    LOCAL_AUTHORITY = "local_authority", "Local authority"
    NATIONAL_PARTNER = "national_partner", "National partner"
    EMPLOYER = "employer", "Employer registered with a local authority"
    NATIONAL_TEAM = "national_team", "National ContactPoint team"


class OrganisationStatus(models.TextChoices):
    ONBOARDING = "onboarding", "Onboarding"
    ACCREDITED = "accredited", "Accredited"
    LIVE_PILOT = "live_pilot", "Live (pilot)"
    LIVE_NATIONAL = "live_national", "Live (national wave)"
    SUSPENDED = "suspended", "Suspended"


LIVE_STATUSES = frozenset({OrganisationStatus.LIVE_PILOT, OrganisationStatus.LIVE_NATIONAL})
PRE_LIVE_STATUSES = frozenset({OrganisationStatus.ACCREDITED}) | LIVE_STATUSES

# onboarding -> accredited -> live (pilot or national wave) -> suspended, and back from suspended.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    OrganisationStatus.ONBOARDING: frozenset({OrganisationStatus.ACCREDITED}),
    OrganisationStatus.ACCREDITED: frozenset(
        {
            OrganisationStatus.LIVE_PILOT,
            OrganisationStatus.LIVE_NATIONAL,
            OrganisationStatus.SUSPENDED,
        }
    ),
    OrganisationStatus.LIVE_PILOT: frozenset(
        {OrganisationStatus.LIVE_NATIONAL, OrganisationStatus.SUSPENDED}
    ),
    OrganisationStatus.LIVE_NATIONAL: frozenset({OrganisationStatus.SUSPENDED}),
    OrganisationStatus.SUSPENDED: frozenset(
        {
            OrganisationStatus.ACCREDITED,
            OrganisationStatus.LIVE_PILOT,
            OrganisationStatus.LIVE_NATIONAL,
        }
    ),
}

# Which roles an account may hold in each kind of organisation.
ROLES_BY_KIND: dict[str, tuple[str, ...]] = {
    OrganisationKind.LOCAL_AUTHORITY: (
        Role.PRACTITIONER,
        Role.LA_ADMINISTRATOR,
        Role.SHIELDING_OFFICER,
        Role.DATA_QUALITY_OFFICER,
        Role.SECURITY_OFFICER,
        # Break-glass roles (issue 7): police liaison officers work within the LA's team.
        Role.CHILD_PROTECTION_SOCIAL_WORKER,
        Role.POLICE_LIAISON,
    ),
    OrganisationKind.EMPLOYER: (Role.PRACTITIONER,),
    OrganisationKind.NATIONAL_PARTNER: (Role.PRACTITIONER, Role.SECURITY_OFFICER),
    OrganisationKind.NATIONAL_TEAM: (Role.NATIONAL_TEAM, Role.SECURITY_OFFICER),
}


class AccessReason(models.TextChoices):
    """Why a practitioner is about to search (DESIGN: reason for access, a fixed list)."""

    SAFEGUARDING_CONCERN = "safeguarding_concern", "Safeguarding concern"
    CONTACTING_PRACTITIONER = "contacting_practitioner", "Contacting a practitioner"
    NEW_REFERRAL = "new_referral", "New referral"
    OTHER = "other", "Other"


OTHER_REASON_MAX_LENGTH = 100
# Letters, digits, spaces and ordinary punctuation only: no markup, no control characters.
OTHER_REASON_PATTERN = r"^[A-Za-z0-9 .,;:'()\-/&?!]+$"
