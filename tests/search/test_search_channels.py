"""Search and the record view through the web pages and the API: answers, refusals, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.policy.states import api_client, web_client
from tests.search.children import born, make_child

from contactpoint.access.models import User
from contactpoint.audit.models import AuditEvent
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.search.audit_actions import SearchAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(make_person: Callable[..., User]) -> Client:
    return web_client(make_person())


@pytest.fixture
def api(make_person: Callable[..., User]) -> Client:
    return api_client(make_person())


def _web_search(client: Client, **fields: Any) -> Any:
    return client.post("/search", fields)


def _api_search(client: Client, **fields: Any) -> Any:
    return client.post(
        "/api/v1/children/search", json.dumps(fields), content_type="application/json"
    )


def _search_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=SearchAction.SEARCH))


# --- Web ---------------------------------------------------------------------------------------


def test_the_search_page_lists_matches_linking_to_the_record(web: Client) -> None:
    child = make_child("Amelia", "O'Neill", born(7, 3, 14), postcode="M20 2QQ")
    day = born(7, 3, 14)

    response = _web_search(
        web,
        family_name="ONeill",
        date_of_birth_day=day.day,
        date_of_birth_month=day.month,
        date_of_birth_year=day.year,
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert f'href="/children/{child.contactpoint_id}"' in body
    assert "M20" in body and "2QQ" not in body  # the district, never the full postcode
    assert response["Cache-Control"] and "no-store" in response["Cache-Control"]
    assert len(_search_events()) == 1


def test_criteria_in_a_url_are_ignored(web: Client) -> None:
    make_child("Amelia", "O'Neill", born(7, 3, 14))

    response = web.get("/search?family_name=ONeill&date_of_birth_year=2019")

    assert response.status_code == 200
    assert 'data-testid="search-results"' not in response.content.decode()
    assert _search_events() == []


def test_an_unspecific_search_page_says_what_to_add(web: Client) -> None:
    response = _web_search(web, family_name="Smith")

    assert response.status_code == 400
    assert "Add their date of birth" in response.content.decode()


def test_too_many_matches_on_the_page_shows_no_list(web: Client) -> None:
    day = born(8, 5, 5)
    for name in (
        "Jack",
        "Jake",
        "Jacob",
        "Jay",
        "Jackson",
        "Jaxon",
        "Jakob",
        "Jace",
        "Jax",
        "Jacques",
        "Jak",
    ):
        make_child(name, "Taylor", day)

    response = _web_search(
        web,
        family_name="Taylor",
        date_of_birth_day=day.day,
        date_of_birth_month=day.month,
        date_of_birth_year=day.year,
    )

    body = response.content.decode()
    assert "Too many matches" in body
    assert 'data-testid="search-result"' not in body and "/children/" not in body


@pytest.mark.parametrize(
    "fields",
    [
        {"family_name": "<script>alert('x')</script>", "date_of_birth_year": "2015"},
        {"family_name": "Smith", "date_of_birth_day": "<b>", "date_of_birth_year": "2015"},
        {"family_name": "Smith' OR '1'='1", "date_of_birth_year": "2015"},
        {"family_name": "Smith\x07", "date_of_birth_year": "2015"},
        {"family_name": "S" * 5000, "date_of_birth_year": "2015"},
        {
            "family_name": "Smith",
            "date_of_birth_day": "31",
            "date_of_birth_month": "2",
            "date_of_birth_year": "2015",
        },
        {"family_name": "Smith", "given_name": "Jack", "postcode": "<img src=x>"},
        {"family_name": "Smith", "given_name": "Jack", "local_authority": "<svg onload=x>"},
        {"family_name": "Smith", "given_name": "Jack", "age_from": "-1", "age_to": "2"},
    ],
)
def test_bad_input_on_the_page_is_a_400_that_echoes_nothing_unescaped(
    web: Client, fields: dict[str, str]
) -> None:
    response = _web_search(web, **fields)

    body = response.content.decode()
    assert response.status_code == 400
    assert 'class="govuk-error-summary"' in body
    for dangerous in ("<script>alert", "<b>", "<img src=x>", "<svg onload", "\x07"):
        assert dangerous not in body


def test_the_record_page_answers_bad_and_unknown_ids_with_4xx(web: Client) -> None:
    unknown = cp_id.with_check_digit("12345678901")

    assert web.get(f"/children/{unknown}").status_code == 404
    bad = web.get("/children/1234-5678-9013")  # wrong check digit
    assert bad.status_code == 400 and "mistyped digit" in bad.content.decode()
    scripted = web.get("/children/%3Cscript%3Ealert(1)")
    assert scripted.status_code == 400 and "<script>alert" not in scripted.content.decode()
    assert web.get("/children/%3Cscript%3E%2F").status_code == 404  # a slash: no such page


# --- API ---------------------------------------------------------------------------------------


def test_the_api_search_answers_rows_with_bands(api: Client) -> None:
    child = make_child("Amelia", "O'Neill", born(7, 3, 14))

    response = _api_search(
        api, family_name="O'Neill", given_name="Amelia", date_of_birth=born(7, 3, 14).isoformat()
    )

    body = response.json()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    assert body["outcome"] == "matches"
    assert [r["contactpoint_id"] for r in body["results"]] == [child.contactpoint_id]
    assert (
        body["results"][0]["band"] == "strong" and body["results"][0]["postcode_district"] == "M14"
    )
    event = _search_events()[0]
    assert event.detail["returned"] == [child.contactpoint_id]
    assert event.detail["criteria"]["family_name"] == "O'Neill"


def test_the_api_refuses_unspecific_criteria_saying_what_to_add(api: Client) -> None:
    response = _api_search(api, family_name="Smith", given_name="Jack")

    assert response.status_code == 400
    assert "Add one of" in response.json()["detail"]


def test_the_api_search_takes_no_purpose_from_the_request(api: Client) -> None:
    response = _api_search(
        api, family_name="Smith", date_of_birth="2015-03-04", purpose="other: someone else's"
    )

    assert response.status_code == 400
    assert _search_events() == []


def test_the_api_search_is_post_only(api: Client) -> None:
    assert (
        api.get("/api/v1/children/search?family_name=Smith&date_of_birth=2015-03-04").status_code
        == 405
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"family_name": "Smith", "date_of_birth": "04/03/2015"}, "date_of_birth"),
        ({"family_name": "Smith", "date_of_birth": "2015-02-30"}, "date_of_birth"),
        ({"family_name": "x" * 101, "date_of_birth": "2015"}, "family_name"),
        ({"family_name": "Smith\u0000", "date_of_birth": "2015"}, "family_name"),
        ({"family_name": "Smith\u202e", "date_of_birth": "2015"}, "family_name"),
        (
            {"family_name": "'; DROP TABLE audit_auditevent; --", "date_of_birth": "2015"},
            "family_name",
        ),
        ({"family_name": "<script>x</script>", "date_of_birth": "2015"}, "family_name"),
        (
            {"family_name": "Smith", "given_name": "Jack", "age_from": "seven", "age_to": 9},
            "age_from",
        ),
        ({"family_name": "Smith", "given_name": "Jack", "postcode": "ZZ"}, "postcode"),
    ],
)
def test_bad_input_on_the_api_is_a_400_naming_the_field(
    api: Client, fields: dict[str, Any], field: str
) -> None:
    response = _api_search(api, **fields)

    assert response.status_code == 400
    assert field in response.json()
    assert "<script>" not in response.content.decode()


def test_the_api_view_answers_bad_and_unknown_ids(api: Client) -> None:
    unknown = cp_id.with_check_digit("12345678901")

    missing = api.get(f"/api/v1/children/{unknown}")
    bad = api.get("/api/v1/children/not-an-id")

    assert missing.status_code == 404 and "no child" in missing.json()["detail"]
    assert bad.status_code == 400 and "12 digits" in bad.json()["detail"]
    assert AuditEvent.objects.get(action=SearchAction.VIEW).outcome == "not_found"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    family_name=st.text(max_size=120),
    given_name=st.text(max_size=30),
    date_of_birth=st.text(max_size=12),
    postcode=st.text(max_size=12),
)
def test_no_input_makes_the_api_search_fail_with_a_500(
    api: Client, family_name: str, given_name: str, date_of_birth: str, postcode: str
) -> None:
    response = _api_search(
        api,
        family_name=family_name,
        given_name=given_name,
        date_of_birth=date_of_birth,
        postcode=postcode,
    )

    assert response.status_code in (200, 400), response.content[:300]


# --- Fail closed -------------------------------------------------------------------------------


def _audit_fails(*args: Any, **kwargs: Any) -> None:
    raise DatabaseError("audit log unavailable")


# Where the write fails: as the event is recorded, or where it reaches the database (at once,
# or on PostgreSQL with the COMMIT).
AUDIT_FAILURES = {
    "recording": ["contactpoint.audit.services.AuditedTransaction.record"],
    "writing": [
        "contactpoint.audit.services.record_event",
        "contactpoint.audit.services._send_events_and_commit",
    ],
}


@pytest.mark.parametrize(
    "failing",
    [
        "recording",
        # In a real transaction, so that on PostgreSQL the event goes with the COMMIT.
        pytest.param("writing", marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_when_the_audit_cannot_be_written_nothing_is_shown(
    web: Client, api: Client, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    child = make_child("Amelia", "O'Neill", born(7, 3, 14))
    for target in AUDIT_FAILURES[failing]:
        monkeypatch.setattr(target, _audit_fails)

    page = web.get(f"/children/{child.contactpoint_id}")
    endpoint = api.get(f"/api/v1/children/{child.contactpoint_id}")
    searched = _api_search(api, family_name="O'Neill", date_of_birth=born(7, 3, 14).isoformat())

    assert page.status_code == endpoint.status_code == searched.status_code == 503
    for response in (page, endpoint, searched):
        assert "Amelia" not in response.content.decode()
        assert child.contactpoint_id not in response.content.decode()
