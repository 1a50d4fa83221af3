"""Which source wins each field when sources disagree (issue 5, item 6), as one table.

Order is by who is closest to the fact: health registration records a birth, the school census
records a school, social care knows who is responsible. Unranked sources come last; between
equally ranked sources the most recent report wins. An empty tuple means "most recent wins"
(addresses: families move, and whoever heard of the move last is most likely right).
"""

from __future__ import annotations

from collections.abc import Iterable

from contactpoint.feeds.models import SourceSystem, SourceSystemKind
from contactpoint.index.linkage import FieldPrecedence, PrecedenceField

K = SourceSystemKind

FIELD_PRECEDENCE: dict[str, tuple[str, ...]] = {
    PrecedenceField.NAME: (
        K.HEALTH_REGISTRATION,
        K.CHILD_BENEFIT,
        K.SCHOOL_CENSUS,
        K.LA_EDUCATION,
        K.LA_SOCIAL_CARE,
        K.YOUTH_OFFENDING,
        K.CONNEXIONS,
    ),
    PrecedenceField.DATE_OF_BIRTH: (
        K.HEALTH_REGISTRATION,
        K.CHILD_BENEFIT,
        K.SCHOOL_CENSUS,
        K.LA_EDUCATION,
        K.LA_SOCIAL_CARE,
    ),
    PrecedenceField.GENDER: (K.HEALTH_REGISTRATION, K.CHILD_BENEFIT, K.SCHOOL_CENSUS),
    PrecedenceField.ADDRESS: (),
    PrecedenceField.RESPONSIBLE_LA: (K.LA_SOCIAL_CARE, K.LA_EDUCATION, K.SCHOOL_CENSUS),
    PrecedenceField.CARERS: (
        K.CHILD_BENEFIT,
        K.LA_SOCIAL_CARE,
        K.LA_EDUCATION,
        K.SCHOOL_CENSUS,
        K.HEALTH_REGISTRATION,
    ),
    PrecedenceField.SCHOOL: (K.SCHOOL_CENSUS, K.LA_EDUCATION),
    PrecedenceField.GP_PRACTICE: (K.HEALTH_REGISTRATION,),
    PrecedenceField.INVOLVEMENTS: (
        K.LA_SOCIAL_CARE,
        K.YOUTH_OFFENDING,
        K.HEALTH_REGISTRATION,
        K.CONNEXIONS,
        K.LA_EDUCATION,
    ),
}


def precedence_for(sources: Iterable[SourceSystem]) -> FieldPrecedence:
    """The table turned into ranks for these registered source systems' codes."""
    ranks: dict[str, dict[str, int]] = {}
    for field_name, kinds in FIELD_PRECEDENCE.items():
        order = {kind: rank for rank, kind in enumerate(kinds)}
        ranks[field_name] = {s.code: order.get(s.kind, len(kinds)) for s in sources}
    return FieldPrecedence(ranks=ranks)


def current_precedence() -> FieldPrecedence:
    return precedence_for(SourceSystem.objects.all())
