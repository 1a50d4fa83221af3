"""The audit reports: who has viewed this child, what has this person done; both audited."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client
from tests.conftest import sign_in_client
from tests.monitoring.support import practitioner, search_as, view_as, working_time
from tests.search.children import make_child

from contactpoint.access.models import HomeAddress, Organisation, User
from contactpoint.access.protective.actions import ProtectiveAction
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_store")]


@pytest.fixture(autouse=True)
def _mid_morning() -> object:
    with time_machine.travel(working_time(10, 0), tick=False) as traveller:
        yield traveller


def _client(role: str, organisation: str = "Manchester", **fields: Any) -> tuple[Client, User]:
    if role == Role.NATIONAL_TEAM:
        fields["organisation"] = Organisation.objects.get(code="national-team")
    else:
        fields.setdefault("organisation", Organisation.objects.get(name=organisation))
    person = practitioner(role=role, **fields)
    return sign_in_client(Client(), person), person


@pytest.fixture
def viewed_child() -> tuple[Any, User, User]:
    """A Manchester child viewed by a Manchester practitioner and a Bolton one."""
    child = make_child("Amelia", "Ashworth", dt.date(2015, 3, 14))
    ours = practitioner(username="manchester.viewer")
    theirs = practitioner(
        username="bolton.viewer", organisation=Organisation.objects.get(name="Bolton")
    )
    view_as(ours, child.contactpoint_id)
    view_as(theirs, child.contactpoint_id)
    return child, ours, theirs


def test_the_childs_la_security_officer_sees_every_viewer(viewed_child: Any) -> None:
    child, ours, theirs = viewed_child
    client, officer = _client(Role.SECURITY_OFFICER)
    page = client.post("/security/reports/child", {"contactpoint_id": child.contactpoint_id})
    body = page.content.decode()
    assert page.status_code == 200
    assert ours.username in body and theirs.username in body and "Viewed the record" in body
    event = AuditEvent.objects.get(action=ProtectiveAction.REPORT_CHILD_VIEWERS)
    assert event.actor_id == officer.pk and event.subject_contactpoint_id == child.contactpoint_id


def test_another_las_security_officer_sees_only_their_own_people(viewed_child: Any) -> None:
    child, ours, theirs = viewed_child
    client, _ = _client(Role.SECURITY_OFFICER, "Bolton")
    body = client.post(
        "/security/reports/child", {"contactpoint_id": child.contactpoint_id}
    ).content.decode()
    assert theirs.username in body and ours.username not in body
    assert "People in your organisation only" in body


def test_the_national_team_sees_every_viewer(viewed_child: Any) -> None:
    child, ours, theirs = viewed_child
    client, _ = _client(Role.NATIONAL_TEAM)
    body = client.post(
        "/national/reports/child", {"contactpoint_id": child.contactpoint_id}
    ).content.decode()
    assert ours.username in body and theirs.username in body


def test_a_search_that_listed_the_child_is_in_the_childs_report() -> None:
    """A result row shows the name, date of birth and district: that is a disclosure too."""
    child = make_child("Amelia", "Ashworth", dt.date(2015, 3, 14))
    stranger = make_child("Oliver", "Pemberton", dt.date(2012, 7, 2))
    searcher = practitioner(username="manchester.searcher")
    elsewhere = practitioner(username="manchester.elsewhere")
    listed = search_as(searcher, family_name="Ashworth", date_of_birth="2015-03-14")
    assert [row.contactpoint_id for row in listed.rows] == [child.contactpoint_id]
    other = search_as(elsewhere, family_name="Pemberton", date_of_birth="2012-07-02")
    assert [row.contactpoint_id for row in other.rows] == [stranger.contactpoint_id]
    search_as(elsewhere, family_name="Nobody", date_of_birth="2015-03-14")  # no matches

    client, _ = _client(Role.SECURITY_OFFICER)
    page = client.post("/security/reports/child", {"contactpoint_id": child.contactpoint_id})
    body = page.content.decode()
    assert page.status_code == 200
    assert searcher.username in body and "Shown in search results" in body
    assert elsewhere.username not in body  # their searches listed other children, or none
    assert "1 event." in body
    audited = AuditEvent.objects.get(action=ProtectiveAction.REPORT_CHILD_VIEWERS)
    assert audited.detail["events"] == 1


def test_a_mistyped_id_is_refused_with_the_reason() -> None:
    client, _ = _client(Role.SECURITY_OFFICER)
    page = client.post("/security/reports/child", {"contactpoint_id": "1234-5678-9013"})
    assert page.status_code == 400 and "mistyped digit" in page.content.decode()


def test_what_a_person_has_done_lists_their_searches_and_views(viewed_child: Any) -> None:
    child, ours, _ = viewed_child
    search_as(ours, family_name="Ashworth", date_of_birth="2015-03-14")
    client, _ = _client(Role.SECURITY_OFFICER)
    start = client.post("/security/reports/people", {"username": ours.username})
    assert start.status_code == 302
    body = client.get(start["Location"]).content.decode()
    assert "Viewed the record" in body and child.contactpoint_id in body
    assert "Searched" in body and "family_name: Ashworth" in body and "(1 shown)" in body
    audited = AuditEvent.objects.get(action=ProtectiveAction.REPORT_PERSON_ACTIVITY)
    assert audited.detail["person_username"] == ours.username


def test_one_event_shows_the_children_a_search_returned() -> None:
    child = make_child("Amelia", "Ashworth", dt.date(2015, 3, 14))
    person = practitioner()
    search_as(person, family_name="Ashworth", date_of_birth="2015-03-14")
    search_event = AuditEvent.objects.get(action="search.children")
    client, _ = _client(Role.SECURITY_OFFICER)
    body = client.get(
        f"/security/reports/people/{person.pk}/events/E{search_event.sequence}"
    ).content.decode()
    assert child.contactpoint_id[:4] + "-" in body
    assert AuditEvent.objects.filter(action=ProtectiveAction.REPORT_EVENT).count() == 1


def test_a_security_officer_cannot_report_on_another_organisations_people() -> None:
    outsider = practitioner(organisation=Organisation.objects.get(name="Bolton"))
    client, _ = _client(Role.SECURITY_OFFICER)
    assert client.get(f"/security/reports/people/{outsider.pk}").status_code == 404
    page = client.post("/security/reports/people", {"username": outsider.username})
    assert page.status_code == 400


def test_reports_are_counted_against_the_readers_quota() -> None:
    person = practitioner()
    client, officer = _client(Role.SECURITY_OFFICER)
    answers = [client.get(f"/security/reports/people/{person.pk}").status_code for _ in range(41)]
    assert answers[:40] == [200] * 40 and answers[40] == 403
    assert User.objects.get(pk=officer.pk).is_suspended


def test_a_practitioner_can_run_no_report() -> None:
    client, person = _client(Role.PRACTITIONER)
    assert client.post("/security/reports/child", {"contactpoint_id": "x"}).status_code == 403
    assert client.get(f"/security/reports/people/{person.pk}").status_code == 403
    assert client.get("/national/reports/child").status_code == 403


# --- The home address monitoring uses ---------------------------------------------------------


def test_an_administrator_records_a_home_address_which_the_audit_log_never_holds() -> None:
    person = practitioner()
    client, administrator = _client(Role.LA_ADMINISTRATOR)
    page = client.post(
        f"/people/{person.pk}/home-address", {"line_1": "14  Victoria Road", "postcode": "m145ab"}
    )
    assert page.status_code == 302
    address = HomeAddress.objects.get(user=person)
    assert (address.postcode, address.line_1, address.recorded_by) == (
        "M14 5AB",
        "14 Victoria Road",
        administrator,
    )
    event = AuditEvent.objects.get(action=ProtectiveAction.HOME_ADDRESS_RECORDED)
    assert "M14" not in str(event.detail) and "Victoria" not in str(event.detail)


def test_a_home_address_needs_a_real_postcode_and_an_administrator_in_remit() -> None:
    person = practitioner()
    client, _ = _client(Role.LA_ADMINISTRATOR)
    assert (
        client.post(f"/people/{person.pk}/home-address", {"postcode": "nonsense"}).status_code
        == 400
    )
    outsider = practitioner(organisation=Organisation.objects.get(name="Bolton"))
    assert client.get(f"/people/{outsider.pk}/home-address").status_code == 404
