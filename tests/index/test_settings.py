"""Settings come from the environment, and production refuses to start unsafe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contactpoint.config import DEMO_SECRET_KEY

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k" * 20 + "9f3a" * 10 + "Z!x"


def run_contactpoint(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CONTACTPOINT_", "DJANGO_"))}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "contactpoint.cli", *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_production_refuses_the_default_secret_key() -> None:
    result = run_contactpoint(
        "check",
        CONTACTPOINT_ENV="production",
        CONTACTPOINT_SECRET_KEY=DEMO_SECRET_KEY,
        CONTACTPOINT_ALLOWED_HOSTS="contactpoint.example",
    )
    assert result.returncode != 0
    assert "CONTACTPOINT_SECRET_KEY" in result.stderr


def test_production_refuses_debug() -> None:
    result = run_contactpoint(
        "check",
        CONTACTPOINT_ENV="production",
        CONTACTPOINT_SECRET_KEY=STRONG_KEY,
        CONTACTPOINT_DEBUG="true",
        CONTACTPOINT_ALLOWED_HOSTS="contactpoint.example",
    )
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_an_unknown_environment_is_refused_in_one_line() -> None:
    result = run_contactpoint("check", CONTACTPOINT_ENV="staging")
    assert result.returncode != 0
    assert "CONTACTPOINT_ENV='staging' is not one of" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_check_deploy_is_clean_in_production() -> None:
    result = run_contactpoint(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        CONTACTPOINT_ENV="production",
        CONTACTPOINT_SECRET_KEY=STRONG_KEY,
        CONTACTPOINT_ALLOWED_HOSTS="contactpoint.example",
        CONTACTPOINT_NHS_NUMBER_KEY=STRONG_KEY,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_contactpoint_help_lists_the_commands() -> None:
    result = run_contactpoint("--help")
    assert result.returncode == 0
    for command in ("generate", "load_reference", "migrate"):
        assert command in result.stdout


@pytest.mark.parametrize("args", [["generate", "--children", "lots"], ["no_such_command"]])
def test_a_bad_argument_is_a_one_line_error_not_a_traceback(args: list[str]) -> None:
    result = run_contactpoint(*args)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() != ""
