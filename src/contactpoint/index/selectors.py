"""Reads of the index that reveal no child: counts and reference data only.

Reads of an individual child belong to the view policy in `access`, which audits them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from contactpoint.index.models import Child, LocalAuthority


@dataclass(frozen=True)
class IndexSummary:
    child_count: int
    local_authority_count: int
    pilot_authority_count: int


def get_index_summary() -> IndexSummary:
    """Aggregate counts for the start page and operators: no names, no IDs."""
    return IndexSummary(
        child_count=Child.objects.count(),
        local_authority_count=LocalAuthority.objects.count(),
        pilot_authority_count=LocalAuthority.objects.filter(is_pilot=True).count(),
    )


def check_database() -> None:
    """Raise DatabaseError when the database cannot answer a trivial query."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
