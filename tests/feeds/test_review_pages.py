"""The review queue pages: officers see their LA's items side by side and decide; shields hold."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from tests.feeds.conftest import write_csv
from tests.feeds.test_review import education_amelia, unsure_health_record

from contactpoint.access.models import Alert, Organisation, User
from contactpoint.access.protective import quotas
from contactpoint.access.roles import Role
from contactpoint.audit.models import AuditEvent
from contactpoint.feeds import review
from contactpoint.feeds.loading import load_file
from contactpoint.feeds.models import ReviewItem, SourceRecord, SourceSystem
from contactpoint.index.models import Child, ChildMerge

pytestmark = pytest.mark.django_db


def raise_item(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    given: str = "Millie",
    **flags: str,
) -> ReviewItem:
    load_file(source=education, path=write_csv(tmp_path / "e.csv", [education_amelia(**flags)]))
    health_row = unsure_health_record(given_names=given)
    load_file(source=health, path=write_csv(tmp_path / "h.csv", [health_row]))
    return ReviewItem.objects.get()


@pytest.fixture
def officer_client(signed_in: Callable[..., tuple[Client, User]]) -> tuple[Client, User]:
    return signed_in(role=Role.DATA_QUALITY_OFFICER)


def test_the_queue_lists_the_officers_items(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path)
    client, _ = officer_client
    page = client.get("/review")
    assert page.status_code == 200
    assert review.item_reference(item) in page.content.decode()


def test_an_officer_of_another_la_gets_not_found(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    signed_in: Callable[..., tuple[Client, User]],
) -> None:
    item = raise_item(education, health, tmp_path)
    bolton = Organisation.objects.get(kind="local_authority", name="Bolton")
    client, _ = signed_in(role=Role.DATA_QUALITY_OFFICER, organisation=bolton)
    assert client.get(f"/review/{review.item_reference(item)}").status_code == 404
    queue = client.get("/review").content.decode()
    # Word boundaries: a short reference such as R1 can occur inside a random CSRF token.
    assert not re.search(rf"\b{re.escape(review.item_reference(item))}\b", queue)


def test_a_practitioner_may_not_open_the_queue(
    signed_in: Callable[..., tuple[Client, User]],
) -> None:
    client, _ = signed_in(role=Role.PRACTITIONER)
    assert client.get("/review").status_code == 403


def test_the_item_page_shows_both_sides_and_the_weights_and_is_audited(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path)
    client, officer = officer_client
    page = client.get(f"/review/{review.item_reference(item)}").content.decode()
    assert "Millie" in page and "Amelia Rose" in page
    assert 'data-testid="weights"' in page and "Date of birth" in page
    assert "14 Victoria Road" in page  # not shielded: the officer sees both addresses
    viewed = AuditEvent.objects.get(action=review.AuditAction.VIEWED)
    assert viewed.actor_id == officer.pk and viewed.subject_contactpoint_id == (
        Child.objects.get().contactpoint_id
    )


def test_opening_review_items_counts_against_the_officers_quota_and_can_stop_them(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each item page shows candidate children's records: a lookup like any record view."""
    settings.REDIS_URL = ""
    fixed = 1_795_514_400  # the quota store's clock held still: every request in one minute
    monkeypatch.setattr(quotas, "_database_now", lambda cursor: fixed)
    item = raise_item(education, health, tmp_path)
    client, officer = officer_client
    hard = quotas._FINDING_CHILDREN.lookups[quotas.Period.MINUTE].hard
    url = f"/review/{review.item_reference(item)}"

    answers = [client.get(url) for _ in range(hard + 1)]

    assert [a.status_code for a in answers[:hard]] == [200] * hard
    assert answers[hard].status_code == 403 and "Amelia Rose" not in answers[hard].content.decode()
    assert User.objects.get(pk=officer.pk).is_suspended
    assert Alert.objects.filter(subject_user=officer, rule="quota_hard_limit").exists()
    stopped = AuditEvent.objects.filter(action=review.AuditAction.VIEWED).order_by("-sequence")[0]
    assert stopped.outcome == "stopped" and stopped.detail["children"] == []


def test_with_a_shielded_candidate_the_page_hides_location_and_whether_it_agrees(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path, sensitive_record="yes")
    client, _ = officer_client
    page = client.get(f"/review/{review.item_reference(item)}").content.decode()
    assert "A shielded child is involved" in page
    assert "Victoria Road" not in page and "M14 5AB" not in page
    assert "postcode and line" not in page and "hidden: shielded" in page


def test_linking_from_the_page(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path)
    client, _ = officer_client
    child = Child.objects.get()
    response = client.post(
        f"/review/{review.item_reference(item)}", {"action": "link", "child": child.contactpoint_id}
    )
    assert response.status_code == 302 and response["Location"] == "/review"
    assert SourceRecord.objects.get(source_record_id="NHS-5").child == child


def test_creating_from_the_page_and_unmerging_a_merge(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path, sensitive_record="yes")
    client, officer = officer_client
    client.post(f"/review/{review.item_reference(item)}", {"action": "create"})
    assert Child.objects.count() == 2 and not Child.objects.filter(is_shielded=False).exists()
    first, second = Child.objects.order_by("pk")
    merge = review.merge_children(officer=officer, survivor=first, absorbed=second, reason="same")
    response = client.post(f"/review/merges/{review.merge_reference(merge)}/unmerge")
    assert response.status_code == 302
    assert ChildMerge.objects.get().unmerged_at is not None
    assert Child.objects.count() == 2 and not Child.objects.filter(is_shielded=False).exists()


def test_an_unknown_decision_is_refused_with_a_message(
    education: SourceSystem,
    health: SourceSystem,
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path)
    client, _ = officer_client
    response = client.post(
        f"/review/{review.item_reference(item)}", {"action": "explode"}, follow=True
    )
    assert "choose what to do" in response.content.decode()
    assert ReviewItem.objects.get().status == "open"


def test_a_record_matching_two_children_raises_a_possible_duplicate_to_merge(
    education: SourceSystem,
    health: SourceSystem,
    make_source: Callable[..., SourceSystem],
    tmp_path: Path,
    officer_client: tuple[Client, User],
) -> None:
    item = raise_item(education, health, tmp_path, given="Amelia Rose")
    client, officer = officer_client
    review.create_child_from_record(officer=officer, item=item)  # now two identical Amelias
    benefit = make_source("nw-benefit", "child_benefit", ("child", "address", "carers"))
    third = education_amelia(
        source_record_id="CHB-1", school_urn="", school_start_date="", nhs_number=""
    )
    load_file(source=benefit, path=write_csv(tmp_path / "b.csv", [third]))
    duplicate = ReviewItem.objects.get(kind="possible_duplicate")
    assert {duplicate.child_id, duplicate.other_child_id} == set(
        Child.objects.values_list("pk", flat=True)
    )
    page = client.get(f"/review/{review.item_reference(duplicate)}").content.decode()
    assert "They are one child: merge" in page
    client.post(
        f"/review/{review.item_reference(duplicate)}", {"action": "merge", "reason": "same girl"}
    )
    assert Child.objects.count() == 1 and ChildMerge.objects.count() == 1
    assert AuditEvent.objects.filter(action=review.AuditAction.MERGED).count() == 1
