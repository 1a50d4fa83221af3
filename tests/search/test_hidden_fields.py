"""A search by postcode or local authority never surfaces a shielded child (the S-flag rule)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from tests.search.children import born, make_child
from tests.search.support import found_ids, search

from contactpoint.access.roles import Role
from contactpoint.index.vocabularies import ChildStatus
from contactpoint.search.audit_actions import SearchOutcome

pytestmark = pytest.mark.django_db

HIDDEN_FIELD_SEARCHES = {
    "full postcode": {"postcode": "M14 5AB"},
    "postcode district": {"postcode": "M14"},
    "local authority": {"local_authority": "E08000003"},
    "postcode with date of birth": {"postcode": "M14 5AB", "date_of_birth": born(6, 2, 9)},
}


@pytest.mark.parametrize("role", [Role.PRACTITIONER, Role.SHIELDING_OFFICER, Role.NATIONAL_TEAM])
@pytest.mark.parametrize("how", sorted(HIDDEN_FIELD_SEARCHES))
def test_search_by_a_hidden_field_never_returns_a_shielded_child(how: str, role: str) -> None:
    make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="M14 5AB", is_shielded=True)

    results = search(role, family_name="Wojcik", given_name="Oliver", **HIDDEN_FIELD_SEARCHES[how])

    assert results.outcome == SearchOutcome.NO_MATCHES and results.rows == ()


def test_hidden_shielded_children_do_not_count_towards_too_many() -> None:
    """Otherwise "too many" versus a short list would reveal that shielded children are there."""
    for given in (
        "Oliver",
        "Olly",
        "Ollie",
        "Oli",
        "Olivier",
        "Oliwer",
        "Olivar",
        "Oliverr",
        "Olliver",
        "Oiver",
        "Olver",
    ):
        make_child(given, "Wojcik", born(6, 2, 9), postcode="M14 5AB", is_shielded=True)
    visible = make_child("Oliver", "Wojcik", born(6, 3, 9), postcode="M14 5AB")

    results = search(family_name="Wojcik", given_name="Oliver", postcode="M14 5AB")

    assert found_ids(results) == [visible.contactpoint_id]


def test_a_shielded_child_is_found_by_name_and_date_of_birth_showing_only_name_gender_and_date() -> (
    None
):
    child = make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="M14 5AB", is_shielded=True)

    row = search(family_name="Wojcik", given_name="Oliver", date_of_birth=born(6, 2, 9)).rows[0]

    assert row.contactpoint_id == child.contactpoint_id
    assert (row.given_names, row.family_name, row.date_of_birth) == (
        "Oliver",
        "Wojcik",
        born(6, 2, 9),
    )
    assert row.restricted and row.postcode_district is None and row.status_label is None


def test_the_las_shielding_officer_sees_the_shielded_childs_district_in_results() -> None:
    make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="M14 5AB", is_shielded=True)

    row = search(Role.SHIELDING_OFFICER, family_name="Wojcik", date_of_birth=born(6, 2, 9)).rows[0]

    assert not row.restricted and row.postcode_district == "M14"


def test_archived_children_are_not_found_by_practitioners() -> None:
    archived_on = timezone.localdate() - dt.timedelta(days=30)
    child = make_child(
        "Oliver", "Wojcik", born(17, 2, 9), status=ChildStatus.ARCHIVED, archived_on=archived_on
    )

    by_practitioner = search(family_name="Wojcik", date_of_birth=born(17, 2, 9))
    by_data_quality_officer = search(
        Role.DATA_QUALITY_OFFICER, family_name="Wojcik", date_of_birth=born(17, 2, 9)
    )

    assert by_practitioner.rows == ()
    assert found_ids(by_data_quality_officer) == [child.contactpoint_id]


def test_deceased_and_left_england_children_are_found_and_marked() -> None:
    died = make_child(
        "Oliver",
        "Wojcik",
        born(6, 2, 9),
        status=ChildStatus.DECEASED,
        died_on=timezone.localdate() - dt.timedelta(days=10),
    )

    row = search(family_name="Wojcik", date_of_birth=born(6, 2, 9)).rows[0]

    assert row.contactpoint_id == died.contactpoint_id and row.status_label == "Deceased"
