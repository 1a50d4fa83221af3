"""Fixtures for Synthetic England: the shipped local authorities as generator profiles."""

from __future__ import annotations

import pytest

from contactpoint.index.reference import read_local_authorities
from contactpoint.synthetic.reference import AuthorityProfile, build_profiles


@pytest.fixture(scope="session")
def profiles() -> dict[str, AuthorityProfile]:
    """Every shipped LA as the generator sees it, read from the CSV (no database needed)."""
    return build_profiles(
        (row.ons_code, row.name, row.region, row.postcode_districts)
        for row in read_local_authorities()
    )


@pytest.fixture(scope="session")
def pilot_codes() -> list[str]:
    return sorted(row.ons_code for row in read_local_authorities() if row.is_pilot)
