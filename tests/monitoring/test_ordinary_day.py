"""An ordinary practitioner's day, drawn from synthetic England, raises nothing at all.

A health visitor in Manchester works through a caseload of 22 children between 09:00 and
17:00 on a Tuesday: for each child a search as people really search (family name and date of
birth; both names and a postcode; both names and a year of birth), and for most a look at the
record. One family has moved from Birmingham, and three children have a current sensitive
service (mental health, say), whose records she opens. No quota is approached, no rule fires.

Shielded children are left out of the caseload on purpose: every view of a shielded record
raises an alert by design (rules.py), however ordinary.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
import time_machine
from tests.monitoring.support import practitioner, search_as, view_as, working_time

from contactpoint.access.models import Alert, HomeAddress, User
from contactpoint.access.protective.monitoring import LookupRefused, usage_warnings
from contactpoint.access.protective.quotas import Measure, Period, peek_usage
from contactpoint.index.models import Address, Carer, Child, ChildName, Involvement
from contactpoint.index.vocabularies import (
    SENSITIVE_SERVICE_TYPES,
    AddressKind,
    ChildStatus,
    NameKind,
)
from contactpoint.search.services import SearchResults
from contactpoint.synthetic.services import generate_population

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_store")]

MANCHESTER, BIRMINGHAM = "E08000003", "E08000025"
NEIGHBOURS = ["E08000006", "E08000007", "E08000009"]  # Salford, Stockport, Trafford
CASELOAD = 22
HOME_POSTCODE = "SK4 3QZ"  # Heaton Moor, Stockport: a neighbouring LA, where she lives


def _ordinary_children(
    ons_code: str, count: int, rng: random.Random, *, with_sensitive_service: bool = False
) -> list[Child]:
    sensitive = Involvement.objects.filter(
        service_type__in=sorted(SENSITIVE_SERVICE_TYPES), ended_on__isnull=True
    ).values("child_id")
    candidates = Child.objects.filter(
        responsible_la__ons_code=ons_code, status=ChildStatus.ACTIVE, is_shielded=False
    )
    candidates = (
        candidates.filter(pk__in=sensitive)
        if with_sensitive_service
        else candidates.exclude(pk__in=sensitive)
    )
    return rng.sample(list(candidates.order_by("pk")), count)


def _criteria_for(child: Child, rng: random.Random) -> dict[str, str]:
    name = ChildName.objects.get(child=child, kind=NameKind.CURRENT)
    given = name.given_names.split()[0]
    address = Address.objects.filter(child=child, kind=AddressKind.CURRENT).first()
    style = rng.random()
    if style < 0.5 or address is None:
        return {"family_name": name.family_name, "date_of_birth": child.date_of_birth.isoformat()}
    if style < 0.75:
        return {"family_name": name.family_name, "given_name": given, "postcode": address.postcode}
    return {
        "family_name": name.family_name,
        "given_name": given,
        "date_of_birth": str(child.date_of_birth.year),
    }


def test_an_ordinary_practitioner_day_raises_nothing() -> None:
    rng = random.Random(2026)
    generate_population(children=3000, seed=11, authorities=[MANCHESTER, BIRMINGHAM, *NEIGHBOURS])
    with_services = _ordinary_children(MANCHESTER, 3, rng, with_sensitive_service=True)
    caseload = _ordinary_children(MANCHESTER, CASELOAD - 4, rng) + with_services
    caseload += _ordinary_children(BIRMINGHAM, 1, rng)  # a family that moved up from Birmingham
    rng.shuffle(caseload)
    surnames = set(ChildName.objects.values_list("family_name_key", flat=True))
    person = practitioner(username="health.visitor", last_name="Quennell")
    assert "QUENNELL" not in surnames  # the rule for one's own surname is tested on its own
    HomeAddress.objects.create(user=person, postcode=HOME_POSTCODE, line_1="3 Parsonage Road")
    assert not Address.objects.filter(postcode=HOME_POSTCODE).exists()  # nor for her home
    assert not Carer.objects.filter(postcode=HOME_POSTCODE).exists()

    found = 0
    with time_machine.travel(working_time(9, 5), tick=False) as clock:
        for index, child in enumerate(caseload):
            clock.move_to(working_time(9, 5) + dt.timedelta(minutes=20 * index))
            results = search_as(person, **_criteria_for(child, rng))
            assert isinstance(results, SearchResults), results
            ids = [row.contactpoint_id for row in results.rows]
            found += child.contactpoint_id in ids
            opens = child in with_services or rng.random() < 0.7
            if child.contactpoint_id in ids and opens:
                clock.shift(dt.timedelta(minutes=2))
                assert not isinstance(view_as(person, child.contactpoint_id), LookupRefused)
        usage = peek_usage(user_id=person.pk)
        warnings = usage_warnings(person)

    print(
        f"\nordinary day: {usage.count(Measure.LOOKUPS, Period.DAY)} lookups, "
        f"{usage.count(Measure.CHILDREN, Period.DAY)} distinct children shown, "
        f"{found}/{len(caseload)} caseload children found"
    )
    assert found >= CASELOAD - 2  # the searches are realistic: nearly every child is found
    assert list(Alert.objects.values_list("rule", "summary")) == []
    assert warnings == []
    assert not User.objects.get(pk=person.pk).is_suspended
