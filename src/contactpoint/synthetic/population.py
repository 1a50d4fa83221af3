"""The true population of Synthetic England: households of children as they really are.

Nothing here knows how any source system would report a child; `reporting.py` turns this
truth into index records, and dirty feed reporters can later misreport it with known ground
truth. Each household is drawn from its own random.Random seeded by (seed, LA, household
number), so a household is the same whatever batch size, LA selection or run length produced it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from contactpoint.index.vocabularies import (
    CarerRelationship,
    ChildStatus,
    Gender,
    OtherService,
    ReturnIntention,
    SchoolPhase,
    SensitiveBasis,
    ServiceType,
    Whereabouts,
)
from contactpoint.synthetic import data
from contactpoint.synthetic.reference import (
    SERVICES,
    AuthorityProfile,
    SyntheticPractitioner,
    SyntheticSchool,
    draw_surname,
    mobile_number,
    pool_size,
    postcode_in,
    practice,
    practices_needed,
    practitioner,
    school,
    schools_needed,
)

# --- The truth ---------------------------------------------------------------------------------


class HouseholdKind(StrEnum):
    """Who brings the children up: decides the carers, their relationships and surnames."""

    TWO_PARENTS = "two_parents"
    STEP_FAMILY = "step_family"
    SINGLE_MOTHER = "single_mother"
    SINGLE_FATHER = "single_father"
    TWO_MOTHERS = "two_mothers"
    GRANDPARENTS = "grandparents"
    OTHER_RELATIVE = "other_relative"
    FOSTER = "foster"
    ADOPTIVE = "adoptive"


@dataclass(frozen=True, slots=True)
class SyntheticAddress:
    line_1: str
    town: str
    postcode: str
    line_2: str = ""


@dataclass(frozen=True, slots=True)
class Residence:
    """An address and when the household lived there (to_date None: still there)."""

    address: SyntheticAddress
    from_date: dt.date
    to_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class SyntheticAdult:
    """A parent or carer as a person; how they relate to each child is in CarerLink."""

    given_names: str
    family_name: str
    phones: tuple[str, ...]
    lives_in_household: bool
    address: SyntheticAddress | None  # None: the household has no known address


@dataclass(frozen=True, slots=True)
class CarerLink:
    """One adult's relationship to one child (a step-father is 'father' to his own children)."""

    adult: int  # index into SyntheticHousehold.adults
    relationship: str
    has_parental_responsibility: bool


@dataclass(frozen=True, slots=True)
class PersonName:
    given_names: str
    family_name: str


@dataclass(frozen=True, slots=True)
class SchoolPlace:
    school: SyntheticSchool
    started_on: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class GpPlace:
    ods_code: str
    registered_on: dt.date
    ended_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class SyntheticInvolvement:
    service_type: str
    other_service: str
    practitioner: SyntheticPractitioner
    started_on: dt.date
    ended_on: dt.date | None = None
    is_lead_professional: bool = False
    caf_assessment_on: dt.date | None = None
    sensitive_basis: str = ""


@dataclass(frozen=True, slots=True)
class SyntheticChild:
    """One child as they really are; household facts (home, shielding) live on the household."""

    position: int  # 1 = eldest child of the household on the index
    gender: str
    date_of_birth: dt.date
    name: PersonName
    former_names: tuple[PersonName, ...]
    aliases: tuple[PersonName, ...]
    carers: tuple[CarerLink, ...]
    school: SchoolPlace | None
    gp: GpPlace | None
    involvements: tuple[SyntheticInvolvement, ...]
    status: str = ChildStatus.ACTIVE
    died_on: dt.date | None = None


@dataclass(frozen=True, slots=True)
class SyntheticHousehold:
    """Siblings with the same home, carers and GP: the unit the generator draws."""

    la_code: str
    number: int
    kind: HouseholdKind
    adults: tuple[SyntheticAdult, ...]
    children: tuple[SyntheticChild, ...]
    home: Residence | None  # None: no known address
    previous_home: Residence | None
    whereabouts: str
    is_shielded: bool = False
    left_england_on: dt.date | None = None
    intends_return: str = ""

    @property
    def household_id(self) -> str:
        """Stable and unique across LAs: E08000003-HH0000123."""
        return f"{self.la_code}-HH{self.number:07d}"


# --- Rates, as data ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InvolvementRate:
    """How often a service is involved with children of an age (years at the as-of date)."""

    service: str  # a key of reference.SERVICES, or "senco"
    min_age: int
    max_age: int
    rate: float
    per_household: bool = False  # one decision and one practitioner for all eligible siblings
    needs_school: bool = False
    ended_share: float = 0.2
    max_years: int = 3  # how long ago it may have started


SENCO = "senco"

INVOLVEMENT_RATES: tuple[InvolvementRate, ...] = (
    InvolvementRate(ServiceType.HEALTH_VISITOR, 0, 4, 0.88, per_household=True, ended_share=0),
    InvolvementRate(ServiceType.SCHOOL_NURSE, 5, 16, 0.08, needs_school=True),
    InvolvementRate(SENCO, 4, 16, 0.12, needs_school=True, ended_share=0.1, max_years=6),
    InvolvementRate(ServiceType.SOCIAL_WORKER, 0, 17, 0.025, per_household=True),
    InvolvementRate(ServiceType.YOUTH_WORKER, 11, 17, 0.05),
    InvolvementRate(ServiceType.YOUTH_OFFENDING, 10, 17, 0.005),
    InvolvementRate(ServiceType.CONNEXIONS, 13, 17, 0.12),
    InvolvementRate(OtherService.EARLY_HELP, 0, 17, 0.02, per_household=True),
    InvolvementRate(OtherService.CHILDRENS_CENTRE, 0, 4, 0.06, per_household=True),
    InvolvementRate(OtherService.SPEECH_AND_LANGUAGE, 2, 7, 0.05),
    InvolvementRate(OtherService.EDUCATIONAL_PSYCHOLOGY, 4, 16, 0.015, needs_school=True),
    InvolvementRate(OtherService.EDUCATION_WELFARE, 5, 16, 0.02, needs_school=True),
    InvolvementRate(OtherService.YOUNG_CARERS, 8, 17, 0.01),
    InvolvementRate(OtherService.DISABLED_CHILDREN, 0, 17, 0.01, ended_share=0.05),
    InvolvementRate(OtherService.PAEDIATRICS, 0, 16, 0.02),
    InvolvementRate(OtherService.HOUSING, 0, 17, 0.004, per_household=True),
    InvolvementRate(OtherService.POLICE, 10, 17, 0.003),
    InvolvementRate(OtherService.VOLUNTARY_SECTOR, 0, 17, 0.01, per_household=True),
    # Sensitive services: recorded only with the young person's consent (or suspected harm).
    InvolvementRate(ServiceType.SEXUAL_HEALTH, 13, 17, 0.02, max_years=1),
    InvolvementRate(ServiceType.MENTAL_HEALTH, 11, 17, 0.035),
    InvolvementRate(ServiceType.SUBSTANCE_MISUSE, 13, 17, 0.006, max_years=1),
)

# Who is the lead professional when a child has a CAF, most likely first.
LEAD_PREFERENCE: tuple[str, ...] = (
    ServiceType.SOCIAL_WORKER,
    OtherService.EARLY_HELP,
    SENCO,
    ServiceType.HEALTH_VISITOR,
    ServiceType.SCHOOL_NURSE,
    OtherService.EDUCATION_WELFARE,
    ServiceType.YOUTH_WORKER,
    ServiceType.CONNEXIONS,
)

HOUSEHOLD_KINDS: dict[HouseholdKind, float] = {
    HouseholdKind.TWO_PARENTS: 0.56,
    HouseholdKind.STEP_FAMILY: 0.09,
    HouseholdKind.SINGLE_MOTHER: 0.25,
    HouseholdKind.SINGLE_FATHER: 0.025,
    HouseholdKind.TWO_MOTHERS: 0.01,
    HouseholdKind.GRANDPARENTS: 0.025,
    HouseholdKind.OTHER_RELATIVE: 0.008,
    HouseholdKind.FOSTER: 0.008,
    HouseholdKind.ADOPTIVE: 0.004,
}
# Shielded families are mostly mothers and children in refuges; some are in witness protection
# or at risk of abduction from a placement.
SHIELDED_HOUSEHOLD_KINDS: dict[HouseholdKind, float] = {
    HouseholdKind.SINGLE_MOTHER: 0.65,
    HouseholdKind.TWO_PARENTS: 0.15,
    HouseholdKind.FOSTER: 0.10,
    HouseholdKind.GRANDPARENTS: 0.10,
}

# How many children a family has had in all (some grown up, some not yet born at the as-of date).
FAMILY_SIZES: dict[int, float] = {1: 0.34, 2: 0.40, 3: 0.16, 4: 0.06, 5: 0.025, 6: 0.015}


@dataclass(frozen=True, slots=True)
class PopulationRates:
    """The knobs of the population, overridable in tests (for example a higher shielded rate)."""

    shielded_household: float = 0.005  # ~0.5% of children, whole households together
    left_england_household: float = 0.002
    no_known_address_household: float = 0.001
    last_known_address_household: float = 0.002
    previous_address_household: float = 0.29  # gives ~20% of children a previous address
    deceased_child: float = 0.0003  # records stay for a year after death
    twins_per_birth: float = 0.0075  # ~1.5% of children are twins
    male: float = 0.512
    not_specified_gender: float = 0.001
    one_middle_name: float = 0.70
    two_middle_names: float = 0.08
    alias: float = 0.02
    deed_poll_former_name: float = 0.005
    caf: float = 0.02
    significant_harm_basis: float = 0.05  # of sensitive services; the rest are by consent
    household_kinds: dict[HouseholdKind, float] = field(
        default_factory=lambda: dict(HOUSEHOLD_KINDS)
    )


# --- Drawing households ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalSetting:
    """One LA as the generator sees it in a run: its profile and the size of its services."""

    profile: AuthorityProfile
    children: int  # how many children this run generates in the LA
    elsewhere: tuple[AuthorityProfile, ...]  # where families who moved in came from

    def schools(self, phase: str) -> int:
        """How many schools of a phase the LA has in this run."""
        return schools_needed(self.children, phase)

    def practices(self) -> int:
        """How many GP practices the LA has in this run."""
        return practices_needed(self.children)

    def pool(self, service: str) -> int:
        """How many practitioners of a service the LA has in this run."""
        return pool_size(service, self.children)


def _weighted(rng: random.Random, weights: dict[HouseholdKind, float]) -> HouseholdKind:
    return rng.choices(tuple(weights), weights=tuple(weights.values()))[0]


def _ordinal_age_years(dob: dt.date, on: dt.date) -> int:
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _hyphenated(first: str, second: str) -> str:
    """A double-barrelled surname, unless either part is itself several words or the same."""
    if first == second or " " in first or " " in second or "-" in first or "-" in second:
        return first
    return f"{first}-{second}"


class HouseholdFactory:
    """Draws the households of one LA for one seed and as-of date."""

    def __init__(
        self,
        *,
        seed: int,
        as_of: dt.date,
        setting: LocalSetting,
        rates: PopulationRates | None = None,
    ) -> None:
        self.seed = seed
        self.as_of = as_of
        self.as_of_ord = as_of.toordinal()
        self.setting = setting
        self.profile = setting.profile
        self.rates = rates or PopulationRates()
        self.window = self.as_of_ord - _years_before(as_of, 18).toordinal()
        # The academic year in progress began on 1 September of this year.
        self.school_year = as_of.year if as_of.month >= 9 else as_of.year - 1
        self.family_sizes = (tuple(FAMILY_SIZES), tuple(FAMILY_SIZES.values()))

    # -- public ---------------------------------------------------------------------------

    def households(self, limit: int) -> Iterator[SyntheticHousehold]:
        """Households 1, 2, ... until exactly `limit` children (the last one may be cut short)."""
        remaining, number = limit, 0
        while remaining > 0:
            number += 1
            household = self.household(number)
            if len(household.children) > remaining:
                household = replace(household, children=household.children[:remaining])
            remaining -= len(household.children)
            yield household

    def household(self, number: int) -> SyntheticHousehold:
        """Household `number` of this LA: a pure function of (seed, LA, number, as-of)."""
        rng = random.Random(f"{self.seed}:{self.profile.ons_code}:{number}")
        rates = self.rates
        shielded = rng.random() < rates.shielded_household
        kind = _weighted(rng, SHIELDED_HOUSEHOLD_KINDS if shielded else rates.household_kinds)
        offsets = self._birth_offsets(rng)
        eldest_age = self._place_in_time(rng, offsets)
        dobs = [dt.date.fromordinal(self.as_of_ord - eldest_age + o) for o in offsets]
        on_index = [i for i, o in enumerate(offsets) if 0 <= eldest_age - o < self.window]

        whereabouts, home, previous = self._homes(rng, shielded, dobs[on_index[-1]])
        address = home.address if home else None
        family = _Family.draw(rng, kind, len(offsets), self, address)

        left_on: dt.date | None = None
        intends = ""
        if whereabouts == Whereabouts.LEFT_ENGLAND:
            youngest = dobs[on_index[-1]].toordinal()
            earliest = max(youngest, home.from_date.toordinal() if home else youngest)
            left_on = dt.date.fromordinal(
                rng.randint(max(earliest, self.as_of_ord - 3 * 365), self.as_of_ord)
            )
            intends = rng.choices(
                (ReturnIntention.YES, ReturnIntention.NO, ReturnIntention.UNKNOWN),
                weights=(0.4, 0.35, 0.25),
            )[0]

        shared = _HouseholdChoices()
        if kind == HouseholdKind.FOSTER:
            shared.forced.add(ServiceType.SOCIAL_WORKER)  # every looked-after child has one
        children = []
        taken_names: set[str] = set()
        for position, birth in enumerate(on_index, start=1):
            child = self._child(
                rng,
                position=position,
                dob=dobs[birth],
                links=family.links[birth],
                family_name=family.family_names[birth],
                former=family.former[birth],
                home=home,
                shared=shared,
                taken_names=taken_names,
                shielded=shielded,
                can_die=left_on is None,
            )
            if left_on is not None:
                child = _closed(child, left_on, status=ChildStatus.LEFT_ENGLAND)
            children.append(child)
        return SyntheticHousehold(
            la_code=self.profile.ons_code,
            number=number,
            kind=kind,
            adults=family.adults,
            children=tuple(children),
            home=home,
            previous_home=previous,
            whereabouts=whereabouts,
            is_shielded=shielded,
            left_england_on=left_on,
            intends_return=intends,
        )

    # -- births and homes ---------------------------------------------------------------------

    def _birth_offsets(self, rng: random.Random) -> list[int]:
        """Days from the eldest's birth to each child's, twins sharing a day."""
        births = rng.choices(*self.family_sizes)[0]
        offsets = [0]
        if rng.random() < self.rates.twins_per_birth:
            offsets.append(0)
        for _ in range(births - 1):
            offsets.append(offsets[-1] + 300 + int(rng.gammavariate(2.0, 400.0)))
            if rng.random() < self.rates.twins_per_birth:
                offsets.append(offsets[-1])
        return offsets

    def _place_in_time(self, rng: random.Random, offsets: list[int]) -> int:
        """The eldest's age in days, uniform over every placement that leaves a child under 18.

        Drawing the eldest's age over window + span makes each child's age uniform over the
        window, so the population's ages are flat by single year; children outside the window
        are grown-up or not yet born siblings, and are not on the index.
        """
        span = offsets[-1]
        while True:
            eldest = rng.randrange(self.window + span)
            if any(0 <= eldest - o < self.window for o in offsets):
                return eldest

    def address_in(self, rng: random.Random, profile: AuthorityProfile) -> SyntheticAddress:
        """A plausible street address in one of the LA's postcode districts."""
        district = rng.choice(profile.districts)
        stem = rng.choice(data.street_stems())
        suffix = rng.choice(data.street_suffixes())
        number = 1 + int((rng.paretovariate(1.2) - 1) * 20) % 240  # low numbers are commonest
        roll = rng.random()
        if roll < 0.12:
            building = rng.choice(data.street_stems())
            line_1 = f"Flat {rng.randint(1, 40)}, {building} Court"
            line_2 = f"{number} {stem} {suffix}"
        elif roll < 0.15:
            line_1, line_2 = building_name(rng), f"{stem} {suffix}"
        else:
            line_1, line_2 = f"{number} {stem} {suffix}", ""
        return SyntheticAddress(
            line_1=line_1,
            line_2=line_2,
            town=profile.town_for(district),
            postcode=postcode_in(rng, district),
        )

    def _homes(
        self, rng: random.Random, shielded: bool, youngest_dob: dt.date
    ) -> tuple[str, Residence | None, Residence | None]:
        rates = self.rates
        roll = rng.random()
        whereabouts = Whereabouts.CURRENT_ADDRESS
        if not shielded:  # a family in a refuge has an address: the refuge's
            if roll < rates.left_england_household:
                whereabouts = Whereabouts.LEFT_ENGLAND
            elif roll < rates.left_england_household + rates.no_known_address_household:
                whereabouts = Whereabouts.NO_KNOWN_ADDRESS
            elif roll < (
                rates.left_england_household
                + rates.no_known_address_household
                + rates.last_known_address_household
            ):
                whereabouts = Whereabouts.LAST_KNOWN_ADDRESS
        # Years at the current address: exponential with a mean of six years.
        moved_in = self.as_of_ord - min(int(rng.expovariate(1 / (6 * 365.25))), 20 * 365)
        if shielded:  # families flee to refuges recently
            moved_in = self.as_of_ord - rng.randint(0, 2 * 365)
        if whereabouts == Whereabouts.LEFT_ENGLAND:
            # They must have lived here after the youngest child was born, before leaving.
            moved_in = min(moved_in, youngest_dob.toordinal())
        home = Residence(self.address_in(rng, self.profile), dt.date.fromordinal(moved_in))
        previous = None
        if shielded or rng.random() < rates.previous_address_household:
            came_from = self.profile
            if self.setting.elsewhere and rng.random() < 0.25:
                came_from = rng.choice(self.setting.elsewhere)
            lived_from = moved_in - rng.randint(365, 8 * 365)
            previous = Residence(
                self.address_in(rng, came_from),
                dt.date.fromordinal(lived_from),
                dt.date.fromordinal(moved_in - 1),
            )
        if whereabouts == Whereabouts.NO_KNOWN_ADDRESS:
            # Their last address is now a previous one: they moved out and nobody knows where.
            return whereabouts, None, replace(home, to_date=self.as_of)
        return whereabouts, home, previous

    # -- children -----------------------------------------------------------------------------

    def _child(
        self,
        rng: random.Random,
        *,
        position: int,
        dob: dt.date,
        links: tuple[CarerLink, ...],
        family_name: str,
        former: str,
        home: Residence | None,
        shared: _HouseholdChoices,
        taken_names: set[str],
        shielded: bool,
        can_die: bool,
    ) -> SyntheticChild:
        rates = self.rates
        roll = rng.random()
        if roll < rates.male:
            gender, table_sex = Gender.MALE, "M"
        elif roll < 1 - rates.not_specified_gender:
            gender, table_sex = Gender.FEMALE, "F"
        else:
            gender, table_sex = Gender.NOT_SPECIFIED, rng.choice("FM")
        names = data.given_names_for(table_sex, dob.year)
        first = names.pick(rng.random())
        for _ in range(5):  # siblings do not share a first name (twins included)
            if first not in taken_names:
                break
            first = names.pick(rng.random())
        taken_names.add(first)
        given = [first]
        roll = rng.random()
        middles = 2 if roll < rates.two_middle_names else 1 if roll < rates.one_middle_name else 0
        while len(given) < 1 + middles:
            middle = names.pick(rng.random())
            if middle not in given:
                given.append(middle)
        current = PersonName(" ".join(given), family_name)

        former_names: tuple[PersonName, ...] = ()
        if former:
            former_names = (PersonName(current.given_names, former),)
        elif rng.random() < rates.deed_poll_former_name:
            former_names = (PersonName(current.given_names, draw_surname(rng)),)
        aliases: tuple[PersonName, ...] = ()
        if rng.random() < rates.alias:
            familiar = data.nicknames().get(first)
            if familiar:
                aliases = (PersonName(rng.choice(familiar), family_name),)

        place = self._school(rng, dob, home, shared)
        gp = self._gp(rng, dob, home, shared)
        involvements = self._involvements(rng, dob, place, shared, shielded)
        child = SyntheticChild(
            position=position,
            gender=gender,
            date_of_birth=dob,
            name=current,
            former_names=former_names,
            aliases=aliases,
            carers=links,
            school=place,
            gp=gp,
            involvements=involvements,
        )
        if can_die and rng.random() < rates.deceased_child:
            age_days = self.as_of_ord - dob.toordinal()
            died_on = dt.date.fromordinal(self.as_of_ord - rng.randint(0, min(364, age_days)))
            child = _closed(child, died_on, status=ChildStatus.DECEASED)
        return child

    def _school(
        self,
        rng: random.Random,
        dob: dt.date,
        home: Residence | None,
        shared: _HouseholdChoices,
    ) -> SchoolPlace | None:
        """The child's current school by age on 31 August, siblings sharing where they can."""
        age = _ordinal_age_years(dob, dt.date(self.school_year, 8, 31))
        roll = rng.random()
        phase, entry_age = "", 0
        if age == 2 and roll < 0.2:  # funded places for two-year-olds
            phase, entry_age = SchoolPhase.NURSERY, age
        elif age == 3 and roll < 0.85:
            # Most three-year-olds attend a nursery class in a primary school.
            phase = SchoolPhase.NURSERY if roll < 0.25 else SchoolPhase.PRIMARY
            entry_age = age
        elif 4 <= age <= 10:
            if roll < 0.012:
                phase, entry_age = SchoolPhase.SPECIAL, 4
            elif roll < 0.99:  # the rest are educated at home
                phase, entry_age = SchoolPhase.PRIMARY, 4
        elif 11 <= age <= 15:
            if roll < 0.015:
                phase, entry_age = SchoolPhase.SPECIAL, 11
            elif roll < 0.985:
                phase, entry_age = SchoolPhase.SECONDARY, 11
        elif 16 <= age <= 17:
            if roll < 0.01:
                phase, entry_age = SchoolPhase.SPECIAL, 11
            elif roll < 0.36:
                phase, entry_age = SchoolPhase.SECONDARY, 11  # its sixth form
            elif roll < 0.86:
                phase, entry_age = SchoolPhase.SIXTEEN_PLUS, 16
        if not phase:
            return None
        number = shared.school_number(rng, phase, self.setting.schools(phase))
        started = dt.date(self.school_year - (age - entry_age), 9, 1)
        if home is not None and home.from_date > started:
            # A family that moved in since changed school soon after the move.
            moved = home.from_date.toordinal() + rng.randint(0, 30)
            started = dt.date.fromordinal(min(moved, self.as_of_ord))
        return SchoolPlace(school(self.profile, phase, number), started)

    def _gp(
        self,
        rng: random.Random,
        dob: dt.date,
        home: Residence | None,
        shared: _HouseholdChoices,
    ) -> GpPlace | None:
        """Registered a few weeks after birth, or after moving in; the newest are not yet."""
        registered = dob.toordinal() + rng.randint(14, 60)
        if home is not None and home.from_date > dob:
            registered = max(registered, home.from_date.toordinal() + rng.randint(0, 90))
        if dob.toordinal() + 14 > self.as_of_ord:
            return None
        if shared.practice is None:
            shared.practice = rng.randrange(self.setting.practices())
        ods_code = practice(self.profile, shared.practice).ods_code
        return GpPlace(ods_code, dt.date.fromordinal(min(registered, self.as_of_ord)))

    def _start(self, rng: random.Random, earliest: int, max_years: int) -> int:
        earliest = max(min(earliest, self.as_of_ord), self.as_of_ord - max_years * 365)
        return rng.randint(earliest, self.as_of_ord)

    def _involvements(
        self,
        rng: random.Random,
        dob: dt.date,
        place: SchoolPlace | None,
        shared: _HouseholdChoices,
        shielded: bool,
    ) -> tuple[SyntheticInvolvement, ...]:
        age = _ordinal_age_years(dob, self.as_of)
        dob_ord = dob.toordinal()
        found: dict[str, SyntheticInvolvement] = {}
        for rate in INVOLVEMENT_RATES:
            if not rate.min_age <= age <= rate.max_age:
                continue
            if rate.needs_school and place is None:
                continue
            if rate.per_household:
                if rate.service not in shared.services:
                    chance = rate.rate
                    if shielded and rate.service == ServiceType.SOCIAL_WORKER:
                        chance = 0.5
                    involved = rate.service in shared.forced or rng.random() < chance
                    shared.services[rate.service] = (
                        (
                            rng.randrange(self.setting.pool(rate.service)),
                            self._start(rng, dob_ord, rate.max_years),
                        )
                        if involved
                        else None
                    )
                decided = shared.services[rate.service]
                if decided is None:
                    continue
                number, household_start = decided
                started = max(household_start, dob_ord)
            else:
                if rng.random() >= rate.rate:
                    continue
                earliest = dob_ord + rate.min_age * 365
                if place is not None and rate.needs_school:
                    earliest = max(earliest, place.started_on.toordinal())
                started = self._start(rng, earliest, rate.max_years)
                number = -1
            if rate.service == ServiceType.HEALTH_VISITOR:
                started = min(dob_ord + rng.randint(10, 14), self.as_of_ord)  # new-birth visit
            if rate.service == SENCO:
                assert place is not None
                who = place.school.senco  # the school's own SENCO, shared by its pupils
            else:
                if number < 0:
                    number = rng.randrange(self.setting.pool(rate.service))
                who = practitioner(self.profile, rate.service, number)
            ended = None
            if rate.ended_share and rng.random() < rate.ended_share:
                ended = dt.date.fromordinal(rng.randint(started, self.as_of_ord))
            definition = SERVICES.get(rate.service)
            service_type = definition.service_type if definition else ServiceType.SENCO
            basis = ""
            if service_type in {
                ServiceType.SEXUAL_HEALTH,
                ServiceType.MENTAL_HEALTH,
                ServiceType.SUBSTANCE_MISUSE,
            }:
                basis = (
                    SensitiveBasis.SIGNIFICANT_HARM
                    if rng.random() < self.rates.significant_harm_basis
                    else SensitiveBasis.CONSENT
                )
            found[rate.service] = SyntheticInvolvement(
                service_type=service_type,
                other_service=definition.other_service if definition else "",
                practitioner=who,
                started_on=dt.date.fromordinal(started),
                ended_on=ended,
                sensitive_basis=basis,
            )
        return self._lead_professional(rng, found, dob_ord)

    def _lead_professional(
        self, rng: random.Random, found: dict[str, SyntheticInvolvement], dob_ord: int
    ) -> tuple[SyntheticInvolvement, ...]:
        """A CAF names a lead professional; a current social worker often leads without one."""
        has_caf = rng.random() < self.rates.caf
        lead = next(
            (key for key in LEAD_PREFERENCE if key in found and found[key].ended_on is None),
            None,
        )
        if has_caf and lead is None:
            number = rng.randrange(self.setting.pool(OtherService.EARLY_HELP))
            found[OtherService.EARLY_HELP] = SyntheticInvolvement(
                service_type=ServiceType.OTHER,
                other_service=OtherService.EARLY_HELP,
                practitioner=practitioner(self.profile, OtherService.EARLY_HELP, number),
                started_on=dt.date.fromordinal(self._start(rng, dob_ord, 2)),
            )
            lead = OtherService.EARLY_HELP
        if lead is not None and has_caf:
            chosen = found[lead]
            caf_on = rng.randint(chosen.started_on.toordinal(), self.as_of_ord)
            found[lead] = replace(
                chosen, is_lead_professional=True, caf_assessment_on=dt.date.fromordinal(caf_on)
            )
        elif lead == ServiceType.SOCIAL_WORKER and rng.random() < 0.5:
            found[lead] = replace(found[lead], is_lead_professional=True)
        return tuple(found.values())


def building_name(rng: random.Random) -> str:
    """A named house, as rural addresses often have instead of a number."""
    return f"{rng.choice(data.street_stems())} {rng.choice(('Cottage', 'House', 'Farm', 'Lodge'))}"


def _closed(child: SyntheticChild, on: dt.date, *, status: str) -> SyntheticChild:
    """The child as of dying or leaving England on `on`: settings and services end then."""
    place = child.school
    if place is not None:
        place = replace(place, ended_on=on) if place.started_on <= on else None
    gp = child.gp
    if gp is not None:
        gp = replace(gp, ended_on=on) if gp.registered_on <= on else None
    involvements = []
    for involvement in child.involvements:
        if involvement.started_on > on:
            continue
        ended = min(involvement.ended_on or on, on)
        caf_on = involvement.caf_assessment_on
        if caf_on is not None and caf_on > ended:
            caf_on = ended
        involvements.append(replace(involvement, ended_on=ended, caf_assessment_on=caf_on))
    return replace(
        child,
        school=place,
        gp=gp,
        involvements=tuple(involvements),
        status=status,
        died_on=on if status == ChildStatus.DECEASED else None,
    )


@dataclass
class _HouseholdChoices:
    """What siblings share, decided by the first child who needs it."""

    practice: int | None = None
    schools: dict[str, int] = field(default_factory=dict)
    # per-household services: None (not involved) or (practitioner number, start ordinal)
    services: dict[str, tuple[int, int] | None] = field(default_factory=dict)
    forced: set[str] = field(default_factory=set)

    def school_number(self, rng: random.Random, phase: str, available: int) -> int:
        """Which of the LA's schools of a phase this child attends."""
        number = self.schools.get(phase)
        # Siblings share a primary school; one in seven goes to a different secondary.
        if number is None or (phase != SchoolPhase.PRIMARY and rng.random() < 0.15):
            number = rng.randrange(available)
            self.schools.setdefault(phase, number)
        return number


# --- Families: carers and surnames -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Family:
    """The adults of a household and, per birth, the child's surname and carers."""

    adults: tuple[SyntheticAdult, ...]
    family_names: tuple[str, ...]  # per birth
    former: tuple[str, ...]  # per birth: a former family name, or ""
    links: tuple[tuple[CarerLink, ...], ...]  # per birth

    @staticmethod
    def draw(
        rng: random.Random,
        kind: HouseholdKind,
        births: int,
        factory: HouseholdFactory,
        address: SyntheticAddress | None,
    ) -> _Family:
        builder = _FamilyBuilder(rng, factory, address)
        return builder.build(kind, births)


class _FamilyBuilder:
    def __init__(
        self, rng: random.Random, factory: HouseholdFactory, address: SyntheticAddress | None
    ) -> None:
        self.rng = rng
        self.factory = factory
        self.address = address
        self.adults: list[SyntheticAdult] = []
        # A shared landline for the home, used by some households.
        self.landline = factory.profile.landline(rng) if rng.random() < 0.35 else ""

    def adult(self, sex: str, family_name: str, *, resident: bool = True) -> int:
        rng = self.rng
        phones = [mobile_number(rng)]
        if resident and self.landline:
            if rng.random() < 0.2:
                phones.insert(0, self.landline)
            else:
                phones.append(self.landline)
        if rng.random() < 0.05:
            phones.append(self.factory.profile.landline(rng))  # a work number
        address = self.address
        if not resident:
            address = self.factory.address_in(rng, self.factory.profile)
        self.adults.append(
            SyntheticAdult(
                given_names=rng.choice(data.adult_given_names(sex)),
                family_name=family_name,
                phones=tuple(phones[:3]),
                lives_in_household=resident,
                address=address,
            )
        )
        return len(self.adults) - 1

    def build(self, kind: HouseholdKind, births: int) -> _Family:
        rng = self.rng
        surname = draw_surname
        former = [""] * births
        links: list[list[CarerLink]] = [[] for _ in range(births)]

        def link_all(adult: int, relationship: str, pr: bool) -> None:
            for each in links:
                each.append(CarerLink(adult, relationship, pr))

        if kind in (HouseholdKind.TWO_PARENTS, HouseholdKind.ADOPTIVE):
            father_name = surname(rng)
            married = kind == HouseholdKind.ADOPTIVE or rng.random() < 0.6
            mother_name = father_name if married else surname(rng)
            child_name = father_name
            if not married:
                roll = rng.random()
                if roll < 0.10:
                    child_name = mother_name
                elif roll < 0.25:
                    child_name = _hyphenated(mother_name, father_name)
            relationship_m, relationship_f = CarerRelationship.MOTHER, CarerRelationship.FATHER
            if kind == HouseholdKind.ADOPTIVE:
                relationship_m = relationship_f = CarerRelationship.ADOPTIVE_PARENT
                if rng.random() < 0.6:
                    birth_name = surname(rng)
                    former = [birth_name] * births
            link_all(self.adult("F", mother_name), relationship_m, True)
            link_all(self.adult("M", father_name), relationship_f, True)
            names = [child_name] * births
        elif kind == HouseholdKind.STEP_FAMILY:
            # Children before `split` are the mother's with an earlier partner.
            split = rng.randint(1, births)
            birth_father, step_father, maiden = surname(rng), surname(rng), surname(rng)
            mother_name = step_father if rng.random() < 0.5 else maiden
            older_name = birth_father if rng.random() < 0.7 else maiden
            changed = rng.random() < 0.25  # older children took the step-father's name
            names = []
            mother = self.adult("F", mother_name)
            step = self.adult("M", step_father)
            absent = self.adult("M", birth_father, resident=False) if rng.random() < 0.5 else -1
            for birth in range(births):
                links[birth].append(CarerLink(mother, CarerRelationship.MOTHER, True))
                if birth < split:
                    names.append(step_father if changed else older_name)
                    if changed and older_name != step_father:
                        former[birth] = older_name
                    links[birth].append(
                        CarerLink(step, CarerRelationship.STEP_PARENT, rng.random() < 0.15)
                    )
                    if absent >= 0:
                        links[birth].append(CarerLink(absent, CarerRelationship.FATHER, True))
                else:
                    names.append(step_father)
                    links[birth].append(CarerLink(step, CarerRelationship.FATHER, True))
        elif kind == HouseholdKind.SINGLE_MOTHER:
            mother_name, father_name = surname(rng), surname(rng)
            roll = rng.random()
            child_name = (
                mother_name
                if roll < 0.55
                else father_name
                if roll < 0.9
                else _hyphenated(mother_name, father_name)
            )
            names = [child_name] * births
            link_all(self.adult("F", mother_name), CarerRelationship.MOTHER, True)
            if rng.random() < 0.35:
                father = self.adult("M", father_name, resident=False)
                link_all(father, CarerRelationship.FATHER, True)
        elif kind == HouseholdKind.SINGLE_FATHER:
            father_name = surname(rng)
            mother_name = father_name if rng.random() < 0.5 else surname(rng)
            names = [father_name if rng.random() < 0.9 else mother_name] * births
            link_all(self.adult("M", father_name), CarerRelationship.FATHER, True)
            if rng.random() < 0.3:
                mother = self.adult("F", mother_name, resident=False)
                link_all(mother, CarerRelationship.MOTHER, True)
        elif kind == HouseholdKind.TWO_MOTHERS:
            first = surname(rng)
            second = first if rng.random() < 0.5 else surname(rng)
            names = [first if rng.random() < 0.7 else _hyphenated(first, second)] * births
            link_all(self.adult("F", first), CarerRelationship.MOTHER, True)
            link_all(self.adult("F", second), CarerRelationship.MOTHER, True)
        elif kind == HouseholdKind.GRANDPARENTS:
            grand_name = surname(rng)
            child_name = grand_name if rng.random() < 0.6 else surname(rng)
            names = [child_name] * births
            guardian = rng.random() < 0.35  # a special guardianship order gives PR
            relationship = (
                CarerRelationship.SPECIAL_GUARDIAN if guardian else CarerRelationship.GRANDPARENT
            )
            link_all(self.adult("F", grand_name), relationship, guardian)
            if rng.random() < 0.6:
                link_all(self.adult("M", grand_name), relationship, guardian)
            if rng.random() < 0.3:
                mother = self.adult("F", surname(rng), resident=False)
                link_all(mother, CarerRelationship.MOTHER, True)
        elif kind == HouseholdKind.OTHER_RELATIVE:
            relative_name = surname(rng)
            names = [surname(rng) if rng.random() < 0.5 else relative_name] * births
            link_all(self.adult("F", relative_name), CarerRelationship.OTHER_RELATIVE, False)
            if rng.random() < 0.5:
                link_all(self.adult("M", relative_name), CarerRelationship.OTHER_RELATIVE, False)
        else:  # foster: a sibling group placed together with foster carers
            carer_name = surname(rng)
            names = [surname(rng)] * births
            link_all(self.adult("F", carer_name), CarerRelationship.FOSTER_CARER, False)
            if rng.random() < 0.6:
                link_all(self.adult("M", carer_name), CarerRelationship.FOSTER_CARER, False)
            if rng.random() < 0.3:
                mother = self.adult("F", names[0], resident=False)
                link_all(mother, CarerRelationship.MOTHER, True)
        return _Family(
            adults=tuple(self.adults),
            family_names=tuple(names),
            former=tuple(former),
            links=tuple(tuple(each) for each in links),
        )
