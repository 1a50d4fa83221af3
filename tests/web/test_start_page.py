"""The start page shows the record count and the environment, and nothing about any child."""

from __future__ import annotations

import pytest
from django.test import Client
from tests.index.records import child_record

from contactpoint.index.services import create_child

pytestmark = pytest.mark.django_db


def test_start_page_shows_the_count_and_the_environment_banner(client: Client) -> None:
    child = create_child(record=child_record())
    create_child(record=child_record())

    response = client.get("/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="child-count">2<' in page
    assert "govuk-phase-banner" in page and "Demo" in page
    assert (
        child.contactpoint_id not in page and "O&#x27;Neill" not in page and "O'Neill" not in page
    )


def test_health_check_reports_the_database(client: Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
