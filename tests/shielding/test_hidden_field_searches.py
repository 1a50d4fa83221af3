"""Searches using a hidden field never find a shielded child, nor reveal one by how they answer
(issue 7, item 3): a search by postcode, district or local authority answers the same, down to
"too many matches" and the candidate count on its audit event, whether or not a shielded child
lives there.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.search.children import born, make_child
from tests.search.support import found_ids, search

from contactpoint.audit.models import AuditEvent
from contactpoint.search import retrieval
from contactpoint.search.audit_actions import SearchOutcome
from contactpoint.search.services import SearchResults

pytestmark = pytest.mark.django_db

POSTCODE = "M14 5AB"
HIDDEN_FIELD_SEARCHES: dict[str, dict[str, Any]] = {
    "full postcode": {"postcode": POSTCODE},
    "postcode district": {"postcode": "M14"},
    "local authority": {"local_authority": "E08000003"},
}
# Three children at the address, each found by a search for Oliver Wojcik there.
NEIGHBOURS = ("Oliver", "Olly", "Ollie")


def _answer(how: str) -> tuple[SearchResults, int]:
    """The search's results and the candidate count its audit event recorded."""
    results = search(family_name="Wojcik", given_name="Oliver", **HIDDEN_FIELD_SEARCHES[how])
    event = AuditEvent.objects.filter(action="search.children").latest("sequence")
    return results, event.detail["candidates"]


@pytest.mark.parametrize("how", sorted(HIDDEN_FIELD_SEARCHES))
def test_a_shielded_child_never_tips_a_hidden_field_search_into_too_many(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe limit ("far too broad") counts only the children the search may return."""
    neighbours = [
        make_child(given, "Wojcik", born(6, 2, 9), postcode=POSTCODE) for given in NEIGHBOURS
    ]
    without_shield, candidates_without = _answer(how)
    # The limit set exactly at what the neighbours' names fill: one more row is "too many".
    monkeypatch.setattr(retrieval, "PROBE_ROW_LIMIT", candidates_without)
    make_child("Oliver", "Wojcik", born(6, 2, 9), postcode=POSTCODE, is_shielded=True)

    with_shield, candidates_with = _answer(how)

    assert without_shield.outcome == SearchOutcome.MATCHES
    assert with_shield.outcome == SearchOutcome.MATCHES
    assert sorted(found_ids(with_shield)) == sorted(c.contactpoint_id for c in neighbours)
    # The same children (equal scores may come back in either order).
    assert sorted(found_ids(with_shield)) == sorted(found_ids(without_shield))
    assert candidates_with == candidates_without


def test_a_search_by_name_and_date_of_birth_still_finds_the_shielded_child() -> None:
    """The control: the same child is found (restricted) when no hidden field is used."""
    shielded = make_child("Oliver", "Wojcik", born(6, 2, 9), postcode=POSTCODE, is_shielded=True)

    results = search(family_name="Wojcik", given_name="Oliver", date_of_birth=born(6, 2, 9))

    assert found_ids(results) == [shielded.contactpoint_id] and results.rows[0].restricted
