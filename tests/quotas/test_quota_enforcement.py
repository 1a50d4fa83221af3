"""Quotas as a person meets them, through the real pages and API: warn, then suspend at once."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import time_machine
from django.test import Client
from tests.monitoring.support import practitioner, start_of_a_store_minute, working_time
from tests.policy.states import api_client, web_client
from tests.search.children import make_child
from tests.search.support import criteria

from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import Alert, ApiToken, User
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective.monitoring import (
    STORE_UNAVAILABLE_MESSAGE,
    LookupRefused,
)
from contactpoint.access.protective.quotas import _FINDING_CHILDREN, Period, peek_usage
from contactpoint.access.services import suspend_account
from contactpoint.audit.models import AuditEvent
from contactpoint.search.audit_actions import SearchAction
from contactpoint.search.services import search_children, view_child

pytestmark = pytest.mark.django_db

SEARCHES_HARD = _FINDING_CHILDREN.lookups[Period.MINUTE].hard
SEARCHES_SOFT = _FINDING_CHILDREN.lookups[Period.MINUTE].soft
CHILDREN_HOUR_HARD = _FINDING_CHILDREN.children[Period.HOUR].hard

# Different names and far-apart years: nothing here looks like a sweep, only like volume.
NAMES = [
    "Abbott", "Bancroft", "Cartwright", "Dunmore", "Ellery", "Fairbairn", "Gillespie", "Hollins",
    "Ingham", "Jardine", "Kershaw", "Lomax", "Marsden", "Nuttall", "Ormerod", "Pilling",
    "Quayle", "Rothwell", "Sutcliffe", "Tattersall",
]  # fmt: skip


def _birth_date(index: int) -> dt.date:
    return dt.date(2010 + (index * 3) % 15, 1 + (index * 5) % 12, 1 + (index * 7) % 28)


def _web_search(client: Client, index: int) -> Any:
    day = _birth_date(index)
    return client.post(
        "/search",
        {
            "family_name": NAMES[index],
            "date_of_birth_day": day.day,
            "date_of_birth_month": day.month,
            "date_of_birth_year": day.year,
        },
    )


def _api_search(client: Client, index: int) -> Any:
    body = {"family_name": NAMES[index], "date_of_birth": _birth_date(index).isoformat()}
    return client.post("/api/v1/children/search", json.dumps(body), content_type="application/json")


@pytest.fixture(autouse=True)
def _working_hours() -> Any:
    with time_machine.travel(working_time(10, 15), tick=False):
        yield


def test_close_to_the_limit_the_page_warns(database_store: None) -> None:
    person = practitioner()
    client = web_client(person)
    for index in range(SEARCHES_SOFT - 1):
        assert "You have looked at" not in _web_search(client, index).content.decode()
    page = _web_search(client, SEARCHES_SOFT).content.decode()
    assert f"You have looked at {SEARCHES_SOFT} searches and record views this minute" in page
    assert not User.objects.get(pk=person.pk).is_suspended


def test_close_to_the_limit_the_api_warns_in_a_header(database_store: None) -> None:
    client = api_client(practitioner())
    responses = [_api_search(client, index) for index in range(SEARCHES_SOFT)]
    assert "ContactPoint-Usage-Warning" not in responses[0]
    assert "this minute" in responses[-1]["ContactPoint-Usage-Warning"]


def test_over_the_hard_limit_the_account_is_suspended_at_once(quota_store: str) -> None:
    person = practitioner(username="fast.searcher")
    client = web_client(person)
    issued_token = api_client(person)
    if quota_store == "redis":
        start_of_a_store_minute()
    for index in range(SEARCHES_HARD):
        assert _web_search(client, index).status_code in {200, 400}
    stopped = _web_search(client, SEARCHES_HARD)

    assert stopped.status_code == 403
    assert "Your account has been suspended" in stopped.content.decode()
    person.refresh_from_db()
    assert person.is_suspended and "quota_hard_limit" in person.suspension_reason
    # Every session ended (the epoch moved) and every API token revoked, at once.
    assert client.get("/search").status_code == 302
    assert not ApiToken.objects.filter(user=person, revoked_at__isnull=True).exists()
    assert issued_token.get("/api/v1/me").status_code in {401, 403}
    alert = Alert.objects.get(subject_user=person, rule="quota_hard_limit")
    assert alert.subject_username == "fast.searcher" and "fast.searcher" in alert.summary
    assert alert.account_suspended
    assert AuditEvent.objects.filter(
        action=AccessAction.ACCOUNT_SUSPENDED, detail__person_username="fast.searcher"
    ).exists()


def test_web_sessions_and_api_tokens_of_one_person_share_the_counters(
    database_store: None,
) -> None:
    person = practitioner()
    web, api = web_client(person), api_client(person)
    for index in range(SEARCHES_HARD):
        client_search = _web_search if index % 2 else _api_search
        client_search(web if index % 2 else api, index)
    assert _api_search(api, SEARCHES_HARD).status_code == 403
    assert User.objects.get(pk=person.pk).is_suspended


def test_the_lookup_that_crosses_a_hard_limit_discloses_nothing(database_store: None) -> None:
    """Four searches of nine children each: the fourth would pass 30 children in the hour."""
    years = (2011, 2014, 2017, 2020)
    for batch, year in enumerate(years):
        for n in range(9):
            make_child("Sam", NAMES[batch], dt.date(year, 1 + n, 10), postcode=f"M{batch + 1}4 5AB")
    person = practitioner()
    client = web_client(person)

    def search(batch: int) -> Any:
        return client.post(
            "/search",
            {"family_name": NAMES[batch], "given_name": "Sam", "date_of_birth_year": years[batch]},
        )

    for batch in range(3):
        assert search(batch).content.decode().count(NAMES[batch]) >= 9
    refused = search(3)

    assert refused.status_code == 403
    assert NAMES[3] not in refused.content.decode()
    assert 27 <= CHILDREN_HOUR_HARD < 36
    event = AuditEvent.objects.filter(action=SearchAction.SEARCH).order_by("-sequence").first()
    assert event is not None and event.outcome == "stopped"
    assert event.detail["returned"] == [] and event.detail["protective"]["stopped"] is True
    assert Alert.objects.filter(subject_user=person, rule="quota_hard_limit").exists()


def test_when_redis_cannot_be_reached_searches_are_refused_with_a_clear_message(
    settings: Any,
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    person = practitioner()
    page = _web_search(web_client(person), 0)
    assert page.status_code == 503
    assert "cannot check usage limits" in page.content.decode()
    api = _api_search(api_client(person), 0)
    assert api.status_code == 503 and api.json()["detail"] == STORE_UNAVAILABLE_MESSAGE
    event = AuditEvent.objects.filter(action=SearchAction.SEARCH).order_by("-sequence").first()
    assert event is not None and event.outcome == "unchecked" and event.detail["returned"] == []
    assert not User.objects.get(pk=person.pk).is_suspended


def test_a_lookup_already_under_way_when_the_account_is_suspended_is_refused(
    quota_store: str, make_person: Any
) -> None:
    from contactpoint.access.roles import Role

    person = practitioner()
    viewer = viewer_for(person)  # the request passed the gates before the suspension
    administrator = make_person(role=Role.LA_ADMINISTRATOR)
    suspend_account(actor=administrator, person=person, reason="leaver", ip_address=None)
    with pytest.raises(LookupRefused) as refused:
        search_children(
            viewer=viewer,
            criteria=criteria(family_name="Abbott", date_of_birth="2012"),
            purpose="x",
        )
    assert refused.value.http_status == 403


def test_a_lookup_that_fails_while_the_quota_store_answers_leaves_the_counters_usable(
    redis_store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quota script is sent before the facts are read: when that read fails, its reply is
    still taken off the connection, so the next lookup never reads a stale answer."""
    from django.db import DatabaseError

    from contactpoint.access.protective import facts
    from contactpoint.search.services import SearchUnavailable

    person = practitioner()
    child = make_child("Amelia", "Abbott", dt.date(2014, 3, 2))
    real_read = facts.read_facts

    def failing_read(*args: Any, **kwargs: Any) -> Any:
        raise DatabaseError("the facts could not be read")

    monkeypatch.setattr(facts, "read_facts", failing_read)
    with pytest.raises(SearchUnavailable):
        view_child(viewer=viewer_for(person), contactpoint_id=child.contactpoint_id, purpose="x")
    monkeypatch.setattr(facts, "read_facts", real_read)

    shown = view_child(
        viewer=viewer_for(person), contactpoint_id=child.contactpoint_id, purpose="x"
    )
    assert shown.identity.contactpoint_id == child.contactpoint_id
    usage = peek_usage(user_id=person.pk)
    # Both attempts were counted (the store had counted the first before the read failed).
    assert usage.lookups[Period.WEEK] == 2
    assert usage.children[Period.DAY] == 1


def test_a_quota_script_redis_has_forgotten_is_loaded_again(redis_store: str) -> None:
    """After a Redis restart (SCRIPT FLUSH) the lookup still counts, once, and is shown."""
    import redis

    from contactpoint.access.protective.quotas import redis_url

    person = practitioner()
    child = make_child("Amelia", "Abbott", dt.date(2014, 3, 2))
    redis.Redis.from_url(redis_url()).script_flush()
    shown = view_child(
        viewer=viewer_for(person), contactpoint_id=child.contactpoint_id, purpose="x"
    )
    assert shown.identity.contactpoint_id == child.contactpoint_id
    assert peek_usage(user_id=person.pk).lookups[Period.WEEK] == 1
