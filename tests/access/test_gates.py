"""Each gate refuses on its own, with a reason a person understands; all together admit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from tests.access.factories import OrganisationFactory

from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.gates import GateName, decide
from contactpoint.access.models import User
from contactpoint.access.roles import Capability, Role
from contactpoint.access.rules import SIGNED_IN, requires
from contactpoint.access.selectors import PURPOSE_SESSION_KEY
from contactpoint.access.vocabularies import OrganisationStatus
from contactpoint.audit.models import AuditEvent

pytestmark = pytest.mark.django_db

SEARCH = requires(Capability.SEARCH_CHILDREN)
TODAY = dt.date(2026, 6, 15)


def _decide(person: User, *, verified: bool = True, purpose: bool = True) -> Any:
    return decide(
        user=person,
        rule=SEARCH,
        second_factor_verified=verified,
        purpose_stated=purpose,
        today=TODAY,
    )


def test_a_fully_gated_practitioner_with_a_reason_is_admitted(
    make_person: Callable[..., User],
) -> None:
    person = make_person(vetting_issued_on=TODAY - dt.timedelta(days=10))
    assert _decide(person).allowed


# Each case changes exactly one thing on an otherwise fully gated person.
SINGLE_GATE_FAILURES: list[tuple[str, dict[str, Any], GateName]] = [
    ("no vetting", {"vetting_issued_on": None}, GateName.VETTING_RECORDED),
    (
        "vetting exactly 3 years old",
        {"vetting_issued_on": dt.date(2023, 6, 15)},
        GateName.VETTING_CURRENT,
    ),
    ("no training", {"training_completed_on": None}, GateName.TRAINING_COMPLETED),
    (
        "shielding officer without shielding training",
        {"role": Role.SHIELDING_OFFICER, "shielding_training_completed_on": None},
        GateName.SHIELDING_TRAINING_COMPLETED,
    ),
    ("no agreement", {"agreement_signed_on": None}, GateName.AGREEMENT_SIGNED),
    ("not authorised", {"authorised_at": None}, GateName.AUTHORISED),
    ("suspended", {"suspended_at": dt.datetime(2026, 6, 1, tzinfo=dt.UTC)}, GateName.NOT_SUSPENDED),
    ("account closed", {"is_active": False}, GateName.ACCOUNT_ACTIVE),
]


@pytest.mark.parametrize(
    ("case", "fields", "gate"), SINGLE_GATE_FAILURES, ids=[c[0] for c in SINGLE_GATE_FAILURES]
)
def test_each_account_gate_refuses_on_its_own(
    make_person: Callable[..., User], case: str, fields: dict[str, Any], gate: GateName
) -> None:
    base = {"vetting_issued_on": TODAY - dt.timedelta(days=10)}
    person = make_person(**{**base, **fields})

    decision = _decide(person)

    assert not decision.allowed
    assert [r.gate for r in decision.refusals] == [gate]
    assert (
        "administrator" in decision.refusals[0].message or "closed" in decision.refusals[0].message
    )


def test_vetting_one_day_short_of_three_years_still_counts(
    make_person: Callable[..., User],
) -> None:
    person = make_person(vetting_issued_on=dt.date(2023, 6, 16))
    assert _decide(person).allowed


@pytest.mark.parametrize(
    "status",
    [OrganisationStatus.ONBOARDING, OrganisationStatus.ACCREDITED, OrganisationStatus.SUSPENDED],
)
def test_an_organisation_that_is_not_live_keeps_its_people_from_records(
    make_person: Callable[..., User], status: str
) -> None:
    organisation = OrganisationFactory(status=status)
    person = make_person(organisation=organisation, vetting_issued_on=TODAY)

    decision = _decide(person)

    assert [r.gate for r in decision.refusals] == [GateName.ORGANISATION_LIVE]
    assert organisation.name in decision.refusals[0].message


def test_an_accredited_organisation_may_prepare_accounts_before_go_live(
    make_person: Callable[..., User], manchester: Any
) -> None:
    manchester.status = OrganisationStatus.ACCREDITED
    manchester.save()
    admin = make_person(role=Role.LA_ADMINISTRATOR, vetting_issued_on=TODAY)

    decision = decide(
        user=admin,
        rule=requires(Capability.MANAGE_ACCOUNTS),
        second_factor_verified=True,
        purpose_stated=False,
        today=TODAY,
    )

    assert decision.allowed


def test_without_the_second_factor_nothing_but_public_pages_is_reachable(
    make_person: Callable[..., User],
) -> None:
    person = make_person(vetting_issued_on=TODAY)
    for rule in (SEARCH, SIGNED_IN):
        decision = decide(user=person, rule=rule, second_factor_verified=False, purpose_stated=True)
        assert [r.gate for r in decision.refusals] == [GateName.SECOND_FACTOR]
        assert decision.needs_sign_in


def test_a_role_without_the_capability_is_refused(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR, vetting_issued_on=TODAY)
    decision = _decide(admin)
    assert [r.gate for r in decision.refusals] == [GateName.ROLE_PERMITS]
    assert "Local authority administrator" in decision.refusals[0].message


def test_searching_needs_a_stated_reason(make_person: Callable[..., User]) -> None:
    person = make_person(vetting_issued_on=TODAY)
    decision = _decide(person, purpose=False)
    assert decision.needs_purpose


# --- The same gates through the web pages --------------------------------------------------------


def _with_purpose(client: Client) -> Client:
    session = client.session
    session[PURPOSE_SESSION_KEY] = {"reason": "new_referral", "other": ""}
    session.save()
    return client


@pytest.mark.parametrize(
    ("case", "fields", "gate"),
    SINGLE_GATE_FAILURES[:6],
    ids=[c[0] for c in SINGLE_GATE_FAILURES[:6]],
)
def test_a_page_refuses_a_failed_gate_with_its_reason_and_audits_it(
    signed_in: Callable[..., Any], case: str, fields: dict[str, Any], gate: GateName
) -> None:
    if "vetting_issued_on" in fields and fields["vetting_issued_on"] is not None:
        fields = {
            **fields,
            "vetting_issued_on": timezone.localdate().replace(year=timezone.localdate().year - 3),
        }
    client, person = signed_in(**fields)

    response = _with_purpose(client).get("/reason-for-access")

    assert response.status_code == 403
    page = response.content.decode()
    assert "govuk-heading-l" in page and "You cannot use this page" in page
    event = AuditEvent.objects.filter(action=AccessAction.REFUSED, actor_id=person.pk).get()
    assert event.detail["gates"] == [gate.value]
    assert event.outcome == "refused"


def test_a_suspended_organisation_stops_its_people_at_once(
    signed_in: Callable[..., Any], manchester: Any
) -> None:
    client, _ = signed_in()
    assert client.get("/reason-for-access").status_code == 200

    manchester.status = OrganisationStatus.SUSPENDED
    manchester.save()

    response = client.get("/reason-for-access")
    assert response.status_code == 403
    assert "Manchester is suspended from ContactPoint." in response.content.decode()


def test_the_account_page_shows_which_gates_are_missing(signed_in: Callable[..., Any]) -> None:
    client, _ = signed_in(training_completed_on=None)

    page = client.get("/account").content.decode()

    assert "Your ContactPoint training has not been recorded." in page
    assert page.count("govuk-tag--green") == 7  # the other gates shown are met
