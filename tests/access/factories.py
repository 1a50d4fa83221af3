"""factory_boy factories for organisations and people (fully gated unless told otherwise)."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import OrganisationKind, OrganisationStatus

PASSWORD = "correct horse battery staple"


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    code = factory.Sequence(lambda n: f"partner-{n}")
    name = factory.Sequence(lambda n: f"Test partner {n}")
    kind = OrganisationKind.NATIONAL_PARTNER
    status = OrganisationStatus.LIVE_PILOT


class PersonFactory(factory.django.DjangoModelFactory):
    """A person who passes every gate; override a field to fail one."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Tester{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.invalid")
    role = Role.PRACTITIONER
    organisation = factory.LazyFunction(
        lambda: Organisation.objects.get(kind=OrganisationKind.LOCAL_AUTHORITY, name="Manchester")
    )
    vetting_certificate_masked = "****1234"
    vetting_issued_on = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    vetting_recorded_at = factory.LazyFunction(timezone.now)
    training_completed_on = factory.LazyFunction(timezone.localdate)
    shielding_training_completed_on = factory.LazyAttribute(
        lambda o: timezone.localdate() if o.role == Role.SHIELDING_OFFICER else None
    )
    agreement_signed_on = factory.LazyFunction(timezone.localdate)
    authorised_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def with_device(self, create: bool, extracted: bool | None, **kwargs: object) -> None:
        """A confirmed TOTP device unless with_device=False."""
        if create and extracted is not False:
            TOTPDevice.objects.create(user=self, name="Test phone", confirmed=True)
        if create:
            self.save()
