"""The start page shows the record count and the environment, and nothing about any child."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from django.test import Client
from tests.index.records import child_record

from contactpoint.access.models import User
from contactpoint.access.roles import Role
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


def test_signed_out_the_start_page_offers_sign_in_and_no_work(client: Client) -> None:
    page = client.get("/").content.decode()

    assert 'data-testid="start-sign-in"' in page
    assert 'data-testid="your-work"' not in page


@pytest.mark.parametrize(
    ("role", "offered", "not_offered"),
    [
        (Role.PRACTITIONER, {"/search"}, {"/review", "/shielding", "/security/alerts"}),
        (Role.DATA_QUALITY_OFFICER, {"/review"}, {"/shielding", "/security/alerts"}),
        (
            Role.SHIELDING_OFFICER,
            {"/shielding", "/contactpoint-team/alerts"},
            {"/review", "/security/alerts"},
        ),
        (Role.SECURITY_OFFICER, {"/security/alerts"}, {"/search", "/review", "/shielding"}),
    ],
)
def test_signed_in_the_start_page_lists_the_work_the_role_allows_and_each_link_opens(
    signed_in: Callable[..., tuple[Client, User]],
    role: Role,
    offered: set[str],
    not_offered: set[str],
) -> None:
    client, _ = signed_in(role=role)
    page = client.get("/").content.decode()
    work = page.split('data-testid="your-work"', 1)[1].split("</ul>", 1)[0]
    links = set(re.findall(r'href="([^"]+)"', work))

    assert offered <= links and not (not_offered & links)
    assert 'data-testid="start-sign-in"' not in page
    for link in links:
        response = client.get(link)
        # Pages that show children ask for the reason for access first.
        assert response.status_code == 200 or response["Location"].startswith(
            "/reason-for-access"
        ), link
