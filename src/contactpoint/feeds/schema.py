"""The one feed schema, as data: every field a source may send, its part and its format.

CSV and JSON Lines share it: a CSV header names these fields, a JSON line is an object with
these keys. `docs/feed-schema.json` is generated from this table (`contactpoint feeds schema`)
and a test fails when the two differ, so the documentation cannot drift from the validator.
Anything not in this table is refused: that is how case information is kept out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import models

from contactpoint.index.vocabularies import (
    CarerRelationship,
    Gender,
    OtherService,
    ReturnIntention,
    SensitiveBasis,
    ServiceType,
)


class RecordPart(models.TextChoices):
    """The parts of the record a source system may be permitted to supply (issue 5, item 1)."""

    CHILD = "child", "Names, date of birth and gender"
    ADDRESS = "address", "Address"
    CARERS = "carers", "Parents and carers"
    SCHOOL = "school", "School"
    GP_PRACTICE = "gp_practice", "GP practice"
    INVOLVEMENTS = "involvements", "Services and practitioners"
    SENSITIVE_SERVICES = (
        "sensitive_services",
        "Sensitive services (sexual health, mental health, substance misuse)",
    )
    NHS_NUMBER = "nhs_number", "NHS number (scrambled on receipt)"
    SHIELDING_REQUEST = "shielding_request", "Request that the record is shielded"


# Every source sends these: they identify the record and the event, not a part of the child.
ALWAYS_ALLOWED = frozenset({RecordPart.CHILD})


class EventType(StrEnum):
    UPSERT = "upsert"
    DECEASED = "deceased"
    LEFT_ENGLAND = "left_england"
    WITHDRAW = "withdraw"


class FieldFormat(StrEnum):
    SOURCE_ID = "source_id"
    NAME = "name"
    DATE = "date"
    CHOICE = "choice"
    YES_NO = "yes_no"
    POSTCODE = "postcode"
    ADDRESS_LINE = "address_line"
    TITLE = "title"
    PHONE = "phone"
    EMAIL = "email"
    URN = "urn"
    ODS_CODE = "ods_code"
    ONS_CODE = "ons_code"
    NHS_NUMBER = "nhs_number"


# One regular expression per format for the JSON Schema; the validator applies stricter
# checks too (real dates, check digits, known schools) that a schema cannot express.
FORMAT_PATTERNS: dict[FieldFormat, str] = {
    FieldFormat.SOURCE_ID: r"^[A-Za-z0-9][A-Za-z0-9_\-./:]{0,63}$",
    FieldFormat.NAME: r"^[^\d_<>{}\[\]|\\@#$%^*=+~`\"]{1,100}$",
    FieldFormat.DATE: r"^\d{4}-\d{2}-\d{2}$",
    FieldFormat.YES_NO: r"^(yes|no)$",
    FieldFormat.POSTCODE: r"^[A-Za-z]{1,2}[0-9][0-9A-Za-z]? ?[0-9][A-Za-z]{2}$",
    FieldFormat.ADDRESS_LINE: r"^[\w][\w '\u2019.,/\-]{0,99}$",
    FieldFormat.TITLE: r"^[\w][\w '\u2019.,&()/\-]{0,119}$",
    FieldFormat.PHONE: r"^(?:\+44\s?|0)(?:\d\s?){9,10}$",
    FieldFormat.EMAIL: r"^[^@\s]{1,64}@[^@\s]{1,120}$",
    FieldFormat.URN: r"^\d{6,7}$",
    FieldFormat.ODS_CODE: r"^[A-Z]\d{5}$",
    FieldFormat.ONS_CODE: r"^E(06|08|09|10)\d{6}$",
    FieldFormat.NHS_NUMBER: r"^\d{3} ?\d{3} ?\d{4}$",
}


@dataclass(frozen=True, slots=True)
class FeedField:
    name: str
    part: RecordPart
    format: FieldFormat
    description: str
    choices: tuple[str, ...] = ()
    required: bool = False  # required for upsert, deceased and left_england rows

    def json_schema(self) -> dict[str, Any]:
        if self.name == "source_record_id":  # the one field every row must fill
            return {
                "type": "string",
                "description": self.description,
                "pattern": FORMAT_PATTERNS[self.format],
            }
        schema: dict[str, Any] = {"type": ["string", "null"], "description": self.description}
        if self.choices:
            schema["enum"] = [*self.choices, "", None]
        else:
            schema["pattern"] = f"(?:{FORMAT_PATTERNS[self.format]})|^$"
        return schema


def _choices(enum: type[models.TextChoices]) -> tuple[str, ...]:
    return tuple(str(v) for v in enum.values)


_CHILD = RecordPart.CHILD

FIELDS_HEAD: tuple[FeedField, ...] = (
    FeedField(
        "source_record_id",
        _CHILD,
        FieldFormat.SOURCE_ID,
        "The source system's own stable ID for this child's record; the same ID in a later "
        "file updates the same record.",
        required=True,
    ),
    FeedField(
        "event_type",
        _CHILD,
        FieldFormat.CHOICE,
        "What happened: upsert (new or changed, the default), deceased, left_england, or "
        "withdraw (the source no longer holds this record, e.g. sent in error).",
        choices=tuple(e.value for e in EventType),
    ),
    FeedField(
        "event_date",
        _CHILD,
        FieldFormat.DATE,
        "Date of death, or date the child left England; required for those events.",
    ),
    FeedField(
        "return_intention",
        _CHILD,
        FieldFormat.CHOICE,
        "For left_england: does the family intend to return within three years.",
        choices=_choices(ReturnIntention),
    ),
    FeedField(
        "given_names", _CHILD, FieldFormat.NAME, "All given names, first name first.", required=True
    ),
    FeedField("family_name", _CHILD, FieldFormat.NAME, "Family name (surname).", required=True),
    FeedField(
        "former_family_name",
        _CHILD,
        FieldFormat.NAME,
        "A family name the child was known by before.",
    ),
    FeedField(
        "date_of_birth",
        _CHILD,
        FieldFormat.DATE,
        "YYYY-MM-DD; the child must be under 18.",
        required=True,
    ),
    FeedField(
        "gender",
        _CHILD,
        FieldFormat.CHOICE,
        "Gender as recorded.",
        choices=_choices(Gender),
        required=True,
    ),
    FeedField(
        "local_authority",
        _CHILD,
        FieldFormat.ONS_CODE,
        "ONS code of the responsible local authority; when absent it is taken from the "
        "postcode, then from the source system's organisation.",
    ),
    FeedField(
        "address_line_1",
        RecordPart.ADDRESS,
        FieldFormat.ADDRESS_LINE,
        "First line of the child's current address.",
    ),
    FeedField("address_line_2", RecordPart.ADDRESS, FieldFormat.ADDRESS_LINE, "Second line."),
    FeedField("town", RecordPart.ADDRESS, FieldFormat.ADDRESS_LINE, "Post town."),
    FeedField(
        "postcode",
        RecordPart.ADDRESS,
        FieldFormat.POSTCODE,
        "Full UK postcode, any spacing or case.",
    ),
    FeedField(
        "address_from_date",
        RecordPart.ADDRESS,
        FieldFormat.DATE,
        "Date the child moved to this address.",
    ),
)


def _carer_fields(number: int) -> tuple[FeedField, ...]:
    p = f"carer_{number}_"
    part = RecordPart.CARERS
    return (
        FeedField(f"{p}given_names", part, FieldFormat.NAME, f"Carer {number}: given names."),
        FeedField(f"{p}family_name", part, FieldFormat.NAME, f"Carer {number}: family name."),
        FeedField(
            f"{p}relationship",
            part,
            FieldFormat.CHOICE,
            f"Carer {number}: relationship to the child.",
            choices=_choices(CarerRelationship),
        ),
        FeedField(
            f"{p}parental_responsibility",
            part,
            FieldFormat.YES_NO,
            f"Carer {number}: has parental responsibility (yes or no).",
        ),
        FeedField(f"{p}phone", part, FieldFormat.PHONE, f"Carer {number}: UK phone number."),
    )


def _involvement_fields(number: int) -> tuple[FeedField, ...]:
    p = f"involvement_{number}_"
    part = RecordPart.INVOLVEMENTS
    return (
        FeedField(
            f"{p}service_type",
            part,
            FieldFormat.CHOICE,
            f"Involvement {number}: type of service. Sexual health, mental health and "
            "substance misuse need the sensitive_services permission and a basis.",
            choices=_choices(ServiceType),
        ),
        FeedField(
            f"{p}other_service",
            part,
            FieldFormat.CHOICE,
            f"Involvement {number}: which service, when the type is 'other'.",
            choices=_choices(OtherService),
        ),
        FeedField(
            f"{p}organisation", part, FieldFormat.TITLE, f"Involvement {number}: organisation name."
        ),
        FeedField(
            f"{p}practitioner_name",
            part,
            FieldFormat.NAME,
            f"Involvement {number}: practitioner's name.",
        ),
        FeedField(
            f"{p}practitioner_role",
            part,
            FieldFormat.TITLE,
            f"Involvement {number}: practitioner's role.",
        ),
        FeedField(
            f"{p}phone", part, FieldFormat.PHONE, f"Involvement {number}: contact phone number."
        ),
        FeedField(
            f"{p}secure_email",
            part,
            FieldFormat.EMAIL,
            f"Involvement {number}: secure email address.",
        ),
        FeedField(
            f"{p}start_date", part, FieldFormat.DATE, f"Involvement {number}: date it started."
        ),
        FeedField(
            f"{p}end_date",
            part,
            FieldFormat.DATE,
            f"Involvement {number}: date it ended, if it has.",
        ),
        FeedField(
            f"{p}lead_professional",
            part,
            FieldFormat.YES_NO,
            f"Involvement {number}: this practitioner is the lead professional.",
        ),
        FeedField(
            f"{p}caf_assessment_date",
            part,
            FieldFormat.DATE,
            f"Involvement {number}: date of a Common Assessment Framework assessment (its "
            "existence only, never its contents).",
        ),
        FeedField(
            f"{p}sensitive_basis",
            part,
            FieldFormat.CHOICE,
            f"Involvement {number}: for a sensitive service, why it may be recorded.",
            choices=_choices(SensitiveBasis),
        ),
    )


MAX_CARERS = 2
MAX_INVOLVEMENTS = 2

FIELDS: tuple[FeedField, ...] = (
    *FIELDS_HEAD,
    *(f for n in range(1, MAX_CARERS + 1) for f in _carer_fields(n)),
    FeedField(
        "school_urn", RecordPart.SCHOOL, FieldFormat.URN, "DfE URN of the school the child attends."
    ),
    FeedField(
        "school_start_date", RecordPart.SCHOOL, FieldFormat.DATE, "Date the child started there."
    ),
    FeedField(
        "gp_practice_code",
        RecordPart.GP_PRACTICE,
        FieldFormat.ODS_CODE,
        "ODS code of the child's GP practice.",
    ),
    FeedField(
        "gp_registration_date",
        RecordPart.GP_PRACTICE,
        FieldFormat.DATE,
        "Date the child registered there.",
    ),
    *(f for n in range(1, MAX_INVOLVEMENTS + 1) for f in _involvement_fields(n)),
    FeedField(
        "nhs_number",
        RecordPart.NHS_NUMBER,
        FieldFormat.NHS_NUMBER,
        "NHS number. It is replaced by a keyed hash as soon as the row is read and never "
        "stored; the hash is used only for matching.",
    ),
    FeedField(
        "sensitive_record",
        RecordPart.SHIELDING_REQUEST,
        FieldFormat.YES_NO,
        "yes asks for the record to be shielded (a risk of significant harm if the child's "
        "whereabouts were known). The child is shielded at once and a shielding officer reviews it.",
    ),
)

FIELDS_BY_NAME: dict[str, FeedField] = {f.name: f for f in FIELDS}
FIELD_NAMES: tuple[str, ...] = tuple(FIELDS_BY_NAME)
REQUIRED_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.required)
SENSITIVE_SERVICE_FIELDS = tuple(
    f"involvement_{n}_service_type" for n in range(1, MAX_INVOLVEMENTS + 1)
)
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of one feed row (a CSV row read with its header, or one JSON line)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://contactpoint.example/schemas/feed-row.json",
        "title": "ContactPoint source feed row",
        "description": (
            "One child's record from one source system. CSV files carry these fields as "
            "header columns; JSON Lines files carry one object per line. Empty values mean "
            "'not supplied'. Any other field is refused, so no case information can be sent. "
            "See docs/feeds.md."
        ),
        "type": "object",
        "additionalProperties": False,
        "required": ["source_record_id"],
        "properties": {f.name: f.json_schema() for f in FIELDS},
    }


def looks_like_field_name(value: str) -> bool:
    return bool(_FIELD_NAME.match(value))
