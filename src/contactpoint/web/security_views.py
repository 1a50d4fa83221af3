"""Protective monitoring pages: alert queues, audited reports, the home address monitoring uses.

Thin views over access.protective (CONVENTIONS 5). Every route declares its access rule here,
in ROUTES, which web/urls.py includes whole:

- security officers (READ_AUDIT) work their organisation's alert queue and run reports;
- an LA's ContactPoint team (shielding officers, MANAGE_SHIELDING) works the queue of
  notifications about its shielded children being viewed;
- the national team runs the same reports nationally, under /national/ (MANAGE_ORGANISATIONS);
- administrators (MANAGE_ACCOUNTS) record a person's home address for monitoring.

Reports are lookups like any other: audited, counted against the reader's quota, and never
showing more children on one page than a search may.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from contactpoint.access import selectors
from contactpoint.access.client import client_ip
from contactpoint.access.models import Alert, AlertOutcome, AlertStatus, User
from contactpoint.access.protective import alerts, people, reports
from contactpoint.access.protective.monitoring import LookupRefused
from contactpoint.access.roles import Capability
from contactpoint.access.rules import AccessRule, access_rule, requires
from contactpoint.access.services import AccessServiceError
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.web.account_views import signed_in_user

ALERTS_PAGE_SIZE = 25  # alerts name people, not children: a list names no child at all
ALERT_ID_DISPLAY = 10  # IDs shown on one alert page, at most (the search result cap's default)


# --- Forms ------------------------------------------------------------------------------------------


class CloseAlertForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=AlertOutcome.choices, error_messages={"required": "Select the outcome"}
    )
    note = forms.CharField(
        max_length=1000,
        error_messages={
            "required": "Enter what you found",
            "max_length": "What you found must be 1000 characters or fewer",
        },
    )


class ChildReportForm(forms.Form):
    contactpoint_id = forms.CharField(
        max_length=20, error_messages={"required": "Enter the child's ContactPoint ID"}
    )

    def clean_contactpoint_id(self) -> str:
        try:
            return cp_id.parse(self.cleaned_data["contactpoint_id"])
        except cp_id.InvalidContactPointId as error:
            raise forms.ValidationError(str(error).capitalize()) from error


class PersonReportForm(forms.Form):
    username = forms.CharField(
        max_length=150, error_messages={"required": "Enter the person's username"}
    )


class HomeAddressForm(forms.Form):
    line_1 = forms.CharField(max_length=100, required=False)
    postcode = forms.CharField(
        max_length=10, error_messages={"required": "Enter a full postcode, like M14 5AB"}
    )


# --- Helpers ------------------------------------------------------------------------------------------


def _stopped(request: HttpRequest, refused: LookupRefused) -> HttpResponse:
    return render(
        request, "web/security/stopped.html", {"message": str(refused)}, status=refused.http_status
    )


def _code_to_int(code: str, prefix: str) -> int | None:
    """'A12' -> 12 for prefix 'A'; anything else is None (answered 404)."""
    if len(code) > 1 and code[0].upper() == prefix and code[1:].isdigit():
        return int(code[1:])
    return None


# --- Alert queues -----------------------------------------------------------------------------------


@require_http_methods(["GET"])
@never_cache
def alert_queue(request: HttpRequest, queue: str) -> HttpResponse:
    """Open and investigating alerts first; closed ones on request. Names people, not children."""
    officer = signed_in_user(request)
    status = request.GET.get("status", "")
    if status not in {"", *AlertStatus.values}:
        status = ""
    shown = alerts.alerts_visible_to(officer, status=status)
    if not status:
        shown = shown.exclude(status=AlertStatus.CLOSED)
    page = Paginator(shown, ALERTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/security/alerts.html",
        {
            "page": page,
            "status": status,
            "queue": queue,
            "counts": alerts.open_alert_counts(officer),
            "statuses": AlertStatus.choices,
        },
    )


@require_http_methods(["GET", "POST"])
@never_cache
def alert_detail(request: HttpRequest, queue: str, code: str) -> HttpResponse:
    """One alert: what happened, to whom, and taking it up or closing it with an outcome."""
    officer = signed_in_user(request)
    alert_id = _code_to_int(code, "A")
    alert = alerts.get_alert_for(officer, alert_id) if alert_id is not None else None
    if alert is None:
        raise Http404("No such alert in your queue")
    form = CloseAlertForm(request.POST if request.POST.get("action") == "close" else None)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "investigate":
                alerts.start_investigating(
                    officer=officer, alert=alert, ip_address=client_ip(request)
                )
                messages.success(request, f"You are investigating alert {code}.")
                return redirect(f"web:{queue}-alert", code=code)
            if form.is_valid():
                alerts.close_alert(
                    officer=officer,
                    alert=alert,
                    outcome=form.cleaned_data["outcome"],
                    note=form.cleaned_data["note"],
                    ip_address=client_ip(request),
                )
                messages.success(request, f"Alert {code} is closed.")
                return redirect(f"web:{queue}-alerts")
        except AccessServiceError as error:
            form.add_error(None, str(error))
    return render(
        request,
        "web/security/alert.html",
        {
            "alert": alert,
            "code": code,
            "queue": queue,
            "form": form,
            "ids": [cp_id.display(i) for i in _alert_ids(alert)],
            "more_ids": max(0, len(_alert_ids(alert, limit=None)) - ALERT_ID_DISPLAY),
            "outcomes": AlertOutcome.choices,
        },
        status=400 if form.errors else 200,
    )


def _alert_ids(alert: Alert, *, limit: int | None = ALERT_ID_DISPLAY) -> list[str]:
    ids = alert.detail.get("contactpoint_ids", []) if isinstance(alert.detail, dict) else []
    valid = [str(i) for i in ids if cp_id.is_valid(str(i))]
    return valid if limit is None else valid[:limit]


# --- Reports ------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@never_cache
def child_report(request: HttpRequest, area: str) -> HttpResponse:
    """Who has viewed this child. The ID travels in the POST body, never in a URL."""
    officer = signed_in_user(request)
    form = ChildReportForm(request.POST or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = reports.who_viewed_child(
                officer=officer,
                contactpoint_id=form.cleaned_data["contactpoint_id"],
                ip_address=client_ip(request),
            )
        except reports.ReportRefused as refusal:
            form.add_error("contactpoint_id", str(refusal))
        except LookupRefused as refused:
            return _stopped(request, refused)
    return render(
        request,
        "web/security/child_report.html",
        {
            "form": form,
            "report": report,
            "area": area,
            "display_id": cp_id.display(report.contactpoint_id) if report else "",
        },
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
@never_cache
def person_report_start(request: HttpRequest, area: str) -> HttpResponse:
    """Choose the person whose activity to report on, by username."""
    officer = signed_in_user(request)
    form = PersonReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = reports.find_person(officer, username=form.cleaned_data["username"])
        if person is not None:
            return redirect(f"web:{area}-report-person", person_id=person.pk)
        form.add_error("username", "There is nobody with that username whose activity you can see")
    return render(
        request,
        "web/security/person_report_start.html",
        {"form": form, "area": area},
        status=400 if form.errors else 200,
    )


def _person_in_scope(request: HttpRequest, person_id: int) -> User:
    person = reports.find_person(signed_in_user(request), person_id=person_id)
    if person is None:
        raise Http404("No such person whose activity you can see")
    return person


@require_http_methods(["GET"])
@never_cache
def person_report(request: HttpRequest, area: str, person_id: int) -> HttpResponse:
    """What this person has done, newest first, a page of at most the result cap at a time."""
    person = _person_in_scope(request, person_id)
    try:
        page_number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page_number = 1
    try:
        activity = reports.person_activity(
            officer=signed_in_user(request),
            person=person,
            page_number=page_number,
            ip_address=client_ip(request),
        )
    except LookupRefused as refused:
        return _stopped(request, refused)
    return render(
        request,
        "web/security/person_report.html",
        {"person": person, "page": activity.page, "area": area},
    )


@require_http_methods(["GET"])
@never_cache
def person_report_event(request: HttpRequest, area: str, person_id: int, code: str) -> HttpResponse:
    """One event of the person's, with a search's returned IDs (never more than the cap)."""
    person = _person_in_scope(request, person_id)
    sequence = _code_to_int(code, "E")
    try:
        detail = (
            reports.activity_event(
                officer=signed_in_user(request),
                person=person,
                sequence=sequence,
                ip_address=client_ip(request),
            )
            if sequence is not None
            else None
        )
    except LookupRefused as refused:
        return _stopped(request, refused)
    if detail is None:
        raise Http404("No such event for that person")
    return render(
        request,
        "web/security/person_event.html",
        {
            "person": person,
            "event": detail.row,
            "returned": [cp_id.display(i) for i in detail.returned],
            "area": area,
        },
    )


# --- Monitoring details recorded by administrators -------------------------------------------------------


@require_http_methods(["GET", "POST"])
def home_address(request: HttpRequest, person_id: int) -> HttpResponse:
    """Record where a person lives, so a lookup of a child at that address raises an alert."""
    actor = signed_in_user(request)
    person = selectors.find_managed_person(actor, person_id)
    if person is None:
        raise Http404("No such person")
    form = HomeAddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            people.record_home_address(
                actor=actor,
                person=person,
                postcode=form.cleaned_data["postcode"],
                line_1=form.cleaned_data["line_1"],
                ip_address=client_ip(request),
            )
        except AccessServiceError as error:
            form.add_error("postcode", str(error))
        else:
            messages.success(request, f"Home address recorded for {person}.")
            return redirect("web:person", person_id=person.pk)
    return render(
        request,
        "web/security/home_address.html",
        {"form": form, "person": person, "recorded": hasattr(person, "home_address")},
        status=400 if form.errors else 200,
    )


# --- Routes ---------------------------------------------------------------------------------------------

READ_AUDIT = requires(Capability.READ_AUDIT)
LA_TEAM = requires(Capability.MANAGE_SHIELDING)
NATIONAL = requires(Capability.MANAGE_ORGANISATIONS)
MANAGE = requires(Capability.MANAGE_ACCOUNTS)


def _route(
    route: str, view: Callable[..., Any], rule: AccessRule, name: str, **kwargs: str
) -> URLPattern:
    """A route with its access rule; the same view serves several areas under different rules."""
    return path(route, access_rule(rule)(view), kwargs, name=name)


def _report_routes(prefix: str, area: str, rule: AccessRule) -> list[URLPattern]:
    return [
        _route(f"{prefix}/reports/child", child_report, rule, f"{area}-report-child", area=area),
        _route(
            f"{prefix}/reports/people",
            person_report_start,
            rule,
            f"{area}-report-people",
            area=area,
        ),
        _route(
            f"{prefix}/reports/people/<int:person_id>",
            person_report,
            rule,
            f"{area}-report-person",
            area=area,
        ),
        _route(
            f"{prefix}/reports/people/<int:person_id>/events/<str:code>",
            person_report_event,
            rule,
            f"{area}-report-event",
            area=area,
        ),
    ]


ROUTES: list[URLPattern] = [
    _route("security/alerts", alert_queue, READ_AUDIT, "security-alerts", queue="security"),
    _route(
        "security/alerts/<str:code>", alert_detail, READ_AUDIT, "security-alert", queue="security"
    ),
    _route("contactpoint-team/alerts", alert_queue, LA_TEAM, "team-alerts", queue="team"),
    _route(
        "contactpoint-team/alerts/<str:code>", alert_detail, LA_TEAM, "team-alert", queue="team"
    ),
    *_report_routes("security", "security", READ_AUDIT),
    *_report_routes("national", "national", NATIONAL),
    _route("people/<int:person_id>/home-address", home_address, MANAGE, "person-home-address"),
]
