"""Every route has an access rule, and every role gets exactly what its rule says.

The routes are read from the URL configuration, so a new page or endpoint is covered here
without anyone remembering to add it; one without a rule fails the first test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from tests.conftest import sign_in_client

from contactpoint.access import services
from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.rules import AccessRule, RuleKind, rule_for_view
from contactpoint.access.selectors import PURPOSE_SESSION_KEY


@dataclass(frozen=True)
class Route:
    name: str
    callback: Any
    parameters: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return self.name.startswith("api:")


def walk(patterns: list[Any], namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern):
            parameters = tuple(entry.pattern.regex.groupindex)
            yield Route(f"{namespace}{entry.name}", entry.callback, parameters)


def all_routes(urlconf: str | None = None) -> list[Route]:
    return list(walk(get_resolver(urlconf).url_patterns))


def routes_without_rules(urlconf: str | None = None) -> list[str]:
    return [route.name for route in all_routes(urlconf) if rule_for_view(route.callback) is None]


def test_every_route_declares_an_access_rule() -> None:
    assert routes_without_rules() == []


def test_the_check_would_catch_a_route_without_a_rule() -> None:
    assert routes_without_rules("tests.access.urls_without_rule") == ["forgotten"]


@pytest.mark.django_db
@override_settings(ROOT_URLCONF="tests.access.urls_without_rule")
def test_a_route_without_a_rule_is_refused_even_to_everyone(db: None) -> None:
    response = Client().get("/forgotten")
    assert response.status_code == 403 and b"secret" not in response.content


def test_every_api_view_applies_the_access_rule_permission() -> None:
    from contactpoint.api.permissions import MeetsAccessRule

    for route in all_routes():
        view_class = getattr(route.callback, "cls", None)
        if view_class is not None:
            permissions = view_class().get_permissions()
            assert any(isinstance(p, MeetsAccessRule) for p in permissions), route.name


# --- The role x route matrix ---------------------------------------------------------------------

ROLES: list[str | None] = [None, *Role.values]  # None: not signed in


@pytest.fixture
def people(make_person: Callable[..., User]) -> dict[str, User]:
    national_team = Organisation.objects.get(code="national-team")
    return {
        role: make_person(
            role=role, organisation=national_team if role == Role.NATIONAL_TEAM else None
        )
        if role == Role.NATIONAL_TEAM
        else make_person(role=role)
        for role in Role.values
    }


def _url(route: Route, subject: User) -> str:
    values = {
        "person_id": subject.pk,
        "code": "barnardos",
        "path": "no-such-asset.css",
        "contactpoint_id": "1234-5678-9012",
    }
    return reverse(route.name, kwargs={p: values[p] for p in route.parameters})


def _client_for(role: str | None, route: Route, people: dict[str, User]) -> Client:
    client = Client()
    if role is None:
        return client
    person = people[role]
    if route.is_api:
        issued = services.issue_api_token(user=person, ip_address=None)
        issued.token.purpose = "new_referral"
        issued.token.save()
        return Client(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    sign_in_client(client, person)
    session = client.session
    session[PURPOSE_SESSION_KEY] = {"reason": "new_referral", "other": ""}
    session.save()
    return client


def _refused(response: Any, role: str | None, route: Route) -> bool:
    if role is None:
        if route.is_api:
            return response.status_code == 401
        return response.status_code == 302 and response["Location"].startswith("/sign-in?next=")
    return response.status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES, ids=lambda r: r or "anonymous")
def test_each_role_reaches_exactly_the_routes_its_rules_admit(
    role: str | None, people: dict[str, User], make_person: Callable[..., User]
) -> None:
    subject = make_person()  # a Manchester practitioner, for routes about one person
    checked = 0
    for route in all_routes():
        rule = rule_for_view(route.callback)
        assert isinstance(rule, AccessRule)
        response = _client_for(role, route, people).get(_url(route, subject))
        if rule.admits_role(role):
            assert response.status_code not in (401, 403), (role, route.name, response.status_code)
            if rule.kind is not RuleKind.PUBLIC:
                assert not _refused(response, role, route), (role, route.name)
                assert "/sign-in" not in response.get("Location", ""), (role, route.name)
        else:
            assert _refused(response, role, route), (role, route.name, response.status_code)
        checked += 1
    assert checked >= 25
