"""Organisations: created by migration, moved through their statuses by the national team only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from contactpoint.access import services
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import OrganisationKind, OrganisationStatus
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import LocalAuthority
from contactpoint.index.reference import read_national_partners

pytestmark = pytest.mark.django_db


@pytest.fixture
def national(make_person: Callable[..., User]) -> User:
    return make_person(
        role=Role.NATIONAL_TEAM, organisation=Organisation.objects.get(code="national-team")
    )


def _onboarding_la() -> Organisation:
    return Organisation.objects.filter(
        kind=OrganisationKind.LOCAL_AUTHORITY, status="onboarding"
    ).first()  # type: ignore[return-value]


def test_every_local_authority_has_one_organisation_and_pilots_start_live(db: None) -> None:
    for authority in LocalAuthority.objects.all():
        organisation = Organisation.objects.get(
            kind=OrganisationKind.LOCAL_AUTHORITY, local_authority=authority
        )
        expected = (
            OrganisationStatus.LIVE_PILOT if authority.is_pilot else OrganisationStatus.ONBOARDING
        )
        assert organisation.status == expected and organisation.code == authority.ons_code


def test_the_national_partners_and_the_national_team_exist_and_are_live(db: None) -> None:
    for partner in read_national_partners():
        organisation = Organisation.objects.get(code=partner.code)
        assert organisation.kind == OrganisationKind.NATIONAL_PARTNER and organisation.is_live
    assert Organisation.objects.get(code="national-team").is_live


def test_the_national_team_takes_an_la_from_onboarding_to_live_and_each_step_is_audited(
    national: User,
) -> None:
    organisation = _onboarding_la()
    for status in (
        OrganisationStatus.ACCREDITED,
        OrganisationStatus.LIVE_NATIONAL,
        OrganisationStatus.SUSPENDED,
    ):
        organisation = services.change_organisation_status(
            actor=national, organisation=organisation, new_status=status, ip_address="192.0.2.1"
        )
        assert organisation.status == status and organisation.status_changed_by == national
    events = AuditEvent.objects.filter(action=AccessAction.ORGANISATION_STATUS_CHANGED)
    assert [(e.detail["from"], e.detail["to"]) for e in events] == [
        ("onboarding", "accredited"),
        ("accredited", "live_national"),
        ("live_national", "suspended"),
    ]


def test_an_organisation_cannot_skip_accreditation(national: User) -> None:
    organisation = _onboarding_la()
    with pytest.raises(services.InvalidChange):
        services.change_organisation_status(
            actor=national,
            organisation=organisation,
            new_status=OrganisationStatus.LIVE_PILOT,
            ip_address=None,
        )
    organisation.refresh_from_db()
    assert organisation.status == OrganisationStatus.ONBOARDING


def test_only_the_national_team_changes_statuses(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    with pytest.raises(services.NotPermitted):
        services.change_organisation_status(
            actor=admin, organisation=_onboarding_la(), new_status="accredited", ip_address=None
        )


def test_the_national_team_cannot_suspend_itself(national: User) -> None:
    with pytest.raises(services.NotPermitted):
        services.change_organisation_status(
            actor=national,
            organisation=national.organisation,
            new_status="suspended",
            ip_address=None,  # type: ignore[arg-type]
        )


def test_go_live_through_the_organisation_page(signed_in: Callable[..., Any]) -> None:
    client, _ = signed_in(
        role=Role.NATIONAL_TEAM, organisation=Organisation.objects.get(code="national-team")
    )
    organisation = _onboarding_la()

    listing = client.get("/organisations?status=onboarding").content.decode()
    assert organisation.name in listing
    page = client.get(f"/organisations/{organisation.code}").content.decode()
    assert 'value="accredited"' in page and 'value="live_pilot"' not in page

    response = client.post(f"/organisations/{organisation.code}", {"new_status": "accredited"})

    assert response.status_code == 302
    organisation.refresh_from_db()
    assert organisation.status == OrganisationStatus.ACCREDITED


def test_a_la_administrator_cannot_reach_the_organisation_pages(
    signed_in: Callable[..., Any],
) -> None:
    client, _ = signed_in(role=Role.LA_ADMINISTRATOR)
    assert client.get("/organisations").status_code == 403
    assert (
        client.post(
            f"/organisations/{_onboarding_la().code}", {"new_status": "accredited"}
        ).status_code
        == 403
    )
    assert _onboarding_la() is not None
