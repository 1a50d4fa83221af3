"""Administrators manage their own organisation's people only; every change is recorded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from contactpoint.access import selectors, services
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.gates import account_refusals
from contactpoint.access.models import ApiToken, Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import LocalAuthority

pytestmark = pytest.mark.django_db


@pytest.fixture
def liverpool(db: None) -> Organisation:
    return Organisation.objects.get(kind=OrganisationKind.LOCAL_AUTHORITY, name="Liverpool")


@pytest.fixture
def admin_client(signed_in: Callable[..., Any]) -> tuple[Client, User]:
    return signed_in(role=Role.LA_ADMINISTRATOR)


def _date(prefix: str, day: dt.date) -> dict[str, str]:
    return {
        f"{prefix}_day": str(day.day),
        f"{prefix}_month": str(day.month),
        f"{prefix}_year": str(day.year),
    }


def test_an_administrator_creates_an_account_that_starts_with_no_gate_met(
    admin_client: tuple[Client, User], manchester: Organisation
) -> None:
    client, admin = admin_client

    response = client.post(
        "/people/new",
        {
            "organisation": manchester.pk,
            "role": Role.PRACTITIONER,
            "first_name": "Priya",
            "last_name": "Shah",
            "email": "priya.shah@manchester.example",
            "username": "priya.shah",
        },
    )

    assert response.status_code == 200
    temporary = re.search(r'data-testid="temporary-password">([^<]+)<', response.content.decode())
    assert temporary is not None
    person = User.objects.get(username="priya.shah")
    assert person.check_password(temporary.group(1)) and person.must_change_password
    assert person.organisation == manchester
    assert {r.gate for r in account_refusals(person)} >= {
        "vetting_recorded",
        "training_completed",
        "agreement_signed",
        "authorised",
    }
    event = AuditEvent.objects.get(action=AccessAction.ACCOUNT_CREATED)
    assert event.actor_id == admin.pk and event.detail["person_username"] == "priya.shah"
    assert temporary.group(1) not in str(event.detail)


def test_an_administrator_cannot_create_accounts_in_another_la_or_give_national_roles(
    make_person: Callable[..., User], manchester: Organisation, liverpool: Organisation
) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    common = {"first_name": "A", "last_name": "B", "email": "a@b.example", "ip_address": None}
    with pytest.raises(services.NotPermitted):
        services.create_account(
            actor=admin, organisation=liverpool, username="x1", role=Role.PRACTITIONER, **common
        )
    with pytest.raises(services.NotPermitted):
        services.create_account(
            actor=admin, organisation=manchester, username="x2", role=Role.NATIONAL_TEAM, **common
        )
    assert not User.objects.filter(username__in=["x1", "x2"]).exists()


def test_the_people_list_shows_only_the_administrators_own_organisation(
    admin_client: tuple[Client, User], make_person: Callable[..., User], liverpool: Organisation
) -> None:
    client, _ = admin_client
    colleague = make_person(last_name="Colleague")
    stranger = make_person(last_name="Stranger", organisation=liverpool)

    page = client.get("/people").content.decode()

    assert colleague.username in page
    assert stranger.username not in page


def test_employers_registered_with_the_la_are_managed_by_its_administrator(
    make_person: Callable[..., User], manchester: Organisation
) -> None:
    school = Organisation.objects.create(
        code="manchester-school-1",
        name="Manchester Test Academy",
        kind=OrganisationKind.EMPLOYER,
        local_authority=manchester.local_authority,
        status="live_pilot",
    )
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    teacher = make_person(organisation=school)

    assert selectors.find_managed_person(admin, teacher.pk) == teacher
    assert selectors.assignable_roles(admin, school) == [Role.PRACTITIONER]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/people/{id}"),
        ("get", "/people/{id}/vetting"),
        ("post", "/people/{id}/authorise"),
        ("post", "/people/{id}/suspend"),
        ("post", "/people/{id}/re-enable"),
        ("post", "/people/{id}/reset-authenticator"),
        ("post", "/people/{id}/temporary-password"),
    ],
)
def test_another_organisations_person_is_not_found_and_the_attempt_is_audited(
    admin_client: tuple[Client, User],
    make_person: Callable[..., User],
    liverpool: Organisation,
    method: str,
    path: str,
) -> None:
    client, admin = admin_client
    stranger = make_person(organisation=liverpool, authorised_at=None)

    response = getattr(client, method)(path.format(id=stranger.pk), {"reason": "x"})

    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    stranger.refresh_from_db()
    assert stranger.authorised_at is None and not stranger.is_suspended
    event = AuditEvent.objects.get(action=AccessAction.REFUSED, actor_id=admin.pk)
    assert event.detail["person_id"] == stranger.pk and event.outcome == "refused"


def test_recording_vetting_keeps_only_a_masked_reference(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, admin = admin_client
    person = make_person(vetting_issued_on=None, vetting_certificate_masked="")
    issued = timezone.localdate() - dt.timedelta(days=100)

    response = client.post(
        f"/people/{person.pk}/vetting",
        {"certificate_number": "0012 3456 7890", **_date("issued_on", issued)},
    )

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.vetting_certificate_masked == "****7890"
    assert person.vetting_issued_on == issued and person.vetting_recorded_by == admin
    event = AuditEvent.objects.get(action=AccessAction.VETTING_RECORDED)
    assert event.detail["certificate"] == "****7890"
    assert not AuditEvent.objects.filter(detail__icontains="001234567890").exists()


def test_a_certificate_older_than_three_years_is_refused(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, _ = admin_client
    person = make_person(vetting_issued_on=None)
    old = timezone.localdate() - dt.timedelta(days=3 * 366)

    response = client.post(
        f"/people/{person.pk}/vetting",
        {"certificate_number": "001234567890", **_date("issued_on", old)},
    )

    assert response.status_code == 200
    assert "more than 3 years ago" in response.content.decode()
    person.refresh_from_db()
    assert person.vetting_issued_on is None


def test_a_nonsense_date_is_explained_not_a_server_error(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, _ = admin_client
    person = make_person(training_completed_on=None)

    response = client.post(
        f"/people/{person.pk}/training", {"on_day": "31", "on_month": "2", "on_year": "2025"}
    )

    assert response.status_code == 200
    assert "Enter a real date." in response.content.decode()


def test_recording_each_gate_makes_a_new_account_usable(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, _ = admin_client
    person = make_person(
        role=Role.SHIELDING_OFFICER,
        vetting_issued_on=None,
        training_completed_on=None,
        shielding_training_completed_on=None,
        agreement_signed_on=None,
        authorised_at=None,
    )
    today = timezone.localdate()

    client.post(
        f"/people/{person.pk}/vetting",
        {"certificate_number": "001234567890", **_date("issued_on", today)},
    )
    client.post(f"/people/{person.pk}/training", _date("on", today))
    client.post(f"/people/{person.pk}/shielding-training", _date("on", today))
    client.post(f"/people/{person.pk}/agreement", _date("on", today))
    client.post(f"/people/{person.pk}/authorise")

    person.refresh_from_db()
    assert account_refusals(person) == []
    assert list(
        AuditEvent.objects.filter(action__startswith="access.")
        .exclude(action=AccessAction.REFUSED)
        .values_list("action", flat=True)
    ) == [
        AccessAction.VETTING_RECORDED,
        AccessAction.TRAINING_RECORDED,
        AccessAction.SHIELDING_TRAINING_RECORDED,
        AccessAction.AGREEMENT_RECORDED,
        AccessAction.ACCOUNT_AUTHORISED,
    ]


def test_shielding_training_is_only_for_shielding_officers(
    make_person: Callable[..., User],
) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR)
    practitioner = make_person()
    with pytest.raises(services.InvalidChange):
        services.record_shielding_training(
            actor=admin, person=practitioner, completed_on=timezone.localdate(), ip_address=None
        )


def test_suspending_revokes_tokens_and_re_enabling_restores_the_account(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, admin = admin_client
    person = make_person()
    issued = services.issue_api_token(user=person, ip_address=None)

    response = client.post(f"/people/{person.pk}/suspend", {"reason": "Investigation"})

    assert response.status_code == 302
    person.refresh_from_db()
    assert person.is_suspended and person.suspended_by == admin
    assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None

    client.post(f"/people/{person.pk}/re-enable")
    person.refresh_from_db()
    assert not person.is_suspended and account_refusals(person) == []
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {AccessAction.ACCOUNT_SUSPENDED, AccessAction.ACCOUNT_REENABLED} <= actions


def test_nobody_manages_their_own_account(make_person: Callable[..., User]) -> None:
    admin = make_person(role=Role.LA_ADMINISTRATOR, authorised_at=None)
    with pytest.raises(services.NotPermitted):
        services.authorise_account(actor=admin, person=admin, ip_address=None)


def test_resetting_the_authenticator_removes_it_and_is_audited(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, _ = admin_client
    person = make_person()

    client.post(f"/people/{person.pk}/reset-authenticator")

    assert not selectors.has_confirmed_device(person)
    assert AuditEvent.objects.filter(action=AccessAction.SECOND_FACTOR_RESET).count() == 1


def test_a_temporary_password_is_shown_once_and_must_be_replaced(
    admin_client: tuple[Client, User], make_person: Callable[..., User]
) -> None:
    client, _ = admin_client
    person = make_person()

    response = client.post(f"/people/{person.pk}/temporary-password")

    temporary = re.search(r'data-testid="temporary-password">([^<]+)<', response.content.decode())
    assert temporary is not None
    person.refresh_from_db()
    assert person.check_password(temporary.group(1)) and person.must_change_password


def test_the_national_team_sets_up_an_las_first_administrator_only(
    make_person: Callable[..., User],
) -> None:
    national = make_person(
        role=Role.NATIONAL_TEAM, organisation=Organisation.objects.get(code="national-team")
    )
    leeds = Organisation.objects.get(local_authority=LocalAuthority.objects.get(name="Leeds"))

    assert selectors.assignable_roles(national, leeds) == [Role.LA_ADMINISTRATOR]
    person, _ = services.create_account(
        actor=national,
        organisation=leeds,
        username="leeds.admin",
        first_name="Lee",
        last_name="Ds",
        email="lee@leeds.example",
        role=Role.LA_ADMINISTRATOR,
        ip_address=None,
    )
    practitioner = make_person(organisation=leeds)
    assert selectors.find_managed_person(national, person.pk) == person
    assert selectors.find_managed_person(national, practitioner.pk) is None


def test_the_national_team_manages_national_partners(make_person: Callable[..., User]) -> None:
    national = make_person(
        role=Role.NATIONAL_TEAM, organisation=Organisation.objects.get(code="national-team")
    )
    barnardos = Organisation.objects.get(name="Barnardo's")
    assert Role.PRACTITIONER in selectors.assignable_roles(national, barnardos)
    la_admin = make_person(role=Role.LA_ADMINISTRATOR)
    assert selectors.assignable_roles(la_admin, barnardos) == []
