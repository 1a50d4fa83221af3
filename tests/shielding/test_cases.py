"""Requests to shield are worked like cases; brokered contact tells nobody where the child is
(issue 7, items 1 and 4)."""

from __future__ import annotations

import pytest
from tests.shielding.support import HIDDEN_VALUES

from contactpoint.access.models import User
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import Child
from contactpoint.shielding import selectors, services
from contactpoint.shielding.models import ContactRequest, ShieldingRequest
from contactpoint.shielding.vocabularies import (
    ContactRequestStatus,
    DecisionKind,
    RequesterKind,
    RequestStatus,
    ShieldingReason,
)

pytestmark = pytest.mark.django_db
WHY = "Mother says the father has found their previous home"


# --- Requests to shield ------------------------------------------------------------------------


def test_a_practitioner_asks_for_a_record_to_be_shielded(
    practitioner: User, unshielded_child: Child
) -> None:
    request = services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=unshielded_child.contactpoint_id, summary=WHY
    )
    assert request.status == RequestStatus.OPEN
    assert request.requester_kind == RequesterKind.PRACTITIONER
    assert request.local_authority_id == unshielded_child.responsible_la_id
    assert request.recorded_by == practitioner
    assert not Child.objects.get(pk=unshielded_child.pk).is_shielded  # an officer decides
    event = AuditEvent.objects.get(action="shielding.request_recorded")
    assert event.detail == {"request": f"SR{request.pk}", "requester_kind": "practitioner"}


def test_asking_about_a_child_one_cannot_see_is_refused_like_a_missing_one(
    practitioner: User,
) -> None:
    with pytest.raises(services.NotAvailable):
        services.ask_to_shield(practitioner=practitioner, contactpoint_id="123", summary=WHY)
    assert AuditEvent.objects.get().outcome == "not_found"
    assert not ShieldingRequest.objects.exists()


def test_an_officer_records_a_parents_request_and_shields_on_it(
    officer: User, unshielded_child: Child
) -> None:
    request = services.record_shielding_request(
        officer=officer,
        child=unshielded_child,
        requester_kind=RequesterKind.PARENT_OR_CARER,
        requester_name="Mrs Calloway",
        summary=WHY,
        suggested_reason=ShieldingReason.REFUGE,
    )
    decided = services.decide_shielding_request(
        officer=officer,
        request=request,
        shield=True,
        reason=ShieldingReason.REFUGE,
        justification=WHY,
    )
    assert decided.status == RequestStatus.SHIELDED and decided.decided_by == officer
    assert decided.decision is not None and decided.decision.kind == DecisionKind.SHIELD
    assert Child.objects.get(pk=unshielded_child.pk).is_shielded
    # One act, one event: the shield names the request it answered.
    event = AuditEvent.objects.get(action="shielding.shielded")
    assert event.detail["request"] == f"SR{request.pk}"
    assert not AuditEvent.objects.filter(action="shielding.request_decided").exists()


def test_a_request_about_a_shielded_child_is_answered_with_a_review(
    officer: User, hidden_child: Child, practitioner: User
) -> None:
    request = services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=hidden_child.contactpoint_id, summary=WHY
    )
    decided = services.decide_shielding_request(
        officer=officer,
        request=request,
        shield=True,
        reason=ShieldingReason.RISK_OF_ABDUCTION,
        justification=WHY,
    )
    assert decided.decision is not None and decided.decision.kind == DecisionKind.CONFIRM


def test_an_officer_declines_a_request_saying_why(
    officer: User, unshielded_child: Child, practitioner: User
) -> None:
    request = services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=unshielded_child.contactpoint_id, summary=WHY
    )
    with pytest.raises(services.InvalidDecision, match="why"):
        services.decide_shielding_request(officer=officer, request=request, shield=False)
    decided = services.decide_shielding_request(
        officer=officer, request=request, shield=False, note="The child was adopted; no risk"
    )
    assert decided.status == RequestStatus.DECLINED and decided.outcome_note
    assert not Child.objects.get(pk=unshielded_child.pk).is_shielded
    with pytest.raises(services.InvalidDecision, match="already been decided"):
        services.decide_shielding_request(
            officer=officer, request=request, shield=False, note="again"
        )


def test_another_las_officer_cannot_read_or_decide_a_request(
    officer: User, bolton_officer: User, unshielded_child: Child, practitioner: User
) -> None:
    request = services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=unshielded_child.contactpoint_id, summary=WHY
    )
    with pytest.raises(services.NotAvailable):
        services.read_shielding_request(officer=bolton_officer, reference=f"SR{request.pk}")
    with pytest.raises(services.NotPermitted):
        services.decide_shielding_request(
            officer=bolton_officer, request=request, shield=False, note="not ours"
        )
    assert ShieldingRequest.objects.get().status == RequestStatus.OPEN
    assert list(services.read_cases(officer=officer).shielding_requests) == [request]
    assert services.read_cases(officer=bolton_officer).shielding_requests == []


# --- Brokered contact --------------------------------------------------------------------------


def _contact(requester: User, child: Child) -> ContactRequest:
    return services.request_contact(
        requester=requester,
        contactpoint_id=child.contactpoint_id,
        reply_phone="0161 496 0777",
        reply_email="jo.bloggs@school.example",
        message="Child disclosed worries at school; need the lead professional",
    )


def test_a_practitioner_who_finds_a_shielded_child_asks_the_la_team(
    practitioner: User, hidden_child: Child, officer: User
) -> None:
    contact = _contact(practitioner, hidden_child)
    assert contact.local_authority_id == hidden_child.responsible_la_id
    assert contact.status == ContactRequestStatus.OPEN
    assert contact.requester_organisation == "Manchester"
    assert selectors.get_contact_request(officer, contact.pk) == contact
    # What comes back to the requester, and what is audited, say nothing about where.
    returned = repr(contact.__dict__) + repr(AuditEvent.objects.get().detail)
    assert not any(value in returned for value in HIDDEN_VALUES)


def test_contact_is_brokered_only_for_a_record_shielded_from_the_requester(
    practitioner: User, visible_child: Child, hidden_child: Child, officer: User
) -> None:
    with pytest.raises(services.InvalidDecision, match="contact them directly"):
        _contact(practitioner, visible_child)
    with pytest.raises(services.InvalidDecision):
        _contact(officer, hidden_child)  # an officer of its LA already sees everything
    with pytest.raises(services.NotAvailable):
        services.request_contact(
            requester=practitioner,
            contactpoint_id="000000000000",
            reply_phone="0161 496 0777",
            reply_email="",
            message="Need to reach the lead professional please",
        )


@pytest.mark.parametrize(
    ("phone", "email", "message"),
    [
        ("not a phone", "", "Need to reach the lead professional please"),
        ("0161 496 0777", "not-an-email", "Need to reach the lead professional please"),
        ("0161 496 0777", "", "hi"),
    ],
)
def test_a_contact_request_needs_a_way_back_and_a_reason(
    practitioner: User, hidden_child: Child, phone: str, email: str, message: str
) -> None:
    with pytest.raises(services.InvalidDecision):
        services.request_contact(
            requester=practitioner,
            contactpoint_id=hidden_child.contactpoint_id,
            reply_phone=phone,
            reply_email=email,
            message=message,
        )


def test_the_team_records_passing_the_details_on(
    practitioner: User, hidden_child: Child, officer: User, bolton_officer: User
) -> None:
    contact = _contact(practitioner, hidden_child)
    with pytest.raises(services.NotPermitted):
        services.handle_contact_request(officer=bolton_officer, contact=contact, passed_on=True)
    with pytest.raises(services.InvalidDecision):
        services.handle_contact_request(officer=officer, contact=contact, passed_on=False)
    handled = services.handle_contact_request(officer=officer, contact=contact, passed_on=True)
    assert handled.status == ContactRequestStatus.PASSED_ON and handled.handled_by == officer
    with pytest.raises(services.InvalidDecision, match="already"):
        services.handle_contact_request(officer=officer, contact=contact, passed_on=True)
    assert AuditEvent.objects.filter(action="shielding.contact_handled").count() == 1
