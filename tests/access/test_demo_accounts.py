"""`contactpoint create_demo_accounts`: one usable account per role, demo environment only."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from tests.conftest import sign_in_with_pages

from contactpoint.access.gates import account_refusals
from contactpoint.access.models import User
from contactpoint.access.roles import Role
from contactpoint.config import Environment

pytestmark = pytest.mark.django_db


def _run() -> dict[str, dict[str, str]]:
    out = StringIO()
    call_command("create_demo_accounts", stdout=out)
    printed = {}
    for username, password, secret in re.findall(
        r"username:\s+(\S+)\n\s+password:\s+(\S+)\n\s+TOTP secret: (\S+)", out.getvalue()
    ):
        printed[username] = {"password": password, "secret": secret}
    assert "otpauth://totp/ContactPoint%3A" in out.getvalue()
    return printed


def test_one_fully_gated_account_per_role_in_a_live_pilot_la() -> None:
    printed = _run()

    assert len(printed) == len(Role.values)
    for username in printed:
        person = User.objects.get(username=username)
        assert account_refusals(person) == [], username
        assert TOTPDevice.objects.filter(user=person, confirmed=True).count() == 1
        expected_org = "national-team" if person.role == Role.NATIONAL_TEAM else None
        if expected_org:
            assert person.organisation.code == expected_org  # type: ignore[union-attr]
        else:
            assert person.organisation.name == "Manchester"  # type: ignore[union-attr]


def test_re_running_keeps_the_accounts_and_secrets_and_resets_passwords_to_those_printed() -> None:
    first = _run()
    second = _run()

    assert first.keys() == second.keys()
    for username in first:
        assert first[username]["secret"] == second[username]["secret"]
        person = User.objects.get(username=username)
        assert person.check_password(second[username]["password"])
        assert not person.check_password(first[username]["password"])


def test_a_printed_demo_account_can_sign_in() -> None:
    printed = _run()
    person = User.objects.get(username="demo.practitioner")
    client = sign_in_with_pages(Client(), person, printed["demo.practitioner"]["password"])
    assert client.get("/reason-for-access").status_code == 200


def test_it_refuses_outside_the_demo_environment(settings: Any) -> None:
    settings.ENVIRONMENT = Environment.PRODUCTION
    with pytest.raises(CommandError, match="only when CONTACTPOINT_ENV=demo"):
        call_command("create_demo_accounts", stdout=StringIO())
    assert not User.objects.filter(username__startswith="demo.").exists()
