"""Realistic children to search for, built on tests.index.records (one source of truth)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils import timezone
from tests.index.records import child_record

from contactpoint.index.models import Child
from contactpoint.index.records import AddressRecord, ChildRecord, NameRecord, SourceRef
from contactpoint.index.services import create_child
from contactpoint.index.vocabularies import AddressKind, NameKind

BOLTON = "E08000001"
MANCHESTER = "E08000003"


def born(years_ago: int, month: int, day: int) -> dt.date:
    """A date of birth this many years before this year, on a given day and month."""
    return dt.date(timezone.localdate().year - years_ago, month, day)


def make_child(
    given: str,
    family: str,
    date_of_birth: dt.date,
    *,
    postcode: str = "M14 5AB",
    former: tuple[tuple[str, str], ...] = (),
    previous_postcode: str = "",
    la: str = MANCHESTER,
    **overrides: Any,
) -> Child:
    """A child like Amelia O'Neill of tests.index.records, with these names, date and postcode."""
    names = (
        NameRecord(given_names=given, family_name=family),
        *(NameRecord(given_names=g, family_name=f, kind=NameKind.FORMER) for g, f in former),
    )
    addresses = (AddressRecord(line_1="14 Victoria Road", town="Manchester", postcode=postcode),)
    if previous_postcode:
        addresses += (
            AddressRecord(
                line_1="2 Mill Lane",
                town="Manchester",
                postcode=previous_postcode,
                kind=AddressKind.PREVIOUS,
                from_date=date_of_birth,
                to_date=date_of_birth + dt.timedelta(days=400),
            ),
        )
    record: ChildRecord = child_record(
        names=names,
        date_of_birth=date_of_birth,
        addresses=addresses,
        responsible_la_ons_code=la,
        source=SourceRef(
            source_system="manchester-education",
            source_record_id=f"T-{given}-{family}-{date_of_birth}"[:64],
            received_at=timezone.now(),
        ),
    )
    return create_child(record=dataclasses.replace(record, **overrides))
