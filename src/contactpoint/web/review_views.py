"""The review queue pages for data-quality officers (issue 5, item 7).

Thin views (CONVENTIONS 5): they parse the form, call feeds.review, and render. Children are
shown only through access.policy.project_child, so a shielded candidate appears as its name,
gender, date of birth and ID, and the field-by-field weights hide location comparisons for it
(knowing that "the address agrees" would reveal where a shielded child lives).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from contactpoint.access.client import client_ip
from contactpoint.access.policy import (
    PROJECTION_PREFETCH_RELATED,
    PROJECTION_SELECT_RELATED,
    ChildProjection,
    project_child,
    viewer_for,
)
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.access.roles import Capability
from contactpoint.access.rules import access_rule, requires
from contactpoint.feeds import review
from contactpoint.feeds.models import ReviewItem, ReviewKind
from contactpoint.index.contactpoint_id import display
from contactpoint.index.models import Child
from contactpoint.search.services import result_cap
from contactpoint.web.account_views import signed_in_user

QUEUE = requires(Capability.WORK_REVIEW_QUEUE)
PURPOSE = "data_quality_review"
# Comparisons that would reveal where a shielded child lives, or who with.
LOCATION_COMPARISONS = frozenset({"address", "carers", "school", "gp_practice"})
LOCATION_FIELDS = ("addresses", "carers", "enrolments", "gp_registrations", "involvements")
BAR_SCALE = 3  # pixels of bar per unit of match weight


@dataclass(frozen=True)
class WeightBar:
    comparison: str
    level: str
    weight: float
    width: int
    hidden: bool


@dataclass(frozen=True)
class CandidatePanel:
    child_id: int
    contactpoint_id: str
    display_id: str
    weight: float
    projection: ChildProjection | None
    bars: list[WeightBar]


def _bars(fields: list[dict[str, Any]], *, hide_location: bool) -> list[WeightBar]:
    bars = []
    for field in fields:
        hidden = hide_location and field["comparison"] in LOCATION_COMPARISONS
        weight = float(field["weight"])
        bars.append(
            WeightBar(
                comparison=str(field["comparison"]).replace("_", " "),
                level="hidden: shielded" if hidden else str(field["level"]).replace("_", " "),
                weight=0.0 if hidden else round(weight, 1),
                width=0 if hidden else min(240, int(abs(weight) * BAR_SCALE)),
                hidden=hidden,
            )
        )
    return bars


def _incoming(item: ReviewItem, *, hide_location: bool) -> dict[str, Any]:
    """The incoming report for display, its location withheld when a shield is involved."""
    if item.source_record is None:
        return {}
    report = dict(item.source_record.report)
    if hide_location:
        for name in LOCATION_FIELDS:
            report[name] = None
    return {
        "source": item.source_record.source.name,
        "source_record_id": item.source_record.source_record_id,
        "report": report,
    }


@access_rule(QUEUE)
@require_http_methods(["GET"])
def review_queue(request: HttpRequest) -> HttpResponse:
    """Open items of the officer's local authority, oldest first, and undoable merges."""
    officer = signed_in_user(request)
    items = list(review.open_items_for(officer)[:200])
    return render(
        request,
        "web/review/queue.html",
        {
            "items": [(review.item_reference(i), i) for i in items],
            # No more children on one page than a search may name (issue 6: no bulk path).
            "merges": [
                (review.merge_reference(m), m)
                for m in review.recent_merges_for(officer, limit=result_cap())
            ],
            "merges_shown": result_cap(),
        },
    )


@access_rule(QUEUE)
@require_http_methods(["GET", "POST"])
def review_item(request: HttpRequest, code: str) -> HttpResponse:
    """One item side by side: the incoming record, each candidate and its weight chart."""
    officer = signed_in_user(request)
    item = review.get_item_for(officer, code)
    if item is None:
        raise Http404("No such review item in your queue")
    if request.method == "POST":
        return _decide(request, officer, item)

    candidates = review.candidates_of(item)
    children = {
        c.pk: c
        for c in Child.objects.filter(pk__in=[c.child.pk for c in candidates if c.child])
        .select_related(*PROJECTION_SELECT_RELATED)
        .prefetch_related(*PROJECTION_PREFETCH_RELATED)
    }
    viewer = viewer_for(officer)
    shield_involved = item.involves_shielded or bool(
        item.source_record and item.source_record.report.get("is_shielded")
    )
    panels = []
    for candidate in candidates:
        if candidate.child is None:
            continue  # merged away since the item was raised
        child = children[candidate.child.pk]
        projection = project_child(viewer=viewer, child=child, purpose=PURPOSE)
        panels.append(
            CandidatePanel(
                child_id=child.pk,
                contactpoint_id=child.contactpoint_id,
                display_id=display(child.contactpoint_id),
                weight=round(candidate.weight, 1),
                projection=projection,
                bars=_bars(candidate.fields, hide_location=shield_involved),
            )
        )
    try:
        # Counted, monitored and audited like any record view; a refusal shows nothing.
        review.record_review_viewed(
            officer=officer,
            item=item,
            shown=[p.contactpoint_id for p in panels],
            purpose=PURPOSE,
            ip_address=client_ip(request),
        )
    except LookupRefused as refused:
        return render(
            request,
            "web/security/stopped.html",
            {"message": str(refused)},
            status=refused.http_status,
        )
    return render(
        request,
        "web/review/item.html",
        {
            "reference": review.item_reference(item),
            "item": item,
            "incoming": _incoming(item, hide_location=shield_involved),
            "panels": panels,
            "shield_involved": shield_involved,
            "is_incoming": item.kind == ReviewKind.INCOMING,
        },
    )


def _decide(request: HttpRequest, officer: Any, item: ReviewItem) -> HttpResponse:
    action = request.POST.get("action", "")
    reference = review.item_reference(item)
    try:
        if action == "link":
            child = Child.objects.filter(contactpoint_id=request.POST.get("child", "")).first()
            if child is None:
                raise review.ReviewRefused("choose one of the candidates")
            review.link_record(officer=officer, item=item, child=child)
            messages.success(request, f"{reference}: linked to {display(child.contactpoint_id)}.")
        elif action == "create":
            child = review.create_child_from_record(officer=officer, item=item)
            note = " It is shielded until a shielding officer decides." if child.is_shielded else ""
            messages.success(
                request, f"{reference}: created {display(child.contactpoint_id)}.{note}"
            )
        elif action == "merge" and item.child and item.other_child:
            merge = review.merge_children(
                officer=officer,
                survivor=item.child,
                absorbed=item.other_child,
                reason=request.POST.get("reason", "")[:200] or "same child",
                item=item,
            )
            messages.success(request, f"{reference}: merged ({review.merge_reference(merge)}).")
        elif action == "apart":
            review.keep_apart(officer=officer, item=item)
            messages.success(request, f"{reference}: kept apart.")
        else:
            raise review.ReviewRefused("choose what to do with this item")
    except review.ReviewRefused as refusal:
        messages.error(request, f"{reference}: {refusal}")
        return redirect("web:review-item", code=reference)
    return redirect("web:review-queue")


@access_rule(QUEUE)
@require_http_methods(["POST"])
def review_unmerge(request: HttpRequest, code: str) -> HttpResponse:
    """Undo a merge (both halves stay shielded if either was)."""
    officer = signed_in_user(request)
    merge = review.get_merge_for(officer, code)
    if merge is None:
        raise Http404("No such merge for your local authority")
    try:
        restored = review.unmerge(officer=officer, merge=merge)
    except (review.ReviewRefused, ValueError) as refusal:
        messages.error(request, f"{code}: {refusal}")
    else:
        messages.success(
            request, f"{code}: {display(restored.contactpoint_id)} is a separate child again."
        )
    return redirect("web:review-queue")
