"""`contactpoint sync_organisations`: create organisations for newly loaded local authorities."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from contactpoint.access.models import Organisation
from contactpoint.access.organisations import create_missing_organisations
from contactpoint.index.models import LocalAuthority


class Command(BaseCommand):
    help = (
        "Create the ContactPoint organisation for every local authority and national partner "
        "that has none yet (run after `contactpoint load_reference`). Existing organisations "
        "keep their status; new LAs start as onboarding, except pilot LAs, which start live."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        created = create_missing_organisations(Organisation, LocalAuthority)
        self.stdout.write(f"{created} organisation(s) created.")
