"""The alert queues: who sees which alert, and taking one from open to closed with an outcome."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import Client
from tests.monitoring.support import practitioner, search_as, view_as, working_time
from tests.policy.states import web_client
from tests.search.children import make_child

from contactpoint.access.models import Alert, AlertAudience, AlertStatus, Organisation
from contactpoint.access.protective import alerts
from contactpoint.access.protective.actions import ProtectiveAction
from contactpoint.access.roles import Role
from contactpoint.access.services import NotPermitted
from contactpoint.audit.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_store")]


@pytest.fixture(autouse=True)
def _mid_morning() -> object:
    with time_machine.travel(working_time(10, 0), tick=False) as traveller:
        yield traveller


def _own_surname_alert(organisation_name: str = "Manchester") -> Alert:
    person = practitioner(organisation=Organisation.objects.get(name=organisation_name))
    make_child("Lily", person.last_name, dt.date(2014, 6, 2))
    search_as(person, family_name=person.last_name, date_of_birth="2014-06-02")
    return Alert.objects.get(subject_user=person)


def _signed_in(role: str, organisation_name: str = "Manchester") -> tuple[Client, object]:
    organisation = Organisation.objects.get(name=organisation_name)
    if role == "national_security":
        person = practitioner(
            role=Role.SECURITY_OFFICER, organisation=Organisation.objects.get(code="national-team")
        )
    else:
        person = practitioner(role=role, organisation=organisation)
    return web_client(person), person


def test_the_security_officer_sees_their_organisations_alerts_only() -> None:
    ours, theirs = _own_surname_alert("Manchester"), _own_surname_alert("Bolton")
    client, _ = _signed_in(Role.SECURITY_OFFICER)
    page = client.get("/security/alerts").content.decode()
    assert ours.reference in page and ours.subject_username in page
    assert theirs.subject_username not in page
    assert client.get(f"/security/alerts/{theirs.reference}").status_code == 404


def test_the_national_teams_security_officer_sees_every_organisations_alerts() -> None:
    ours, theirs = _own_surname_alert("Manchester"), _own_surname_alert("Bolton")
    client, _ = _signed_in("national_security")
    page = client.get("/security/alerts").content.decode()
    assert ours.subject_username in page and theirs.subject_username in page


def test_an_alert_goes_from_open_to_investigating_to_closed_with_an_outcome() -> None:
    alert = _own_surname_alert()
    client, officer = _signed_in(Role.SECURITY_OFFICER)
    url = f"/security/alerts/{alert.reference}"
    assert "Investigate this alert" in client.get(url).content.decode()

    client.post(url, {"action": "investigate"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.INVESTIGATING and alert.handled_by == officer

    refused = client.post(url, {"action": "close", "outcome": "", "note": ""})
    assert refused.status_code == 400 and "Select the outcome" in refused.content.decode()
    client.post(
        url,
        {"action": "close", "outcome": "advice_given", "note": "Was testing on her niece."},
    )
    alert.refresh_from_db()
    assert alert.status == AlertStatus.CLOSED and alert.outcome == "advice_given"
    assert alert.outcome_note == "Was testing on her niece."
    assert set(
        AuditEvent.objects.filter(detail__alert=alert.pk).values_list("action", flat=True)
    ) == {
        ProtectiveAction.ALERT_RAISED,
        ProtectiveAction.ALERT_INVESTIGATING,
        ProtectiveAction.ALERT_CLOSED,
    }
    link = f'href="/security/alerts/{alert.reference}"'
    assert link not in client.get("/security/alerts").content.decode()
    assert link in client.get("/security/alerts?status=closed").content.decode()


def test_nobody_can_close_an_alert_outside_their_queue() -> None:
    alert = _own_surname_alert("Bolton")
    _, officer = _signed_in(Role.SECURITY_OFFICER, "Manchester")
    with pytest.raises(NotPermitted):
        alerts.close_alert(
            officer=officer, alert=alert, outcome="legitimate", note="x", ip_address=None
        )


def test_the_la_contactpoint_team_sees_views_of_its_shielded_children() -> None:
    viewer = practitioner(organisation=Organisation.objects.get(name="Bolton"))
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)
    view_as(viewer, child.contactpoint_id)
    team_alert = Alert.objects.get(audience=AlertAudience.LA_CONTACTPOINT_TEAM)

    client, _ = _signed_in(Role.SHIELDING_OFFICER, "Manchester")
    page = client.get("/contactpoint-team/alerts").content.decode()
    assert viewer.username in page and team_alert.reference in page
    detail = client.get(f"/contactpoint-team/alerts/{team_alert.reference}").content.decode()
    assert child.contactpoint_id[:4] in detail  # the ID, displayed 1234-5678-9012
    # The security officer's queue and the team's are separate.
    security, _ = _signed_in(Role.SECURITY_OFFICER, "Manchester")
    # Whole words only: a random CSRF token may contain "A2" by chance.
    named = re.compile(rf"\b{team_alert.reference}\b")
    assert not named.search(security.get("/security/alerts").content.decode())
    bolton_team, _ = _signed_in(Role.SHIELDING_OFFICER, "Bolton")
    assert not named.search(bolton_team.get("/contactpoint-team/alerts").content.decode())


def test_a_practitioner_cannot_reach_any_queue() -> None:
    client, _ = _signed_in(Role.PRACTITIONER)
    assert client.get("/security/alerts").status_code == 403
    assert client.get("/contactpoint-team/alerts").status_code == 403


def test_a_repeat_of_the_same_pattern_the_same_day_raises_no_second_alert() -> None:
    person = practitioner()
    make_child("Lily", person.last_name, dt.date(2014, 6, 2))
    for _ in range(3):
        search_as(person, family_name=person.last_name, date_of_birth="2014-06-02")
    assert Alert.objects.filter(subject_user=person).count() == 1
    assert AuditEvent.objects.filter(action=ProtectiveAction.ALERT_RAISED).count() == 1
