"""Writes to the index, one child at a time, fully validated (CONVENTIONS 3: services write)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from contactpoint.index import contactpoint_id, normalise
from contactpoint.index.bulk import name_keys
from contactpoint.index.models import (
    Address,
    Carer,
    Child,
    ChildFieldSource,
    ChildName,
    GpPractice,
    GpRegistration,
    Involvement,
    IssuedContactPointId,
    LocalAuthority,
    School,
    SchoolEnrolment,
)
from contactpoint.index.records import AddressRecord, ChildRecord, involvement_values
from contactpoint.index.vocabularies import ProvenancedChildField

_ID_ATTEMPTS = 20


def issue_contactpoint_id() -> str:
    """Reserve a fresh random ContactPoint ID that has never been issued before."""
    for _ in range(_ID_ATTEMPTS):
        candidate = contactpoint_id.random_id()
        try:
            with transaction.atomic():
                IssuedContactPointId.objects.create(value=candidate)
        except IntegrityError:
            continue  # already issued (astronomically rare): draw again, never reuse
        return candidate
    raise RuntimeError("could not find an unissued ContactPoint ID")


def _validated(instance: models.Model, *, exclude: list[str], constraints: bool = False) -> None:
    """full_clean() with field errors prefixed by the part they belong to."""
    try:
        instance.full_clean(exclude=exclude, validate_constraints=constraints)
    except ValidationError as error:
        part = instance._meta.verbose_name
        raise ValidationError(
            {f"{part}.{field}": messages for field, messages in error.message_dict.items()}
        ) from error


@transaction.atomic
def create_child(*, record: ChildRecord) -> Child:
    """Create a child and every part of their record from one source record.

    Every field is validated first; a ValidationError names the field (for example
    'child.date_of_birth') and nothing is written.
    """
    try:
        authority = LocalAuthority.objects.get(ons_code=record.responsible_la_ons_code)
    except LocalAuthority.DoesNotExist as error:
        raise ValidationError(
            {"child.responsible_la": [f"unknown local authority {record.responsible_la_ons_code}"]}
        ) from error
    if not any(name.kind == "current" for name in record.names):
        raise ValidationError({"child.names": ["a child needs a current name"]})

    now = timezone.now()
    source = record.source
    provenance = {
        "source_system": source.source_system,
        "source_record_id": source.source_record_id,
        "received_at": source.received_at,
    }
    child = Child(
        contactpoint_id="0" * contactpoint_id.LENGTH,  # replaced below once validated
        gender=record.gender,
        date_of_birth=record.date_of_birth,
        status=record.status,
        whereabouts=record.whereabouts,
        left_england_intends_return=record.left_england_intends_return,
        responsible_la=authority,
        is_shielded=record.is_shielded,
        died_on=record.died_on,
        left_england_on=record.left_england_on,
        archived_on=record.archived_on,
        created_at=now,
        updated_at=now,
    )
    _validated(child, exclude=["contactpoint_id"], constraints=True)
    parts = _build_parts(record, child, provenance)
    for part in parts:
        _validated(part, exclude=["child"], constraints=True)

    child.contactpoint_id = issue_contactpoint_id()
    child.save(force_insert=True)
    ChildFieldSource.objects.bulk_create(
        ChildFieldSource(child=child, field=field, **provenance)
        for field in ProvenancedChildField.values
    )
    for part in parts:
        part.child = child  # type: ignore[attr-defined]
        part.save(force_insert=True)
    return child


def _build_parts(
    record: ChildRecord, child: Child, provenance: dict[str, object]
) -> list[models.Model]:
    parts: list[models.Model] = []
    for name in record.names:
        parts.append(
            ChildName(
                child=child,
                kind=name.kind,
                given_names=normalise.clean_display_name(name.given_names),
                family_name=normalise.clean_display_name(name.family_name),
                date_of_birth=record.date_of_birth,
                **name_keys(name.given_names, name.family_name),
                **provenance,
            )
        )
    for address in record.addresses:
        parts.append(_address(child, provenance, address))
    for carer in record.carers:
        phone_1, phone_2, phone_3 = (*carer.phones, "", "", "")[:3]
        parts.append(
            Carer(
                child=child,
                given_names=carer.given_names,
                family_name=carer.family_name,
                family_name_key=normalise.name_key(carer.family_name),
                relationship=carer.relationship,
                has_parental_responsibility=carer.has_parental_responsibility,
                lives_with_child=carer.lives_with_child,
                line_1=carer.line_1,
                line_2=carer.line_2,
                town=carer.town,
                postcode=_canonical_postcode(carer.postcode) if carer.postcode else "",
                phone_1=phone_1,
                phone_2=phone_2,
                phone_3=phone_3,
                **provenance,
            )
        )
    for enrolment in record.enrolments:
        school = School.objects.filter(urn=enrolment.school_urn).first()
        if school is None:
            raise ValidationError(
                {"school_enrolment.school": [f"unknown URN {enrolment.school_urn}"]}
            )
        parts.append(
            SchoolEnrolment(
                child=child,
                school=school,
                started_on=enrolment.started_on,
                ended_on=enrolment.ended_on,
                **provenance,
            )
        )
    for registration in record.gp_registrations:
        practice = GpPractice.objects.filter(ods_code=registration.practice_ods_code).first()
        if practice is None:
            raise ValidationError(
                {"gp_registration.practice": [f"unknown ODS code {registration.practice_ods_code}"]}
            )
        parts.append(
            GpRegistration(
                child=child,
                practice=practice,
                registered_on=registration.registered_on,
                ended_on=registration.ended_on,
                **provenance,
            )
        )
    for inv in record.involvements:
        parts.append(Involvement(child=child, **involvement_values(inv), **provenance))
    return parts


def _canonical_postcode(raw: str) -> str:
    """The standard form when the postcode parses; the raw text otherwise, for the validator."""
    try:
        return str(normalise.parse_postcode(raw))
    except normalise.InvalidPostcode:
        return raw


def _address(child: Child, provenance: dict[str, object], address: AddressRecord) -> Address:
    postcode = _canonical_postcode(address.postcode)
    try:
        parsed = normalise.parse_postcode(postcode)
        district, sector = parsed.district, parsed.sector
    except normalise.InvalidPostcode:
        district, sector = "", ""
    return Address(
        child=child,
        kind=address.kind,
        line_1=address.line_1,
        line_2=address.line_2,
        town=address.town,
        postcode=postcode,
        postcode_district=district,
        postcode_sector=sector,
        from_date=address.from_date,
        to_date=address.to_date,
        **provenance,
    )
