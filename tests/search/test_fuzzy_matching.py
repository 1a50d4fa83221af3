"""Each way a practitioner gets a child's name or date wrong still finds the child (issue 4)."""

from __future__ import annotations

import pytest
from tests.search.children import born, make_child
from tests.search.support import found_ids, search

from contactpoint.search.audit_actions import SearchOutcome
from contactpoint.search.scoring import Band

pytestmark = pytest.mark.django_db


def test_exact_name_and_date_of_birth_is_a_strong_match() -> None:
    child = make_child("Amelia Rose", "O'Neill", born(7, 3, 14))

    results = search(family_name="O'Neill", given_name="Amelia", date_of_birth=born(7, 3, 14))

    assert found_ids(results) == [child.contactpoint_id]
    assert results.rows[0].band == Band.STRONG


@pytest.mark.parametrize(
    ("recorded_given", "recorded_family", "typed_given", "typed_family", "kind"),
    [
        ("Amelia", "Thompson", "Amelia", "Tompson", "typing error: a letter missed"),
        ("Amelia", "Thompson", "Amelia", "Thopmson", "typing error: letters transposed"),
        ("Olivia", "Richardson", "Olivai", "Richardson", "typing error in the given name"),
        ("Jayden", "Smith", "Jaden", "Smyth", "phonetic variants of both names"),
        ("Katherine", "Stephenson", "Catherine", "Stevenson", "phonetic variants"),
        ("Robert", "Hughes", "Bob", "Hughes", "nickname"),
        ("Elizabeth", "Khan", "Lizzie", "Khan", "nickname"),
        ("Alfred", "Nowak", "Alfie", "Nowak", "nickname"),
        ("Amelia", "O'Neill", "Amelia", "ONEILL", "apostrophe and case"),
        ("Amelia", "O'Neill", "amelia", "o neill", "apostrophe as a space, lower case"),
        ("Zoë", "Müller", "Zoe", "Muller", "accents"),
        ("Chloe", "Smith-Jones", "Chloe", "Jones", "one part of a hyphenated surname"),
        ("Chloe", "Smith-Jones", "Chloe", "Smith Jones", "double-barrelled without the hyphen"),
        ("Chloe", "Jones", "Chloe", "Smith-Jones", "hyphenated search, one part recorded"),
        ("Mary-Jane", "Okafor", "Mary Jane", "Okafor", "hyphenated given name as two words"),
        ("Harry", "Patel", "Patel", "Harry", "given and family names swapped"),
        ("Elijah", "Wright", "Eli", "Wright", "a short form of the given name"),
        ("Zoe", "Wright", "Zo", "Wright", "a letter missed from a short name"),
        ("Amelia Rose", "Wright", "Rose", "Wright", "known by the middle name"),
    ],
    ids=lambda value: value if isinstance(value, str) and " " in value else None,
)
def test_each_kind_of_fuzziness_finds_the_child(
    recorded_given: str, recorded_family: str, typed_given: str, typed_family: str, kind: str
) -> None:
    child = make_child(recorded_given, recorded_family, born(9, 6, 21))
    make_child("Isla", "Brown", born(9, 6, 21))  # born the same day: must not be confused

    results = search(family_name=typed_family, given_name=typed_given, date_of_birth=born(9, 6, 21))

    assert found_ids(results) == [child.contactpoint_id], kind


def test_a_former_name_finds_the_child() -> None:
    child = make_child("Amelia", "O'Neill", born(7, 3, 14), former=(("Amelia", "Hughes"),))

    results = search(family_name="Hughes", given_name="Amelia", date_of_birth=born(7, 3, 14))

    assert found_ids(results) == [child.contactpoint_id]
    assert results.rows[0].family_name == "O'Neill"  # shown under the current name


def test_day_and_month_swapped_finds_the_child() -> None:
    child = make_child("Noah", "Kowalski", born(5, 4, 11))

    results = search(family_name="Kowalski", given_name="Noah", date_of_birth=born(5, 11, 4))

    assert found_ids(results) == [child.contactpoint_id]


def test_one_part_of_the_date_wrong_finds_the_child_as_a_possible_match() -> None:
    child = make_child("Noah", "Kowalski", born(5, 4, 11))

    results = search(family_name="Kowalski", given_name="Noah", date_of_birth=born(5, 4, 17))

    assert found_ids(results) == [child.contactpoint_id]
    assert results.rows[0].band == Band.POSSIBLE


def test_family_name_and_a_wrong_date_alone_find_nothing() -> None:
    make_child("Noah", "Kowalski", born(5, 4, 11))

    results = search(family_name="Kowalski", date_of_birth=born(5, 4, 17))

    assert results.outcome == SearchOutcome.NO_MATCHES and results.rows == ()


@pytest.mark.parametrize("partial", ["year", "month"])
def test_a_partial_date_of_birth_with_both_names_finds_the_child(partial: str) -> None:
    child = make_child("Freya", "Nguyen", born(11, 8, 2))
    make_child("Freya", "Nguyen", born(8, 8, 2))  # another year: outside the search
    typed = born(11, 8, 2).isoformat()[: 4 if partial == "year" else 7]

    results = search(family_name="Nguyen", given_name="Freya", date_of_birth=typed)

    assert found_ids(results) == [child.contactpoint_id]


def test_an_age_range_finds_the_child() -> None:
    child = make_child("Freya", "Nguyen", born(11, 1, 2))

    results = search(family_name="Nguen", given_name="Freya", age_from=9, age_to=11)

    assert found_ids(results) == [child.contactpoint_id]


def test_a_postcode_finds_the_child_despite_a_misspelt_name() -> None:
    child = make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="M14 5AB")
    make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="BL1 4QR", la="E08000001")

    results = search(family_name="Wojick", given_name="Olly", postcode="m14 5ab")

    assert found_ids(results) == [child.contactpoint_id]


def test_a_previous_address_postcode_finds_the_child() -> None:
    child = make_child("Oliver", "Wojcik", born(6, 2, 9), previous_postcode="M20 2QQ")

    results = search(family_name="Wojcik", given_name="Oliver", postcode="M20 2QQ")

    assert found_ids(results) == [child.contactpoint_id]


def test_a_postcode_district_or_local_authority_finds_the_child() -> None:
    child = make_child("Oliver", "Wojcik", born(6, 2, 9), postcode="M14 5AB")

    by_district = search(family_name="Wojcik", given_name="Oliver", postcode="M14")
    by_authority = search(family_name="Wojcik", given_name="Oliver", local_authority="E08000003")

    assert found_ids(by_district) == found_ids(by_authority) == [child.contactpoint_id]


def test_strong_matches_rank_before_possible_ones() -> None:
    exact = make_child("Jack", "Taylor", born(8, 5, 5))
    near = make_child("Jake", "Taylor", born(8, 5, 5))

    results = search(family_name="Taylor", given_name="Jack", date_of_birth=born(8, 5, 5))

    assert found_ids(results) == [exact.contactpoint_id, near.contactpoint_id]
    assert results.rows[0].band == Band.STRONG


def test_a_result_shows_the_postcode_district_never_the_address() -> None:
    make_child("Amelia", "O'Neill", born(7, 3, 14), postcode="M14 5AB")

    row = search(family_name="O'Neill", date_of_birth=born(7, 3, 14)).rows[0]

    assert row.postcode_district == "M14"
    assert "5AB" not in repr(row) and "Victoria" not in repr(row)


def test_with_only_names_to_go_on_a_loosely_similar_name_is_not_a_match() -> None:
    make_child("Theo", "Richards", born(6, 1, 2))  # two edits from Richardson

    by_year = search(
        family_name="Richardson", given_name="Theo", date_of_birth=str(born(6, 1, 2).year)
    )
    by_date = search(family_name="Richardson", given_name="Theo", date_of_birth=born(6, 1, 2))

    assert by_year.outcome == SearchOutcome.NO_MATCHES
    assert [row.band for row in by_date.rows] == [Band.POSSIBLE]  # the date makes it worth showing
