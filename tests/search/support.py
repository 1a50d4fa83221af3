"""Helpers for search tests: a viewer, criteria from plain words, searching in one call."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from tests.access.factories import PersonFactory

from contactpoint.access.models import Organisation, User
from contactpoint.access.policy import Viewer
from contactpoint.access.roles import Role
from contactpoint.index.models import LocalAuthority
from contactpoint.search.criteria import SearchCriteria, build_criteria, parse_birth_date
from contactpoint.search.services import SearchResults, search_children

PURPOSE = "safeguarding_concern"


def viewer(role: str = Role.PRACTITIONER, *, la_code: str = "E08000003", **fields: Any) -> Viewer:
    """A viewer in an LA organisation (Manchester unless told), as access.policy sees one.

    Backed by a real, fully gated account: quotas and monitoring (access.protective) count
    each lookup against the account, and refuse one made for an account that does not exist.
    """
    authority = LocalAuthority.objects.get(ons_code=la_code)
    organisation = Organisation.objects.filter(local_authority=authority).first()
    username = f"search-tester-{role}-{la_code}".replace("_", "-")
    person = User.objects.filter(username=username).first() or PersonFactory(
        username=username, role=role, organisation=organisation
    )
    defaults: dict[str, Any] = {
        "user_id": person.pk,
        "username": person.username,
        "organisation_code": organisation.code if organisation else "manchester",
        "organisation_name": authority.name,
        "local_authority_id": authority.pk,
    }
    return Viewer(role=role, **{**defaults, **fields})


def criteria(
    family_name: str = "",
    given_name: str = "",
    date_of_birth: str | dt.date = "",
    **fields: Any,
) -> SearchCriteria:
    today = timezone.localdate()
    birth = parse_birth_date(
        date_of_birth.isoformat() if isinstance(date_of_birth, dt.date) else date_of_birth,
        today=today,
    )
    return build_criteria(
        family_name=family_name, given_name=given_name, birth=birth, today=today, **fields
    )


def search(role: str = Role.PRACTITIONER, **words: Any) -> SearchResults:
    return search_children(viewer=viewer(role), criteria=criteria(**words), purpose=PURPOSE)


def found_ids(results: SearchResults) -> list[str]:
    return [row.contactpoint_id for row in results.rows]
