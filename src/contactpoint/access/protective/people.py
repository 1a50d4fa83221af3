"""What monitoring needs to know about a person, recorded by their administrator.

Only the home address so far: the 2009 breaches were staff "testing" the system on their own
families, so a lookup of a child at the person's own address raises a critical alert. The
address itself is never written to the audit log (which keeps everything for six years); the
event records only that it was recorded, and by whom.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from contactpoint.access import selectors
from contactpoint.access.models import HomeAddress, User
from contactpoint.access.protective.actions import ProtectiveAction
from contactpoint.access.services import InvalidChange, NotPermitted
from contactpoint.audit.services import record_event
from contactpoint.index.normalise import InvalidPostcode, parse_postcode


def record_home_address(
    *, actor: User, person: User, postcode: str, line_1: str, ip_address: str | None
) -> HomeAddress:
    """Record (or replace) where a person lives; only their administrator may."""
    if person.pk == actor.pk:
        raise NotPermitted("Ask another administrator to record your own home address.")
    if selectors.find_managed_person(actor, person.pk) is None:
        raise NotPermitted("You can only record this for people you administer.")
    try:
        canonical = str(parse_postcode(postcode))
    except InvalidPostcode as error:
        raise InvalidChange("Enter a full postcode, like M14 5AB.") from error
    line_1 = " ".join(line_1.split())[:100]
    with transaction.atomic():
        address, _ = HomeAddress.objects.update_or_create(
            user=person,
            defaults={
                "postcode": canonical,
                "line_1": line_1,
                "recorded_at": timezone.now(),
                "recorded_by": actor,
            },
        )
        record_event(
            action=ProtectiveAction.HOME_ADDRESS_RECORDED,
            actor_id=actor.pk,
            actor_username=actor.get_username(),
            organisation_code=actor.organisation.code if actor.organisation else "",
            ip_address=ip_address,
            detail={"person_id": person.pk, "person_username": person.get_username()},
        )
    return address
