"""The child search form: parses the boxes, then lets search.criteria check everything.

The rules for what a search may contain live in search.criteria, shared with the API; this
form only maps GOV.UK inputs (three date boxes, an age range, a list of LAs) onto them.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.utils import timezone

from contactpoint.search.criteria import (
    POSTCODE_MAX_LENGTH,
    InvalidCriteria,
    SearchCriteria,
    birth_date_from_boxes,
    build_criteria,
    parse_age,
)
from contactpoint.search.selectors import local_authority_choices

NAME_INPUT_LENGTH = 100
# Typed text is shown again in the boxes after an error; at most this much of it.
REDISPLAY_LENGTH = 120


class _RedisplayBoundField(forms.BoundField):
    """Shows typed text again without control characters, and no more than a box's worth.

    Autoescaping handles markup; control characters are not markup and would otherwise go
    back into the page as typed.
    """

    def value(self) -> Any:
        value = super().value()
        if isinstance(value, str):
            value = "".join(
                char if unicodedata.category(char)[0] != "C" else "\ufffd" for char in value
            )[:REDISPLAY_LENGTH]
        return value


class TypedText(forms.CharField):
    def get_bound_field(self, form: forms.BaseForm, field_name: str) -> forms.BoundField:
        return _RedisplayBoundField(form, self, field_name)


class ChildSearchForm(forms.Form):
    family_name = TypedText(max_length=NAME_INPUT_LENGTH, required=False)
    given_name = TypedText(max_length=NAME_INPUT_LENGTH, required=False)
    date_of_birth_day = TypedText(max_length=2, required=False)
    date_of_birth_month = TypedText(max_length=2, required=False)
    date_of_birth_year = TypedText(max_length=4, required=False)
    age_from = TypedText(max_length=2, required=False)
    age_to = TypedText(max_length=2, required=False)
    postcode = TypedText(max_length=POSTCODE_MAX_LENGTH, required=False)
    local_authority = forms.ChoiceField(required=False)

    # Where each criteria error is shown on the page.
    _ERROR_FIELDS = {"date_of_birth": "date_of_birth_day", "age_range": "age_from"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        authorities = self.fields["local_authority"]
        assert isinstance(authorities, forms.ChoiceField)
        authorities.choices = [("", "Any"), *local_authority_choices()]
        authorities.error_messages["invalid_choice"] = "Choose a local authority from the list"
        self.criteria: SearchCriteria | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        today = timezone.localdate()
        errors: dict[str, list[str]] = {}
        birth = None
        ages: tuple[int | None, int | None] = (None, None)
        try:
            birth = birth_date_from_boxes(
                data.get("date_of_birth_day", ""),
                data.get("date_of_birth_month", ""),
                data.get("date_of_birth_year", ""),
                today=today,
            )
        except ValueError as error:
            errors["date_of_birth"] = [str(error)]
        try:
            ages = (
                parse_age(data.get("age_from"), label="The younger age"),
                parse_age(data.get("age_to"), label="The older age"),
            )
        except ValueError as error:
            errors["age_range"] = [str(error)]
        if not errors:
            try:
                self.criteria = build_criteria(
                    family_name=data.get("family_name", ""),
                    given_name=data.get("given_name", ""),
                    birth=birth,
                    age_from=ages[0],
                    age_to=ages[1],
                    postcode=data.get("postcode", ""),
                    local_authority=data.get("local_authority", ""),
                    today=today,
                )
            except InvalidCriteria as invalid:
                errors = invalid.errors
        for field, messages in errors.items():
            for message in messages:
                self.add_error(self._ERROR_FIELDS.get(field, field), message)
        return data
