"""Fixtures for shielding: the hidden child, an unshielded one, and the people around them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

# The feeds engineer's registered sources and reference data, for loading real feed files.
from tests.feeds.conftest import education, health, make_source, reference  # noqa: F401
from tests.shielding.support import (
    BOLTON,
    make_hidden_child,
    make_visible_child,
    person,
)

from contactpoint.access.models import User
from contactpoint.access.roles import Role
from contactpoint.index.models import Child


@pytest.fixture
def hidden_child(db: None) -> Child:
    """Niamh Calloway of Manchester, shielded by a source (no officer decision yet)."""
    return make_hidden_child(shielded=True)


@pytest.fixture
def unshielded_child(db: None) -> Child:
    """Niamh Calloway, with the same hidden whereabouts, not yet shielded."""
    return make_hidden_child(shielded=False)


@pytest.fixture
def visible_child(db: None) -> Child:
    return make_visible_child()


@pytest.fixture
def officer(make_person: Callable[..., User]) -> User:
    """A Manchester shielding officer with recorded shielding training."""
    return person(make_person, Role.SHIELDING_OFFICER)


@pytest.fixture
def bolton_officer(make_person: Callable[..., User]) -> User:
    return person(make_person, Role.SHIELDING_OFFICER, la=BOLTON)


@pytest.fixture
def practitioner(make_person: Callable[..., User]) -> User:
    return person(make_person, Role.PRACTITIONER)


@pytest.fixture
def social_worker(make_person: Callable[..., User]) -> User:
    """A Manchester child-protection social worker: a break-glass role."""
    return person(make_person, Role.CHILD_PROTECTION_SOCIAL_WORKER)
