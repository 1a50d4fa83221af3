"""Forms for the shielding pages: parse input only; shielding.services decides (CONVENTIONS 5).

Text fields are checked here with the same validators the services apply, so that a person
sees the problem beside the field; the services check again whoever calls them.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from contactpoint.shielding.validators import (
    validate_break_glass_reason,
    validate_justification,
    validate_short_note,
)
from contactpoint.shielding.vocabularies import (
    BREAK_GLASS_REASON_MAX_LENGTH,
    JUSTIFICATION_MAX_LENGTH,
    NOT_A_REASON,
    OFFICER_REASONS,
    RequesterKind,
    ShieldingReason,
)
from contactpoint.web.forms import GovukDateField

REASON_CHOICES = [(value, ShieldingReason(value).label) for value in OFFICER_REASONS]


class ReasonField(forms.ChoiceField):
    """One of the officer reasons; 'adoption' gets the rule explained, not a generic error."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            choices=REASON_CHOICES,
            error_messages={
                "required": "Select why the record must be shielded.",
                "invalid_choice": "Select why the record must be shielded.",
            },
            **kwargs,
        )

    def validate(self, value: Any) -> None:
        if value in NOT_A_REASON:
            raise ValidationError(NOT_A_REASON[value])
        super().validate(value)


class JustificationField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": "Enter the justification."})
        super().__init__(max_length=JUSTIFICATION_MAX_LENGTH + 50, **kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        return validate_justification(text) if text else text


class ShieldForm(forms.Form):
    """Shield, or review and keep, a record: reason, justification, next review date."""

    reason = ReasonField()
    justification = JustificationField()
    review_on = GovukDateField(required=False)


class UnshieldForm(forms.Form):
    justification = JustificationField()


class RecordRequestForm(forms.Form):
    """A request to shield made to the LA (a parent's call, a court's letter), as recorded."""

    requester_kind = forms.ChoiceField(
        choices=RequesterKind.choices,
        error_messages={"required": "Select who asked.", "invalid_choice": "Select who asked."},
    )
    requester_name = forms.CharField(max_length=100, required=False)
    summary = JustificationField(error_messages={"required": "Enter what was asked and why."})
    suggested_reason = forms.ChoiceField(
        choices=[("", "Not given"), *REASON_CHOICES], required=False
    )

    def clean_requester_name(self) -> str:
        return validate_short_note(
            self.cleaned_data.get("requester_name", ""), what="The name", maximum=100
        )


class DecideRequestForm(forms.Form):
    """Close a request: shield (with a reason, justification and review date) or decline."""

    decision = forms.ChoiceField(
        choices=[("shield", "Shield the record"), ("decline", "Do not shield the record")],
        error_messages={"required": "Select a decision.", "invalid_choice": "Select a decision."},
    )
    reason = forms.ChoiceField(choices=[("", "Choose"), *REASON_CHOICES], required=False)
    justification = forms.CharField(max_length=JUSTIFICATION_MAX_LENGTH + 50, required=False)
    review_on = GovukDateField(required=False)
    note = forms.CharField(max_length=350, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("decision") == "shield":
            if not cleaned.get("reason"):
                self.add_error("reason", "Select why the record must be shielded.")
            if not cleaned.get("justification"):
                self.add_error("justification", "Enter the justification.")
        elif cleaned.get("decision") == "decline" and not cleaned.get("note"):
            self.add_error("note", "Say why the record is not being shielded.")
        return cleaned


class AskToShieldForm(forms.Form):
    summary = JustificationField(
        error_messages={"required": "Say why the child's whereabouts must be hidden."}
    )


class ContactRequestForm(forms.Form):
    """How the people working with the child can reach the person asking."""

    reply_phone = forms.CharField(
        max_length=20, error_messages={"required": "Enter a phone number they can call you on."}
    )
    reply_email = forms.EmailField(
        max_length=120,
        required=False,
        error_messages={"invalid": "Enter an email address like name@example.org."},
    )
    message = JustificationField(error_messages={"required": "Say why you need to reach them."})


class HandleContactForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=[("passed_on", "Details passed on"), ("declined", "Not passed on")],
        error_messages={
            "required": "Select what happened.",
            "invalid_choice": "Select what happened.",
        },
    )
    note = forms.CharField(max_length=350, required=False)


class BreakGlassForm(forms.Form):
    """The typed reason, and the acknowledgement of the warning."""

    reason = forms.CharField(
        max_length=BREAK_GLASS_REASON_MAX_LENGTH + 50,
        error_messages={"required": "Type why you must see this shielded record now."},
    )
    understood = forms.BooleanField(
        error_messages={
            "required": "Confirm that you understand this will be investigated at once."
        }
    )

    def clean_reason(self) -> str:
        return validate_break_glass_reason(self.cleaned_data["reason"])
