"""Validate and normalise one feed row into a `ChildRecord`, or say exactly why not.

Checks run per row and collect every problem, so a source fixes a row once. They are plain
functions over a `RowContext` (reference data loaded once per load) rather than Django model
validation, because a national load validates millions of rows. Index validators are reused
where a field's rule is the index's rule, so a row that passes here can be stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import orjson
from django.core.exceptions import ValidationError

from contactpoint.feeds.schema import (
    ALWAYS_ALLOWED,
    FIELDS_BY_NAME,
    MAX_CARERS,
    MAX_INVOLVEMENTS,
    REQUIRED_FIELDS,
    EventType,
    RecordPart,
)
from contactpoint.index import normalise
from contactpoint.index.records import (
    AddressRecord,
    CarerRecord,
    ChildRecord,
    EnrolmentRecord,
    GpRegistrationRecord,
    InvolvementRecord,
    NameRecord,
    SourceRef,
)
from contactpoint.index.validators import (
    validate_address_line,
    validate_person_name,
    validate_title,
    validate_uk_phone,
)
from contactpoint.index.vocabularies import (
    SENSITIVE_SERVICE_TYPES,
    CarerRelationship,
    ChildStatus,
    NameKind,
    ReturnIntention,
    ServiceType,
    Whereabouts,
)
from contactpoint.matching.features import MatchRecord, PlaceKey, from_child_record

ADULT_AGE = 18
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.\-]{1,120}\.[A-Za-z]{2,}$")
_SOURCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./:]{0,63}$")
_NHS_DIGITS = re.compile(r"^\d{10}$")

# Every postcode area in the United Kingdom (Royal Mail). A postcode outside these cannot exist.
UK_POSTCODE_AREAS = frozenset(
    [
        "AB",
        "AL",
        "B",
        "BA",
        "BB",
        "BD",
        "BF",
        "BH",
        "BL",
        "BN",
        "BR",
        "BS",
        "BT",
        "BX",
        "CA",
        "CB",
        "CF",
        "CH",
        "CM",
        "CO",
        "CR",
        "CT",
        "CV",
        "CW",
        "DA",
        "DD",
        "DE",
        "DG",
        "DH",
        "DL",
        "DN",
        "DT",
        "DY",
        "E",
        "EC",
        "EH",
        "EN",
        "EX",
        "FK",
        "FY",
        "G",
        "GL",
        "GU",
        "GY",
        "HA",
        "HD",
        "HG",
        "HP",
        "HR",
        "HS",
        "HU",
        "HX",
        "IG",
        "IM",
        "IP",
        "IV",
        "JE",
        "KA",
        "KT",
        "KW",
        "KY",
        "L",
        "LA",
        "LD",
        "LE",
        "LL",
        "LN",
        "LS",
        "LU",
        "M",
        "ME",
        "MK",
        "ML",
        "N",
        "NE",
        "NG",
        "NN",
        "NP",
        "NR",
        "NW",
        "OL",
        "OX",
        "PA",
        "PE",
        "PH",
        "PL",
        "PO",
        "PR",
        "RG",
        "RH",
        "RM",
        "S",
        "SA",
        "SE",
        "SG",
        "SK",
        "SL",
        "SM",
        "SN",
        "SO",
        "SP",
        "SR",
        "SS",
        "ST",
        "SW",
        "SY",
        "TA",
        "TD",
        "TF",
        "TN",
        "TQ",
        "TR",
        "TS",
        "TW",
        "UB",
        "W",
        "WA",
        "WC",
        "WD",
        "WF",
        "WN",
        "WR",
        "WS",
        "WV",
        "YO",
        "ZE",
    ]
)


NO_RESPONSIBLE_LA = (
    "local_authority: cannot tell which local authority is responsible for a child "
    "ContactPoint does not hold yet (send local_authority or a postcode in England)"
)


class RowRejected(Exception):
    """A row that cannot be loaded; `reasons` are written to the load report."""

    def __init__(self, reasons: Iterable[str]) -> None:
        self.reasons = tuple(reasons)
        super().__init__("; ".join(self.reasons))


@dataclass
class RowContext:
    """Everything row validation needs, loaded once per load."""

    source_code: str
    allowed_parts: frozenset[str]
    organisation_la_code: str
    received_at: dt.datetime
    today: dt.date
    nhs_key: bytes
    la_codes: frozenset[str]
    district_la: Mapping[str, str]
    school_urns: frozenset[str]
    practice_codes: frozenset[str]
    # False when rows are read for training or batch matching rather than stored: codes of
    # schools, practices and LAs are then taken on trust.
    check_references: bool = True


@dataclass(frozen=True)
class ParsedRow:
    """A valid row: the record it reports, its content hash, and its matching features."""

    line: int
    source_record_id: str
    event: EventType
    content_hash: str
    record: ChildRecord | None  # None for a withdrawal
    nhs_hash: str = ""
    match: MatchRecord | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


def nhs_number_is_valid(digits: str) -> bool:
    """The NHS number modulus 11 check (NHS Data Dictionary)."""
    if not _NHS_DIGITS.match(digits):
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def scramble_nhs_number(digits: str, key: bytes) -> str:
    """Keyed hash (HMAC-SHA256) of an NHS number: equal numbers match, none can be recovered."""
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).hexdigest()


def _clean(values: Mapping[str, str]) -> dict[str, str]:
    """Trimmed, non-empty values only: an empty cell means 'not supplied'."""
    return {k: kept for k, v in values.items() if v is not None and (kept := v.strip())}


def content_hash(values: Mapping[str, str]) -> str:
    """A fingerprint of the row's meaning, for 'unchanged' (idempotent re-sends).

    The bytes hashed are json.dumps(sorted(values.items()), ensure_ascii=False,
    separators=(",", ":")) encoded as UTF-8, as every stored hash was made; orjson writes
    exactly those bytes, in a fifth of the time.
    """
    return hashlib.sha256(orjson.dumps(sorted(values.items()))).hexdigest()


@functools.lru_cache(maxsize=262_144)
def _checked_name(value: str) -> tuple[str, str]:
    """(cleaned name, problem): names repeat across a load, so each is checked once."""
    raw = normalise.clean_display_name(value)
    if not raw:
        return "", ""
    if len(raw) > 100:
        return "", "longer than 100 characters"
    try:
        validate_person_name(raw)
    except ValidationError as error:
        return "", " ".join(error.messages)
    return raw, ""


class _Checker:
    """Collects every problem with one row instead of stopping at the first."""

    def __init__(self, values: dict[str, str], context: RowContext) -> None:
        self.values = values
        self.context = context
        self.reasons: list[str] = []

    def fail(self, reason: str) -> None:
        self.reasons.append(reason)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def date(self, name: str, *, not_future: bool = True) -> dt.date | None:
        raw = self.get(name)
        if not raw:
            return None
        try:
            value = dt.date.fromisoformat(raw)
        except ValueError:
            self.fail(f"{name}: {raw!r} is not a date in the form YYYY-MM-DD")
            return None
        if len(raw) != 10:
            self.fail(f"{name}: {raw!r} is not a date in the form YYYY-MM-DD")
            return None
        if not_future and value > self.context.today:
            self.fail(f"{name}: {raw} is in the future")
            return None
        return value

    def choice(self, name: str) -> str:
        raw = self.get(name)
        if not raw:
            return ""
        allowed = FIELDS_BY_NAME[name].choices
        if raw not in allowed:
            self.fail(f"{name}: {raw[:40]!r} is not one of {', '.join(allowed)}")
            return ""
        return raw

    def yes_no(self, name: str) -> bool | None:
        raw = self.get(name).lower()
        if not raw:
            return None
        if raw not in {"yes", "no"}:
            self.fail(f"{name}: {raw[:20]!r} must be yes or no")
            return None
        return raw == "yes"

    def checked(self, name: str, validator: object) -> str:
        raw = self.get(name)
        if not raw:
            return ""
        try:
            validator(raw)  # type: ignore[operator]
        except ValidationError as error:
            self.fail(f"{name}: {' '.join(error.messages)}")
            return ""
        return raw

    def name(self, name: str) -> str:
        raw, problem = _checked_name(self.get(name))
        if problem:
            self.fail(f"{name}: {problem}")
        return raw

    def postcode(self, name: str) -> str:
        raw = self.get(name)
        if not raw:
            return ""
        try:
            parsed = normalise.parse_postcode(raw)
        except normalise.InvalidPostcode:
            self.fail(f"{name}: {raw[:20]!r} is not a UK postcode such as M14 5AB")
            return ""
        if parsed.area not in UK_POSTCODE_AREAS:
            self.fail(f"{name}: {raw} cannot exist (there is no postcode area {parsed.area})")
            return ""
        return str(parsed)


def parse_row(line: int, raw_values: Mapping[str, str], context: RowContext) -> ParsedRow:
    """Validate a row and build the record it reports; raise RowRejected with every reason."""
    values = _clean(raw_values)
    check = _Checker(values, context)
    record_id = values.get("source_record_id", "")
    if not record_id:
        raise RowRejected(["source_record_id: missing"])
    if not _SOURCE_ID.match(record_id):
        raise RowRejected(["source_record_id: use up to 64 letters, digits and - _ . / : only"])
    _check_permissions(check)
    event = EventType(check.choice("event_type") or EventType.UPSERT)
    if event is EventType.WITHDRAW:
        if check.reasons:
            raise RowRejected(check.reasons)
        return ParsedRow(
            line=line,
            source_record_id=record_id,
            event=event,
            content_hash=content_hash({"source_record_id": record_id, "event_type": event}),
            record=None,
        )
    for required in REQUIRED_FIELDS:
        if required not in values:
            check.fail(f"{required}: missing")

    given = check.name("given_names")
    family = check.name("family_name")
    former = check.name("former_family_name")
    gender = check.choice("gender")
    dob = check.date("date_of_birth")
    if dob is not None and _age_on(dob, context.today) >= ADULT_AGE:
        check.fail(f"date_of_birth: {dob.isoformat()} is of someone aged 18 or over")
        dob = None

    notes: list[str] = []
    addresses, postcode = _address(check, notes)
    carers = _carers(check)
    enrolments = _school(check)
    registrations = _gp(check)
    involvements = _involvements(check)
    status, whereabouts, died_on, left_on, intention = _event_fields(check, event, dob)
    if addresses and whereabouts == Whereabouts.NO_KNOWN_ADDRESS:
        whereabouts = Whereabouts.CURRENT_ADDRESS
    la_code = _responsible_la(check, postcode)

    nhs_hash = ""
    nhs_raw = re.sub(r"\s", "", values.get("nhs_number", ""))
    if nhs_raw:
        if nhs_number_is_valid(nhs_raw):
            nhs_hash = scramble_nhs_number(nhs_raw, context.nhs_key)
        else:
            check.fail("nhs_number: not a valid NHS number (10 digits with a check digit)")
    shield = check.yes_no("sensitive_record") is True

    if check.reasons or dob is None:
        raise RowRejected(check.reasons or ["date_of_birth: missing"])

    names = [NameRecord(given_names=given, family_name=family)]
    if former and normalise.name_key(former) != normalise.name_key(family):
        names.append(NameRecord(given_names=given, family_name=former, kind=NameKind.FORMER))
    record = ChildRecord(
        source=SourceRef(
            source_system=context.source_code,
            source_record_id=record_id,
            received_at=context.received_at,
        ),
        gender=gender,
        date_of_birth=dob,
        responsible_la_ons_code=la_code,
        names=tuple(names),
        addresses=tuple(addresses),
        carers=tuple(carers),
        enrolments=tuple(enrolments),
        gp_registrations=tuple(registrations),
        involvements=tuple(involvements),
        status=status,
        whereabouts=whereabouts,
        left_england_intends_return=intention,
        is_shielded=shield,
        died_on=died_on,
        left_england_on=left_on,
    )
    # The hash covers the row's meaning with the NHS number already scrambled, so that a
    # re-sent row is recognised without the raw number being kept anywhere.
    hashed = dict(values)
    hashed.pop("nhs_number", None)
    if nhs_hash:
        hashed["nhs_hash"] = nhs_hash
    hashed["event_type"] = event
    match = from_child_record(record, nhs_hash=nhs_hash)
    if not record.addresses and postcode:
        place = PlaceKey.of(postcode, values.get("address_line_1", ""))
        if place is not None:
            match.places = (place,)
    return ParsedRow(
        line=line,
        source_record_id=record_id,
        event=event,
        content_hash=content_hash(hashed),
        record=record,
        nhs_hash=nhs_hash,
        match=match,
        notes=tuple(notes),
    )


def _age_on(dob: dt.date, today: dt.date) -> int:
    return today.year - dob.year - ((today.month, today.day) < (dob.month, dob.day))


def _check_permissions(check: _Checker) -> None:
    """Refuse values in parts this source is not registered to supply (issue 5, item 1)."""
    allowed = check.context.allowed_parts | ALWAYS_ALLOWED
    refused: dict[str, list[str]] = {}
    for name in check.values:
        part: str = FIELDS_BY_NAME[name].part
        if part not in allowed:
            refused.setdefault(part, []).append(name)
    if RecordPart.SENSITIVE_SERVICES not in allowed:
        for number in range(1, MAX_INVOLVEMENTS + 1):
            name = f"involvement_{number}_service_type"
            if check.get(name) in SENSITIVE_SERVICE_TYPES:
                refused.setdefault(RecordPart.SENSITIVE_SERVICES, []).append(name)
    for refused_part, names in refused.items():
        label = str(RecordPart(refused_part).label)
        if label[1:2].islower():  # "Parents and carers" -> "parents and carers"; "GP" stays
            label = label[0].lower() + label[1:]
        check.fail(
            f"{check.context.source_code} is not registered to supply "
            f"{label} ({', '.join(names[:3])})"
        )


def _address(check: _Checker, notes: list[str]) -> tuple[list[AddressRecord], str]:
    line_1 = check.checked("address_line_1", validate_address_line)
    line_2 = check.checked("address_line_2", validate_address_line)
    town = check.checked("town", validate_address_line)
    postcode = check.postcode("postcode")
    moved_in = check.date("address_from_date")
    if not (line_1 or town or postcode):
        return [], ""
    if line_1 and town and postcode:
        return [
            AddressRecord(
                line_1=line_1, line_2=line_2, town=town, postcode=postcode, from_date=moved_in
            )
        ], postcode
    missing = [
        n for n, v in (("address_line_1", line_1), ("town", town), ("postcode", postcode)) if not v
    ]
    notes.append(f"address not stored: {', '.join(missing)} missing")
    return [], postcode


def _carers(check: _Checker) -> list[CarerRecord]:
    carers = []
    for number in range(1, MAX_CARERS + 1):
        p = f"carer_{number}_"
        given = check.name(f"{p}given_names")
        family = check.name(f"{p}family_name")
        relationship = check.choice(f"{p}relationship")
        responsibility = check.yes_no(f"{p}parental_responsibility")
        phone = check.checked(f"{p}phone", validate_uk_phone)
        if not any((given, family, relationship, phone)):
            continue
        if not (given and family):
            check.fail(f"carer {number}: given and family names are both needed")
            continue
        carers.append(
            CarerRecord(
                given_names=given,
                family_name=family,
                relationship=relationship or CarerRelationship.OTHER,
                has_parental_responsibility=bool(responsibility),
                phones=(phone,) if phone else (),
            )
        )
    return carers


def _school(check: _Checker) -> list[EnrolmentRecord]:
    urn = check.get("school_urn")
    started = check.date("school_start_date")
    if not urn:
        return []
    if check.context.check_references and urn not in check.context.school_urns:
        check.fail(f"school_urn: {urn[:10]} is not a school ContactPoint knows")
        return []
    return [EnrolmentRecord(school_urn=urn, started_on=started or check.context.today)]


def _gp(check: _Checker) -> list[GpRegistrationRecord]:
    code = check.get("gp_practice_code").upper()
    registered = check.date("gp_registration_date")
    if not code:
        return []
    if check.context.check_references and code not in check.context.practice_codes:
        check.fail(f"gp_practice_code: {code[:10]} is not a GP practice ContactPoint knows")
        return []
    return [
        GpRegistrationRecord(
            practice_ods_code=code, registered_on=registered or check.context.today
        )
    ]


def _involvements(check: _Checker) -> list[InvolvementRecord]:
    found = []
    for number in range(1, MAX_INVOLVEMENTS + 1):
        p = f"involvement_{number}_"
        present = [n for n in check.values if n.startswith(p)]
        if not present:
            continue
        service = check.choice(f"{p}service_type")
        other = check.choice(f"{p}other_service")
        organisation = check.checked(f"{p}organisation", validate_title)
        practitioner = check.name(f"{p}practitioner_name")
        role = check.checked(f"{p}practitioner_role", validate_title)
        phone = check.checked(f"{p}phone", validate_uk_phone)
        email = check.get(f"{p}secure_email")
        if email and not _EMAIL.match(email):
            check.fail(f"{p}secure_email: not an email address")
        started = check.date(f"{p}start_date")
        ended = check.date(f"{p}end_date", not_future=False)
        lead = check.yes_no(f"{p}lead_professional")
        caf = check.date(f"{p}caf_assessment_date")
        basis = check.choice(f"{p}sensitive_basis")
        missing = [
            n
            for n, v in (
                ("service_type", service),
                ("organisation", organisation),
                ("phone", phone),
                ("start_date", started),
            )
            if not v
        ]
        if missing:
            check.fail(f"involvement {number}: {', '.join(missing)} needed")
            continue
        if (service == ServiceType.OTHER) != bool(other):
            check.fail(
                f"involvement {number}: other_service is given exactly when the type is other"
            )
            continue
        if (service in SENSITIVE_SERVICE_TYPES) != bool(basis):
            check.fail(
                f"involvement {number}: a sensitive service needs a sensitive_basis, "
                "and only a sensitive service may have one"
            )
            continue
        if started and ended and ended < started:
            check.fail(f"involvement {number}: end_date is before start_date")
            continue
        assert started is not None
        found.append(
            InvolvementRecord(
                service_type=service,
                other_service=other,
                organisation_name=organisation,
                practitioner_name=practitioner,
                practitioner_role=role,
                phone=phone,
                secure_email=email,
                started_on=started,
                ended_on=ended,
                is_lead_professional=bool(lead),
                holds_caf_assessment=caf is not None,
                caf_assessment_on=caf,
                sensitive_basis=basis,
            )
        )
    leads = [i for i in found if i.is_lead_professional and i.ended_on is None]
    if len(leads) > 1:
        check.fail("only one current involvement can be the lead professional")
    return found


def _event_fields(
    check: _Checker, event: EventType, dob: dt.date | None
) -> tuple[str, str, dt.date | None, dt.date | None, str]:
    """status, whereabouts, died_on, left_england_on and return intention for the event."""
    when = check.date("event_date")
    intention = check.choice("return_intention")
    if when is not None and dob is not None and when < dob:
        check.fail("event_date: before the date of birth")
    if event is EventType.DECEASED:
        if when is None:
            check.fail("event_date: needed for a deceased event (the date of death)")
        return ChildStatus.DECEASED, Whereabouts.NO_KNOWN_ADDRESS, when, None, ""
    if event is EventType.LEFT_ENGLAND:
        if when is None:
            check.fail("event_date: needed for a left_england event")
        return (
            ChildStatus.LEFT_ENGLAND,
            Whereabouts.LEFT_ENGLAND,
            None,
            when,
            intention or ReturnIntention.UNKNOWN,
        )
    return ChildStatus.ACTIVE, Whereabouts.NO_KNOWN_ADDRESS, None, None, ""


def _responsible_la(check: _Checker, postcode: str) -> str:
    """The LA named in the row, else the one the postcode lies in, else the source's own, else
    empty (see NO_RESPONSIBLE_LA)."""
    code = check.get("local_authority")
    if code:
        if check.context.check_references and code not in check.context.la_codes:
            check.fail(f"local_authority: {code[:12]} is not an English local authority")
        return code
    if postcode:
        district = postcode.split(" ")[0]
        if district in check.context.district_la:
            return check.context.district_la[district]
    if check.context.organisation_la_code:
        return check.context.organisation_la_code
    # Not a reason to refuse the row yet: a record of a child the index already holds does not
    # need it (the child has an LA). The loader refuses it only if it would create a child.
    return ""
