"""Reference data shipped in the repository: local authorities and their postcode districts.

Loaded by migration index.0002 and re-applied by `contactpoint load_reference` when the CSV
changes. The loader takes model classes as arguments so that the migration can pass its
historical models.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contactpoint.index.vocabularies import Region

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
LOCAL_AUTHORITIES_CSV = REFERENCE_DIR / "local_authorities.csv"
NATIONAL_PARTNERS_CSV = REFERENCE_DIR / "national_partners.csv"

_REGION_BY_LABEL = {label: value for value, label in Region.choices}


@dataclass(frozen=True)
class LocalAuthorityRow:
    ons_code: str
    name: str
    region: str
    is_pilot: bool
    postcode_districts: tuple[str, ...]


@dataclass(frozen=True)
class NationalPartnerRow:
    code: str
    name: str


def read_local_authorities(path: Path = LOCAL_AUTHORITIES_CSV) -> list[LocalAuthorityRow]:
    """Parse the shipped CSV; a bad row is a bug in the repository, so it raises."""
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for line_number, raw in enumerate(csv.DictReader(handle), start=2):
            region = _REGION_BY_LABEL.get(raw["region"].strip())
            if region is None:
                raise ValueError(
                    f"{path.name} line {line_number}: unknown region {raw['region']!r}"
                )
            rows.append(
                LocalAuthorityRow(
                    ons_code=raw["ons_code"].strip(),
                    name=raw["name"].strip(),
                    region=region,
                    is_pilot=raw["pilot"].strip().lower() == "yes",
                    postcode_districts=tuple(raw["postcode_districts"].split()),
                )
            )
    return rows


def read_national_partners(path: Path = NATIONAL_PARTNERS_CSV) -> list[NationalPartnerRow]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [
            NationalPartnerRow(code=raw["code"].strip(), name=raw["name"].strip())
            for raw in csv.DictReader(handle)
        ]


def apply_local_authorities(local_authority_model: Any, district_model: Any) -> int:
    """Insert or update every LA and district from the CSV; returns the number of LAs."""
    rows = read_local_authorities()
    for row in rows:
        authority, _ = local_authority_model.objects.update_or_create(
            ons_code=row.ons_code,
            defaults={"name": row.name, "region": row.region, "is_pilot": row.is_pilot},
        )
        for code in row.postcode_districts:
            district_model.objects.update_or_create(
                code=code, defaults={"local_authority": authority}
            )
    return len(rows)
