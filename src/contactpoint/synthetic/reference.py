"""Synthetic England's fixed geography: local authorities, schools, GP practices, practitioners.

Every school, practice and practitioner is a pure function of (local authority, kind, number),
independent of the generator's seed: like real geography it is the same whichever families are
drawn, so a second run into the same database reuses the rows the first one created. A run
uses the first N of each, N scaled to the number of children it generates in that authority.
"""

from __future__ import annotations

import csv
import functools
import math
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from contactpoint.index import normalise
from contactpoint.index.vocabularies import OtherService, Region, SchoolPhase, ServiceType
from contactpoint.synthetic import data

# --- Phone numbers and postcodes -----------------------------------------------------------

# Ofcom reserves these ranges for drama, so no real person can be rung by mistake.
MOBILE_PREFIX = "07700 900"
_LANDLINE_PREFIX_BY_REGION: dict[str, str] = {
    Region.NORTH_WEST: "0161 496 0",
    Region.YORKSHIRE: "0113 496 0",
    Region.WEST_MIDLANDS: "0121 496 0",
    Region.LONDON: "020 7946 0",
}
_FICTIONAL_LANDLINE_PREFIX = "01632 960"  # Ofcom's drama range with no real area behind it

# The inward code's letters never include C, I, K, M, O or V (Royal Mail).
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


def mobile_number(rng: random.Random) -> str:
    """A mobile number from Ofcom's drama range, 07700 900000-900999."""
    return f"{MOBILE_PREFIX}{rng.randrange(1000):03d}"


def landline_number(rng: random.Random, region: str) -> str:
    """A landline in the region's drama range (0161 496 0xxx in the North West...)."""
    prefix = _LANDLINE_PREFIX_BY_REGION.get(region, _FICTIONAL_LANDLINE_PREFIX)
    return f"{prefix}{rng.randrange(1000):03d}"


def postcode_in(rng: random.Random, district: str) -> str:
    """A full postcode in the given district: outward code + digit + two allowed letters."""
    return (
        f"{district} {rng.randrange(10)}"
        f"{INWARD_LETTERS[rng.randrange(20)]}{INWARD_LETTERS[rng.randrange(20)]}"
    )


# Post town of each English postcode area (approximate: the principal town of the area).
POST_TOWNS: dict[str, str] = {
    "AL": "St Albans", "B": "Birmingham", "BA": "Bath", "BB": "Blackburn", "BD": "Bradford",
    "BH": "Bournemouth", "BL": "Bolton", "BN": "Brighton", "BR": "Bromley", "BS": "Bristol",
    "CA": "Carlisle", "CB": "Cambridge", "CH": "Chester", "CM": "Chelmsford", "CO": "Colchester",
    "CR": "Croydon", "CT": "Canterbury", "CV": "Coventry", "CW": "Crewe", "DA": "Dartford",
    "DE": "Derby", "DH": "Durham", "DL": "Darlington", "DN": "Doncaster", "DT": "Dorchester",
    "DY": "Dudley", "E": "London", "EC": "London", "EN": "Enfield", "EX": "Exeter",
    "FY": "Blackpool", "GL": "Gloucester", "GU": "Guildford", "HA": "Harrow",
    "HD": "Huddersfield", "HG": "Harrogate", "HP": "Hemel Hempstead", "HR": "Hereford",
    "HU": "Hull", "HX": "Halifax", "IG": "Ilford", "IP": "Ipswich", "KT": "Kingston upon Thames",
    "L": "Liverpool", "LA": "Lancaster", "LE": "Leicester", "LN": "Lincoln", "LS": "Leeds",
    "LU": "Luton", "M": "Manchester", "ME": "Rochester", "MK": "Milton Keynes", "N": "London",
    "NE": "Newcastle upon Tyne", "NG": "Nottingham", "NN": "Northampton", "NR": "Norwich",
    "NW": "London", "OL": "Oldham", "OX": "Oxford", "PE": "Peterborough", "PL": "Plymouth",
    "PO": "Portsmouth", "PR": "Preston", "RG": "Reading", "RH": "Redhill", "RM": "Romford",
    "S": "Sheffield", "SE": "London", "SG": "Stevenage", "SK": "Stockport", "SL": "Slough",
    "SM": "Sutton", "SN": "Swindon", "SO": "Southampton", "SP": "Salisbury", "SR": "Sunderland",
    "SS": "Southend-on-Sea", "ST": "Stoke-on-Trent", "SW": "London", "SY": "Shrewsbury",
    "TA": "Taunton", "TD": "Berwick-upon-Tweed", "TF": "Telford", "TN": "Tonbridge",
    "TQ": "Torquay", "TR": "Truro", "TS": "Middlesbrough", "TW": "Twickenham", "UB": "Southall",
    "W": "London", "WA": "Warrington", "WC": "London", "WD": "Watford", "WF": "Wakefield",
    "WN": "Wigan", "WR": "Worcester", "WS": "Walsall", "WV": "Wolverhampton", "YO": "York",
}  # fmt: skip

_AREA = re.compile(r"^[A-Z]{1,2}")


def post_town(district: str, *, fallback: str) -> str:
    """The post town of a district's postcode area, or `fallback` for an unlisted area."""
    match = _AREA.match(district)
    return POST_TOWNS.get(match.group(0), fallback) if match else fallback


# --- Local authorities ---------------------------------------------------------------------

# The first letter of a synthetic ODS practice code, by region, in the style of real ones
# (P84001 is a Manchester practice).
_ODS_LETTER_BY_REGION: dict[str, str] = {
    Region.NORTH_EAST: "A",
    Region.YORKSHIRE: "B",
    Region.EAST_MIDLANDS: "C",
    Region.EAST: "D",
    Region.LONDON: "F",
    Region.SOUTH_EAST: "G",
    Region.SOUTH_WEST: "L",
    Region.WEST_MIDLANDS: "M",
    Region.NORTH_WEST: "P",
}
_ONS_TYPE_BLOCK = {"06": 0, "08": 1, "09": 2, "10": 3}


@dataclass(frozen=True, slots=True)
class AuthorityProfile:
    """What the generator needs to know about one local authority."""

    ons_code: str
    name: str
    region: str
    districts: tuple[str, ...]
    region_rank: int  # its position among its region's LAs, for ODS codes

    @property
    def short_name(self) -> str:
        """'Bristol, City of' -> 'Bristol': the form used in service and organisation names."""
        return self.name.split(",")[0].strip()

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", normalise.fold_accents(self.short_name).lower()).strip(
            "-"
        )

    @property
    def la_number(self) -> int:
        """0-399 from the ONS code (E08000003 -> 103): the block of URNs this LA's schools use."""
        return _ONS_TYPE_BLOCK[self.ons_code[1:3]] * 100 + int(self.ons_code[3:]) % 100

    @property
    def ods_prefix(self) -> str:
        return f"{_ODS_LETTER_BY_REGION[self.region]}{10 + self.region_rank:02d}"

    def town_for(self, district: str) -> str:
        return post_town(district, fallback=self.short_name)

    def landline(self, rng: random.Random) -> str:
        return landline_number(rng, self.region)


def build_profiles(
    rows: Iterable[tuple[str, str, str, tuple[str, ...]]],
) -> dict[str, AuthorityProfile]:
    """Profiles from (ons_code, name, region, districts) of *every* LA, keyed by ONS code.

    All LAs are needed, not just the chosen ones, so that each LA's ODS prefix is the same
    whichever authorities a run generates.
    """
    ordered = sorted(rows)
    rank_in_region: dict[str, int] = {}
    profiles = {}
    for ons_code, name, region, districts in ordered:
        rank = rank_in_region.get(region, 0)
        rank_in_region[region] = rank + 1
        profiles[ons_code] = AuthorityProfile(
            ons_code=ons_code,
            name=name,
            region=region,
            districts=tuple(sorted(districts)),
            region_rank=rank,
        )
    return profiles


CHILD_POPULATIONS_CSV = Path(__file__).resolve().parent / "local_authority_children.csv"


@functools.cache
def child_populations() -> dict[str, float]:
    """Approximate residents aged 0-17 per LA (ONS mid-year estimates, rounded, in thousands)."""
    with CHILD_POPULATIONS_CSV.open(newline="", encoding="utf-8") as handle:
        return {
            row["ons_code"].strip(): float(row["children_thousands"])
            for row in csv.DictReader(handle)
        }


def authority_weights(profiles: Iterable[AuthorityProfile]) -> dict[str, float]:
    """How many children each LA should get, relative to the others.

    The shipped table of approximate child populations where it has the LA; otherwise the
    LA's postcode districts times the table's average children per district. An LA with no
    districts gets nothing, since its children could have no address.
    """
    table = child_populations()
    chosen = list(profiles)
    known = [p for p in chosen if p.ons_code in table and p.districts]
    per_district = (
        sum(table[p.ons_code] for p in known) / sum(len(p.districts) for p in known)
        if known
        else 1.0
    )
    return {
        p.ons_code: (table.get(p.ons_code, len(p.districts) * per_district) if p.districts else 0.0)
        for p in chosen
    }


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Split `total` children across LAs in proportion to `weights` (largest remainders).

    Deterministic: ties go to the lower ONS code. Every share is a whole number of children and
    the shares add up to `total` exactly.
    """
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise ValueError("the chosen local authorities have no postcode districts to live in")
    exact = {code: total * weight / weight_sum for code, weight in weights.items()}
    shares = {code: math.floor(value) for code, value in exact.items()}
    left = total - sum(shares.values())
    by_remainder = sorted(exact, key=lambda code: (-(exact[code] - shares[code]), code))
    for code in by_remainder[:left]:
        shares[code] += 1
    return shares


# --- Schools -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PhasePlan:
    """How many children one school of a phase serves, and where its URNs sit in the LA block."""

    children_per_school: int
    urn_offset: int
    capacity: int


# England has ~16,800 primaries, ~3,450 secondaries, ~1,000 special schools, ~390 maintained
# nursery schools and ~230 sixth-form and FE colleges for ~11 million children: one school per
# this many children of all ages. Offsets split each LA's block of 2,000 URNs between phases.
PHASE_PLANS: dict[str, PhasePlan] = {
    SchoolPhase.PRIMARY: PhasePlan(children_per_school=700, urn_offset=0, capacity=1200),
    SchoolPhase.SECONDARY: PhasePlan(children_per_school=3000, urn_offset=1200, capacity=300),
    SchoolPhase.NURSERY: PhasePlan(children_per_school=25_000, urn_offset=1500, capacity=100),
    SchoolPhase.SPECIAL: PhasePlan(children_per_school=11_000, urn_offset=1600, capacity=100),
    SchoolPhase.SIXTEEN_PLUS: PhasePlan(children_per_school=45_000, urn_offset=1700, capacity=100),
}
URN_BASE = 100_000
URN_BLOCK = 2_000

_SAINTS = (
    "Mary's", "John's", "Peter's", "Paul's", "Joseph's", "Anne's", "Michael's", "Thomas'",
    "Andrew's", "Bernadette's", "Patrick's", "George's", "Margaret's", "James'", "Luke's",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyntheticSchool:
    urn: str
    name: str
    phase: str
    la_code: str
    postcode: str
    phone: str
    email: str
    senco: SyntheticPractitioner


@dataclass(frozen=True, slots=True)
class SyntheticPractice:
    ods_code: str
    name: str
    la_code: str
    postcode: str
    phone: str


@dataclass(frozen=True, slots=True)
class SyntheticPractitioner:
    """A named practitioner and how to reach them: the same one serves many children."""

    name: str
    role: str
    organisation: str
    phone: str
    email: str


def slug(text: str) -> str:
    """Lower-case letters, digits and hyphens, for e-mail domains: St Mary's -> st-mary-s."""
    return re.sub(r"[^a-z0-9]+", "-", normalise.fold_accents(text).lower()).strip("-")


def _email_local_part(given: str, family: str) -> str:
    return f"{normalise.name_key(given).lower()}.{normalise.name_key(family).lower()}"


def _adult_name(rng: random.Random) -> tuple[str, str]:
    sex = "F" if rng.random() < 0.7 else "M"  # the children's workforce is mostly women
    given = rng.choice(data.adult_given_names(sex))
    return given, draw_surname(rng)


def _school_name(rng: random.Random, phase: str, profile: AuthorityProfile) -> str:
    stem = rng.choice(data.street_stems())
    roll = rng.random()
    if phase == SchoolPhase.PRIMARY:
        if roll < 0.15:
            return f"St {rng.choice(_SAINTS)} Catholic Primary School"
        if roll < 0.30:
            return f"{stem} Church of England Primary School"
        if roll < 0.45:
            return f"{stem} Primary Academy"
        if roll < 0.60:
            return f"{stem} Community Primary School"
        return f"{stem} Primary School"
    if phase == SchoolPhase.SECONDARY:
        if roll < 0.12:
            return f"St {rng.choice(_SAINTS)} Catholic High School"
        if roll < 0.50:
            return f"{stem} Academy"
        if roll < 0.80:
            return f"{stem} High School"
        return f"{stem} School"
    if phase == SchoolPhase.NURSERY:
        return f"{stem} Nursery School"
    if phase == SchoolPhase.SPECIAL:
        return f"{stem} Special School" if roll < 0.5 else f"{stem} School"
    if roll < 0.4:
        return f"{profile.short_name} Sixth Form College"
    return f"{stem} College" if roll < 0.7 else f"{profile.short_name} College"


@functools.lru_cache(maxsize=65_536)
def school(profile: AuthorityProfile, phase: str, number: int) -> SyntheticSchool:
    """School `number` (0-based) of a phase in an LA: always the same school."""
    plan = PHASE_PLANS[phase]
    if not 0 <= number < plan.capacity:
        raise ValueError(f"an LA has at most {plan.capacity} synthetic {phase} schools")
    rng = random.Random(f"school:{profile.ons_code}:{phase}:{number}")
    urn = URN_BASE + profile.la_number * URN_BLOCK + plan.urn_offset + number
    name = _school_name(rng, phase, profile)
    domain = f"{slug(name)[:40].strip('-')}.{profile.slug}.sch.example"
    phone = profile.landline(rng)
    given, family = _adult_name(rng)
    senco = SyntheticPractitioner(
        name=f"{given} {family}",
        role="SENCO",
        organisation=name,
        phone=phone,
        email=f"{_email_local_part(given, family)}@{domain}",
    )
    return SyntheticSchool(
        urn=f"{urn:06d}",
        name=name,
        phase=phase,
        la_code=profile.ons_code,
        postcode=postcode_in(rng, rng.choice(profile.districts)),
        phone=phone,
        email=f"office@{domain}",
        senco=senco,
    )


def schools_needed(children: int, phase: str) -> int:
    """How many schools of a phase an LA with this many generated children gets (at least 1)."""
    plan = PHASE_PLANS[phase]
    if children <= 0:
        return 0
    return min(plan.capacity, max(1, math.ceil(children / plan.children_per_school)))


# --- GP practices --------------------------------------------------------------------------

CHILDREN_PER_PRACTICE = 1_750  # ~6,300 practices for ~11 million children
PRACTICE_CAPACITY = 999


def practices_needed(children: int) -> int:
    """How many GP practices an LA with this many generated children gets (at least 1)."""
    if children <= 0:
        return 0
    return min(PRACTICE_CAPACITY, max(1, math.ceil(children / CHILDREN_PER_PRACTICE)))


@functools.lru_cache(maxsize=65_536)
def practice(profile: AuthorityProfile, number: int) -> SyntheticPractice:
    """GP practice `number` (0-based) of an LA, with an ODS code like P84001."""
    if not 0 <= number < PRACTICE_CAPACITY:
        raise ValueError(f"an LA has at most {PRACTICE_CAPACITY} synthetic GP practices")
    rng = random.Random(f"practice:{profile.ons_code}:{number}")
    stem = rng.choice(data.street_stems())
    roll = rng.random()
    if roll < 0.35:
        name = f"{stem} Medical Centre"
    elif roll < 0.6:
        name = f"{stem} Surgery"
    elif roll < 0.8:
        name = f"{stem} Health Centre"
    else:
        name = f"The {stem} Practice"
    return SyntheticPractice(
        ods_code=f"{profile.ods_prefix}{number + 1:03d}",
        name=name,
        la_code=profile.ons_code,
        postcode=postcode_in(rng, rng.choice(profile.districts)),
        phone=profile.landline(rng),
    )


# --- Practitioners -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    """One kind of service an LA has, as data: who provides it and how big its teams are."""

    service_type: str
    other_service: str
    organisation: str  # formatted with {la}
    role: str
    email_domain: str  # formatted with {slug}
    children_per_practitioner: int


def _service(
    service_type: str,
    organisation: str,
    role: str,
    *,
    per: int,
    domain: str = "{slug}.gov.example",
    other: str = "",
) -> ServiceDefinition:
    return ServiceDefinition(service_type, other, organisation, role, domain, per)


# Keys are the generator's names for services (an "other" service is named by its OtherService).
SERVICES: dict[str, ServiceDefinition] = {
    ServiceType.HEALTH_VISITOR: _service(
        ServiceType.HEALTH_VISITOR, "{la} Health Visiting Service", "Health Visitor",
        per=1_300, domain="{slug}.nhs.example",
    ),
    ServiceType.SCHOOL_NURSE: _service(
        ServiceType.SCHOOL_NURSE, "{la} School Nursing Service", "School Nurse",
        per=4_000, domain="{slug}.nhs.example",
    ),
    ServiceType.SOCIAL_WORKER: _service(
        ServiceType.SOCIAL_WORKER, "{la} Children's Social Care", "Social Worker", per=500,
    ),
    ServiceType.YOUTH_WORKER: _service(
        ServiceType.YOUTH_WORKER, "{la} Youth Service", "Youth Worker", per=3_000,
    ),
    ServiceType.YOUTH_OFFENDING: _service(
        ServiceType.YOUTH_OFFENDING, "{la} Youth Offending Team", "YOT Case Manager", per=4_000,
    ),
    ServiceType.CONNEXIONS: _service(
        ServiceType.CONNEXIONS, "Connexions {la}", "Personal Adviser", per=2_500,
    ),
    ServiceType.SEXUAL_HEALTH: _service(
        ServiceType.SEXUAL_HEALTH, "{la} Sexual Health Service", "Sexual Health Nurse",
        per=8_000, domain="{slug}.nhs.example",
    ),
    ServiceType.MENTAL_HEALTH: _service(
        ServiceType.MENTAL_HEALTH, "{la} CAMHS", "CAMHS Practitioner",
        per=3_000, domain="{slug}.nhs.example",
    ),
    ServiceType.SUBSTANCE_MISUSE: _service(
        ServiceType.SUBSTANCE_MISUSE, "{la} Young People's Substance Misuse Service",
        "Substance Misuse Worker", per=20_000,
    ),
    OtherService.EDUCATION_WELFARE: _service(
        ServiceType.OTHER, "{la} Education Welfare Service", "Education Welfare Officer",
        per=6_000, other=OtherService.EDUCATION_WELFARE,
    ),
    OtherService.EDUCATIONAL_PSYCHOLOGY: _service(
        ServiceType.OTHER, "{la} Educational Psychology Service", "Educational Psychologist",
        per=8_000, other=OtherService.EDUCATIONAL_PSYCHOLOGY,
    ),
    OtherService.SPEECH_AND_LANGUAGE: _service(
        ServiceType.OTHER, "{la} Speech and Language Therapy", "Speech and Language Therapist",
        per=5_000, domain="{slug}.nhs.example", other=OtherService.SPEECH_AND_LANGUAGE,
    ),
    OtherService.EARLY_HELP: _service(
        ServiceType.OTHER, "{la} Early Help", "Family Support Worker",
        per=1_500, other=OtherService.EARLY_HELP,
    ),
    OtherService.CHILDRENS_CENTRE: _service(
        ServiceType.OTHER, "{la} Children's Centres", "Children's Centre Worker",
        per=4_000, other=OtherService.CHILDRENS_CENTRE,
    ),
    OtherService.YOUNG_CARERS: _service(
        ServiceType.OTHER, "{la} Young Carers Service", "Young Carers Worker",
        per=20_000, domain="{slug}.org.example", other=OtherService.YOUNG_CARERS,
    ),
    OtherService.DISABLED_CHILDREN: _service(
        ServiceType.OTHER, "{la} Disabled Children's Service", "Social Worker",
        per=8_000, other=OtherService.DISABLED_CHILDREN,
    ),
    OtherService.PAEDIATRICS: _service(
        ServiceType.OTHER, "{la} Community Paediatrics", "Community Paediatrician",
        per=10_000, domain="{slug}.nhs.example", other=OtherService.PAEDIATRICS,
    ),
    OtherService.HOUSING: _service(
        ServiceType.OTHER, "{la} Housing Options", "Housing Officer",
        per=20_000, other=OtherService.HOUSING,
    ),
    OtherService.POLICE: _service(
        ServiceType.OTHER, "{la} Police Public Protection Unit", "Police Officer",
        per=20_000, domain="{slug}.police.example", other=OtherService.POLICE,
    ),
    OtherService.VOLUNTARY_SECTOR: _service(
        ServiceType.OTHER, "{la} Family Action", "Family Support Worker",
        per=10_000, domain="{slug}.org.example", other=OtherService.VOLUNTARY_SECTOR,
    ),
}  # fmt: skip


def pool_size(service: str, children: int) -> int:
    """How many practitioners of a service an LA with this many children has (at least 2)."""
    return max(2, math.ceil(children / SERVICES[service].children_per_practitioner))


@functools.lru_cache(maxsize=262_144)
def practitioner(profile: AuthorityProfile, service: str, number: int) -> SyntheticPractitioner:
    """Practitioner `number` of a service in an LA: always the same person."""
    definition = SERVICES[service]
    rng = random.Random(f"practitioner:{profile.ons_code}:{service}:{number}")
    given, family = _adult_name(rng)
    domain = definition.email_domain.format(slug=profile.slug)
    return SyntheticPractitioner(
        name=f"{given} {family}",
        role=definition.role,
        organisation=definition.organisation.format(la=profile.short_name),
        phone=mobile_number(rng) if rng.random() < 0.3 else profile.landline(rng),
        email=f"{_email_local_part(given, family)}@{domain}",
    )


# --- Surnames --------------------------------------------------------------------------------


def draw_surname(rng: random.Random) -> str:
    """A surname: from the common table for COMMON_SURNAME_SHARE of draws, the long tail else."""
    if rng.random() < data.COMMON_SURNAME_SHARE:
        return data.common_surnames().pick(rng.random())
    tail = data.rare_surnames()
    return tail[rng.randrange(len(tail))]
