"""No bulk path anywhere: no page or endpoint answers with more children than a search may.

Every route is read from the URL configuration (so a route added tomorrow is covered) and
requested by every role, with the parameters, query strings and bodies most likely to widen
an answer (later pages, page sizes, export formats, broad criteria). The database holds far
more children than the cap under one family name, a person whose audit trail names hundreds
of children, an alert naming fifty, and fifty merges. Every ContactPoint ID in each response,
in either written form, is counted: none may hold more than the search result cap.

Quotas and monitoring are switched off here on purpose: the cap alone must bound every
response, whatever the limits on how many responses a person gets.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from tests.access.factories import PersonFactory
from tests.conftest import sign_in_client
from tests.search.children import make_child

from contactpoint.access import services as access_services
from contactpoint.access.models import Organisation, User
from contactpoint.access.policy import viewer_for
from contactpoint.access.protective import alerts, facts, monitoring, quotas
from contactpoint.access.protective.quotas import Limit, RoleQuota
from contactpoint.access.protective.rules import RULES_BY_NAME
from contactpoint.access.roles import Role
from contactpoint.access.rules import rule_for_view
from contactpoint.access.selectors import PURPOSE_SESSION_KEY
from contactpoint.audit.services import record_event
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Child, ChildMerge
from contactpoint.search.services import result_cap

pytestmark = pytest.mark.django_db

# Answer a source system about the records it sent itself (DESIGN: "end with a load report:
# per source record its outcome ... linked to ContactPoint ID X"). Only a source system's own
# credential reaches it; below, every person is shown to be refused.
SOURCE_SYSTEM_ROUTES = {"api:feed-loads", "api:feed-records", "api:feed-report"}


ID_FORMS = re.compile(r"(?<![\d-])(\d{4})[- ]?(\d{4})[- ]?(\d{4})(?![\d-])")
BULK_WORDS = re.compile(r"export|csv|download|print|dump|bulk|everything|all-children", re.I)
WIDENING_QUERIES = (
    "",
    "?page=2",
    "?page=last&page_size=100000&limit=100000&per_page=100000&size=100000",
    "?format=csv&export=1&download=1&status=closed&q=Smith",
)


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", entry


def _routes() -> list[tuple[str, URLPattern]]:
    return list(_walk(get_resolver().url_patterns))


def children_named(body: str, known: set[str]) -> set[str]:
    """The known children's ContactPoint IDs in a response, written either way."""
    return {"".join(m.groups()) for m in ID_FORMS.finditer(body)} & known


@pytest.fixture
def no_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Switch quotas and monitoring off: the cap alone must bound every answer."""
    unlimited = Limit(soft=10**8, hard=10**9)
    everything = RoleQuota(
        lookups=dict.fromkeys(quotas.PERIODS, unlimited),
        children=dict.fromkeys(quotas.PERIODS, unlimited),
    )
    monkeypatch.setattr(quotas, "quota_for", lambda role: everything)
    monkeypatch.setattr(monitoring, "evaluate", lambda lookup, rules=(): [])


@pytest.fixture
def crowded_index(settings: Any) -> dict[str, Any]:
    """Far more children than the cap behind every list a page could draw from."""
    settings.REDIS_URL = ""
    manchester = Organisation.objects.get(name="Manchester")
    given = ["Oliver", "Amelia", "Jack", "Isla", "Harry", "Ava", "George", "Mia", "Noah", "Lily"]
    children: list[Child] = []
    for n in range(60):
        children.append(
            make_child(
                given[n % 10],
                "Smith",
                dt.date(2015, 1 + n % 12, 1 + n // 12),
                is_shielded=n % 15 == 0,
            )
        )
    busy = PersonFactory(username="busy.practitioner", organisation=manchester)
    for child in children:
        record_event(
            action="search.view_child",
            actor_id=busy.pk,
            actor_username=busy.username,
            organisation_code=manchester.code,
            subject_contactpoint_id=child.contactpoint_id,
            detail={"mode": "full"},
        )
    for start in range(0, 60, 10):
        record_event(
            action="search.children",
            actor_id=busy.pk,
            actor_username=busy.username,
            organisation_code=manchester.code,
            detail={
                "criteria": {"family_name": "Smith"},
                "returned": [c.contactpoint_id for c in children[start : start + 10]],
            },
        )
    person_facts = facts.read_person(viewer_for(busy))
    assert person_facts is not None
    alerts.raise_for_finding(
        person=person_facts,
        rule=RULES_BY_NAME["many_distinct_children"],
        summary="busy.practitioner has been shown 60 different children this day",
        dedupe="test",
        detail={},
        contactpoint_ids=[c.contactpoint_id for c in children],
    )
    for n, survivor in enumerate(children[:55]):
        ChildMerge.objects.create(
            survivor=survivor,
            absorbed_contactpoint_id=cp_id.with_check_digit(f"{90_000_000_000 + n:011d}"),
            absorbed_snapshot={},
            merged_by="tester",
        )
    known = set(Child.objects.values_list("contactpoint_id", flat=True))
    known |= set(ChildMerge.objects.values_list("absorbed_contactpoint_id", flat=True))
    return {"children": children, "busy": busy, "known": known}


def _people() -> dict[str | None, User]:
    national = Organisation.objects.get(code="national-team")
    return {
        role: PersonFactory(
            role=role,
            organisation=national
            if role == Role.NATIONAL_TEAM
            else Organisation.objects.get(name="Manchester"),
        )
        for role in Role.values
    }


def _client(person: User | None, *, api: bool) -> Client:
    if person is None:
        return Client()
    if api:
        issued = access_services.issue_api_token(user=person, ip_address=None)
        issued.token.purpose = "safeguarding_concern"
        issued.token.save()
        return Client(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    client = sign_in_client(Client(), person)
    session = client.session
    session[PURPOSE_SESSION_KEY] = {"reason": "safeguarding_concern", "other": ""}
    session.save()
    return client


def _urls(name: str, pattern: URLPattern, data: dict[str, Any]) -> list[str]:
    """The route's URL for each plausible value of each of its parameters."""
    from django.urls import reverse

    values: dict[str, list[Any]] = {
        "person_id": [data["busy"].pk],
        "contactpoint_id": [data["children"][0].contactpoint_id],
        "code": ["A1", f"E{data['event_sequence']}", "M1", "R1", "manchester", "national-team"],
        "path": ["govuk-frontend.min.css"],
    }
    parameters = list(pattern.pattern.regex.groupindex)
    if not parameters:
        return [reverse(name)]
    urls = []
    for value in values.get(parameters[-1], ["x"]):
        kwargs = {p: values[p][0] for p in parameters[:-1]}
        kwargs[parameters[-1]] = value
        urls.append(reverse(name, kwargs=kwargs))
    return urls


SEARCH_BODIES = (
    {"family_name": "Smith", "date_of_birth_year": "2015"},
    {"family_name": "Smith", "given_name": "Oliver", "date_of_birth_year": "2015"},
    {"family_name": "Smith", "given_name": "a", "age_from": "0", "age_to": "25"},
    {"family_name": "Smith", "local_authority": "E08000003", "given_name": "Amelia"},
)
API_SEARCH_BODIES = (
    {"family_name": "Smith", "date_of_birth": "2015"},
    {"family_name": "Smith", "given_name": "Oliver", "date_of_birth": "2015"},
    {"family_name": "Smith", "given_name": "Isla", "age_from": 0, "age_to": 25},
    {"family_name": "Smith", "given_name": "Lily", "local_authority": "E08000003"},
)


def _posts(name: str, data: dict[str, Any]) -> list[Any]:
    if name == "web:search":
        return list(SEARCH_BODIES)
    if name == "api:child-search":
        return [json.dumps(b) for b in API_SEARCH_BODIES]
    if name.endswith("report-child"):
        return [{"contactpoint_id": data["children"][0].contactpoint_id}]
    if name.endswith("report-people"):
        return [{"username": data["busy"].username}]
    return []


@pytest.mark.usefixtures("no_limits")
def test_no_route_answers_anyone_with_more_children_than_the_cap(
    crowded_index: dict[str, Any],
) -> None:
    from contactpoint.audit.models import AuditEvent

    data = crowded_index
    data["event_sequence"] = (
        AuditEvent.objects.filter(actor_id=data["busy"].pk, action="search.children")
        .order_by("sequence")
        .values_list("sequence", flat=True)
        .first()
    )
    cap, known = result_cap(), data["known"]
    people: dict[str | None, User | None] = {None: None, **_people()}
    worst: dict[str, int] = {}
    requests = 0
    for name, pattern in _routes():
        if name in SOURCE_SYSTEM_ROUTES:
            continue
        api = name.startswith("api:")
        for role, person in people.items():
            client = _client(person, api=api)
            for url in _urls(name, pattern, data):
                for query in WIDENING_QUERIES:
                    response = client.get(url + query)
                    requests += 1
                    _check(response, cap, known, worst, f"{role} GET {url + query}")
                for body in _posts(name, data):
                    response = (
                        client.post(url, body, content_type="application/json")
                        if api
                        else client.post(url, body)
                    )
                    requests += 1
                    _check(response, cap, known, worst, f"{role} POST {url} {body}")
    print(f"\n{requests} requests; most children in one answer: {max(worst.values(), default=0)}")
    assert requests > 1000
    # Some answers must name children, or the walk proved nothing (a sign-in or stated purpose
    # that silently failed would leave every answer empty, and the bound trivially kept).
    assert max(worst.values(), default=0) > 0
    assert max(worst.values(), default=0) <= cap


def _check(response: Any, cap: int, known: set[str], worst: dict[str, int], what: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode("utf-8", errors="replace")
    found = children_named(text, known)
    worst[what] = len(found)
    assert len(found) <= cap, f"{what} named {len(found)} children (cap {cap})"
    assert "text/csv" not in response.get("Content-Type", ""), what
    assert "attachment" not in response.get("Content-Disposition", ""), what


def test_no_route_is_an_export() -> None:
    for name, pattern in _routes():
        assert not BULK_WORDS.search(f"{name} {pattern.pattern}"), name


def test_every_route_with_children_is_covered_by_a_rule_and_the_cap() -> None:
    """The walk above sees every route: each has an access rule to be requested under."""
    for name, pattern in _routes():
        assert rule_for_view(pattern.callback) is not None, name


def test_no_person_reaches_a_source_systems_routes() -> None:
    people = _people()
    for name, pattern in _routes():
        if name not in SOURCE_SYSTEM_ROUTES:
            continue
        for person in people.values():
            placeholders = {"busy": person, "children": [_Placeholder()], "event_sequence": 1}
            for url in _urls(name, pattern, placeholders):
                status = _client(person, api=True).get(url).status_code
                # 404: a caller who is not that source learns nothing, not even that it exists.
                assert status in {401, 403, 404, 405}, (name, person.role, status)


class _Placeholder:
    contactpoint_id = "123456789012"


@pytest.mark.usefixtures("no_limits")
def test_the_review_queue_names_no_more_children_than_the_cap(
    crowded_index: dict[str, Any],
) -> None:
    officer = _people()[Role.DATA_QUALITY_OFFICER]
    body = _client(officer, api=False).get("/review").content.decode()
    assert len(children_named(body, crowded_index["known"])) <= result_cap()


def test_the_api_schema_offers_no_list_of_children_but_the_capped_search() -> None:
    schema = json.loads(
        Client().get("/api/v1/schema", HTTP_ACCEPT="application/json").content or b"{}"
    )
    paths = schema.get("paths", {}) if isinstance(schema, dict) else {}
    for path in paths:
        assert not BULK_WORDS.search(path), path


def test_the_id_pattern_finds_both_written_forms() -> None:
    known = {"123456789012", "210987654321"}
    assert children_named("a 1234-5678-9012 b 210987654321 c 2109 8765 4321", known) == known
    assert children_named("x12345678901234", known) == set()
