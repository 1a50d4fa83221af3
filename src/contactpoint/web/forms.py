"""Forms for the sign-in, account and administration pages: parse and check input only.

Error messages follow the GOV.UK Design System's style: say what to do, not what went wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms
from django.contrib.auth.password_validation import (
    password_validators_help_texts,
    validate_password,
)
from django.core.exceptions import ValidationError

from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.access.vocabularies import (
    OTHER_REASON_MAX_LENGTH,
    AccessReason,
    OrganisationStatus,
)

USERNAME_PATTERN = r"^[A-Za-z0-9.@+_-]{3,150}$"


class GovukDateWidget(forms.MultiWidget):
    """The GOV.UK date input: day, month and year boxes, submitted as NAME_day etc."""

    def __init__(self) -> None:
        super().__init__(
            widgets={"day": forms.TextInput, "month": forms.TextInput, "year": forms.TextInput}
        )

    def decompress(self, value: Any) -> list[Any]:
        if isinstance(value, dt.date):
            return [value.day, value.month, value.year]
        return [None, None, None]


class GovukDateField(forms.MultiValueField):
    widget = GovukDateWidget

    def __init__(self, **kwargs: Any) -> None:
        parts = (forms.CharField(), forms.CharField(), forms.CharField())
        super().__init__(fields=parts, require_all_fields=False, **kwargs)

    def compress(self, data_list: list[str]) -> dt.date | None:
        if not data_list or not any(data_list):
            return None
        day, month, year = (str(part or "").strip() for part in data_list)
        if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
            raise ValidationError("Enter the date as day, month and year, for example 27 3 2024.")
        try:
            return dt.date(int(year), int(month), int(day))
        except ValueError as error:
            raise ValidationError("Enter a real date.") from error


class SignInForm(forms.Form):
    username = forms.CharField(max_length=150, error_messages={"required": "Enter your username."})
    password = forms.CharField(
        max_length=256, strip=False, error_messages={"required": "Enter your password."}
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        max_length=12,
        error_messages={"required": "Enter the 6-digit code from your authenticator app."},
    )

    def clean_code(self) -> str:
        code = re.sub(r"\s", "", self.cleaned_data["code"])
        if not re.fullmatch(r"\d{6}", code):
            raise ValidationError("Enter the 6-digit code from your authenticator app.")
        return code


class NewPasswordForm(forms.Form):
    """A new password, checked against the policy (length and deny-lists, no composition rules)."""

    new_password = forms.CharField(
        strip=False, max_length=512, error_messages={"required": "Enter a new password."}
    )
    confirm_password = forms.CharField(
        strip=False, max_length=512, error_messages={"required": "Enter the new password again."}
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    @staticmethod
    def help_texts() -> list[str]:
        return password_validators_help_texts()

    def clean_new_password(self) -> str:
        password: str = self.cleaned_data["new_password"]
        validate_password(password, self.user)
        return password

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if (
            cleaned.get("new_password")
            and cleaned.get("confirm_password") != cleaned["new_password"]
        ):
            self.add_error(
                "confirm_password", "The passwords do not match. Enter the same password twice."
            )
        return cleaned


class ChangePasswordForm(NewPasswordForm):
    current_password = forms.CharField(
        strip=False, max_length=256, error_messages={"required": "Enter your current password."}
    )
    field_order = ["current_password", "new_password", "confirm_password"]

    def clean_current_password(self) -> str:
        password: str = self.cleaned_data["current_password"]
        if not self.user.check_password(password):
            raise ValidationError("Your current password is not correct.")
        return password


class PurposeForm(forms.Form):
    reason = forms.ChoiceField(
        choices=AccessReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select why you need to use ContactPoint."},
    )
    other = forms.CharField(required=False, max_length=OTHER_REASON_MAX_LENGTH * 2)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("reason") == AccessReason.OTHER and not cleaned.get("other", "").strip():
            self.add_error("other", "Enter your reason.")
        return cleaned


class CreateAccountForm(forms.Form):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.none(),
        empty_label=None,
        error_messages={"required": "Select the person's organisation."},
    )
    role = forms.ChoiceField(choices=Role.choices, error_messages={"required": "Select a role."})
    first_name = forms.CharField(
        max_length=150, error_messages={"required": "Enter the first name."}
    )
    last_name = forms.CharField(max_length=150, error_messages={"required": "Enter the last name."})
    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Enter the person's work email address.",
            "invalid": "Enter an email address in the correct format, like name@example.gov.uk",
        },
    )
    username = forms.RegexField(
        regex=USERNAME_PATTERN,
        error_messages={
            "required": "Enter a username.",
            "invalid": "A username is 3 to 150 letters, digits and . @ + - _ only.",
        },
    )

    def __init__(self, *args: Any, organisations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["organisation"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = organisations


class VettingForm(forms.Form):
    certificate_number = forms.CharField(
        max_length=40,
        error_messages={"required": "Enter the certificate number."},
        help_text="Only the last 4 characters are kept.",
    )
    issued_on = GovukDateField(
        error_messages={"required": "Enter the date the certificate was issued."}
    )


class RecordDateForm(forms.Form):
    on = GovukDateField(error_messages={"required": "Enter the date."})


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=200, error_messages={"required": "Enter why the account is being suspended."}
    )


class OrganisationStatusForm(forms.Form):
    new_status = forms.ChoiceField(
        choices=OrganisationStatus.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the new status."},
    )

    def __init__(self, *args: Any, allowed: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["new_status"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(v, label) for v, label in OrganisationStatus.choices if v in allowed]
