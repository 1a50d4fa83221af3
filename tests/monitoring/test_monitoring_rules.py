"""Each monitoring rule fires on its pattern, with the consequence the rule table declares.

Every rule in access.protective.rules.MONITORING_RULES has a scenario here (a test fails for a
rule without one). A scenario acts as a person would, through search.services, so the rule
sees real audit events. The near misses beside them show where each rule stays quiet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
import time_machine
from tests.monitoring.support import (
    alert_rules,
    is_suspended,
    practitioner,
    search_as,
    view_as,
    working_time,
)
from tests.policy.states import make_child_in_state
from tests.search.children import make_child

from contactpoint.access.models import Alert, AlertAudience, HomeAddress, Organisation, User
from contactpoint.access.protective.actions import SEARCH_ACTION, VIEW_ACTION
from contactpoint.access.protective.monitoring import PATTERNS, LookupRefused
from contactpoint.access.protective.rules import MONITORING_RULES, RULES_BY_NAME, Pattern
from contactpoint.access.roles import Role
from contactpoint.audit.services import record_event
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.search.audit_actions import SearchAction
from contactpoint.search.services import SearchResults

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("database_store")]

BIRMINGHAM = "E08000025"  # West Midlands: another region from Manchester's North West
ANOTHER_TUESDAY = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def _mid_morning() -> object:
    with time_machine.travel(working_time(10, 0), tick=False) as traveller:
        yield traveller


def _advance(traveller: time_machine.Coordinates, minutes: int) -> None:
    traveller.shift(dt.timedelta(minutes=minutes))


def _advance_seconds(traveller: time_machine.Coordinates, seconds: float) -> None:
    traveller.shift(dt.timedelta(seconds=seconds))


def _nobody(n: int) -> str:
    """A family name no child has, different for each n (letters only)."""
    return "Nobody" + chr(97 + n // 26) + chr(97 + n % 26)


# --- Scenarios: one per rule ------------------------------------------------------------------------


def _quota_hard_limit(person: User, traveller: time_machine.Coordinates) -> None:
    for n in range(16):
        search_as(
            person,
            family_name=_nobody(n),
            date_of_birth=f"20{10 + n}-0{1 + n % 9}-1{n % 9}",
        )


def _quota_soft_limit(person: User, traveller: time_machine.Coordinates) -> None:
    for n in range(6):
        search_as(person, family_name=_nobody(n), date_of_birth=f"20{10 + n}-03-0{1 + n}")


def _volume_far_above_baseline(person: User, traveller: time_machine.Coordinates) -> None:
    # Ten earlier working days of eight lookups each: a usual day is eight.
    for day in range(1, 15):
        when = working_time(11, 0) - dt.timedelta(days=day)
        if when.weekday() >= 5:
            continue
        with time_machine.travel(when, tick=False):
            for _ in range(8):
                record_event(action=SEARCH_ACTION, actor_id=person.pk, detail={"criteria": {}})
    # Today sixty, five every five minutes: under every quota's hard limit.
    for n in range(60):
        if n and n % 5 == 0:
            _advance(traveller, 5)
        search_as(
            person, family_name=_nobody(n), date_of_birth=f"{2008 + n % 16}-0{1 + n % 9}-1{n % 7}"
        )


def _many_distinct_children(person: User, traveller: time_machine.Coordinates) -> None:
    for batch, family in enumerate(("Abbott", "Bancroft", "Cartwright")):
        for n in range(8):
            make_child("Sam", family, dt.date(2011 + 3 * batch, 1 + n, 10))
        search_as(person, family_name=family, given_name="Sam", date_of_birth=str(2011 + 3 * batch))


def _consecutive_contactpoint_ids(person: User, traveller: time_machine.Coordinates) -> None:
    for body in range(12_345_678_900, 12_345_678_903):
        view_as(person, cp_id.with_check_digit(str(body)))


def _contactpoint_id_guessing(person: User, traveller: time_machine.Coordinates) -> None:
    for body in (10_000_000_017, 23_000_000_051, 35_500_000_093, 47_000_001_111, 58_900_000_222):
        view_as(person, cp_id.with_check_digit(str(body)))


def _birth_date_sweep(person: User, traveller: time_machine.Coordinates) -> None:
    for day in range(1, 5):
        search_as(person, family_name="Abbott", date_of_birth=f"2015-03-0{day}")


def _too_many(person: User, searches: int) -> None:
    for n in range(11):
        make_child("Sam", "Smith", dt.date(2015, 1 + n, 3))
    for _ in range(searches):
        search_as(person, family_name="Smith", given_name="Sam", date_of_birth="2015")


def _repeated_too_many_matches(person: User, traveller: time_machine.Coordinates) -> None:
    _too_many(person, 5)


def _persistent_too_many_matches(person: User, traveller: time_machine.Coordinates) -> None:
    _too_many(person, 12)


def _surname_sweep(person: User, traveller: time_machine.Coordinates) -> None:
    given = ("Oliver", "Jack", "Harry", "George", "Noah", "Charlie", "Jacob", "Alfie")
    for name in given:
        search_as(person, family_name="Abbott", given_name=name, date_of_birth="2014")


def _scripted_cadence(person: User, traveller: time_machine.Coordinates) -> None:
    for n in range(8):
        search_as(person, family_name=_nobody(n), date_of_birth=f"20{10 + n}-0{1 + n}-1{n}")
        _advance_seconds(traveller, 10)


def _shielded_record_viewed(person: User, traveller: time_machine.Coordinates) -> None:
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)
    view_as(person, child.contactpoint_id)


def _sensitive_record_viewed(person: User, traveller: time_machine.Coordinates) -> None:
    per_day = RULES_BY_NAME["sensitive_record_viewed"].parameters["per_day"]
    for _ in range(per_day):
        view_as(person, make_child_in_state("sensitive_service").contactpoint_id)
        _advance(traveller, 25)


def _child_with_own_surname(person: User, traveller: time_machine.Coordinates) -> None:
    make_child("Lily", person.last_name, dt.date(2014, 6, 2))
    search_as(person, family_name=person.last_name, date_of_birth="2014-06-02")


def _child_at_own_address(person: User, traveller: time_machine.Coordinates) -> None:
    HomeAddress.objects.create(user=person, postcode="M14 5AB", line_1="14 Victoria Road")
    make_child("Lily", "Hargreaves", dt.date(2014, 6, 2), postcode="M14 5AB")
    search_as(person, family_name="Hargreaves", date_of_birth="2014-06-02")


def _out_of_hours(person: User, traveller: time_machine.Coordinates) -> None:
    traveller.move_to(working_time(22, 40))
    search_as(person, family_name="Abbott", date_of_birth="2015-03-01")


def _children_far_outside_own_la(person: User, traveller: time_machine.Coordinates) -> None:
    for n in range(3):
        child = make_child(
            f"Kai{chr(65 + n)}",
            "Brennan",
            dt.date(2013, 2, 1 + n * 5),
            la=BIRMINGHAM,
            postcode="B14 7QH",
        )
        view_as(person, child.contactpoint_id)
        _advance(traveller, 20)


SCENARIOS: dict[str, Callable[[User, time_machine.Coordinates], None]] = {
    "quota_hard_limit": _quota_hard_limit,
    "quota_soft_limit": _quota_soft_limit,
    "volume_far_above_baseline": _volume_far_above_baseline,
    "many_distinct_children": _many_distinct_children,
    "consecutive_contactpoint_ids": _consecutive_contactpoint_ids,
    "contactpoint_id_guessing": _contactpoint_id_guessing,
    "birth_date_sweep": _birth_date_sweep,
    "repeated_too_many_matches": _repeated_too_many_matches,
    "persistent_too_many_matches": _persistent_too_many_matches,
    "surname_sweep": _surname_sweep,
    "scripted_cadence": _scripted_cadence,
    "shielded_record_viewed": _shielded_record_viewed,
    "sensitive_record_viewed": _sensitive_record_viewed,
    "child_with_own_surname": _child_with_own_surname,
    "child_at_own_address": _child_at_own_address,
    "out_of_hours": _out_of_hours,
    "children_far_outside_own_la": _children_far_outside_own_la,
}


def test_every_rule_has_a_scenario_and_every_pattern_a_function() -> None:
    assert set(SCENARIOS) == set(RULES_BY_NAME)
    assert set(PATTERNS) == set(Pattern)


def test_the_rule_table_is_well_formed() -> None:
    names = [rule.name for rule in MONITORING_RULES]
    assert len(names) == len(set(names))
    for rule in MONITORING_RULES:
        assert len(rule.name) <= 40 and rule.description.endswith(".")


def test_the_lookup_actions_match_the_search_apps() -> None:
    assert (SEARCH_ACTION, VIEW_ACTION) == (SearchAction.SEARCH, SearchAction.VIEW)


@pytest.mark.parametrize("rule_name", sorted(SCENARIOS))
def test_each_rule_fires_on_its_pattern(
    rule_name: str, _mid_morning: time_machine.Coordinates
) -> None:
    rule = RULES_BY_NAME[rule_name]
    person = practitioner(username=f"tester-{rule_name.replace('_', '-')}")
    SCENARIOS[rule_name](person, _mid_morning)

    alert = Alert.objects.filter(
        subject_user=person, rule=rule_name, audience=AlertAudience.SECURITY_OFFICER
    ).first()
    assert alert is not None, f"{rule_name} did not fire; fired: {alert_rules(person)}"
    assert alert.severity == rule.severity
    assert alert.subject_username == person.username and person.username in alert.summary
    assert alert.organisation == person.organisation
    assert alert.audience == AlertAudience.SECURITY_OFFICER
    if rule.suspends:
        assert is_suspended(person) and alert.account_suspended
    else:
        assert not is_suspended(person) or any(
            RULES_BY_NAME[name].suspends for name in alert_rules(person)
        )


def test_an_alert_fires_once_a_day_not_once_a_lookup(
    _mid_morning: time_machine.Coordinates,
) -> None:
    person = practitioner()
    _mid_morning.move_to(working_time(21, 0))
    for n in range(4):
        search_as(person, family_name="Abbott", date_of_birth=f"201{n}-0{n + 2}-1{n}")
    assert Alert.objects.filter(subject_user=person, rule="out_of_hours").count() == 1


# --- Where alerts go ------------------------------------------------------------------------------


def test_a_shielded_view_tells_the_childs_la_contactpoint_team_too() -> None:
    person = practitioner(organisation=Organisation.objects.get(name="Bolton"))
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)
    view_as(person, child.contactpoint_id)
    team_alert = Alert.objects.get(audience=AlertAudience.LA_CONTACTPOINT_TEAM)
    assert team_alert.organisation.name == "Manchester"  # the child's LA, not the viewer's
    assert team_alert.contactpoint_id == child.contactpoint_id
    assert team_alert.subject_username == person.username


def test_the_childs_own_shielding_officer_viewing_raises_nothing() -> None:
    officer = practitioner(role=Role.SHIELDING_OFFICER)
    child = make_child("Ruby", "Fenwick", dt.date(2016, 5, 4), is_shielded=True)
    view_as(officer, child.contactpoint_id)
    assert "shielded_record_viewed" not in alert_rules(officer)


def test_an_employers_alerts_go_to_its_local_authority() -> None:
    from tests.policy.states import camhs_organisation

    person = practitioner(organisation=camhs_organisation())
    _child_with_own_surname(person, None)  # type: ignore[arg-type]
    alert = Alert.objects.get(subject_user=person)
    assert alert.organisation.name == "Manchester"


def test_alerts_with_no_local_authority_organisation_go_to_the_national_team() -> None:
    from contactpoint.access.organisations import NATIONAL_TEAM_CODE
    from contactpoint.audit.models import AuditEvent
    from contactpoint.index.models import LocalAuthority

    # An employer registered in an LA that has no ContactPoint organisation of its own.
    bare_la = LocalAuthority.objects.create(
        ons_code="E06000099", name="Newshire", region="North West"
    )
    employer = Organisation.objects.create(
        code="bare-la-charity",
        name="A charity",
        kind="employer",
        local_authority=bare_la,
        status="live_pilot",
    )
    person = practitioner(organisation=employer)
    _child_with_own_surname(person, None)  # type: ignore[arg-type]

    alert = Alert.objects.get(subject_user=person)
    assert alert.organisation.code == NATIONAL_TEAM_CODE
    raised = AuditEvent.objects.get(action="access.alert_raised", detail__alert=alert.pk)
    assert raised.organisation_code == NATIONAL_TEAM_CODE


# --- Near misses: where each rule stays quiet --------------------------------------------------------


def test_two_ids_in_sequence_and_four_unknown_ids_are_not_enough() -> None:
    person = practitioner()
    view_as(person, cp_id.with_check_digit("12345678900"))
    view_as(person, cp_id.with_check_digit("12345678901"))
    for body in ("30000000017", "45000000051"):
        view_as(person, cp_id.with_check_digit(body))
    assert alert_rules(person) == set() and not is_suspended(person)


def test_three_birth_dates_in_a_row_or_dates_far_apart_are_not_a_sweep() -> None:
    person = practitioner()
    for day in ("2015-03-01", "2015-03-02", "2015-03-03", "2015-03-09", "2016-03-04"):
        search_as(person, family_name="Abbott", date_of_birth=day)
    assert alert_rules(person) == set()


def test_a_person_working_at_a_human_rhythm_is_not_a_script(
    _mid_morning: time_machine.Coordinates,
) -> None:
    person = practitioner()
    for n, gap in enumerate((40, 7, 95, 12, 30, 64, 9, 51, 22)):
        search_as(person, family_name=_nobody(n), date_of_birth=f"20{10 + n}-0{1 + n}-1{n}")
        _advance_seconds(_mid_morning, gap)
    assert "scripted_cadence" not in alert_rules(person)


def test_siblings_are_not_a_surname_sweep() -> None:
    person = practitioner()
    for name in ("Oliver", "Jack", "Harry", "Ava"):
        search_as(person, family_name="Abbott", given_name=name, date_of_birth="2014")
    assert alert_rules(person) == set()


def test_the_national_team_looking_across_regions_is_ordinary(
    _mid_morning: time_machine.Coordinates,
) -> None:
    national = Organisation.objects.get(code="national-team")
    person = practitioner(role=Role.NATIONAL_TEAM, organisation=national)
    _children_far_outside_own_la(person, _mid_morning)
    assert "children_far_outside_own_la" not in alert_rules(person)


def test_namesakes_from_other_regions_in_search_results_are_ordinary(
    _mid_morning: time_machine.Coordinates,
) -> None:
    # Nationally a common name lists children from several regions: listing is not choosing.
    person = practitioner()
    for n in range(4):
        make_child("Oliver", "Brennan", dt.date(2014, 5, 3), la=BIRMINGHAM, postcode=f"B1{n} 7QH")
    for born in ("2014", "2014-05", "2014-05-03"):
        results = search_as(person, family_name="Brennan", given_name="Oliver", date_of_birth=born)
        assert isinstance(results, SearchResults) and len(results.rows) == 4
        _advance(_mid_morning, 20)
    assert "children_far_outside_own_la" not in alert_rules(person)
    # Opening their records is what the rule is about.
    for row in results.rows[:3]:
        view_as(person, row.contactpoint_id)
    assert "children_far_outside_own_la" in alert_rules(person)


def test_a_rule_that_suspends_refuses_the_lookup_that_fired_it() -> None:
    person = practitioner()
    for day in range(1, 4):
        search_as(person, family_name="Abbott", date_of_birth=f"2015-03-0{day}")
    fourth = search_as(person, family_name="Abbott", date_of_birth="2015-03-04")
    assert isinstance(fourth, LookupRefused) and fourth.http_status == 403
    assert "suspended" in str(fourth)
    assert User.objects.get(pk=person.pk).suspension_reason.endswith("birth_date_sweep")


def test_sensitive_records_alert_at_the_days_count_not_on_each_view(
    _mid_morning: time_machine.Coordinates,
) -> None:
    per_day = RULES_BY_NAME["sensitive_record_viewed"].parameters["per_day"]
    person = practitioner()
    sensitive = [make_child_in_state("sensitive_service") for _ in range(per_day + 1)]
    for child in sensitive[: per_day - 1]:
        view_as(person, child.contactpoint_id)
        view_as(person, child.contactpoint_id)  # the same record again counts once
        _advance(_mid_morning, 20)
    view_as(person, make_child_in_state("other_la").contactpoint_id)  # no sensitive service
    assert "sensitive_record_viewed" not in alert_rules(person)

    view_as(person, sensitive[per_day - 1].contactpoint_id)
    alert = Alert.objects.get(subject_user=person, rule="sensitive_record_viewed")
    assert f"records of {per_day} children with a sensitive service" in alert.summary
    assert alert.detail["children"] == per_day
    assert cp_id.display(sensitive[per_day - 1].contactpoint_id) in alert.summary

    view_as(person, sensitive[per_day].contactpoint_id)  # the day's alert is raised already
    assert Alert.objects.filter(subject_user=person, rule="sensitive_record_viewed").count() == 1
    _mid_morning.move_to(working_time(10, 0) + dt.timedelta(days=1))
    view_as(person, sensitive[0].contactpoint_id)  # a new day starts a new count
    assert Alert.objects.filter(subject_user=person, rule="sensitive_record_viewed").count() == 1
