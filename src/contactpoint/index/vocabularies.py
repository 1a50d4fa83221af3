"""The fixed vocabularies of the record, declared once (CONVENTIONS 12: data as data)."""

from __future__ import annotations

from django.db import models


class Region(models.TextChoices):
    NORTH_EAST = "north_east", "North East"
    NORTH_WEST = "north_west", "North West"
    YORKSHIRE = "yorkshire_humber", "Yorkshire and The Humber"
    EAST_MIDLANDS = "east_midlands", "East Midlands"
    WEST_MIDLANDS = "west_midlands", "West Midlands"
    EAST = "east_of_england", "East of England"
    LONDON = "london", "London"
    SOUTH_EAST = "south_east", "South East"
    SOUTH_WEST = "south_west", "South West"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NOT_SPECIFIED = "not_specified", "Not specified"
    NOT_KNOWN = "not_known", "Not known"


class ChildStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"
    DECEASED = "deceased", "Deceased"
    LEFT_ENGLAND = "left_england", "Left England"


class Whereabouts(models.TextChoices):
    """Where the record says the child lives; a child's location is itself sensitive."""

    CURRENT_ADDRESS = "current_address", "Current address known"
    LAST_KNOWN_ADDRESS = "last_known_address", "Last known address only"
    NO_KNOWN_ADDRESS = "no_known_address", "No known address"
    LEFT_ENGLAND = "left_england", "Left England"


class ReturnIntention(models.TextChoices):
    """For a child who has left England: do they intend to return within three years."""

    YES = "yes", "Yes"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class NameKind(models.TextChoices):
    CURRENT = "current", "Current name"
    FORMER = "former", "Former name"
    ALIAS = "alias", "Also known as"


class AddressKind(models.TextChoices):
    CURRENT = "current", "Current address"
    LAST_KNOWN = "last_known", "Last known address"
    PREVIOUS = "previous", "Previous address"


class CarerRelationship(models.TextChoices):
    MOTHER = "mother", "Mother"
    FATHER = "father", "Father"
    STEP_PARENT = "step_parent", "Step-parent"
    GRANDPARENT = "grandparent", "Grandparent"
    OTHER_RELATIVE = "other_relative", "Other relative"
    FOSTER_CARER = "foster_carer", "Foster carer"
    SPECIAL_GUARDIAN = "special_guardian", "Special guardian"
    ADOPTIVE_PARENT = "adoptive_parent", "Adoptive parent"
    LOCAL_AUTHORITY = "local_authority", "Local authority (corporate parent)"
    OTHER = "other", "Other carer"


class SchoolPhase(models.TextChoices):
    NURSERY = "nursery", "Nursery"
    PRIMARY = "primary", "Primary"
    SECONDARY = "secondary", "Secondary"
    ALL_THROUGH = "all_through", "All-through"
    SPECIAL = "special", "Special school"
    SIXTEEN_PLUS = "16_plus", "16 plus"


class ServiceType(models.TextChoices):
    HEALTH_VISITOR = "health_visitor", "Health visitor"
    SCHOOL_NURSE = "school_nurse", "School nurse"
    SENCO = "senco", "Special educational needs co-ordinator (SENCO)"
    SOCIAL_WORKER = "social_worker", "Social worker"
    YOUTH_WORKER = "youth_worker", "Youth worker"
    YOUTH_OFFENDING = "youth_offending", "Youth offending team"
    CONNEXIONS = "connexions", "Connexions personal adviser"
    OTHER = "other", "Other specified service"
    SEXUAL_HEALTH = "sexual_health", "Sexual health service"
    MENTAL_HEALTH = "mental_health", "Mental health service"
    SUBSTANCE_MISUSE = "substance_misuse", "Substance misuse service"


# Sensitive services are recorded only with consent or suspected significant harm, and their
# provider's details are hidden from everyone but the service itself.
SENSITIVE_SERVICE_TYPES: frozenset[str] = frozenset(
    {ServiceType.SEXUAL_HEALTH, ServiceType.MENTAL_HEALTH, ServiceType.SUBSTANCE_MISUSE}
)


class OtherService(models.TextChoices):
    """'Other specified services' come from this list, so no free text can carry case detail."""

    EDUCATION_WELFARE = "education_welfare", "Education welfare service"
    EDUCATIONAL_PSYCHOLOGY = "educational_psychology", "Educational psychology"
    SPEECH_AND_LANGUAGE = "speech_and_language", "Speech and language therapy"
    EARLY_HELP = "early_help", "Early help / family support"
    CHILDRENS_CENTRE = "childrens_centre", "Children's centre"
    YOUNG_CARERS = "young_carers", "Young carers service"
    DISABLED_CHILDREN = "disabled_children", "Disabled children's service"
    PAEDIATRICS = "paediatrics", "Community paediatrics"
    HOUSING = "housing", "Housing support"
    POLICE = "police", "Police"
    VOLUNTARY_SECTOR = "voluntary_sector", "Voluntary sector service"


class SensitiveBasis(models.TextChoices):
    """Why a sensitive service may be recorded at all (only the basis, never the reason)."""

    CONSENT = "consent", "The young person consented"
    SIGNIFICANT_HARM = "significant_harm", "The provider suspects significant harm"


class ProvenancedChildField(models.TextChoices):
    """Child-level fields whose source is tracked one by one (parts carry their own source)."""

    GENDER = "gender", "Gender"
    DATE_OF_BIRTH = "date_of_birth", "Date of birth"
    WHEREABOUTS = "whereabouts", "Whereabouts"
    RESPONSIBLE_LA = "responsible_la", "Responsible local authority"
    STATUS = "status", "Status"
