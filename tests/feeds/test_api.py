"""Loads through the API: a source system's own credential, the same pipeline, its report."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from tests.feeds.conftest import amelia, csv_bytes

from contactpoint.access import services as access_services
from contactpoint.access.models import Organisation, User
from contactpoint.feeds.models import FeedLoad, SourceSystem
from contactpoint.feeds.services import register_source_system, rotate_credential
from contactpoint.index.models import Child

pytestmark = pytest.mark.django_db


@pytest.fixture
def credential(reference: dict[str, Any]) -> str:
    organisation = Organisation.objects.get(kind="local_authority", name="Manchester")
    issued = register_source_system(
        actor=None,
        code="mcr-education",
        name="Manchester education",
        kind="la_education",
        organisation=organisation,
        allowed_parts=["child", "address", "carers", "school"],
    )
    return issued.credential


def post_file(credential: str, body: bytes, content_type: str = "text/csv") -> Any:
    return Client().post(
        "/api/v1/feeds/loads",
        data=body,
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Source {credential}",
        HTTP_X_FILE_NAME="autumn.csv",
    )


def test_a_source_delivers_a_file_and_gets_the_outcome_counts(credential: str) -> None:
    response = post_file(
        credential, csv_bytes([amelia(), amelia(source_record_id="X", date_of_birth="bad")])
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["new"], body["rejected"], body["status"]) == (1, 1, "completed")
    assert FeedLoad.objects.get().channel == "api" and Child.objects.count() == 1


def test_the_same_delivery_twice_changes_nothing(credential: str) -> None:
    post_file(credential, csv_bytes([amelia()]))
    again = post_file(credential, csv_bytes([amelia()])).json()
    assert (again["new"], again["unchanged"]) == (0, 1) and Child.objects.count() == 1


def test_the_report_is_for_the_delivering_source_only(
    credential: str, make_source: Callable[..., SourceSystem]
) -> None:
    body = post_file(credential, csv_bytes([amelia()])).json()
    report = Client().get(body["report"], HTTP_AUTHORIZATION=f"Source {credential}")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(report.streaming_content).decode())))
    assert rows[0]["outcome"] == "new" and rows[0]["source_record_id"] == "MCR-000123"
    other = rotate_credential(actor=None, source=make_source("nw-health", "health_registration"))
    assert (
        Client().get(body["report"], HTTP_AUTHORIZATION=f"Source {other.credential}").status_code
        == 404
    )
    assert Client().get(body["report"]).status_code == 404


def test_one_record_at_a_time(credential: str) -> None:
    response = Client().post(
        "/api/v1/feeds/records",
        data=amelia(),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Source {credential}",
    )
    body = response.json()
    assert body["outcome"] == "new" and len(body["contactpoint_id"]) == 12


def test_a_record_with_parts_the_source_may_not_send_is_rejected(credential: str) -> None:
    row = {**amelia(), "gp_practice_code": "P84001"}
    body = (
        Client()
        .post(
            "/api/v1/feeds/records",
            data=row,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Source {credential}",
        )
        .json()
    )
    assert body["outcome"] == "rejected" and "GP practice" in body["reason"]


def test_without_a_valid_source_credential_nothing_is_loaded(
    credential: str, make_person: Callable[..., User]
) -> None:
    assert post_file("cpsrc_not-a-real-one", csv_bytes([amelia()])).status_code == 401
    assert (
        Client().post("/api/v1/feeds/loads", data=b"x", content_type="text/csv").status_code == 401
    )
    person = make_person()
    token = access_services.issue_api_token(user=person, ip_address=None).raw
    by_person = Client().post(
        "/api/v1/feeds/loads",
        data=csv_bytes([amelia()]),
        content_type="text/csv",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert by_person.status_code == 401  # a person's token is not a source credential
    assert Child.objects.count() == 0


def test_an_inactive_source_is_refused(credential: str) -> None:
    SourceSystem.objects.update(is_active=False)
    assert post_file(credential, csv_bytes([amelia()])).status_code == 401


def test_credentials_are_stored_only_as_digests(credential: str) -> None:
    source = SourceSystem.objects.get()
    assert credential not in source.credential_digest and len(source.credential_digest) == 64
