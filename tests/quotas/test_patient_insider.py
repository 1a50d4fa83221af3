"""A patient insider who stays under every soft limit, day after day, is still stopped.

Simulated time (the database quota store on a clock time-machine moves): an insider with a
stolen list of real children's names and dates of birth looks one up every few minutes, at
an irregular, human rhythm, 30 a day: under the hourly and daily soft limits, so no warning
and no hard limit on any one day. The weekly hard limit stops them within the week, and no
day ever gives them more than the daily hard limit of 50.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import pytest
import time_machine
from tests.monitoring.support import practitioner, search_as
from tests.search.children import make_child

from contactpoint.access.models import Alert, User
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.access.protective.quotas import _FINDING_CHILDREN, Period
from contactpoint.search.services import SearchResults

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_store")]

DAILY = 30
WEEK_HARD = _FINDING_CHILDREN.children[Period.WEEK].hard
# A Thursday: fixed 7-day windows start on Thursdays (the epoch was one), so the whole
# simulation falls in one week's window.
THURSDAY = dt.date(2026, 11, 26)


def _letters(n: int) -> str:
    return "".join(chr(97 + (n // 26**k) % 26) for k in range(3))


def test_a_patient_insider_is_stopped_within_the_week_and_never_gets_50_in_a_day() -> None:
    assert THURSDAY.weekday() == 3
    rng = random.Random(7)
    stolen = [
        (f"Harvest{_letters(n)}", dt.date(2009 + n % 15, 1 + n % 12, 1 + n % 28))
        for n in range(WEEK_HARD + DAILY)
    ]
    for family, born in stolen:
        make_child("Jamie", family, born)
    insider = practitioner(username="patient.insider")

    seen_by_day: dict[dt.date, set[str]] = defaultdict(set)
    refused: LookupRefused | None = None
    targets = iter(stolen)
    day = THURSDAY
    while refused is None and day < THURSDAY + dt.timedelta(days=7):
        clock = dt.datetime.combine(day, dt.time(9, 0), tzinfo=dt.UTC)
        for _ in range(DAILY):
            clock += dt.timedelta(seconds=rng.randint(200, 500))  # bursty, never a metronome
            family, born = next(targets)
            with time_machine.travel(clock, tick=False):
                answer = search_as(insider, family_name=family, date_of_birth=born.isoformat())
            if isinstance(answer, LookupRefused):
                refused = answer
                break
            assert isinstance(answer, SearchResults)
            seen_by_day[day] |= {row.contactpoint_id for row in answer.rows}
        day += dt.timedelta(days=1)

    total = set().union(*seen_by_day.values())
    print(
        f"\npatient insider: {len(total)} children over {len(seen_by_day)} days "
        f"(most in a day {max(len(s) for s in seen_by_day.values())}), then stopped"
    )
    assert refused is not None and refused.http_status == 403
    assert User.objects.get(pk=insider.pk).is_suspended
    assert max(len(s) for s in seen_by_day.values()) <= 50
    assert len(total) <= WEEK_HARD
    alert = Alert.objects.get(subject_user=insider, rule="quota_hard_limit")
    assert "patient.insider" in alert.summary and "week" in alert.summary
