"""Break-glass: a typed reason after a warning, one view only, alerts at once (issue 7, item 5)."""

from __future__ import annotations

import datetime as dt
import html
import threading
from collections.abc import Callable

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone
from tests.shielding.support import (
    BOLTON,
    HIDDEN,
    HIDDEN_VALUES,
    make_hidden_child,
    person,
    web_client,
)

from contactpoint.access.models import Alert, AlertAudience, AlertSeverity, Organisation, User
from contactpoint.access.policy import ViewMode
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent
from contactpoint.index.models import Child
from contactpoint.shielding import services
from contactpoint.shielding.models import BreakGlassGrant

pytestmark = pytest.mark.django_db
REASON = "Child missing from school after a threat; police need the carer's address now"


def _grant(user: User, child: Child, reason: str = REASON) -> BreakGlassGrant:
    return services.grant_break_glass(
        user=user,
        contactpoint_id=child.contactpoint_id,
        reason=reason,
        purpose="safeguarding_concern",
    )


def test_a_grant_alerts_the_las_shielding_and_security_officers_at_once(
    social_worker: User, hidden_child: Child
) -> None:
    grant = _grant(social_worker, hidden_child)

    manchester = Organisation.objects.get(kind="local_authority", name="Manchester")
    alerts = Alert.objects.filter(rule="break_glass")
    assert {(a.organisation_id, a.audience) for a in alerts} == {
        (manchester.pk, AlertAudience.LA_CONTACTPOINT_TEAM),
        (manchester.pk, AlertAudience.SECURITY_OFFICER),
    }
    for alert in alerts:
        assert alert.severity == AlertSeverity.CRITICAL
        assert alert.subject_user == social_worker
        assert alert.contactpoint_id == hidden_child.contactpoint_id
        assert alert.detail["reason"] == REASON
        assert not any(value in str(alert.detail) + alert.summary for value in HIDDEN_VALUES)
    assert grant.used_at is None and grant.expires_at > timezone.now()
    event = AuditEvent.objects.get(action="shielding.break_glass_granted")
    assert event.detail == {"grant": grant.pk, "alerts": sorted(a.pk for a in alerts)}
    assert REASON not in str(event.detail)


def test_a_person_from_another_organisation_is_reported_to_their_own_security_officer_too(
    make_person: Callable[..., User], hidden_child: Child
) -> None:
    bolton_police = person(make_person, Role.POLICE_LIAISON, la=BOLTON)
    _grant(bolton_police, hidden_child)
    bolton = Organisation.objects.get(kind="local_authority", name="Bolton")
    assert Alert.objects.filter(
        rule="break_glass", organisation=bolton, audience=AlertAudience.SECURITY_OFFICER
    ).exists()
    assert Alert.objects.filter(rule="break_glass").count() == 3


def test_the_grant_reveals_the_whole_record_once(social_worker: User, hidden_child: Child) -> None:
    grant = _grant(social_worker, hidden_child)
    view = services.use_break_glass(user=social_worker, reference=grant.reference)

    assert view.projection.mode is ViewMode.FULL
    assert view.projection.addresses is not None
    assert view.projection.addresses[0].line_1 == HIDDEN.line_1
    grant.refresh_from_db()
    assert grant.used_at is not None
    viewed = AuditEvent.objects.get(action="shielding.break_glass_viewed")
    assert viewed.outcome == "ok" and "addresses" in viewed.detail["shown"]

    with pytest.raises(services.GrantSpent):
        services.use_break_glass(user=social_worker, reference=grant.reference)
    assert AuditEvent.objects.filter(
        action="shielding.break_glass_viewed", outcome="already_used"
    ).exists()


def test_an_unused_grant_expires(social_worker: User, hidden_child: Child) -> None:
    grant = _grant(social_worker, hidden_child)
    with (
        time_machine.travel(timezone.now() + dt.timedelta(minutes=6)),
        pytest.raises(services.GrantSpent),
    ):
        services.use_break_glass(user=social_worker, reference=grant.reference)


def test_a_grant_reveals_nothing_to_anyone_else(
    social_worker: User, make_person: Callable[..., User], hidden_child: Child
) -> None:
    grant = _grant(social_worker, hidden_child)
    colleague = person(make_person, Role.CHILD_PROTECTION_SOCIAL_WORKER)
    with pytest.raises(services.NotAvailable):
        services.use_break_glass(user=colleague, reference=grant.reference)
    grant.refresh_from_db()
    assert grant.used_at is None  # still the holder's to use


def test_only_break_glass_roles_may_break_the_glass(
    practitioner: User, officer: User, hidden_child: Child
) -> None:
    for user in (practitioner, officer):
        with pytest.raises(services.NotPermitted):
            _grant(user, hidden_child)
    assert not BreakGlassGrant.objects.exists() and not Alert.objects.exists()
    assert AuditEvent.objects.filter(action="shielding.break_glass_refused").count() == 2


def test_breaking_the_glass_needs_a_typed_reason(social_worker: User, hidden_child: Child) -> None:
    for reason in ("", "because", "see M22 9QX for the refuge address now please"):
        with pytest.raises(services.InvalidDecision):
            _grant(social_worker, hidden_child, reason=reason)
    assert not BreakGlassGrant.objects.exists()


def test_there_is_no_glass_to_break_on_an_unshielded_or_unknown_record(
    social_worker: User, visible_child: Child
) -> None:
    with pytest.raises(services.InvalidDecision, match="not shielded"):
        _grant(social_worker, visible_child)
    with pytest.raises(services.NotAvailable):
        services.grant_break_glass(
            user=social_worker, contactpoint_id="nonsense", reason=REASON, purpose="x"
        )
    assert not Alert.objects.exists()


# --- Through the pages -----------------------------------------------------------------------


def _break_the_glass(client: Client, child: Child) -> str:
    response = client.post(
        f"/children/{child.contactpoint_id}/break-glass", {"reason": REASON, "understood": "on"}
    )
    assert response.status_code == 302, response.content.decode()[:500]
    return str(response["Location"])


def test_the_warning_page_reads_nothing_about_the_child(
    social_worker: User, hidden_child: Child
) -> None:
    client = web_client(social_worker)
    page = client.get(f"/children/{hidden_child.contactpoint_id}/break-glass")
    body = page.content.decode()
    assert page.status_code == 200
    assert "triggers an immediate investigation" in body
    assert "Niamh" not in body and not any(v in body for v in HIDDEN_VALUES)


def test_the_warning_must_be_acknowledged(social_worker: User, hidden_child: Child) -> None:
    client = web_client(social_worker)
    response = client.post(
        f"/children/{hidden_child.contactpoint_id}/break-glass", {"reason": REASON}
    )
    assert response.status_code == 400 and not BreakGlassGrant.objects.exists()
    assert "Confirm that you understand" in response.content.decode()


def test_the_reveal_lasts_for_that_one_view(social_worker: User, hidden_child: Child) -> None:
    client = web_client(social_worker)
    location = _break_the_glass(client, hidden_child)

    revealed = client.get(location)
    body = revealed.content.decode()
    assert revealed.status_code == 200 and "no-store" in revealed["Cache-Control"]
    assert "Break-glass view" in body
    assert HIDDEN.line_1 in body and HIDDEN.practitioner in body

    again = client.get(location)
    assert again.status_code == 410
    assert not any(v in again.content.decode() for v in HIDDEN_VALUES)
    # And the ordinary record is still restricted.
    record = client.get(f"/children/{hidden_child.contactpoint_id}").content.decode()
    assert "This record is shielded" in record
    assert not any(v in record for v in HIDDEN_VALUES)


def test_a_practitioner_cannot_reach_the_break_glass_pages(
    practitioner: User, hidden_child: Child, social_worker: User
) -> None:
    grant = _grant(social_worker, hidden_child)
    client = web_client(practitioner)
    assert client.get(f"/children/{hidden_child.contactpoint_id}/break-glass").status_code == 403
    assert client.get(f"/break-glass/{grant.reference}").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_grant_used_twice_at_the_same_time_reveals_the_record_once(
    make_person: Callable[..., User],
) -> None:
    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith(
        "file:memorydb"
    ):
        pytest.skip("threads cannot share SQLite's in-memory test database; runs on PostgreSQL")
    worker = person(make_person, Role.CHILD_PROTECTION_SOCIAL_WORKER)
    grant = _grant(worker, make_hidden_child())
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            barrier.wait()
            services.use_break_glass(user=worker, reference=grant.reference)
            outcomes.append("shown")
        except services.GrantSpent:
            outcomes.append("spent")
        except BaseException as error:  # surfaced below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["shown", "spent"]


def test_the_alerts_wait_in_the_security_and_contactpoint_team_queues(
    social_worker: User, officer: User, make_person: Callable[..., User], hidden_child: Child
) -> None:
    _grant(social_worker, hidden_child)
    security = person(make_person, Role.SECURITY_OFFICER)
    queues = (
        (security, "/security/alerts", AlertAudience.SECURITY_OFFICER),
        (officer, "/contactpoint-team/alerts", AlertAudience.LA_CONTACTPOINT_TEAM),
    )
    for user, queue, audience in queues:
        client = web_client(user)
        assert social_worker.username in client.get(queue).content.decode(), queue
        alert = Alert.objects.get(rule="break_glass", audience=audience)
        detail = client.get(f"{queue}/A{alert.pk}")
        body = html.unescape(detail.content.decode())
        assert detail.status_code == 200
        assert REASON in body and hidden_child.display_id in body
        assert not any(value in body for value in HIDDEN_VALUES)
