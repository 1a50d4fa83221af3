"""With Redis as the store, the pattern rules read the person's recent lookups from Redis.

Redis keeps each person's recent lookups beside the counters, in the same round trip, so the
rules also see lookups of other sessions still in flight. The same scenarios as
test_monitoring_rules fire the same rules here.
"""

from __future__ import annotations

import pytest
import time_machine
from tests.monitoring.support import alert_rules, is_suspended, practitioner, working_time
from tests.monitoring.test_monitoring_rules import SCENARIOS

from contactpoint.access.protective.rules import RULES_BY_NAME

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_store")]

# The scenarios that fit in a minute of the store's real clock (Redis keeps its own time for
# the quota windows; the rules' history uses the application's clock, which time-machine moves).
ON_REDIS = [
    "birth_date_sweep",
    "consecutive_contactpoint_ids",
    "contactpoint_id_guessing",
    "repeated_too_many_matches",
    "surname_sweep",
    "scripted_cadence",
    "child_with_own_surname",
    "shielded_record_viewed",
    "children_far_outside_own_la",
    "quota_hard_limit",
]


@pytest.mark.parametrize("rule_name", ON_REDIS)
def test_each_rule_fires_with_redis_as_the_store(rule_name: str) -> None:
    person = practitioner(username=f"redis-{rule_name.replace('_', '-')}")
    with time_machine.travel(working_time(10, 0), tick=False) as traveller:
        SCENARIOS[rule_name](person, traveller)
    assert rule_name in alert_rules(person)
    if RULES_BY_NAME[rule_name].suspends:
        assert is_suspended(person)
