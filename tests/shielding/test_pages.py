"""The shielding pages: thin views over the services, each step a person takes (issue 7)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from tests.shielding.support import HIDDEN, HIDDEN_VALUES, web_client

from contactpoint.access.models import User
from contactpoint.access.protective import quotas
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import Child
from contactpoint.shielding import services
from contactpoint.shielding.models import ContactRequest, ShieldingDecision, ShieldingRequest
from contactpoint.shielding.vocabularies import (
    ContactRequestStatus,
    DecisionKind,
    RequestStatus,
    ShieldingReason,
)

pytestmark = pytest.mark.django_db
WHY = "Family moved to a refuge after threats from a former partner"


def _record_url(child: Child) -> str:
    return f"/children/{child.contactpoint_id}/shielding"


def test_an_officer_shields_a_child_from_its_shielding_page(
    officer: User, unshielded_child: Child
) -> None:
    client = web_client(officer)
    page = client.get(_record_url(unshielded_child))
    assert page.status_code == 200 and "Shield this record" in page.content.decode()
    assert "Adoption alone is not a reason" in page.content.decode()

    review_on = timezone.localdate() + dt.timedelta(days=60)
    response = client.post(
        _record_url(unshielded_child),
        {
            "action": "shield",
            "shield-reason": ShieldingReason.WITNESS_PROTECTION,
            "shield-justification": WHY,
            "shield-review_on_day": str(review_on.day),
            "shield-review_on_month": str(review_on.month),
            "shield-review_on_year": str(review_on.year),
        },
    )
    assert response.status_code == 302
    decision = ShieldingDecision.objects.get()
    assert decision.reason == "witness_protection" and decision.review_on == review_on
    page = client.get(response["Location"]).content.decode()
    assert "The record is shielded." in page and WHY in page


def test_a_mistake_in_the_form_is_shown_beside_it_and_nothing_changes(
    officer: User, unshielded_child: Child
) -> None:
    response = web_client(officer).post(
        _record_url(unshielded_child),
        {
            "action": "shield",
            "shield-reason": "adoption",
            "shield-justification": "Refuge address is M22 9QX",
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "Adoption alone is not a reason" in body or "Select why" in body
    assert "say why, not where" in body
    assert not Child.objects.get(pk=unshielded_child.pk).is_shielded


def test_an_officer_reviews_and_then_unshields_from_the_page(
    officer: User, hidden_child: Child
) -> None:
    client = web_client(officer)
    client.post(
        _record_url(hidden_child),
        {"action": "review", "review-reason": "refuge", "review-justification": WHY},
    )
    client.post(
        _record_url(hidden_child),
        {"action": "unshield", "unshield-justification": "The family has left the refuge"},
    )
    kinds = list(ShieldingDecision.objects.order_by("decided_at").values_list("kind", flat=True))
    assert kinds == [DecisionKind.CONFIRM, DecisionKind.UNSHIELD]
    assert not Child.objects.get(pk=hidden_child.pk).is_shielded


def test_another_las_officer_gets_not_found_for_the_shielding_page(
    bolton_officer: User, hidden_child: Child
) -> None:
    client = web_client(bolton_officer)
    assert client.get(_record_url(hidden_child)).status_code == 404
    response = client.post(
        _record_url(hidden_child), {"action": "unshield", "unshield-justification": WHY}
    )
    assert response.status_code == 404
    assert Child.objects.get(pk=hidden_child.pk).is_shielded
    assert AuditEvent.objects.filter(action="shielding.refused", outcome="not_found").exists()


def test_the_officers_pages_show_counts_the_due_reviews_and_open_cases(
    officer: User, hidden_child: Child, practitioner: User
) -> None:
    services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=hidden_child.contactpoint_id, summary=WHY
    )
    client = web_client(officer)
    home = client.get("/shielding").content.decode()
    assert "Children shielded" in home and "Awaiting an officer" in home
    assert "Niamh" not in home  # counts only
    reviews = client.get("/shielding/reviews").content.decode()
    assert "Niamh Calloway" in reviews and hidden_child.display_id in reviews
    assert not any(value in reviews for value in HIDDEN_VALUES)
    cases = client.get("/shielding/cases").content.decode()
    assert "SR" in cases and "A practitioner" in cases


def test_an_officer_works_a_request_to_shield_to_a_decision(
    officer: User, unshielded_child: Child, practitioner: User
) -> None:
    request = services.ask_to_shield(
        practitioner=practitioner, contactpoint_id=unshielded_child.contactpoint_id, summary=WHY
    )
    client = web_client(officer)
    url = f"/shielding/cases/requests/SR{request.pk}"
    assert WHY in client.get(url).content.decode()
    response = client.post(
        url, {"decision": "shield", "reason": "risk_of_abduction", "justification": WHY}
    )
    assert response.status_code == 302
    assert ShieldingRequest.objects.get().status == RequestStatus.SHIELDED
    assert Child.objects.get(pk=unshielded_child.pk).is_shielded


def test_a_practitioner_asks_for_shielding_from_a_page_that_reads_nothing(
    practitioner: User, unshielded_child: Child
) -> None:
    client = web_client(practitioner)
    url = f"/children/{unshielded_child.contactpoint_id}/ask-to-shield"
    form = client.get(url).content.decode()
    assert "Niamh" not in form  # the form reads nothing about the child
    response = client.post(url, {"summary": WHY})
    assert response.status_code == 200 and "has your request" in response.content.decode()
    assert ShieldingRequest.objects.get().status == RequestStatus.OPEN


def test_asking_about_an_unknown_child_is_not_found(practitioner: User) -> None:
    client = web_client(practitioner)
    assert client.post("/children/000000000000/ask-to-shield", {"summary": WHY}).status_code == 404
    assert client.get("/children/nonsense/contact-request").status_code == 404


def test_brokered_contact_from_the_record_page_to_the_officer(
    practitioner: User, hidden_child: Child, officer: User
) -> None:
    client = web_client(practitioner)
    url = f"/children/{hidden_child.contactpoint_id}/contact-request"
    response = client.post(
        url,
        {
            "reply_phone": "0161 496 0777",
            "reply_email": "jo@school.example",
            "message": "Child disclosed worries today; need the lead professional",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200 and "pass your details" in body
    assert not any(value in body for value in HIDDEN_VALUES)

    contact = ContactRequest.objects.get()
    officer_client = web_client(officer)
    case = officer_client.get(f"/shielding/cases/contact/CR{contact.pk}").content.decode()
    assert "0161 496 0777" in case and "jo@school.example" in case
    officer_client.post(f"/shielding/cases/contact/CR{contact.pk}", {"outcome": "passed_on"})
    assert ContactRequest.objects.get().status == ContactRequestStatus.PASSED_ON


def test_the_officer_sees_the_whole_record_the_practitioner_does_not(
    practitioner: User, officer: User, hidden_child: Child
) -> None:
    url = f"/children/{hidden_child.contactpoint_id}"
    assert HIDDEN.line_1 in web_client(officer).get(url).content.decode()
    assert HIDDEN.line_1 not in web_client(practitioner).get(url).content.decode()


def test_an_officers_shielding_page_is_a_lookup_counted_against_their_quotas(
    officer: User, hidden_child: Child
) -> None:
    before = quotas.peek_usage(user_id=officer.pk)
    services.read_shielding_record(
        officer=officer,
        contactpoint_id=hidden_child.contactpoint_id,
        purpose="safeguarding_concern",
    )
    after = quotas.peek_usage(user_id=officer.pk)
    day = quotas.Period.DAY
    assert after.lookups[day] == before.lookups.get(day, 0) + 1
    assert after.children[day] == before.children.get(day, 0) + 1
    event = AuditEvent.objects.get(action="shielding.record_viewed")
    assert event.detail["shown"] == ["identity", "shielding"]


def test_a_suspended_officers_shielding_page_shows_nothing(
    officer: User, hidden_child: Child
) -> None:
    client = web_client(officer)
    User.objects.filter(pk=officer.pk).update(suspended_at=timezone.now())
    with pytest.raises(LookupRefused):
        services.read_shielding_record(
            officer=User.objects.get(pk=officer.pk),
            contactpoint_id=hidden_child.contactpoint_id,
            purpose="safeguarding_concern",
        )
    assert client.get(_record_url(hidden_child)).status_code in {302, 403}


def test_a_shielded_record_offers_brokered_contact_and_to_break_glass_roles_the_glass(
    practitioner: User, social_worker: User, officer: User, hidden_child: Child
) -> None:
    url = f"/children/{hidden_child.contactpoint_id}"
    for_practitioner = web_client(practitioner).get(url).content.decode()
    assert f"{url}/contact-request" in for_practitioner
    assert f"{url}/break-glass" not in for_practitioner
    for_social_worker = web_client(social_worker).get(url).content.decode()
    assert (
        f"{url}/contact-request" in for_social_worker and f"{url}/break-glass" in for_social_worker
    )
    for_officer = web_client(officer).get(url).content.decode()
    assert f"{url}/shielding" in for_officer and f"{url}/contact-request" not in for_officer
    assert 'href="/shielding"' in for_officer  # the service navigation


def test_an_unshielded_record_offers_to_ask_for_a_shield(
    practitioner: User, unshielded_child: Child
) -> None:
    url = f"/children/{unshielded_child.contactpoint_id}"
    page = web_client(practitioner).get(url).content.decode()
    assert f"{url}/ask-to-shield" in page and f"{url}/contact-request" not in page
    assert 'href="/shielding"' not in page
