"""Shielding pages (issue 7): thin views over shielding.services (CONVENTIONS 5).

Officers (MANAGE_SHIELDING): their LA's counts, the overdue-review queue, open cases, and a
child's shielding page. Anyone who may view children: ask for a record to be shielded, and ask
the LA's ContactPoint team to broker contact about a shielded child. Break-glass roles: the
warning, then one reveal. Every child shown goes through access.policy; no page lists an LA's
shielded children beyond the capped review queue. Pages about children are never cached.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from contactpoint.access.client import client_ip
from contactpoint.access.policy import FIELD_CLASSES
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.access.roles import Capability
from contactpoint.access.rules import access_rule, requires
from contactpoint.access.selectors import get_request_purpose
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.shielding import selectors, services
from contactpoint.shielding.vocabularies import (
    BREAK_GLASS_LIFETIME,
    DEFAULT_REVIEW_MONTHS,
    ContactRequestStatus,
    RequestStatus,
)
from contactpoint.web.account_views import signed_in_user
from contactpoint.web.forms_shielding import (
    AskToShieldForm,
    BreakGlassForm,
    ContactRequestForm,
    DecideRequestForm,
    HandleContactForm,
    RecordRequestForm,
    ShieldForm,
    UnshieldForm,
)

OFFICER = requires(Capability.MANAGE_SHIELDING)
VIEWER = requires(Capability.VIEW_CHILD)
BREAK_GLASS = requires(Capability.BREAK_GLASS)


def _context(request: HttpRequest) -> dict[str, Any]:
    """Who is acting, from where, and why: what every service call is given."""
    return {"ip_address": client_ip(request), "purpose": get_request_purpose(request)}


def _refused(form: Form, refusal: services.ShieldingRefused) -> None:
    form.add_error(None, str(refusal))


def _not_found(request: HttpRequest) -> HttpResponse:
    return render(request, "web/shielding/not_found.html", status=404)


def _stopped(request: HttpRequest, refused: LookupRefused) -> HttpResponse:
    """A quota or monitoring rule stopped the lookup (access.protective): show nothing."""
    return render(
        request, "web/security/stopped.html", {"message": str(refused)}, status=refused.http_status
    )


# --- Officers ------------------------------------------------------------------------------------


@access_rule(OFFICER)
@require_GET
@never_cache
def shielding_home(request: HttpRequest) -> HttpResponse:
    """The LA's shielding in numbers, and the way to each queue (issue 7, item 7)."""
    officer = signed_in_user(request)
    try:
        report = services.read_la_report(officer=officer, **_context(request))
    except services.NotPermitted as refusal:
        return render(request, "web/shielding/refused.html", {"message": str(refusal)}, status=403)
    return render(request, "web/shielding/home.html", {"report": report})


@access_rule(OFFICER)
@require_GET
@never_cache
def review_queue(request: HttpRequest) -> HttpResponse:
    """Shields due for review, most overdue first, capped: no paging through the LA's children."""
    officer = signed_in_user(request)
    try:
        queue = services.read_review_queue(officer=officer, **_context(request))
    except services.NotPermitted as refusal:
        return render(request, "web/shielding/refused.html", {"message": str(refusal)}, status=403)
    return render(request, "web/shielding/reviews.html", {"queue": queue})


@access_rule(OFFICER)
@require_GET
@never_cache
def cases(request: HttpRequest) -> HttpResponse:
    """Open requests to shield and open contact requests, oldest first."""
    officer = signed_in_user(request)
    try:
        found = services.read_cases(officer=officer, **_context(request))
    except services.NotPermitted as refusal:
        return render(request, "web/shielding/refused.html", {"message": str(refusal)}, status=403)
    return render(
        request,
        "web/shielding/cases.html",
        {
            "requests": [(services.request_reference(r), r) for r in found.shielding_requests],
            "contacts": [(services.contact_reference(c), c) for c in found.contact_requests],
        },
    )


_RECORD_FORMS: dict[str, type[Form]] = {
    "shield": ShieldForm,
    "review": ShieldForm,
    "unshield": UnshieldForm,
    "record_request": RecordRequestForm,
}


@access_rule(OFFICER)
@require_http_methods(["GET", "POST"])
@never_cache
def shielding_record(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """One child of the officer's LA: its shield, its history, and the decisions to make."""
    officer = signed_in_user(request)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    forms: dict[str, Form] = {
        name: form_class(request.POST if name == action else None, prefix=name)
        for name, form_class in _RECORD_FORMS.items()
    }
    status = 200
    if request.method == "POST":
        child = selectors.get_child_in_remit(officer, contactpoint_id)
        if child is None or action not in forms:
            return _not_found(request)
        form = forms[action]
        if form.is_valid():
            data = form.cleaned_data
            try:
                if action == "shield":
                    services.shield_child(
                        officer=officer,
                        child=child,
                        reason=data["reason"],
                        justification=data["justification"],
                        review_on=data["review_on"],
                        **_context(request),
                    )
                    done = "The record is shielded."
                elif action == "review":
                    services.review_shield(
                        officer=officer,
                        child=child,
                        reason=data["reason"],
                        justification=data["justification"],
                        review_on=data["review_on"],
                        **_context(request),
                    )
                    done = "The review is recorded: the record stays shielded."
                elif action == "unshield":
                    services.unshield_child(
                        officer=officer,
                        child=child,
                        justification=data["justification"],
                        **_context(request),
                    )
                    done = "The record is no longer shielded."
                else:
                    recorded = services.record_shielding_request(
                        officer=officer,
                        child=child,
                        requester_kind=data["requester_kind"],
                        requester_name=data["requester_name"],
                        summary=data["summary"],
                        suggested_reason=data["suggested_reason"],
                        **_context(request),
                    )
                    done = f"Request {services.request_reference(recorded)} is recorded."
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                messages.success(request, done)
                return redirect("web:shielding-record", contactpoint_id=child.contactpoint_id)
        status = 400
    try:
        record = services.read_shielding_record(
            officer=officer, contactpoint_id=contactpoint_id, **_context(request)
        )
    except services.NotAvailable:
        return _not_found(request)
    except LookupRefused as refused:
        return _stopped(request, refused)
    return render(
        request,
        "web/shielding/record.html",
        {
            "record": record,
            "forms": forms,
            "action": action,
            "default_review_months": DEFAULT_REVIEW_MONTHS,
            "requests": [(services.request_reference(r), r) for r in record.open_requests],
        },
        status=status,
    )


@access_rule(OFFICER)
@require_http_methods(["GET", "POST"])
@never_cache
def shielding_request(request: HttpRequest, code: str) -> HttpResponse:
    """A request to shield, worked like a case: read it, then shield or decline."""
    officer = signed_in_user(request)
    try:
        case = services.read_shielding_request(officer=officer, reference=code, **_context(request))
    except services.NotAvailable:
        return _not_found(request)
    form = DecideRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.decide_shielding_request(
                    officer=officer,
                    request=case,
                    shield=data["decision"] == "shield",
                    reason=data["reason"],
                    justification=data["justification"],
                    review_on=data["review_on"],
                    note=data["note"],
                    **_context(request),
                )
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                messages.success(request, f"{code} is decided.")
                return redirect("web:shielding-cases")
        status = 400
    return render(
        request,
        "web/shielding/request.html",
        {
            "reference": services.request_reference(case),
            "case": case,
            "name": selectors.current_name(case.child),
            "display_id": cp_id.display(case.contactpoint_id),
            "form": form,
            "is_open": case.status == RequestStatus.OPEN,
        },
        status=status,
    )


@access_rule(OFFICER)
@require_http_methods(["GET", "POST"])
@never_cache
def contact_case(request: HttpRequest, code: str) -> HttpResponse:
    """A contact request: the requester's details, to pass to the people working with the child."""
    officer = signed_in_user(request)
    try:
        contact = services.read_contact_request(
            officer=officer, reference=code, **_context(request)
        )
    except services.NotAvailable:
        return _not_found(request)
    form = HandleContactForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.handle_contact_request(
                    officer=officer,
                    contact=contact,
                    passed_on=form.cleaned_data["outcome"] == "passed_on",
                    note=form.cleaned_data["note"],
                    **_context(request),
                )
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                messages.success(request, f"{code} is dealt with.")
                return redirect("web:shielding-cases")
        status = 400
    return render(
        request,
        "web/shielding/contact.html",
        {
            "reference": services.contact_reference(contact),
            "contact": contact,
            "name": selectors.current_name(contact.child),
            "display_id": cp_id.display(contact.contactpoint_id),
            "form": form,
            "is_open": contact.status == ContactRequestStatus.OPEN,
        },
        status=status,
    )


# --- Anyone who may view children ----------------------------------------------------------------


def _well_formed(contactpoint_id: str) -> str | None:
    try:
        return cp_id.parse(contactpoint_id)
    except cp_id.InvalidContactPointId:
        return None


@access_rule(VIEWER)
@require_http_methods(["GET", "POST"])
@never_cache
def ask_to_shield(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """Ask the child's LA to shield the record. The form reads nothing about the child."""
    canonical = _well_formed(contactpoint_id)
    if canonical is None:
        return _not_found(request)
    form = AskToShieldForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.ask_to_shield(
                    practitioner=signed_in_user(request),
                    contactpoint_id=canonical,
                    summary=form.cleaned_data["summary"],
                    **_context(request),
                )
            except services.NotAvailable:
                return _not_found(request)
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                return render(request, "web/shielding/sent.html", {"what": "shielding"})
        status = 400
    return render(
        request,
        "web/shielding/ask.html",
        {"form": form, "display_id": cp_id.display(canonical), "contactpoint_id": canonical},
        status=status,
    )


@access_rule(VIEWER)
@require_http_methods(["GET", "POST"])
@never_cache
def contact_request(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """Ask the LA's ContactPoint team to put the people working with a shielded child in touch.

    The answer never says where the child is, nor who works with them (issue 7, item 4).
    """
    canonical = _well_formed(contactpoint_id)
    if canonical is None:
        return _not_found(request)
    form = ContactRequestForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.request_contact(
                    requester=signed_in_user(request),
                    contactpoint_id=canonical,
                    reply_phone=form.cleaned_data["reply_phone"],
                    reply_email=form.cleaned_data["reply_email"],
                    message=form.cleaned_data["message"],
                    **_context(request),
                )
            except services.NotAvailable:
                return _not_found(request)
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                return render(request, "web/shielding/sent.html", {"what": "contact"})
        status = 400
    return render(
        request,
        "web/shielding/contact_request.html",
        {"form": form, "display_id": cp_id.display(canonical), "contactpoint_id": canonical},
        status=status,
    )


# --- Break-glass -------------------------------------------------------------------------------


@access_rule(BREAK_GLASS)
@require_http_methods(["GET", "POST"])
@never_cache
def break_glass(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """The warning, the typed reason, then one reveal. The page reads nothing about the child."""
    canonical = _well_formed(contactpoint_id)
    if canonical is None:
        return _not_found(request)
    form = BreakGlassForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                grant = services.grant_break_glass(
                    user=signed_in_user(request),
                    contactpoint_id=canonical,
                    reason=form.cleaned_data["reason"],
                    **_context(request),
                )
            except services.NotAvailable:
                return _not_found(request)
            except services.ShieldingRefused as refusal:
                _refused(form, refusal)
            else:
                return redirect(reverse("web:break-glass-view", args=[grant.reference]))
        status = 400
    return render(
        request,
        "web/shielding/break_glass.html",
        {
            "form": form,
            "display_id": cp_id.display(canonical),
            "contactpoint_id": canonical,
            "minutes": int(BREAK_GLASS_LIFETIME.total_seconds() // 60),
        },
        status=status,
    )


@access_rule(BREAK_GLASS)
@require_GET
@never_cache
def break_glass_view(request: HttpRequest, code: str) -> HttpResponse:
    """The one view a grant allows; reloading it shows nothing more."""
    try:
        view = services.use_break_glass(
            user=signed_in_user(request),
            reference=code,
            ip_address=client_ip(request),
        )
    except services.NotAvailable:
        return _not_found(request)
    except services.GrantSpent as spent:
        return render(request, "web/shielding/spent.html", {"message": str(spent)}, status=410)
    except LookupRefused as refused:
        return _stopped(request, refused)
    except services.BreakGlassUnavailable:
        return render(request, "web/search/unavailable.html", status=503)
    response = render(
        request,
        "web/shielding/revealed.html",
        {"child": view.projection, "field_classes": FIELD_CLASSES, "grant": view.grant},
    )
    response["Cache-Control"] = "no-store"
    return response
