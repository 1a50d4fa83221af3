"""The child record: exactly what DESIGN.md's record table allows, and no case information.

There is deliberately no free-text field: names, addresses and titles are constrained by
validators, and everything descriptive is a choice from vocabularies.py.
"""

from __future__ import annotations

from django.core.validators import MinLengthValidator, RegexValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils import timezone

from contactpoint.index import contactpoint_id
from contactpoint.index.validators import (
    validate_address_line,
    validate_child_date_of_birth,
    validate_contactpoint_id,
    validate_not_future,
    validate_person_name,
    validate_postcode,
    validate_title,
    validate_uk_phone,
)
from contactpoint.index.vocabularies import (
    SENSITIVE_SERVICE_TYPES,
    AddressKind,
    CarerRelationship,
    ChildStatus,
    Gender,
    NameKind,
    OtherService,
    ProvenancedChildField,
    Region,
    ReturnIntention,
    SchoolPhase,
    SensitiveBasis,
    ServiceType,
    Whereabouts,
)

NAME_LENGTH = 100
KEY_LENGTH = 100
PHONETIC_LENGTH = 16
SOURCE_CODE = RegexValidator(r"^[a-z0-9][a-z0-9_\-]*$", "A source system code is lower-case")


# --- Reference data ----------------------------------------------------------------------------


class LocalAuthority(models.Model):
    """An English local authority with children's services duties (upper tier)."""

    ons_code = models.CharField(
        max_length=9, unique=True, validators=[RegexValidator(r"^E(06|08|09|10)\d{6}$")]
    )
    name = models.CharField(max_length=NAME_LENGTH, unique=True, validators=[validate_title])
    region = models.CharField(max_length=20, choices=Region.choices)
    is_pilot = models.BooleanField(
        default=False, help_text="One of the 17 North West early adopters"
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "local authorities"

    def __str__(self) -> str:
        return self.name


class PostcodeDistrict(models.Model):
    """Which LA a postcode district lies (mainly) in: M14 -> Manchester."""

    code = models.CharField(max_length=4, primary_key=True)
    local_authority = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, related_name="postcode_districts"
    )

    def __str__(self) -> str:
        return self.code


class School(models.Model):
    """An educational setting, identified by its DfE unique reference number (URN)."""

    urn = models.CharField(
        max_length=7, unique=True, validators=[RegexValidator(r"^\d{6,7}$", "A URN is 6 digits")]
    )
    name = models.CharField(max_length=120, validators=[validate_title])
    phase = models.CharField(max_length=12, choices=SchoolPhase.choices)
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT)
    postcode = models.CharField(max_length=8, validators=[validate_postcode])
    phone = models.CharField(max_length=20, validators=[validate_uk_phone])
    email = models.EmailField(max_length=120)

    def __str__(self) -> str:
        return f"{self.name} ({self.urn})"


class GpPractice(models.Model):
    """A GP practice, identified by its NHS ODS code."""

    ods_code = models.CharField(
        max_length=6,
        unique=True,
        validators=[RegexValidator(r"^[A-Z]\d{5}$", "An ODS practice code is like P84001")],
    )
    name = models.CharField(max_length=120, validators=[validate_title])
    local_authority = models.ForeignKey(LocalAuthority, on_delete=models.PROTECT)
    postcode = models.CharField(max_length=8, validators=[validate_postcode])
    phone = models.CharField(max_length=20, validators=[validate_uk_phone])

    def __str__(self) -> str:
        return f"{self.name} ({self.ods_code})"


# --- Provenance --------------------------------------------------------------------------------


class Provenance(models.Model):
    """Which source record supplied a part of the record, and when (DESIGN: provenance).

    A part (a name, an address, a carer...) comes whole from one source record, so its
    provenance covers each of its fields. The source system is stored by its code because
    source systems are registered by `feeds`, which sits above `index`.
    """

    source_system = models.CharField(max_length=40, validators=[SOURCE_CODE])
    source_record_id = models.CharField(max_length=64, validators=[MinLengthValidator(1)])
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


# --- The child ---------------------------------------------------------------------------------


class IssuedContactPointId(models.Model):
    """Every ContactPoint ID ever issued, kept after its child is deleted so it is never reused."""

    value = models.CharField(
        max_length=contactpoint_id.LENGTH,
        primary_key=True,
        validators=[validate_contactpoint_id],
    )
    issued_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return contactpoint_id.display(self.value)


class Child(models.Model):
    contactpoint_id = models.CharField(
        "ContactPoint ID",
        max_length=contactpoint_id.LENGTH,
        unique=True,
        validators=[validate_contactpoint_id],
    )
    gender = models.CharField(max_length=16, choices=Gender.choices)
    date_of_birth = models.DateField(validators=[validate_child_date_of_birth])
    status = models.CharField(
        max_length=16, choices=ChildStatus.choices, default=ChildStatus.ACTIVE
    )
    whereabouts = models.CharField(
        max_length=20, choices=Whereabouts.choices, default=Whereabouts.CURRENT_ADDRESS
    )
    left_england_intends_return = models.CharField(
        "intends to return to England within 3 years",
        max_length=8,
        choices=ReturnIntention.choices,
        blank=True,
    )
    # No index of its own: child_la_status (responsible LA, status) leads with it.
    responsible_la = models.ForeignKey(
        LocalAuthority, on_delete=models.PROTECT, related_name="children", db_index=False
    )
    is_shielded = models.BooleanField(default=False)
    died_on = models.DateField(null=True, blank=True, validators=[validate_not_future])
    left_england_on = models.DateField(null=True, blank=True, validators=[validate_not_future])
    archived_on = models.DateField(null=True, blank=True, validators=[validate_not_future])
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "children"
        indexes = [
            models.Index(fields=["date_of_birth"], name="child_dob"),
            models.Index(fields=["responsible_la", "status"], name="child_la_status"),
            models.Index(
                fields=["responsible_la"], condition=Q(is_shielded=True), name="child_shielded"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Exact(Length("contactpoint_id"), contactpoint_id.LENGTH),
                name="child_contactpoint_id_length",
            ),
            models.CheckConstraint(
                condition=Q(status=ChildStatus.DECEASED, died_on__isnull=False)
                | ~Q(status=ChildStatus.DECEASED),
                name="child_deceased_has_date",
            ),
            models.CheckConstraint(
                condition=Q(status=ChildStatus.ARCHIVED, archived_on__isnull=False)
                | ~Q(status=ChildStatus.ARCHIVED),
                name="child_archived_has_date",
            ),
            models.CheckConstraint(
                condition=(
                    Q(whereabouts=Whereabouts.LEFT_ENGLAND) & ~Q(left_england_intends_return="")
                )
                | (~Q(whereabouts=Whereabouts.LEFT_ENGLAND) & Q(left_england_intends_return="")),
                name="child_return_intention_only_when_left",
            ),
            models.CheckConstraint(
                condition=Q(died_on__isnull=True) | Q(died_on__gte=F("date_of_birth")),
                name="child_died_after_birth",
            ),
        ]

    def __str__(self) -> str:
        return contactpoint_id.display(self.contactpoint_id)

    @property
    def display_id(self) -> str:
        return contactpoint_id.display(self.contactpoint_id)


class ChildFieldSource(Provenance):
    """Provenance of the child's own scalar fields, one row per field."""

    # No index of its own: one_source_per_child_field (child, field) leads with it.
    child = models.ForeignKey(
        Child, on_delete=models.CASCADE, related_name="field_sources", db_index=False
    )
    field = models.CharField(max_length=20, choices=ProvenancedChildField.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["child", "field"], name="one_source_per_child_field")
        ]

    def __str__(self) -> str:
        return f"{self.field} from {self.source_system}"


class ChildName(Provenance):
    """A current, former or alias name, with the search keys derived from it at write time."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="names")
    kind = models.CharField(max_length=8, choices=NameKind.choices, default=NameKind.CURRENT)
    given_names = models.CharField(max_length=NAME_LENGTH, validators=[validate_person_name])
    family_name = models.CharField(max_length=NAME_LENGTH, validators=[validate_person_name])
    # Keys written by index.services from index.normalise; never edited by hand.
    given_name_key = models.CharField(max_length=KEY_LENGTH, editable=False)
    family_name_key = models.CharField(max_length=KEY_LENGTH, editable=False)
    given_name_phonetic = models.CharField(max_length=PHONETIC_LENGTH, editable=False)
    family_name_phonetic = models.CharField(max_length=PHONETIC_LENGTH, editable=False)
    # A copy of the child's date of birth so that name + date searches use one index.
    date_of_birth = models.DateField(editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["family_name_key", "date_of_birth"], name="name_family_dob"),
            models.Index(fields=["family_name_phonetic", "date_of_birth"], name="name_fphon_dob"),
            models.Index(fields=["given_name_key", "date_of_birth"], name="name_given_dob"),
            models.Index(
                fields=["family_name_phonetic", "given_name_phonetic"], name="name_phonetics"
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=Q(kind=NameKind.CURRENT), name="one_current_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.given_names} {self.family_name}"


class AddressFields(models.Model):
    """A UK postal address with its postcode parts kept for searching."""

    line_1 = models.CharField(max_length=100, validators=[validate_address_line])
    line_2 = models.CharField(max_length=100, blank=True, validators=[validate_address_line])
    town = models.CharField(max_length=60, validators=[validate_address_line])
    postcode = models.CharField(max_length=8, validators=[validate_postcode])
    postcode_district = models.CharField(max_length=4, editable=False)
    postcode_sector = models.CharField(max_length=6, editable=False)

    class Meta:
        abstract = True


class Address(Provenance, AddressFields):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(max_length=12, choices=AddressKind.choices)
    from_date = models.DateField(null=True, blank=True, validators=[validate_not_future])
    to_date = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "addresses"
        indexes = [
            models.Index(fields=["postcode"], name="address_postcode"),
            models.Index(fields=["postcode_district"], name="address_district"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["child"],
                condition=Q(kind__in=[AddressKind.CURRENT, AddressKind.LAST_KNOWN]),
                name="one_current_or_last_known_address",
            ),
            models.CheckConstraint(
                condition=Q(to_date__isnull=True)
                | Q(from_date__isnull=True)
                | Q(to_date__gte=F("from_date")),
                name="address_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_1}, {self.town} {self.postcode}"


class Carer(Provenance):
    """A parent or carer: name, relationship, parental responsibility and how to reach them."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="carers")
    given_names = models.CharField(max_length=NAME_LENGTH, validators=[validate_person_name])
    family_name = models.CharField(max_length=NAME_LENGTH, validators=[validate_person_name])
    family_name_key = models.CharField(max_length=KEY_LENGTH, editable=False)
    relationship = models.CharField(max_length=20, choices=CarerRelationship.choices)
    has_parental_responsibility = models.BooleanField()
    lives_with_child = models.BooleanField(default=True)
    line_1 = models.CharField(max_length=100, blank=True, validators=[validate_address_line])
    line_2 = models.CharField(max_length=100, blank=True, validators=[validate_address_line])
    town = models.CharField(max_length=60, blank=True, validators=[validate_address_line])
    postcode = models.CharField(max_length=8, blank=True, validators=[validate_postcode])
    phone_1 = models.CharField(max_length=20, blank=True, validators=[validate_uk_phone])
    phone_2 = models.CharField(max_length=20, blank=True, validators=[validate_uk_phone])
    phone_3 = models.CharField(max_length=20, blank=True, validators=[validate_uk_phone])

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(phone_2="") | ~Q(phone_1=""), name="carer_phones_filled_in_order"
            ),
            models.CheckConstraint(
                condition=Q(phone_3="") | ~Q(phone_2=""), name="carer_phone_3_after_2"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.given_names} {self.family_name} ({self.get_relationship_display()})"


class SchoolEnrolment(Provenance):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="enrolments")
    # Indexed by enrolment_school (Meta), not twice.
    school = models.ForeignKey(
        School, on_delete=models.PROTECT, related_name="enrolments", db_index=False
    )
    started_on = models.DateField(validators=[validate_not_future])
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["school"], name="enrolment_school")]
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=Q(ended_on__isnull=True), name="one_current_school"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="enrolment_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"enrolment {self.pk} at school {self.school_id}"


class GpRegistration(Provenance):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="gp_registrations")
    # Indexed by registration_practice (Meta), not twice.
    practice = models.ForeignKey(
        GpPractice, on_delete=models.PROTECT, related_name="registrations", db_index=False
    )
    registered_on = models.DateField(validators=[validate_not_future])
    ended_on = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["practice"], name="registration_practice")]
        constraints = [
            models.UniqueConstraint(
                fields=["child"], condition=Q(ended_on__isnull=True), name="one_current_gp"
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("registered_on")),
                name="registration_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"registration {self.pk} with practice {self.practice_id}"


class Involvement(Provenance):
    """A service or practitioner involved with the child: contact details only, never why."""

    # No index of its own: involvement_current (child, ended_on) leads with it.
    child = models.ForeignKey(
        Child, on_delete=models.CASCADE, related_name="involvements", db_index=False
    )
    service_type = models.CharField(max_length=20, choices=ServiceType.choices)
    other_service = models.CharField(
        max_length=24,
        choices=OtherService.choices,
        blank=True,
        help_text="Which service, when the service type is 'other specified service'",
    )
    organisation_name = models.CharField(max_length=120, validators=[validate_title])
    practitioner_name = models.CharField(
        max_length=NAME_LENGTH, blank=True, validators=[validate_person_name]
    )
    practitioner_role = models.CharField(max_length=80, blank=True, validators=[validate_title])
    phone = models.CharField(max_length=20, validators=[validate_uk_phone])
    secure_email = models.EmailField(max_length=120, blank=True)
    started_on = models.DateField(validators=[validate_not_future])
    ended_on = models.DateField(null=True, blank=True)
    is_lead_professional = models.BooleanField(default=False)
    # The Common Assessment Framework indicator: that an assessment exists, never its contents.
    holds_caf_assessment = models.BooleanField(default=False)
    caf_assessment_on = models.DateField(null=True, blank=True, validators=[validate_not_future])
    sensitive_basis = models.CharField(
        max_length=20,
        choices=SensitiveBasis.choices,
        blank=True,
        help_text="For a sensitive service: consent, or suspected significant harm",
    )

    class Meta:
        indexes = [models.Index(fields=["child", "ended_on"], name="involvement_current")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="involvement_dates_in_order",
            ),
            models.CheckConstraint(
                condition=(Q(service_type=ServiceType.OTHER) & ~Q(other_service=""))
                | (~Q(service_type=ServiceType.OTHER) & Q(other_service="")),
                name="involvement_other_service_named",
            ),
            models.CheckConstraint(
                condition=(
                    Q(service_type__in=sorted(SENSITIVE_SERVICE_TYPES)) & ~Q(sensitive_basis="")
                )
                | (~Q(service_type__in=sorted(SENSITIVE_SERVICE_TYPES)) & Q(sensitive_basis="")),
                name="involvement_sensitive_has_basis",
            ),
            models.CheckConstraint(
                condition=Q(holds_caf_assessment=True, caf_assessment_on__isnull=False)
                | Q(holds_caf_assessment=False, caf_assessment_on__isnull=True),
                name="involvement_caf_has_date",
            ),
            models.UniqueConstraint(
                fields=["child"],
                condition=Q(is_lead_professional=True, ended_on__isnull=True),
                name="one_current_lead_professional",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_type_display()} ({self.organisation_name})"

    @property
    def is_sensitive(self) -> bool:
        return self.service_type in SENSITIVE_SERVICE_TYPES


# --- Record linkage (issue 5; written by index.linkage) ---------------------------------------


class ChildMerge(models.Model):
    """Two children found to be one: the absorbed child's ID now redirects to the survivor.

    Kept so that the merge can be undone: the absorbed child's own fields, and every row that
    was moved from it to the survivor (with any value changed to make room), are recorded.
    No foreign key to a user: `index` sits below `access`, so the actor is kept by name and
    the full story is in the audit log.
    """

    survivor = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="merges")
    absorbed_contactpoint_id = models.CharField(
        max_length=contactpoint_id.LENGTH, validators=[validate_contactpoint_id], db_index=True
    )
    absorbed_snapshot = models.JSONField()
    moved_rows = models.JSONField(default=dict)
    merged_at = models.DateTimeField(default=timezone.now)
    merged_by = models.CharField(max_length=150)
    reason = models.CharField(max_length=200, blank=True)
    unmerged_at = models.DateTimeField(null=True, blank=True)
    unmerged_by = models.CharField(max_length=150, blank=True)
    restored_child = models.ForeignKey(
        Child, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at"]

    def __str__(self) -> str:
        return (
            f"{contactpoint_id.display(self.absorbed_contactpoint_id)} merged into {self.survivor}"
        )
