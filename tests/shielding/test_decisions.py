"""Shielding officers shield, review and unshield, with a reason, a justification and a review
date; a source system's flag shields pending review; everything else is refused (issue 7, 1-2)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from tests.shielding.support import HIDDEN_VALUES, person

from contactpoint.access.models import User
from contactpoint.access.policy import ViewMode, view_mode, viewer_for
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import Child
from contactpoint.index.vocabularies import ChildStatus
from contactpoint.shielding import services
from contactpoint.shielding.models import ShieldingDecision
from contactpoint.shielding.vocabularies import (
    DecisionKind,
    DecisionSource,
    ShieldingReason,
)

pytestmark = pytest.mark.django_db
WHY = "Mother and child moved to a refuge after threats from the father"


def _shield(officer: User, child: Child, **changes: object) -> ShieldingDecision:
    arguments: dict[str, object] = {
        "officer": officer,
        "child": child,
        "reason": ShieldingReason.REFUGE,
        "justification": WHY,
    }
    arguments.update(changes)
    return services.shield_child(**arguments)  # type: ignore[arg-type]


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


# --- Shielding --------------------------------------------------------------------------------


def test_an_officer_shields_a_child_with_reason_justification_and_six_month_review(
    officer: User, unshielded_child: Child, practitioner: User
) -> None:
    decision = _shield(officer, unshielded_child)

    unshielded_child.refresh_from_db()
    assert unshielded_child.is_shielded
    assert decision.kind == DecisionKind.SHIELD and decision.source == DecisionSource.OFFICER
    assert decision.reason == ShieldingReason.REFUGE and decision.justification == WHY
    assert decision.decided_by == officer and decision.decided_by_username == officer.username
    assert decision.decided_at <= timezone.now()
    assert decision.review_on == services.add_months(timezone.localdate(), 6)
    # At once, everyone else sees only the restricted view.
    assert view_mode(viewer_for(practitioner), unshielded_child) is ViewMode.RESTRICTED


def test_shielding_writes_one_audit_event_without_the_justification(
    officer: User, unshielded_child: Child
) -> None:
    _shield(officer, unshielded_child, purpose="safeguarding_concern")
    (event,) = _events("shielding.shielded")
    assert event.subject_contactpoint_id == unshielded_child.contactpoint_id
    assert event.actor_username == officer.username and event.purpose == "safeguarding_concern"
    assert event.detail["reason"] == "refuge" and event.detail["kind"] == "shield"
    exported = json.dumps(event.detail)
    assert "refuge after threats" not in exported
    assert not any(value in exported for value in HIDDEN_VALUES)
    assert AuditEvent.objects.count() == 1


def test_a_review_date_may_be_chosen_within_a_year(officer: User, unshielded_child: Child) -> None:
    chosen = timezone.localdate() + dt.timedelta(days=90)
    assert _shield(officer, unshielded_child, review_on=chosen).review_on == chosen


@pytest.mark.parametrize("days", [0, -1, 367])
def test_a_review_date_today_in_the_past_or_beyond_a_year_is_refused(
    officer: User, unshielded_child: Child, days: int
) -> None:
    with pytest.raises(services.InvalidDecision):
        _shield(officer, unshielded_child, review_on=timezone.localdate() + dt.timedelta(days=days))
    unshielded_child.refresh_from_db()
    assert not unshielded_child.is_shielded and not ShieldingDecision.objects.exists()


def test_adoption_alone_is_not_a_reason_and_the_refusal_says_so(
    officer: User, unshielded_child: Child
) -> None:
    with pytest.raises(services.InvalidDecision, match="Adoption alone is not a reason"):
        _shield(officer, unshielded_child, reason="adoption")
    assert "adoption" not in ShieldingReason.values


@pytest.mark.parametrize("reason", ["", "source_flag", "nosy_neighbour"])
def test_an_officer_must_give_one_of_the_officer_reasons(
    officer: User, unshielded_child: Child, reason: str
) -> None:
    with pytest.raises(services.InvalidDecision):
        _shield(officer, unshielded_child, reason=reason)


@pytest.mark.parametrize(
    "justification",
    [
        "short",
        "x" * 301,
        "Moved to the refuge at M22 9QX last week",
        "Call the refuge on 0161 496 0333 first",
        "See oonagh@refuge.example for details",
        "<script>alert(1)</script> refuge",
    ],
    ids=["too short", "too long", "a postcode", "a phone number", "an email", "markup"],
)
def test_a_justification_is_short_plain_and_never_a_location(
    officer: User, unshielded_child: Child, justification: str
) -> None:
    with pytest.raises(services.InvalidDecision):
        _shield(officer, unshielded_child, justification=justification)
    assert not ShieldingDecision.objects.exists()


def test_only_shielding_officers_shield(
    make_person: Callable[..., User], unshielded_child: Child
) -> None:
    for role in (Role.PRACTITIONER, Role.DATA_QUALITY_OFFICER, Role.NATIONAL_TEAM):
        with pytest.raises(services.NotPermitted):
            _shield(person(make_person, role), unshielded_child)
    assert not Child.objects.get(pk=unshielded_child.pk).is_shielded


def test_an_officer_without_recorded_shielding_training_is_refused(
    make_person: Callable[..., User], unshielded_child: Child
) -> None:
    untrained = person(make_person, Role.SHIELDING_OFFICER, shielding_training_completed_on=None)
    with pytest.raises(services.NotPermitted, match="training"):
        _shield(untrained, unshielded_child)


def test_an_officer_of_another_la_is_refused(bolton_officer: User, unshielded_child: Child) -> None:
    with pytest.raises(services.NotPermitted, match="another local authority"):
        _shield(bolton_officer, unshielded_child)


def test_shielding_a_shielded_record_again_asks_for_a_review_instead(
    officer: User, unshielded_child: Child
) -> None:
    _shield(officer, unshielded_child)
    with pytest.raises(services.InvalidDecision, match="review"):
        _shield(officer, unshielded_child)


def test_an_archived_record_keeps_its_shield_and_is_no_officers_to_change(
    officer: User, hidden_child: Child
) -> None:
    Child.objects.filter(pk=hidden_child.pk).update(
        status=ChildStatus.ARCHIVED, archived_on=timezone.localdate()
    )
    hidden_child.refresh_from_db()
    with pytest.raises(services.NotPermitted, match="archived"):
        services.unshield_child(officer=officer, child=hidden_child, justification=WHY)
    assert Child.objects.get(pk=hidden_child.pk).is_shielded


# --- Reviewing and unshielding -----------------------------------------------------------------


def test_a_review_keeps_the_shield_with_a_new_reason_and_date(
    officer: User, unshielded_child: Child
) -> None:
    _shield(officer, unshielded_child)
    review = services.review_shield(
        officer=officer,
        child=unshielded_child,
        reason=ShieldingReason.RISK_OF_ABDUCTION,
        justification="Father has made threats to take the child abroad",
    )
    assert review.kind == DecisionKind.CONFIRM and review.reason == "risk_of_abduction"
    assert Child.objects.get(pk=unshielded_child.pk).is_shielded
    assert [e.detail["kind"] for e in _events("shielding.reviewed")] == ["confirm"]


def test_an_officer_unshields_with_a_justification(
    officer: User, unshielded_child: Child, practitioner: User
) -> None:
    _shield(officer, unshielded_child)
    decision = services.unshield_child(
        officer=officer,
        child=unshielded_child,
        justification="Family has left the refuge and the risk has ended",
    )
    unshielded_child.refresh_from_db()
    assert not unshielded_child.is_shielded
    assert decision.kind == DecisionKind.UNSHIELD and decision.review_on is None
    assert view_mode(viewer_for(practitioner), unshielded_child) is ViewMode.FULL
    assert len(_events("shielding.unshielded")) == 1


def test_unshielding_a_record_that_is_not_shielded_is_refused(
    officer: User, unshielded_child: Child
) -> None:
    with pytest.raises(services.InvalidDecision):
        services.unshield_child(officer=officer, child=unshielded_child, justification=WHY)


def test_a_refused_decision_writes_nothing(bolton_officer: User, hidden_child: Child) -> None:
    with pytest.raises(services.NotPermitted):
        services.unshield_child(officer=bolton_officer, child=hidden_child, justification=WHY)
    assert Child.objects.get(pk=hidden_child.pk).is_shielded
    assert not ShieldingDecision.objects.exists() and not AuditEvent.objects.exists()


def test_the_database_refuses_a_decision_without_its_reason_or_review_date(
    officer: User, unshielded_child: Child
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ShieldingDecision.objects.create(
            child=unshielded_child,
            contactpoint_id=unshielded_child.contactpoint_id,
            kind=DecisionKind.SHIELD,
            reason="",
            justification=WHY,
            source=DecisionSource.OFFICER,
            decided_by_username=officer.username,
            review_on=None,
        )


# --- Shield from source ------------------------------------------------------------------------


def test_a_source_flag_shields_pending_an_officers_review(unshielded_child: Child) -> None:
    decision = services.shield_child(
        officer=None,
        child=unshielded_child,
        reason="",
        justification="",
        source=DecisionSource.SOURCE_SYSTEM,
        source_system="nw-health",
    )
    assert Child.objects.get(pk=unshielded_child.pk).is_shielded
    assert decision.source == DecisionSource.SOURCE_SYSTEM
    assert decision.reason == ShieldingReason.SOURCE_FLAG
    assert decision.review_on == timezone.localdate()  # due at once
    (event,) = _events("shielding.source_shielded")
    assert event.actor_username == "source:nw-health" and event.actor_id is None


def test_a_source_flag_on_a_record_an_officer_shielded_changes_nothing(
    officer: User, unshielded_child: Child
) -> None:
    officers = _shield(officer, unshielded_child)
    again = services.shield_child(
        officer=None,
        child=unshielded_child,
        reason="",
        justification="",
        source=DecisionSource.SOURCE_SYSTEM,
        source_system="nw-health",
    )
    assert again == officers and ShieldingDecision.objects.count() == 1


def test_a_repeated_source_flag_records_one_pending_decision(unshielded_child: Child) -> None:
    for _ in range(3):
        services.shield_child(
            officer=None,
            child=unshielded_child,
            reason="",
            justification="",
            source=DecisionSource.SOURCE_SYSTEM,
            source_system="nw-health",
        )
    assert ShieldingDecision.objects.count() == 1


def test_an_officer_confirms_a_source_shield_by_reviewing_it(
    officer: User, hidden_child: Child
) -> None:
    services.shield_child(
        officer=None,
        child=hidden_child,
        reason="",
        justification="",
        source=DecisionSource.SOURCE_SYSTEM,
        source_system="nw-health",
    )
    review = services.review_shield(
        officer=officer,
        child=hidden_child,
        reason=ShieldingReason.WITNESS_PROTECTION,
        justification=WHY,
    )
    assert review.kind == DecisionKind.CONFIRM and review.source == DecisionSource.OFFICER


def test_a_source_system_must_be_named(unshielded_child: Child) -> None:
    with pytest.raises(services.InvalidDecision):
        services.shield_child(
            officer=None,
            child=unshielded_child,
            reason="",
            justification="",
            source=DecisionSource.SOURCE_SYSTEM,
        )


def test_nobody_but_an_officer_or_a_source_shields(unshielded_child: Child) -> None:
    with pytest.raises(services.NotPermitted):
        services.shield_child(
            officer=None, child=unshielded_child, reason="refuge", justification=WHY
        )
