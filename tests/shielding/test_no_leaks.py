"""Shielded data never appears in any page, API response, search result, report, error message,
log line or audit export for anyone without the right (issue 7, the central test).

The routes are read from the URL configuration, like the access app's role x route matrix, so
a new page or endpoint is walked here without anyone remembering to add it. Each route is asked
for as every role (and anonymously), with real IDs and case references substituted into its
parameters, by GET and by an empty POST (error paths; PUT where neither is allowed), and the
search routes with criteria that find the shielded child, by name and date of birth and by
each hidden field (postcode, district, local authority). Every response body, every log record
and every audit event is then searched for the shielded child's location details. Positive
controls prove the searches would find them: an unshielded child's details do appear to a
practitioner and its postcode finds it, and the shielded child's details appear to the
officers who have the right. A second test proves every route answered someone with real
values, so that no route passes by answering "not found" to everyone.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from tests.feeds.conftest import write_csv
from tests.shielding.support import (
    BOLTON,
    HIDDEN,
    MANCHESTER,
    VISIBLE,
    api_client,
    born_years_ago,
    make_visible_child,
    person,
    web_client,
)

from contactpoint.access.models import Alert, Organisation, User
from contactpoint.access.organisations import NATIONAL_TEAM_CODE
from contactpoint.access.protective import quotas
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.access.rules import rule_for_view
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.audit.models import AuditEvent
from contactpoint.feeds import review
from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import FeedLoad, ReviewItem, ReviewKind, SourceSystem
from contactpoint.index.contactpoint_id import display as cp_display
from contactpoint.index.models import Child, GpPractice, LocalAuthority, School
from contactpoint.index.vocabularies import SchoolPhase
from contactpoint.shielding import services
from contactpoint.shielding.vocabularies import ShieldingReason

pytestmark = pytest.mark.django_db

# Where the shielded child went: reported by a second source that never heard of the move.
NEW_ADDRESS = ("5 Marigold Passage", "M21 7XY")
# The address on a duplicate record of her, merged into her record.
MERGED_ADDRESS = ("8 Thistledown Mews", "M22 4HN")
# A word only the shielding decision's justification contains.
JUSTIFICATION_MARK = "Zephyrine"
SECRETS: tuple[str, ...] = (
    HIDDEN.line_1,
    HIDDEN.town,
    HIDDEN.postcode,
    HIDDEN.carer_given,
    HIDDEN.carer_family,
    HIDDEN.carer_phone,
    HIDDEN.school_urn,
    HIDDEN.school_name,
    HIDDEN.school_phone,
    HIDDEN.school_email,
    HIDDEN.gp_ods,
    HIDDEN.gp_name,
    HIDDEN.gp_phone,
    HIDDEN.practitioner,
    HIDDEN.practitioner_phone,
    HIDDEN.practitioner_email,
    HIDDEN.service_organisation,
    *NEW_ADDRESS,
    *MERGED_ADDRESS,
    JUSTIFICATION_MARK,
)
# The postcode district alone is a location too; matched as a whole word only.
SECRET_PATTERNS = (re.compile(r"\bM22\b"), re.compile(r"\bM21\b"))
SHOWN_TO_PRACTITIONERS = (VISIBLE.line_1, VISIBLE.carer_phone, VISIBLE.practitioner)

# Who may see the shielded child whole (DESIGN: shielding): its LA's officers, the national team.
ENTITLED = {"manchester shielding_officer", "national_team"}
PERSONAS = (
    "anonymous",
    *(f"manchester {role}" for role in Role.values if role != Role.NATIONAL_TEAM),
    "national_team",
    "bolton shielding_officer",
    "bolton practitioner",
)


# --- The world the walk looks at --------------------------------------------------------------


@dataclasses.dataclass
class World:
    hidden: Child
    visible: Child
    subject: User
    breaker: User
    codes: dict[str, list[str]]  # route name -> values for its <code> parameter
    fallback_codes: list[str]


def _feed_row(**fields: str) -> dict[str, str]:
    born = born_years_ago(8)
    row = {
        "source_record_id": "MCR-H1",
        "given_names": "Niamh",
        "family_name": "Calloway",
        "date_of_birth": born.isoformat(),
        "gender": "female",
        "address_line_1": HIDDEN.line_1,
        "town": HIDDEN.town,
        "postcode": HIDDEN.postcode,
        "carer_1_given_names": HIDDEN.carer_given,
        "carer_1_family_name": HIDDEN.carer_family,
        "carer_1_relationship": "mother",
        "carer_1_parental_responsibility": "yes",
        "carer_1_phone": HIDDEN.carer_phone,
        "school_urn": HIDDEN.school_urn,
        "school_start_date": born.replace(year=born.year + 4, month=9, day=1).isoformat(),
        "gp_practice_code": HIDDEN.gp_ods,
        "gp_registration_date": born.replace(year=born.year + 1).isoformat(),
        "involvement_1_service_type": "social_worker",
        "involvement_1_organisation": HIDDEN.service_organisation,
        "involvement_1_practitioner_name": HIDDEN.practitioner,
        "involvement_1_practitioner_role": "Social worker",
        "involvement_1_phone": HIDDEN.practitioner_phone,
        "involvement_1_secure_email": HIDDEN.practitioner_email,
        "involvement_1_start_date": born.replace(year=born.year + 6).isoformat(),
        "involvement_1_lead_professional": "yes",
        "sensitive_record": "yes",
    }
    row.update(fields)
    return row


def _build_world(
    make_person: Callable[..., User],
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
) -> World:
    manchester = LocalAuthority.objects.get(ons_code=MANCHESTER)
    School.objects.create(
        urn=HIDDEN.school_urn,
        name=HIDDEN.school_name,
        phase=SchoolPhase.PRIMARY,
        local_authority=manchester,
        postcode="M20 6SX",
        phone=HIDDEN.school_phone,
        email=HIDDEN.school_email,
    )
    GpPractice.objects.create(
        ods_code=HIDDEN.gp_ods,
        name=HIDDEN.gp_name,
        local_authority=manchester,
        postcode="M14 6TZ",
        phone=HIDDEN.gp_phone,
    )
    # Shielded from source on arrival, then reviewed by an officer.
    load_file(source=education, path=write_csv(tmp_path / "1.csv", [_feed_row()]))
    hidden = Child.objects.get()
    assert hidden.is_shielded
    officer = person(make_person, Role.SHIELDING_OFFICER)
    services.review_shield(
        officer=officer,
        child=hidden,
        reason=ShieldingReason.REFUGE,
        justification=f"Mother fled abuse; case {JUSTIFICATION_MARK} held by the refuge team",
    )
    # The 2009 report: a new surname, a new address, a mistyped date of birth, no school.
    born = born_years_ago(8)
    load_file(
        source=health,
        path=write_csv(
            tmp_path / "2.csv",
            [
                _feed_row(
                    source_record_id="NHS-H2",
                    family_name="Hughes",
                    date_of_birth=born.replace(day=born.day + 1).isoformat(),
                    address_line_1=NEW_ADDRESS[0],
                    postcode=NEW_ADDRESS[1],
                    school_urn="",
                    school_start_date="",
                    sensitive_record="",
                )
            ],
        ),
    )
    # It resembles her no more than a stranger would, so it is a new child shielded as a
    # precaution, and a possible-duplicate item asks whether they are one.
    item = ReviewItem.objects.get()
    assert item.kind == ReviewKind.POSSIBLE_DUPLICATE and item.involves_shielded
    assert not Child.objects.filter(is_shielded=False).exists(), "the walk needs a review item"
    # A third report of her (another address), made a separate child by a data-quality
    # officer and later merged into her record: the walk needs a merge to undo.
    load_file(
        source=health,
        path=write_csv(
            tmp_path / "3.csv",
            [
                _feed_row(
                    source_record_id="NHS-H3",
                    family_name="Hughes",
                    date_of_birth=born.replace(day=born.day + 1).isoformat(),
                    address_line_1=MERGED_ADDRESS[0],
                    postcode=MERGED_ADDRESS[1],
                    school_urn="",
                    school_start_date="",
                    gp_practice_code="",
                    gp_registration_date="",
                    involvement_1_service_type="",
                    involvement_1_organisation="",
                    involvement_1_practitioner_name="",
                    involvement_1_practitioner_role="",
                    involvement_1_phone="",
                    involvement_1_secure_email="",
                    involvement_1_start_date="",
                    involvement_1_lead_professional="",
                    sensitive_record="",
                )
            ],
        ),
    )
    data_quality_officer = person(make_person, Role.DATA_QUALITY_OFFICER)
    duplicate = review.create_child_from_record(
        officer=data_quality_officer, item=ReviewItem.objects.exclude(pk=item.pk).get()
    )
    merge = review.merge_children(
        officer=data_quality_officer,
        survivor=hidden,
        absorbed=duplicate,
        reason="The same child reported twice by the health service",
    )
    hidden.refresh_from_db()
    assert hidden.is_shielded

    visible = make_visible_child()
    subject = person(make_person, Role.PRACTITIONER)
    breaker = person(make_person, Role.CHILD_PROTECTION_SOCIAL_WORKER)
    asked = services.ask_to_shield(
        practitioner=subject,
        contactpoint_id=hidden.contactpoint_id,
        summary="Mother has asked the school not to say where they live",
    )
    contact = services.request_contact(
        requester=subject,
        contactpoint_id=hidden.contactpoint_id,
        reply_phone="0161 496 0999",
        reply_email="",
        message="Need to reach the lead professional about attendance",
    )
    grant = services.grant_break_glass(
        user=breaker,
        contactpoint_id=hidden.contactpoint_id,
        reason="Police welfare check requested urgently by the duty manager",
        purpose="safeguarding_concern",
    )
    services.use_break_glass(user=breaker, reference=grant.reference)  # spent before the walk
    alerts = [f"A{pk}" for pk in Alert.objects.values_list("pk", flat=True)]
    events = [
        f"E{seq}"
        for seq in AuditEvent.objects.filter(actor_id__in=[breaker.pk, subject.pk]).values_list(
            "sequence", flat=True
        )
    ]
    codes = {
        # The child's LA, a national partner and the national team: real codes, so that the
        # national team's organisation page is really shown, not answered "not found".
        "web:organisation": [
            Organisation.objects.get(local_authority=manchester).code,
            Organisation.objects.filter(kind=OrganisationKind.NATIONAL_PARTNER)
            .order_by("code")
            .values_list("code", flat=True)[0],
            NATIONAL_TEAM_CODE,
        ],
        "web:review-item": [f"R{item.pk}"],
        "web:review-unmerge": [f"M{merge.pk}"],
        "web:shielding-request": [services.request_reference(asked)],
        "web:shielding-contact": [services.contact_reference(contact)],
        "web:break-glass-view": [grant.reference],
        "web:security-alert": alerts,
        "web:team-alert": alerts,
        "web:security-report-event": events,
        "web:national-report-event": events,
        "api:feed-report": [f"L{pk}" for pk in FeedLoad.objects.values_list("pk", flat=True)],
    }
    fallback = sorted({code for values in codes.values() for code in values})
    return World(hidden, visible, subject, breaker, codes, fallback)


# Routes whose other methods would sign the walk's person out (they still get a GET).
ENDS_THE_SESSION = frozenset({"web:sign-out", "api:token-current"})

# --- The walk -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Route:
    name: str
    callback: Any
    parameters: tuple[str, ...]


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            yield Route(
                f"{namespace}{entry.name}", entry.callback, tuple(entry.pattern.regex.groupindex)
            )


def _urls(route: Route, world: World) -> list[str]:
    """Every URL for the route with real values in its parameters; a new parameter name fails."""
    values: dict[str, list[Any]] = {
        "contactpoint_id": [world.hidden.contactpoint_id, world.visible.contactpoint_id],
        "person_id": [world.subject.pk, world.breaker.pk],
        "code": world.codes.get(route.name, world.fallback_codes),
        "path": ["no-such-asset.css"],
    }
    unknown = set(route.parameters) - set(values)
    assert not unknown, f"{route.name}: give the leak walk values for {sorted(unknown)}"
    urls = [{}]
    for parameter in route.parameters:
        urls = [{**u, parameter: v} for u in urls for v in values[parameter]]
    return [reverse(route.name, kwargs=kwargs) for kwargs in urls]


@dataclasses.dataclass(frozen=True)
class SearchPost:
    body: dict[str, Any]
    kind: str  # "form" or "json"
    # The child the search is made for, and whether it uses a hidden field (postcode,
    # district, local authority): such a search must never find a shielded child.
    looks_for: str
    hidden_field: bool


# Ways of finding the shielded child (by name and date of birth), and ways that use a field
# shielding hides: its full postcode, its postcode district, its local authority.
_HIDDEN_FIELD_CRITERIA: tuple[dict[str, str], ...] = (
    {"postcode": HIDDEN.postcode},
    {"postcode": HIDDEN.postcode.split()[0]},
    {"local_authority": MANCHESTER},
)


def _search_posts(route: Route, world: World) -> list[SearchPost]:
    """Searches that would find the shielded child if nothing stopped them, and one that
    finds the unshielded child by its postcode (the control that proves such searches work)."""
    hidden, visible = world.hidden, world.visible
    if route.name.endswith("-report-child"):
        return [SearchPost({"contactpoint_id": hidden.contactpoint_id}, "form", "", False)]
    if route.name not in {"web:search", "api:child-search"}:
        return []
    web = route.name == "web:search"

    def body(given: str, family: str, **criteria: Any) -> dict[str, Any]:
        born = criteria.pop("born", None)
        if born is not None and web:
            criteria.update(
                date_of_birth_day=str(born.day),
                date_of_birth_month=str(born.month),
                date_of_birth_year=str(born.year),
            )
        elif born is not None:
            criteria["date_of_birth"] = born.isoformat()
        return {"family_name": family, "given_name": given, **criteria}

    kind = "form" if web else "json"
    niamh = ("Niamh", "Calloway")
    posts = [SearchPost(body(*niamh, born=hidden.date_of_birth), kind, "hidden", False)]
    posts += [SearchPost(body(*niamh, **c), kind, "hidden", True) for c in _HIDDEN_FIELD_CRITERIA]
    posts.append(
        SearchPost(
            body("Tobias", "Penhaligon", postcode=visible.addresses.get(kind="current").postcode),
            kind,
            "visible",
            True,
        )
    )
    return posts


@dataclasses.dataclass
class Seen:
    responses: list[tuple[str, str, int, str]] = dataclasses.field(default_factory=list)

    def add(
        self, method: str, url: str, response: Any, typed: dict[str, Any] | None = None
    ) -> None:
        body = b"".join(response.streaming_content) if response.streaming else response.content
        text = body.decode("utf-8", "replace") + "\n" + response.get("Location", "")
        # A form redisplays what the person typed: their own words are not a disclosure.
        for value in (typed or {}).values():
            text = text.replace(str(value), "[typed]")
        self.responses.append((method, url, response.status_code, text))


def _leaks(text: str) -> list[str]:
    found = [value for value in SECRETS if value in text]
    found += [p.pattern for p in SECRET_PATTERNS if p.search(text)]
    return found


def _audit_export(*, typed: set[str]) -> str:
    """Every audit event as an export would write it, less the searcher's own criteria: a search
    is recorded with what the person typed (who searched, with what), which discloses nothing."""
    events = list(AuditEvent.objects.values())
    for event in events:
        criteria = event["detail"].get("criteria") if isinstance(event["detail"], dict) else None
        if isinstance(criteria, dict) and criteria.get("postcode") in typed:
            criteria["postcode"] = "[typed]"
    return json.dumps(events, default=str)


def _people(make_person: Callable[..., User], world: World) -> dict[str, User]:
    """One person per persona; the practitioner and the social worker are the world's, who
    asked for contact and spent a break-glass grant (their own pages must show nothing)."""
    people = {"national_team": person(make_person, Role.NATIONAL_TEAM)}
    for role in Role.values:
        if role != Role.NATIONAL_TEAM:
            people[f"manchester {role}"] = person(make_person, role)
    people["manchester practitioner"] = world.subject
    people[f"manchester {Role.CHILD_PROTECTION_SOCIAL_WORKER}"] = world.breaker
    people["bolton shielding_officer"] = person(make_person, Role.SHIELDING_OFFICER, la=BOLTON)
    people["bolton practitioner"] = person(make_person, Role.PRACTITIONER, la=BOLTON)
    return people


def _clients(user: User | None) -> tuple[Client, Client]:
    if user is None:
        return Client(), Client()
    return web_client(user), api_client(user)


@pytest.fixture
def walk_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The walk makes a person's hour of lookups in seconds: lift the per-minute limit only
    (every hourly, daily and children quota and every monitoring rule still apply)."""
    original = quotas.quota_for

    def quota_for(role: str) -> quotas.RoleQuota | None:
        quota = original(role)
        if quota is None:
            return None
        lookups = {**quota.lookups, quotas.Period.MINUTE: quotas.Limit(soft=10**6, hard=10**6)}
        return dataclasses.replace(quota, lookups=lookups)

    monkeypatch.setattr(quotas, "quota_for", quota_for)


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.usefixtures("walk_pace")
def test_no_shielded_detail_reaches_anyone_without_the_right(
    persona: str,
    make_person: Callable[..., User],
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = _build_world(make_person, education, health, tmp_path)
    user = None if persona == "anonymous" else _people(make_person, world)[persona]
    web, api = _clients(user)
    seen = Seen()
    searches: list[tuple[SearchPost, str]] = []
    caplog.set_level(logging.DEBUG)
    routes = list(_walk(get_resolver().url_patterns))
    assert len(routes) >= 40

    for route in routes:
        assert rule_for_view(route.callback) is not None, route.name
        client = api if route.name.startswith("api:") else web
        for url in _urls(route, world):
            seen.add("GET", url, client.get(url))
            if route.name in ENDS_THE_SESSION:
                continue
            seen.add("POST", url, client.post(url, {}))
            if seen.responses[-1][2] == 405 and seen.responses[-2][2] == 405:
                # Neither GET nor POST: the route takes PUT (or DELETE, which ends a session).
                seen.add("PUT", url, client.put(url, "{}", content_type="application/json"))
            for search in _search_posts(route, world):
                if search.kind == "json":
                    response = client.post(
                        url, json.dumps(search.body), content_type="application/json"
                    )
                else:
                    response = client.post(url, search.body)
                seen.add("POST " + json.dumps(search.body), url, response, typed=search.body)
                searches.append((search, seen.responses[-1][3]))

    # Nothing broke on the way (a server error is a page nobody has checked).
    errors = [(method, url) for method, url, status, _ in seen.responses if status >= 500]
    assert errors == [], errors
    # Pages and API responses: nobody without the right sees any location detail.
    if persona not in ENTITLED:
        leaks = [
            (method, url, status, _leaks(text))
            for method, url, status, text in seen.responses
            if _leaks(text)
        ]
        assert leaks == [], leaks
    # Searching with a hidden field (postcode, district, local authority) never finds the
    # shielded child, for anyone; and the same searches do find an unshielded child, and the
    # shielded one is found by name and date of birth (restricted), by whoever may search.
    hidden_ids = (world.hidden.contactpoint_id, cp_display(world.hidden.contactpoint_id))
    for search, text in searches:
        if search.looks_for == "hidden" and search.hidden_field:
            assert not any(i in text for i in hidden_ids), search.body
    if user is not None and role_has(user.role, Capability.SEARCH_CHILDREN):
        found = {
            (s.looks_for, s.hidden_field)
            for s, text in searches
            if s.looks_for
            and any(
                i in text
                for i in (
                    hidden_ids
                    if s.looks_for == "hidden"
                    else (world.visible.contactpoint_id, cp_display(world.visible.contactpoint_id))
                )
            )
        }
        assert found == {("hidden", False), ("visible", True)}, found

    # Log lines and the audit log hold no location detail, whoever acted.
    assert _leaks(caplog.text) == []
    typed = {c["postcode"] for c in _HIDDEN_FIELD_CRITERIA if "postcode" in c}
    assert _leaks(_audit_export(typed=typed)) == []
    assert _leaks(json.dumps(list(Alert.objects.values()), default=str)) == []

    # The walk really looked: the person was not stopped part-way (quotas, suspension), and
    # what may be shown was shown.
    if user is not None:
        user.refresh_from_db()
        assert not user.is_suspended, user.suspension_reason
    bodies = "\n".join(text for _, _, _, text in seen.responses)
    if persona in {"manchester practitioner", "bolton practitioner"}:
        assert all(value in bodies for value in SHOWN_TO_PRACTITIONERS)
    if persona in ENTITLED:
        assert all(v in bodies for v in (HIDDEN.line_1, HIDDEN.practitioner, MERGED_ADDRESS[0]))


# Routes no person's session can reach, and why the walk cannot show them anything.
UNREACHABLE_BY_PEOPLE = {
    # Only a registered source system's credential opens these, never a person's token; they
    # answer a source about its own loads (outcome, ContactPoint ID and reason per row).
    "api:feed-loads": "source systems only",
    "api:feed-records": "source systems only",
    "api:feed-report": "source systems only",
    # Static files: the walk asks for one that does not exist.
    "govuk-assets": "static files",
}
# Answers that mean the route's view never showed this person anything of substance.
NOT_REACHED = {401, 403, 404, 405}


@pytest.mark.usefixtures("walk_pace")
def test_the_walk_reaches_every_route_with_real_values(
    make_person: Callable[..., User],
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
) -> None:
    """A route whose parameters the walk fills wrongly answers "not found" to everyone, and
    would pass the leak test without ever being looked at: every route must answer someone
    (GET, or an empty POST where only POST is allowed) with something other than a refusal."""
    world = _build_world(make_person, education, health, tmp_path)
    people: dict[str, User | None] = {"anonymous": None, **_people(make_person, world)}
    clients = {name: _clients(user) for name, user in people.items()}
    unreached = []
    for route in _walk(get_resolver().url_patterns):
        if route.name in UNREACHABLE_BY_PEOPLE or route.name in ENDS_THE_SESSION:
            continue
        rule = rule_for_view(route.callback)
        assert rule is not None, route.name
        reached = False
        for name, user in people.items():
            if not rule.admits_role(user.role if user is not None else None):
                continue
            web, api = clients[name]
            client = api if route.name.startswith("api:") else web
            for url in _urls(route, world):
                status = client.get(url).status_code
                if status == 405:
                    status = client.post(url, {}).status_code
                if status == 405:
                    status = client.put(url, "{}", content_type="application/json").status_code
                if status not in NOT_REACHED:
                    reached = True
                    break
            if reached:
                break
        if not reached:
            unreached.append(route.name)
    assert unreached == [], unreached
