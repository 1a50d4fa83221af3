"""Typed access to the environment: the only place ContactPoint reads its configuration."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("CONTACTPOINT_VAR_DIR", PROJECT_ROOT / "var"))

# Shipped so that `make demo` works on a fresh machine; production refuses to start with it.
DEMO_SECRET_KEY = "contactpoint-demo-only-secret-key-never-use-in-production-0123456789"


class Environment(StrEnum):
    DEMO = "demo"
    TRAINING = "training"
    PRODUCTION = "production"

    @property
    def banner(self) -> str:
        """Phase banner tag shown on every page, so nobody mistakes demo data for live data."""
        return {"demo": "Demo", "training": "Training", "production": "Live"}[self.value]


def read_environment() -> Environment:
    raw = os.environ.get("CONTACTPOINT_ENV", Environment.DEMO.value).strip().lower()
    try:
        return Environment(raw)
    except ValueError as error:
        allowed = ", ".join(e.value for e in Environment)
        raise ImproperlyConfigured(f"CONTACTPOINT_ENV={raw!r} is not one of: {allowed}") from error


def read_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def read_int(name: str, *, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from error


def read_str(name: str, *, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def read_list(name: str, *, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def default_database_url() -> str:
    return f"sqlite:///{VAR_DIR / 'contactpoint.sqlite3'}"


def read_secret_key(environment: Environment) -> str:
    key = read_str("CONTACTPOINT_SECRET_KEY")
    if environment is Environment.PRODUCTION:
        if not key or key == DEMO_SECRET_KEY or len(key) < 50:
            raise ImproperlyConfigured(
                "CONTACTPOINT_SECRET_KEY must be set to a random value of at least 50 "
                "characters in production"
            )
        return key
    return key or DEMO_SECRET_KEY
