"""Searches must be specific; broad ones are refused or answered "too many", never listed."""

from __future__ import annotations

import pytest
from django.test import override_settings
from tests.search.children import born, make_child
from tests.search.support import criteria, found_ids, search, viewer

from contactpoint.audit.models import AuditEvent
from contactpoint.search.audit_actions import SearchAction, SearchOutcome
from contactpoint.search.criteria import (
    CriteriaRefused,
    InvalidCriteria,
    check_specific,
)
from contactpoint.search.services import (
    MAX_RESULT_CAP,
    TOO_MANY_MESSAGE,
    result_cap,
    search_children,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("words", "advice"),
    [
        ({"family_name": "Smith"}, "Add their date of birth, or their given name and one of"),
        ({"family_name": "Smith", "given_name": "Jack"}, "Add one of: their date of birth"),
        ({"family_name": "Smith", "date_of_birth": "2015"}, "their given name, or their full date"),
        ({"family_name": "Smith", "postcode": "M14 5AB"}, "their given name, or their full date"),
        ({"given_name": "Jack", "date_of_birth": "2015-03-04"}, "Add the child's family name."),
        ({"given_name": "Jack"}, "the child's family name and one of: their date of birth"),
        ({}, "Add the child's family name and their date of birth"),
    ],
)
def test_unspecific_criteria_are_refused_saying_what_to_add(
    words: dict[str, str], advice: str
) -> None:
    with pytest.raises(CriteriaRefused) as refusal:
        check_specific(criteria(**words))

    assert advice in str(refusal.value)


@pytest.mark.parametrize(
    "words",
    [
        {"family_name": "Smith", "date_of_birth": "2015-03-04"},
        {"family_name": "Smith", "given_name": "Jack", "date_of_birth": "2015"},
        {"family_name": "Smith", "given_name": "Jack", "date_of_birth": "2015-03"},
        {"family_name": "Smith", "given_name": "Jack", "age_from": 7, "age_to": 9},
        {"family_name": "Smith", "given_name": "Jack", "postcode": "M14 5AB"},
        {"family_name": "Smith", "given_name": "Jack", "postcode": "M14"},
        {"family_name": "Smith", "given_name": "Jack", "local_authority": "E08000003"},
    ],
)
def test_each_accepted_criteria_set_is_accepted(words: dict[str, object]) -> None:
    check_specific(criteria(**words))  # does not raise


def test_a_refused_search_is_audited_and_reads_nothing() -> None:
    with pytest.raises(CriteriaRefused):
        search_children(
            viewer=viewer(), criteria=criteria(family_name="Smith"), purpose="new_referral"
        )

    event = AuditEvent.objects.get(action=SearchAction.SEARCH)
    assert event.outcome == SearchOutcome.REFUSED
    assert event.detail["criteria"] == {"family_name": "Smith"}
    assert "returned" not in event.detail


@pytest.mark.parametrize(
    ("words", "field", "message"),
    [
        ({"family_name": "Sm*"}, "family_name", "wildcards"),
        ({"family_name": "%"}, "family_name", "wildcards"),
        ({"family_name": "S"}, "family_name", "at least 2 letters"),
        ({"family_name": "x" * 101}, "family_name", "100 characters or fewer"),
        ({"family_name": "Smith\x00"}, "family_name", "control characters"),
        (
            {"family_name": "Smith'; DROP TABLE index_child;--"},
            "family_name",
            "only include letters",
        ),
        ({"family_name": "<script>alert(1)</script>"}, "family_name", "only include letters"),
        ({"given_name": "J4ck", "family_name": "Smith"}, "given_name", "only include letters"),
        ({"family_name": "Smith", "age_from": 7, "age_to": 12}, "age_range", "at most 2 years"),
        ({"family_name": "Smith", "age_from": 9, "age_to": 7}, "age_range", "younger age"),
        ({"family_name": "Smith", "age_from": 7}, "age_range", "both ages"),
        ({"family_name": "Smith", "postcode": "NOT A POSTCODE"}, "postcode", "real postcode"),
        (
            {"family_name": "Smith", "local_authority": "E99999999"},
            "local_authority",
            "from the list",
        ),
        (
            {"family_name": "Smith", "local_authority": "E08999999"},
            "local_authority",
            "from the list",
        ),
    ],
)
def test_malformed_criteria_name_the_field_and_what_to_do(
    words: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InvalidCriteria) as invalid:
        criteria(**words)

    assert message in " ".join(invalid.value.errors[field])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("2015-02-30", "real date"),
        ("2015-13", "real date"),
        ("31/12/2015", "such as 2015"),
        ("2999-01-01", "in the past"),
        ("1970-01-01", "within the last 25 years"),
        ("2015-03-04' OR 1=1", "such as 2015"),
    ],
)
def test_malformed_dates_of_birth_are_refused(typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        criteria(family_name="Smith", date_of_birth=typed)


def test_a_date_of_birth_and_an_age_range_together_are_refused() -> None:
    with pytest.raises(InvalidCriteria) as invalid:
        criteria(family_name="Smith", given_name="Jack", date_of_birth="2015", age_from=7, age_to=9)

    assert "not both" in invalid.value.errors["age_range"][0]


def test_more_matches_than_the_cap_answer_too_many_with_no_list() -> None:
    for day in range(1, 13):  # twelve Taylors born the same day: more than the cap of 10
        make_child(
            [
                "Jack",
                "Jake",
                "Jacob",
                "Jay",
                "Jackson",
                "Jak",
                "Jac",
                "Jax",
                "Jace",
                "Jaxon",
                "Jakob",
                "Jacques",
            ][day - 1],
            "Taylor",
            born(8, 5, 5),
        )

    results = search(family_name="Taylor", date_of_birth=born(8, 5, 5))

    assert results.outcome == SearchOutcome.TOO_MANY
    assert results.rows == ()
    assert results.message == TOO_MANY_MESSAGE
    event = AuditEvent.objects.get(action=SearchAction.SEARCH)
    assert event.outcome == SearchOutcome.TOO_MANY and event.detail["returned"] == []


def test_the_cap_is_configurable() -> None:
    for given in ("Jack", "Jake", "Jacob"):
        make_child(given, "Taylor", born(8, 5, 5))

    with override_settings(CONTACTPOINT_SEARCH_RESULT_CAP=2):
        capped = search(family_name="Taylor", date_of_birth=born(8, 5, 5))
    with override_settings(CONTACTPOINT_SEARCH_RESULT_CAP=3):
        listed = search(family_name="Taylor", date_of_birth=born(8, 5, 5))

    assert capped.outcome == SearchOutcome.TOO_MANY and capped.rows == ()
    assert len(found_ids(listed)) == 3


@pytest.mark.parametrize(("configured", "effective"), [(500, MAX_RESULT_CAP), (0, 1), ("x", 10)])
def test_the_cap_never_exceeds_50(configured: object, effective: int) -> None:
    with override_settings(CONTACTPOINT_SEARCH_RESULT_CAP=configured):
        assert result_cap() == effective


def test_a_narrower_search_lists_what_a_broad_one_would_not() -> None:
    for given in (
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
        make_child(given, "Taylor", born(8, 5, 5))

    broad = search(family_name="Taylor", date_of_birth=born(8, 5, 5))
    narrow = search(family_name="Taylor", given_name="Jackson", date_of_birth=born(8, 5, 5))

    assert broad.outcome == SearchOutcome.TOO_MANY
    assert narrow.rows[0].given_names == "Jackson"
