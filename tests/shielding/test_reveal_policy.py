"""The view policy's break-glass hook: a reveal lifts the shield for one viewer and one child only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from tests.policy.states import make_child_in_state

from contactpoint.access.models import User
from contactpoint.access.policy import (
    BreakGlassReveal,
    FieldClass,
    ViewMode,
    project_child,
    viewer_for,
)
from contactpoint.access.roles import Capability, Role, role_has
from contactpoint.search.selectors import get_child_for_view

pytestmark = pytest.mark.django_db
PURPOSE = "safeguarding_concern"


def _project(person: User, contactpoint_id: str, reveal: BreakGlassReveal | None):
    child = get_child_for_view(contactpoint_id)
    assert child is not None
    return project_child(viewer=viewer_for(person), child=child, purpose=PURPOSE, reveal=reveal)


def test_only_the_break_glass_roles_have_the_capability() -> None:
    assert {r for r in Role.values if role_has(r, Capability.BREAK_GLASS)} == {
        Role.CHILD_PROTECTION_SOCIAL_WORKER,
        Role.POLICE_LIAISON,
    }


def test_a_reveal_shows_a_shielded_record_whole_to_its_holder(
    make_person: Callable[..., User],
) -> None:
    child = make_child_in_state("shielded")
    worker = make_person(role=Role.CHILD_PROTECTION_SOCIAL_WORKER)
    reveal = BreakGlassReveal(grant_id=1, user_id=worker.pk, contactpoint_id=child.contactpoint_id)
    without = _project(worker, child.contactpoint_id, None)
    with_reveal = _project(worker, child.contactpoint_id, reveal)
    assert without is not None and without.mode is ViewMode.RESTRICTED
    assert with_reveal is not None and with_reveal.mode is ViewMode.FULL
    assert FieldClass.ADDRESSES in with_reveal.field_classes
    assert with_reveal.addresses and with_reveal.addresses[0].line_1 == "14 Victoria Road"


@pytest.mark.parametrize(
    "change",
    ["another person", "another child", "a role without break-glass"],
)
def test_a_reveal_does_nothing_for_anyone_or_anything_else(
    make_person: Callable[..., User], change: str
) -> None:
    child = make_child_in_state("shielded")
    role = Role.PRACTITIONER if change == "a role without break-glass" else Role.POLICE_LIAISON
    viewer = make_person(role=role)
    reveal = BreakGlassReveal(grant_id=1, user_id=viewer.pk, contactpoint_id=child.contactpoint_id)
    if change == "another person":
        reveal = dataclasses.replace(reveal, user_id=viewer.pk + 1000)
    if change == "another child":
        reveal = dataclasses.replace(reveal, contactpoint_id="000000000000")
    projection = _project(viewer, child.contactpoint_id, reveal)
    assert projection is not None and projection.mode is ViewMode.RESTRICTED
    assert projection.addresses is None and projection.carers is None


def test_a_reveal_does_not_open_an_archived_record(make_person: Callable[..., User]) -> None:
    child = make_child_in_state("archived_recent")
    type(child).objects.filter(pk=child.pk).update(is_shielded=True)
    worker = make_person(role=Role.CHILD_PROTECTION_SOCIAL_WORKER)
    reveal = BreakGlassReveal(grant_id=1, user_id=worker.pk, contactpoint_id=child.contactpoint_id)
    assert _project(worker, child.contactpoint_id, reveal) is None
