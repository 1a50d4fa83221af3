"""The organisations every installation starts with: one per LA, the national partners, the team.

Used by migration access.0002 (with historical models) and by `contactpoint
sync_organisations` after new local authorities are loaded. Existing organisations keep their
status: only missing ones are created, since statuses change only by the national team.
"""

from __future__ import annotations

from typing import Any

from contactpoint.index.reference import read_national_partners

NATIONAL_TEAM_CODE = "national-team"
NATIONAL_TEAM_NAME = "National ContactPoint team"


def create_missing_organisations(organisation_model: Any, local_authority_model: Any) -> int:
    """Create any missing starting organisation; returns how many were created.

    Pilot LAs and national partners start live (pilot); other LAs start onboarding; the
    national team is live (national), since it runs the go-live of everyone else.
    """
    created = 0
    for authority in local_authority_model.objects.all():
        _, was_created = organisation_model.objects.get_or_create(
            kind="local_authority",
            local_authority=authority,
            defaults={
                "code": authority.ons_code,
                "name": authority.name,
                "status": "live_pilot" if authority.is_pilot else "onboarding",
            },
        )
        created += was_created
    for partner in read_national_partners():
        _, was_created = organisation_model.objects.get_or_create(
            code=partner.code,
            defaults={"name": partner.name, "kind": "national_partner", "status": "live_pilot"},
        )
        created += was_created
    _, was_created = organisation_model.objects.get_or_create(
        code=NATIONAL_TEAM_CODE,
        defaults={"name": NATIONAL_TEAM_NAME, "kind": "national_team", "status": "live_national"},
    )
    return created + was_created
