"""Shielding's vocabularies and limits, declared once (CONVENTIONS 12: data as data)."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

from django.db import models


class ShieldingReason(models.TextChoices):
    """Why a record is shielded (DESIGN: shielding).

    Only a risk of significant harm if the child's whereabouts were known counts; adoption
    alone does not, so it is deliberately absent (see NOT_A_REASON).
    """

    REFUGE = "refuge", "The family is in a refuge"
    WITNESS_PROTECTION = "witness_protection", "Witness protection"
    RISK_OF_ABDUCTION = "risk_of_abduction", "Risk of abduction"
    OTHER_SERIOUS_RISK = (
        "other_serious_risk",
        "Another risk of significant harm if the child's whereabouts were known",
    )
    # Only for a shield a source system asked for: an officer must review it and give a reason.
    SOURCE_FLAG = "source_flag", "Flagged sensitive by a source system, awaiting review"


# The justification matching records when it shields a new child as a precaution because it
# resembles a shielded child (feeds.loading; matching.decisions, Outcome.NEW_SHIELDED). It names
# no other child: it is shown to this child's officers, and the other may belong to another LA.
PRECAUTION_JUSTIFICATION = (
    "Shielded as a precaution when the record was loaded: it resembles a shielded child. "
    "The data-quality review queue asks whether they are one child."
)

# The reasons a shielding officer may give.
OFFICER_REASONS: tuple[str, ...] = (
    ShieldingReason.REFUGE,
    ShieldingReason.WITNESS_PROTECTION,
    ShieldingReason.RISK_OF_ABDUCTION,
    ShieldingReason.OTHER_SERIOUS_RISK,
)

# Reasons people reach for that are not reasons to shield, with what to say instead.
NOT_A_REASON: MappingProxyType[str, str] = MappingProxyType(
    {
        "adoption": (
            "Adoption alone is not a reason to shield a record. Choose the risk of significant "
            "harm that knowing the child's whereabouts would cause."
        ),
    }
)


class DecisionKind(models.TextChoices):
    SHIELD = "shield", "Shielded"
    CONFIRM = "confirm", "Reviewed: the shield continues"
    UNSHIELD = "unshield", "Unshielded"


# Decisions after which the child is shielded.
SHIELDING_KINDS = frozenset({DecisionKind.SHIELD, DecisionKind.CONFIRM})


class DecisionSource(models.TextChoices):
    OFFICER = "officer", "A shielding officer"
    SOURCE_SYSTEM = "source_system", "A source system's sensitive-record flag"


class RequesterKind(models.TextChoices):
    PARENT_OR_CARER = "parent_or_carer", "A parent or carer"
    YOUNG_PERSON = "young_person", "The child or young person"
    PRACTITIONER = "practitioner", "A practitioner"
    POLICE_OR_COURT = "police_or_court", "The police or a court"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    SHIELDED = "shielded", "Decided: shielded"
    DECLINED = "declined", "Decided: not shielded"


class ContactRequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    PASSED_ON = "passed_on", "Details passed on"
    DECLINED = "declined", "Not passed on"


DEFAULT_REVIEW_MONTHS = 6  # issue 7: review date defaults to six months
MAX_REVIEW_MONTHS = 12  # a shield is looked at again at least once a year

JUSTIFICATION_MIN_LENGTH = 10
JUSTIFICATION_MAX_LENGTH = 300
BREAK_GLASS_REASON_MIN_LENGTH = 20
BREAK_GLASS_REASON_MAX_LENGTH = 300

# The reveal must be used soon after it is granted, and only once.
BREAK_GLASS_LIFETIME = dt.timedelta(minutes=5)

# An officer's overdue-review queue shows at most this many children: see docs/security.md,
# "Shielding" (no list may page through an LA's shielded children).
REVIEW_QUEUE_CAP = 25
# Each queue of requests shows at most this many open cases, oldest first.
CASE_QUEUE_CAP = 50
# Reviews coming up soon, for the LA report.
REVIEW_SOON_DAYS = 30
