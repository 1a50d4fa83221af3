"""The model layer keeps the record honest: bad values are refused, naming the field."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from tests.index.records import child_record

from contactpoint.index import contactpoint_id
from contactpoint.index import models as index_models
from contactpoint.index.models import Child, ChildName, Involvement, IssuedContactPointId
from contactpoint.index.records import AddressRecord, InvolvementRecord, NameRecord
from contactpoint.index.services import create_child
from contactpoint.index.vocabularies import ChildStatus, ServiceType

pytestmark = pytest.mark.django_db


def test_a_valid_record_is_stored_whole_with_keys_and_provenance() -> None:
    child = create_child(record=child_record())

    assert contactpoint_id.is_valid(child.contactpoint_id)
    assert IssuedContactPointId.objects.filter(value=child.contactpoint_id).exists()
    current = child.names.get(kind="current")
    assert (current.family_name_key, current.given_name_key) == ("ONEILL", "AMELIA")
    assert current.date_of_birth == child.date_of_birth
    address = child.addresses.get(kind="current")
    assert (address.postcode, address.postcode_district, address.postcode_sector) == (
        "M14 5AB",
        "M14",
        "M14 5",
    )
    carer = child.carers.get()
    assert (carer.phone_1, carer.phone_2, carer.phone_3) == ("07700 900123", "0161 496 0456", "")
    assert child.involvements.count() == 2
    assert {s.field for s in child.field_sources.all()} == {
        "gender",
        "date_of_birth",
        "whereabouts",
        "responsible_la",
        "status",
    }
    assert {p.source_record_id for p in child.names.all()} == {"MCR-000123"}


def test_each_child_gets_a_different_id() -> None:
    ids = {create_child(record=child_record()).contactpoint_id for _ in range(5)}
    assert len(ids) == 5


def _refusal(record_overrides: dict[str, object]) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        create_child(record=child_record(**record_overrides))
    assert Child.objects.count() == 0, "nothing is written when a field is refused"
    return caught.value.message_dict


def test_a_future_date_of_birth_is_refused_naming_the_field() -> None:
    errors = _refusal({"date_of_birth": timezone.localdate() + dt.timedelta(days=1)})
    assert "in the future" in errors["child.date_of_birth"][0]


def test_an_impossible_age_is_refused() -> None:
    errors = _refusal({"date_of_birth": dt.date(1950, 1, 1)})
    assert "too old" in errors["child.date_of_birth"][0]


def test_a_malformed_postcode_is_refused_naming_the_field() -> None:
    bad = AddressRecord(line_1="1 High Street", town="Bolton", postcode="BL1 4CI")
    errors = _refusal({"addresses": (bad,)})
    assert "not a UK postcode" in errors["address.postcode"][0]


def test_a_name_cannot_carry_notes() -> None:
    bad = NameRecord(given_names="Amelia (known to police 2021)", family_name="Smith")
    errors = _refusal({"names": (bad,)})
    assert "only letters" in errors["child name.given_names"][0]


def test_an_unknown_local_authority_is_refused() -> None:
    errors = _refusal({"responsible_la_ons_code": "E99999999"})
    assert "unknown local authority" in errors["child.responsible_la"][0]


def test_a_deceased_child_needs_a_date_of_death() -> None:
    with pytest.raises(ValidationError, match="child_deceased_has_date"):
        create_child(record=child_record(status=ChildStatus.DECEASED))


def test_an_invalid_contactpoint_id_is_refused_by_the_model() -> None:
    child = create_child(record=child_record())
    child.contactpoint_id = "123456789012"
    with pytest.raises(ValidationError) as caught:
        child.full_clean()
    assert "contactpoint_id" in caught.value.message_dict


def test_a_sensitive_service_needs_its_basis() -> None:
    record = child_record()
    no_basis = dataclasses.replace(record.involvements[1], sensitive_basis="")
    with pytest.raises(ValidationError, match="involvement_sensitive_has_basis"):
        create_child(record=dataclasses.replace(record, involvements=(no_basis,)))


def test_the_database_refuses_a_sensitive_service_without_basis_even_bypassing_validation() -> None:
    child = create_child(record=child_record())
    with pytest.raises(IntegrityError), transaction.atomic():
        Involvement.objects.create(
            child=child,
            service_type=ServiceType.SEXUAL_HEALTH,
            organisation_name="Brook",
            phone="0161 496 0111",
            started_on=dt.date(2025, 1, 1),
            source_system="test",
            source_record_id="1",
        )


def test_a_child_has_one_current_name() -> None:
    child = create_child(record=child_record())
    with pytest.raises(IntegrityError), transaction.atomic():
        ChildName.objects.create(
            child=child,
            given_names="Amy",
            family_name="Neill",
            given_name_key="AMY",
            family_name_key="NEILL",
            given_name_phonetic="AM",
            family_name_phonetic="NL",
            date_of_birth=child.date_of_birth,
            source_system="test",
            source_record_id="2",
        )


def test_other_specified_service_must_say_which() -> None:
    other = InvolvementRecord(
        service_type=ServiceType.OTHER,
        organisation_name="Bolton Council",
        phone="0161 496 0222",
        started_on=dt.date(2025, 1, 1),
    )
    with pytest.raises(ValidationError, match="involvement_other_service_named"):
        create_child(record=child_record(involvements=(other,)))


RECORD_MODELS = [
    index_models.Child,
    index_models.ChildName,
    index_models.Address,
    index_models.Carer,
    index_models.SchoolEnrolment,
    index_models.GpRegistration,
    index_models.Involvement,
]


@pytest.mark.parametrize("model", RECORD_MODELS, ids=lambda m: m.__name__)
def test_no_record_field_can_carry_free_text_case_information(model: type[models.Model]) -> None:
    """Every text field is a choice, a validated name/address/title, a key or provenance."""
    for field in model._meta.concrete_fields:
        assert not isinstance(field, models.TextField), f"{model.__name__}.{field.name}"
        if isinstance(field, models.CharField) and not isinstance(field, models.EmailField):
            constrained = bool(field.choices) or bool(field.validators[:-1]) or not field.editable
            # validators[-1] is Django's own MaxLengthValidator; something else must constrain it
            assert constrained or field.name in {"source_system", "source_record_id"}, (
                f"{model.__name__}.{field.name} is unconstrained text"
            )
            assert field.max_length is not None and field.max_length <= 120
