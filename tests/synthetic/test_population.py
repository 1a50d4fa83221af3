"""The true population is realistic and internally consistent (no database needed).

Tolerances are stated beside each assertion; they are several standard errors wide for the
sample drawn here (60,000 children in the 17 pilot LAs), so a correct generator passes for
any seed, and a broken distribution fails.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import re
from collections.abc import Iterator

import pytest
from tests.synthetic.support import AS_OF

from contactpoint.index.records import ChildRecord
from contactpoint.index.vocabularies import (
    SENSITIVE_SERVICE_TYPES,
    AddressKind,
    Gender,
    NameKind,
    SensitiveBasis,
    ServiceType,
    Whereabouts,
)
from contactpoint.synthetic import data
from contactpoint.synthetic.population import PopulationRates, SyntheticHousehold
from contactpoint.synthetic.reference import AuthorityProfile, apportion, authority_weights
from contactpoint.synthetic.reporting import household_of, received_at, report_child
from contactpoint.synthetic.services import iter_households, iter_reports, plan_settings

SAMPLE = 60_000
# Outward code, then a digit and two letters other than C, I, K, M, O and V.
POSTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}")
DRAMA_PHONE = re.compile(
    r"^(07700 900\d{3}|0161 496 0\d{3}|0113 496 0\d{3}|0121 496 0\d{3}|020 7946 0\d{3}"
    r"|01632 960\d{3})$"
)


def households(
    profiles: dict[str, AuthorityProfile],
    codes: list[str],
    *,
    children: int,
    seed: int,
    rates: PopulationRates | None = None,
) -> Iterator[SyntheticHousehold]:
    settings = plan_settings(children=children, authorities=codes, profiles=profiles)
    return iter_households(settings=settings, seed=seed, as_of=AS_OF, rates=rates)


def digest(records: Iterator[ChildRecord]) -> str:
    return hashlib.sha256("\n".join(repr(r) for r in records).encode()).hexdigest()


@pytest.fixture(scope="module")
def population(
    profiles: dict[str, AuthorityProfile], pilot_codes: list[str]
) -> list[SyntheticHousehold]:
    return list(households(profiles, pilot_codes, children=SAMPLE, seed=7))


@pytest.fixture(scope="module")
def records(population: list[SyntheticHousehold]) -> list[ChildRecord]:
    arrived = received_at(AS_OF)
    return [report_child(h, c, arrived=arrived) for h in population for c in h.children]


def age(record: ChildRecord) -> int:
    born = record.date_of_birth
    return AS_OF.year - born.year - ((AS_OF.month, AS_OF.day) < (born.month, born.day))


# --- Determinism -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_children(profiles, pilot_codes) -> None:
    first = iter_reports(households(profiles, pilot_codes, children=3000, seed=1), as_of=AS_OF)
    again = iter_reports(households(profiles, pilot_codes, children=3000, seed=1), as_of=AS_OF)
    assert digest(first) == digest(again)


def test_a_different_seed_gives_different_children(profiles, pilot_codes) -> None:
    one = iter_reports(households(profiles, pilot_codes, children=3000, seed=1), as_of=AS_OF)
    two = iter_reports(households(profiles, pilot_codes, children=3000, seed=2), as_of=AS_OF)
    assert digest(one) != digest(two)


def test_a_household_is_the_same_however_many_children_are_asked_for(profiles) -> None:
    manchester = ["E08000003"]
    small = list(households(profiles, manchester, children=500, seed=3))
    large = list(households(profiles, manchester, children=5000, seed=3))
    # All but the last household of the small run (it may be cut short) reappear unchanged,
    # apart from the LA's size-dependent choice of school and practitioner pool numbers.
    assert [(h.household_id, h.adults, h.home) for h in small[:-1]] == [
        (h.household_id, h.adults, h.home) for h in large[: len(small) - 1]
    ]
    assert [[c.date_of_birth for c in h.children] for h in small[:-1]] == [
        [c.date_of_birth for c in h.children] for h in large[: len(small) - 1]
    ]


def test_exactly_the_requested_number_of_children_is_drawn(records) -> None:
    assert len(records) == SAMPLE


# --- Names and ages --------------------------------------------------------------------------


def test_first_names_follow_the_table_for_each_birth_year_and_sex(records) -> None:
    """Observed counts of common first names are within 15% of the table's expectation."""
    expected: collections.Counter[str] = collections.Counter()
    observed: collections.Counter[str] = collections.Counter()
    for record in records:
        if record.gender == Gender.NOT_SPECIFIED:
            continue
        sex = "M" if record.gender == Gender.MALE else "F"
        table = data.given_names_for(sex, record.date_of_birth.year)
        first = record.names[0].given_names.split(" ")[0]
        observed[(sex, first)] += 1
        for name in ("Olivia", "Amelia", "Isla") if sex == "F" else ("Oliver", "Jack", "Noah"):
            expected[(sex, name)] += table.probability(name)
    for key, mean in expected.items():
        assert mean > 150, "the sample is big enough for a 15% tolerance"
        assert abs(observed[key] - mean) <= 0.15 * mean, (key, observed[key], mean)


def test_first_names_change_with_birth_year_as_the_table_says(records) -> None:
    def share_of_jack(years: range) -> float:
        boys = [r for r in records if r.gender == Gender.MALE and r.date_of_birth.year in years]
        return sum(
            r.names[0].given_names.startswith("Jack ") or r.names[0].given_names == "Jack"
            for r in boys
        ) / len(boys)

    # Jack fell from ~3.7% of boys born in 2008 to ~1.5% of those born in 2023.
    assert share_of_jack(range(2008, 2012)) > 1.5 * share_of_jack(range(2021, 2026))


def test_smith_is_about_as_common_as_the_surname_tables_say(records) -> None:
    """Smith's share of households is within 35% of the sampler's probability (~1.3%)."""
    family_names = {
        household_of(r.source.source_record_id): r.names[0].family_name for r in records
    }
    share = sum(name == "Smith" for name in family_names.values()) / len(family_names)
    expected = data.surname_probability("Smith")
    assert 0.009 < expected < 0.017
    assert abs(share - expected) <= 0.35 * expected, (share, expected)


def test_some_children_have_double_barrelled_surnames(records) -> None:
    share = sum("-" in r.names[0].family_name for r in records) / len(records)
    assert 0.02 < share < 0.10


def test_ages_are_uniform_by_single_year_from_0_to_17(records) -> None:
    """Each single year of age holds 1/18 of the children, within 10%."""
    counts = collections.Counter(age(r) for r in records)
    assert set(counts) == set(range(18))
    mean = len(records) / 18
    for years, count in counts.items():
        assert abs(count - mean) <= 0.10 * mean, (years, count, mean)


def test_about_51_percent_are_boys_and_a_handful_not_specified(records) -> None:
    genders = collections.Counter(r.gender for r in records)
    assert abs(genders[Gender.MALE] / len(records) - 0.512) < 0.015
    assert 0 < genders[Gender.NOT_SPECIFIED] < 0.003 * len(records)


def test_some_children_have_former_names_or_aliases(records) -> None:
    kinds = collections.Counter(n.kind for r in records for n in r.names)
    assert 0.005 < kinds[NameKind.FORMER] / len(records) < 0.06
    assert 0.005 < kinds[NameKind.ALIAS] / len(records) < 0.04


# --- Households ------------------------------------------------------------------------------


def test_siblings_share_address_resident_carers_and_gp(population) -> None:
    arrived = received_at(AS_OF)
    multi = [h for h in population if len(h.children) > 1]
    assert len(multi) > 0.3 * len(population)
    for household in multi:
        reports = [report_child(household, c, arrived=arrived) for c in household.children]
        homes = {
            tuple((a.postcode, a.line_1) for a in r.addresses if a.kind != "previous")
            for r in reports
        }
        assert len(homes) == 1
        residents = {
            frozenset(
                (c.given_names, c.family_name, c.phones) for c in r.carers if c.lives_with_child
            )
            for r in reports
        }
        assert len(residents) == 1 and next(iter(residents))
        practices = {r.gp_registrations[0].practice_ods_code for r in reports if r.gp_registrations}
        assert len(practices) <= 1


def test_siblings_of_primary_age_share_a_primary_school(population) -> None:
    checked = 0
    for household in population:
        urns = {
            c.school.school.urn
            for c in household.children
            if c.school is not None and c.school.school.phase == "primary"
        }
        assert len(urns) <= 1
        checked += len(urns)
    assert checked > 1000


def test_children_usually_share_a_carers_surname(records) -> None:
    shared = sum(
        any(c.family_name == r.names[0].family_name for c in r.carers)
        or "-" in r.names[0].family_name
        for r in records
    )
    assert shared / len(records) > 0.75


def test_household_sizes_and_twins_are_plausible(population) -> None:
    sizes = collections.Counter(min(len(h.children), 4) for h in population)
    assert sizes[1] > sizes[2] > sizes[3] > sizes[4] > 0
    children = [c for h in population for c in h.children]
    twins = sum(
        sum(1 for other in h.children if other.date_of_birth == c.date_of_birth) > 1
        for h in population
        for c in h.children
    )
    assert 0.008 < twins / len(children) < 0.025


def test_about_one_in_five_children_has_a_previous_address(records) -> None:
    share = sum(any(a.kind == AddressKind.PREVIOUS for a in r.addresses) for r in records)
    assert 0.15 < share / len(records) < 0.25


def test_every_postcode_is_in_a_district_of_its_local_authority(records, profiles) -> None:
    for record in records:
        districts = profiles[record.responsible_la_ons_code].districts
        for address in record.addresses:
            assert POSTCODE.fullmatch(address.postcode), address.postcode
            if address.kind != AddressKind.PREVIOUS:
                assert address.postcode.split(" ")[0] in districts


def test_phone_numbers_come_only_from_ofcom_drama_ranges(records) -> None:
    phones = [p for r in records for c in r.carers for p in c.phones]
    phones += [i.phone for r in records for i in r.involvements]
    assert phones and all(DRAMA_PHONE.match(p) for p in phones)


def test_unusual_whereabouts_and_statuses_occur_at_low_rates(records) -> None:
    whereabouts = collections.Counter(r.whereabouts for r in records)
    assert 0 < whereabouts[Whereabouts.LEFT_ENGLAND] < 0.01 * len(records)
    assert 0 < whereabouts[Whereabouts.NO_KNOWN_ADDRESS] < 0.005 * len(records)
    assert 0 < whereabouts[Whereabouts.LAST_KNOWN_ADDRESS] < 0.01 * len(records)
    for record in records:
        if record.whereabouts == Whereabouts.LEFT_ENGLAND:
            assert record.left_england_intends_return in {"yes", "no", "unknown"}
            assert record.date_of_birth <= record.left_england_on <= AS_OF
        if record.whereabouts == Whereabouts.NO_KNOWN_ADDRESS:
            assert all(a.kind == AddressKind.PREVIOUS for a in record.addresses)


# --- Shielding and services ------------------------------------------------------------------


def test_about_half_a_percent_of_children_are_shielded_in_whole_households(
    population, records
) -> None:
    """0.5% of children within 30% (shielding is drawn per household, so counts are lumpy)."""
    share = sum(r.is_shielded for r in records) / len(records)
    assert 0.0035 <= share <= 0.0065, share
    by_household = collections.defaultdict(set)
    for record in records:
        by_household[household_of(record.source.source_record_id)].add(record.is_shielded)
    assert all(len(flags) == 1 for flags in by_household.values())


def test_the_shielded_rate_can_be_raised_for_a_test(profiles) -> None:
    rates = PopulationRates(shielded_household=0.2)
    drawn = list(households(profiles, ["E08000003"], children=5000, seed=1, rates=rates))
    share = sum(len(h.children) for h in drawn if h.is_shielded) / 5000
    assert 0.15 < share < 0.25


def test_sensitive_services_always_have_a_basis_mostly_consent(records) -> None:
    sensitive = [
        (r, i) for r in records for i in r.involvements if i.service_type in SENSITIVE_SERVICE_TYPES
    ]
    assert len(sensitive) > 0.01 * len(records)
    assert all(
        i.sensitive_basis in {SensitiveBasis.CONSENT, SensitiveBasis.SIGNIFICANT_HARM}
        for _, i in sensitive
    )
    consent = sum(i.sensitive_basis == SensitiveBasis.CONSENT for _, i in sensitive)
    assert consent / len(sensitive) > 0.9
    assert all(age(r) >= 11 for r, _ in sensitive)
    others = [
        i for r in records for i in r.involvements if i.service_type not in SENSITIVE_SERVICE_TYPES
    ]
    assert all(i.sensitive_basis == "" for i in others)


def test_involvements_occur_at_plausible_rates_by_age(records) -> None:
    def share(service: str, ages: range) -> float:
        group = [r for r in records if age(r) in ages]
        return sum(any(i.service_type == service for i in r.involvements) for r in group) / len(
            group
        )

    assert share(ServiceType.HEALTH_VISITOR, range(5)) > 0.75
    assert 0.08 < share(ServiceType.SENCO, range(5, 16)) < 0.16
    assert 0.02 < share(ServiceType.SOCIAL_WORKER, range(18)) < 0.05
    assert share(ServiceType.CONNEXIONS, range(13)) == 0
    assert 0.001 < share(ServiceType.YOUTH_OFFENDING, range(10, 18)) < 0.012
    assert share(ServiceType.YOUTH_OFFENDING, range(10)) == 0


def test_a_few_percent_have_a_caf_each_with_one_current_lead_professional(records) -> None:
    with_caf = [r for r in records if any(i.holds_caf_assessment for i in r.involvements)]
    assert 0.012 < len(with_caf) / len(records) < 0.03
    for record in records:
        leads = [i for i in record.involvements if i.is_lead_professional and i.ended_on is None]
        assert len(leads) <= 1
        for involvement in record.involvements:
            assert (involvement.caf_assessment_on is not None) == involvement.holds_caf_assessment


def test_the_same_practitioner_serves_many_children(records) -> None:
    serving = collections.Counter(
        i.practitioner_name + i.organisation_name for r in records for i in r.involvements
    )
    assert serving.most_common(1)[0][1] > 20
    assert len(serving) < 0.25 * sum(serving.values())


def test_no_date_is_after_the_as_of_date_or_before_birth(records) -> None:
    for r in records:
        born = r.date_of_birth
        assert dt.date(AS_OF.year - 18, AS_OF.month, AS_OF.day) < born <= AS_OF
        dates = [a.from_date for a in r.addresses] + [a.to_date for a in r.addresses]
        dates += [e.started_on for e in r.enrolments] + [e.ended_on for e in r.enrolments]
        dates += [g.registered_on for g in r.gp_registrations] + [
            g.ended_on for g in r.gp_registrations
        ]
        dates += [i.started_on for i in r.involvements] + [i.ended_on for i in r.involvements]
        dates += [i.caf_assessment_on for i in r.involvements] + [r.died_on, r.left_england_on]
        assert all(born <= d <= AS_OF for d in dates if d is not None), r
        for i in r.involvements:
            assert i.ended_on is None or i.ended_on >= i.started_on


# --- Local authorities -----------------------------------------------------------------------


def test_children_are_shared_between_las_by_their_child_populations(profiles) -> None:
    shares = apportion(1_000_000, authority_weights(profiles.values()))
    assert sum(shares.values()) == 1_000_000
    kent, rutland, city_of_london = shares["E10000016"], shares["E06000017"], shares["E09000001"]
    assert kent > 30 * rutland
    assert city_of_london < 200
