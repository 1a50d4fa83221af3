"""Reads for search and the record view: a child loaded for the policy, reference choices."""

from __future__ import annotations

from contactpoint.access.policy import PROJECTION_PREFETCH_RELATED, PROJECTION_SELECT_RELATED
from contactpoint.index.models import Child, LocalAuthority


def get_child_for_view(contactpoint_id: str) -> Child | None:
    """The child with this (canonical) ID and every part the view policy reads, or None.

    Only the policy may turn the result into something a person sees (access.policy).
    """
    return (
        Child.objects.select_related(*PROJECTION_SELECT_RELATED)
        .prefetch_related(*PROJECTION_PREFETCH_RELATED)
        .filter(contactpoint_id=contactpoint_id)
        .first()
    )


def local_authority_choices() -> list[tuple[str, str]]:
    """(ONS code, name) of every local authority, for the search form's list."""
    return list(LocalAuthority.objects.order_by("name").values_list("ons_code", "name"))
