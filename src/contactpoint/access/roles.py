"""Roles and what each may do: permissions as data, in this one table (DESIGN.md, Users and roles).

Views never ask "is this user an LA administrator?"; they declare the capability they need
(see rules.py) and the gates look it up here.
"""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    LA_ADMINISTRATOR = "la_administrator", "Local authority administrator"
    SHIELDING_OFFICER = "shielding_officer", "Shielding officer"
    DATA_QUALITY_OFFICER = "data_quality_officer", "Data-quality officer"
    SECURITY_OFFICER = "security_officer", "Security officer"
    NATIONAL_TEAM = "national_team", "National ContactPoint team"
    # Practitioners whose work may justify breaking the glass on a shielded record (issue 7).
    CHILD_PROTECTION_SOCIAL_WORKER = "cp_social_worker", "Child-protection social worker"
    POLICE_LIAISON = "police_liaison", "Police liaison officer"


class Capability(StrEnum):
    STATE_PURPOSE = "state_purpose"
    SEARCH_CHILDREN = "search_children"
    VIEW_CHILD = "view_child"
    MANAGE_OWN_INVOLVEMENTS = "manage_own_involvements"
    RECORD_ASSESSMENT_INDICATOR = "record_assessment_indicator"
    VIEW_SHIELDED = "view_shielded"
    MANAGE_SHIELDING = "manage_shielding"
    WORK_REVIEW_QUEUE = "work_review_queue"
    CORRECT_RECORDS = "correct_records"
    READ_AUDIT = "read_audit"
    MANAGE_ACCOUNTS = "manage_accounts"
    MANAGE_ORGANISATIONS = "manage_organisations"
    VIEW_ARCHIVED = "view_archived"
    # Reveal one shielded record for one view, with a typed reason; alerts at once (issue 7).
    BREAK_GLASS = "break_glass"


_FINDING_CHILDREN = frozenset(
    {Capability.STATE_PURPOSE, Capability.SEARCH_CHILDREN, Capability.VIEW_CHILD}
)

ROLE_CAPABILITIES: dict[str, frozenset[Capability]] = {
    Role.PRACTITIONER: _FINDING_CHILDREN
    | {Capability.MANAGE_OWN_INVOLVEMENTS, Capability.RECORD_ASSESSMENT_INDICATOR},
    # Break-glass roles work like practitioners, and may also reveal a shielded record once.
    Role.CHILD_PROTECTION_SOCIAL_WORKER: _FINDING_CHILDREN
    | {
        Capability.MANAGE_OWN_INVOLVEMENTS,
        Capability.RECORD_ASSESSMENT_INDICATOR,
        Capability.BREAK_GLASS,
    },
    Role.POLICE_LIAISON: _FINDING_CHILDREN
    | {Capability.MANAGE_OWN_INVOLVEMENTS, Capability.BREAK_GLASS},
    Role.LA_ADMINISTRATOR: frozenset({Capability.MANAGE_ACCOUNTS}),
    # Shielding officers find a child before shielding it, and see shielded records of their LA.
    Role.SHIELDING_OFFICER: _FINDING_CHILDREN
    | {Capability.VIEW_SHIELDED, Capability.MANAGE_SHIELDING},
    Role.DATA_QUALITY_OFFICER: _FINDING_CHILDREN
    | {Capability.WORK_REVIEW_QUEUE, Capability.CORRECT_RECORDS},
    Role.SECURITY_OFFICER: frozenset({Capability.READ_AUDIT}),
    Role.NATIONAL_TEAM: _FINDING_CHILDREN
    | {
        Capability.MANAGE_ORGANISATIONS,
        Capability.MANAGE_ACCOUNTS,
        Capability.VIEW_ARCHIVED,
    },
}

# Capabilities that do not touch children's records: usable while an organisation is
# accredited but not yet live, so that accounts can be prepared before go-live.
PRE_LIVE_CAPABILITIES = frozenset({Capability.MANAGE_ACCOUNTS, Capability.MANAGE_ORGANISATIONS})

# Capabilities that need a stated reason for access in the session first (DESIGN: reason).
PURPOSE_CAPABILITIES = frozenset(
    {
        Capability.SEARCH_CHILDREN,
        Capability.VIEW_CHILD,
        Capability.MANAGE_OWN_INVOLVEMENTS,
        Capability.RECORD_ASSESSMENT_INDICATOR,
        Capability.VIEW_SHIELDED,
        Capability.MANAGE_SHIELDING,
        Capability.CORRECT_RECORDS,
        Capability.VIEW_ARCHIVED,
        Capability.BREAK_GLASS,
    }
)


def capabilities_of(role: str) -> frozenset[Capability]:
    """The capabilities a role grants; an unknown role grants nothing."""
    return ROLE_CAPABILITIES.get(role, frozenset())


def role_has(role: str, capability: Capability) -> bool:
    return capability in capabilities_of(role)
