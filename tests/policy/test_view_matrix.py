"""Every role x record state x channel sees exactly the fields the rules allow (issue 4).

The classes of fields come from the policy's own table (access.policy.FIELD_CLASSES), so a new
class is checked here automatically; the expectation below is written independently from the
rules in the issue, not from the policy's code. Each class has sample values from the test
child: when the class is hidden, none of them may appear anywhere in the response.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from tests.policy.states import (
    ROLES,
    STATES,
    api_client,
    make_child_in_state,
    make_person_for,
    web_client,
)

from contactpoint.access.models import User
from contactpoint.access.policy import FIELD_CLASSES, FieldClass, project_child, viewer_for
from contactpoint.audit.models import AuditEvent
from contactpoint.search.audit_actions import SearchAction
from contactpoint.search.selectors import get_child_for_view

pytestmark = pytest.mark.django_db

CHANNELS = ("policy", "web", "api")

# Values from the test child (tests/policy/states.py) that only their class may show.
SAMPLES: dict[str, tuple[str, ...]] = {
    FieldClass.IDENTITY: ("Amelia",),
    FieldClass.STATUS: ("Current address known", "current_address"),
    FieldClass.OTHER_NAMES: ("Hughes",),
    FieldClass.RESPONSIBLE_LA: ("E08000003", "E08000001"),
    FieldClass.ADDRESSES: ("Victoria Road", "Fallowfield", "5AB"),
    FieldClass.CARERS: ("Sarah", "07700 900123"),
    FieldClass.SCHOOL: ("Ladybarn", "105432"),
    FieldClass.GP_PRACTICE: ("Wilmslow Road", "P84999"),
    FieldClass.INVOLVEMENTS: ("Priya Shah", "0161 496 0789"),
    FieldClass.ASSESSMENT_INDICATOR: ("Common Assessment Framework", "held_by"),
    FieldClass.SENSITIVE_SERVICE_MARKER: ("A sensitive service is involved",),
    FieldClass.SENSITIVE_SERVICE_DETAILS: ("CAMHS", "0161 496 0999"),
    FieldClass.SHIELDED_NOTICE: ("This record is shielded",),
}
EVERYTHING = {
    FieldClass.IDENTITY,
    FieldClass.STATUS,
    FieldClass.OTHER_NAMES,
    FieldClass.RESPONSIBLE_LA,
    FieldClass.ADDRESSES,
    FieldClass.CARERS,
    FieldClass.SCHOOL,
    FieldClass.GP_PRACTICE,
    FieldClass.INVOLVEMENTS,
    FieldClass.ASSESSMENT_INDICATOR,
}
RESTRICTED = {FieldClass.IDENTITY, FieldClass.SHIELDED_NOTICE}
REFUSED = "refused"  # the role may not view children at all: the gates answer 403


def expected(role: str, state: str) -> set[str] | str | None:
    """What the issue's rules say this role sees of a child in this state (None: not found)."""
    if role in {"la_administrator", "security_officer"}:
        return REFUSED
    if state == "archived_recent" and role not in {"data_quality_officer", "national_team"}:
        return None
    if state == "archived_old" and role != "national_team":
        return None
    if state == "shielded" and role not in {"shielding_officer", "national_team"}:
        return set(RESTRICTED)
    if state == "shielded_other_la" and role != "national_team":
        return set(RESTRICTED)
    shown = set(EVERYTHING)
    if state in {"sensitive_service", "shielded", "shielded_other_la"}:
        if role == "sensitive_service_practitioner":
            shown.add(FieldClass.SENSITIVE_SERVICE_DETAILS)
        else:
            shown.add(FieldClass.SENSITIVE_SERVICE_MARKER)
    return shown


def test_every_class_of_fields_has_samples_to_check() -> None:
    assert {rule.field_class for rule in FIELD_CLASSES} == set(SAMPLES) == set(FieldClass)


def _assert_hidden_absent(text: str, shown: set[str]) -> None:
    # A random CSRF token could contain a short sample such as "5AB" by chance.
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", text)
    for field_class, samples in SAMPLES.items():
        if field_class not in shown:
            for sample in samples:
                assert sample not in text, (field_class, sample)


def _check_policy(person: User, child_id: str, want: set[str] | str | None) -> None:
    child = get_child_for_view(child_id)
    assert child is not None
    projection = project_child(
        viewer=viewer_for(person), child=child, purpose="safeguarding_concern"
    )
    if want in (None, REFUSED):
        assert projection is None
        return
    assert isinstance(want, set)
    assert set(projection.field_classes) == want
    for rule in FIELD_CLASSES:
        value = getattr(projection, rule.field_class.value)
        assert (value is not None) == (rule.field_class in want), rule.field_class
    _assert_hidden_absent(repr(projection), want)


def _check_web(client: Client, child_id: str, want: set[str] | str | None) -> None:
    response = client.get(f"/children/{child_id}")
    body = response.content.decode()
    if want == REFUSED:
        assert response.status_code == 403
        _assert_hidden_absent(body, set())
        return
    if want is None:
        assert response.status_code == 404
        _assert_hidden_absent(body, set())
        return
    assert response.status_code == 200
    assert isinstance(want, set)
    assert (
        response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]
    )
    for rule in FIELD_CLASSES:
        marker = f'data-field-class="{rule.field_class}"'
        assert (marker in body) == (rule.field_class in want), rule.field_class
    _assert_hidden_absent(body, want)


def _check_api(client: Client, child_id: str, want: set[str] | str | None) -> None:
    response = client.get(f"/api/v1/children/{child_id}")
    text = response.content.decode()
    if want == REFUSED:
        assert response.status_code == 403
        return
    if want is None:
        assert response.status_code == 404
        _assert_hidden_absent(text, set())
        return
    assert response.status_code == 200, text
    assert isinstance(want, set)
    body: dict[str, Any] = response.json()
    assert set(body["shown"]) == want
    for rule in FIELD_CLASSES:
        assert (body[rule.field_class] is not None) == (rule.field_class in want), rule.field_class
    _assert_hidden_absent(text, want)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_what_the_rules_allow(
    role: str, state: str, channel: str, make_person: Callable[..., User]
) -> None:
    child = make_child_in_state(state)
    person = make_person_for(role, make_person)
    want = expected(role, state)

    if channel == "policy":
        _check_policy(person, child.contactpoint_id, want)
    elif channel == "web":
        _check_web(web_client(person), child.contactpoint_id, want)
    else:
        _check_api(api_client(person), child.contactpoint_id, want)

    if channel != "policy" and want != REFUSED:
        event = AuditEvent.objects.get(action=SearchAction.VIEW)  # exactly one per view
        assert event.subject_contactpoint_id == child.contactpoint_id
        assert event.actor_id == person.pk
        assert event.purpose == "safeguarding_concern"
        if isinstance(want, set):
            assert event.detail["shown"] == sorted(want)
        else:
            assert event.outcome == "not_found"
