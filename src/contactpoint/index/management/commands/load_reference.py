"""`contactpoint load_reference`: re-apply the shipped local authority reference data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from contactpoint.index.models import LocalAuthority, PostcodeDistrict
from contactpoint.index.reference import LOCAL_AUTHORITIES_CSV, apply_local_authorities


class Command(BaseCommand):
    help = (
        "Insert or update every English local authority (ONS code, region, pilot flag) and "
        f"its postcode districts from {LOCAL_AUTHORITIES_CSV.name}. Safe to run repeatedly."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        count = apply_local_authorities(LocalAuthority, PostcodeDistrict)
        self.stdout.write(f"{count} local authorities loaded")
