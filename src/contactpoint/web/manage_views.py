"""Administrators' pages: the people of the organisations they administer, and their gates.

Object by object: a person outside the administrator's remit is answered "not found" (it
does not reveal that they exist) and the attempt is audited.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from contactpoint.access import selectors, services
from contactpoint.access.client import client_ip
from contactpoint.access.models import User
from contactpoint.access.roles import Capability, Role
from contactpoint.access.rules import access_rule, requires
from contactpoint.web.account_views import signed_in_user
from contactpoint.web.forms import CreateAccountForm, RecordDateForm, SuspendForm, VettingForm

MANAGE = requires(Capability.MANAGE_ACCOUNTS)
PAGE_SIZE = 50


def _managed_person(request: HttpRequest, person_id: int) -> User:
    """The person if this administrator manages them; otherwise audit and answer 404."""
    actor = signed_in_user(request)
    person = selectors.find_managed_person(actor, person_id)
    if person is None:
        services.record_refusal(
            actor=actor,
            ip_address=client_ip(request),
            what="person outside remit",
            detail={"person_id": person_id, "path": request.path[:200]},
        )
        raise Http404("No such person")
    return person


@access_rule(MANAGE)
@require_http_methods(["GET"])
def people(request: HttpRequest) -> HttpResponse:
    """The people this administrator manages, 50 to a page, with a name filter."""
    actor = signed_in_user(request)
    text = request.GET.get("q", "")[:100]
    page = Paginator(selectors.search_people(actor, text=text), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "web/manage/people.html", {"page": page, "q": text})


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_new(request: HttpRequest) -> HttpResponse:
    """Create an account; the temporary password is shown once, to hand to the person."""
    actor = signed_in_user(request)
    form = CreateAccountForm(
        request.POST or None, organisations=selectors.manageable_organisations(actor)
    )
    if request.method == "POST" and form.is_valid():
        try:
            person, temporary_password = services.create_account(
                actor=actor,
                organisation=form.cleaned_data["organisation"],
                username=form.cleaned_data["username"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                ip_address=client_ip(request),
            )
        except services.InvalidChange as error:
            form.add_error("username", str(error))
        except services.NotPermitted as error:
            form.add_error("role", str(error))
        else:
            return render(
                request,
                "web/manage/temporary_password.html",
                {"person": person, "temporary_password": temporary_password, "created": True},
            )
    return render(request, "web/manage/person_new.html", {"form": form})


@access_rule(MANAGE)
@require_http_methods(["GET"])
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = _managed_person(request, person_id)
    return render(
        request,
        "web/manage/person.html",
        {
            "person": person,
            "gates": selectors.get_gate_statuses(person),
            "has_authenticator": selectors.has_confirmed_device(person),
            "is_shielding_officer": person.role == Role.SHIELDING_OFFICER,
        },
    )


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_vetting(request: HttpRequest, person_id: int) -> HttpResponse:
    """Record an enhanced vetting check (only the last 4 characters of the number are kept)."""
    person = _managed_person(request, person_id)
    form = VettingForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_vetting(
                actor=signed_in_user(request),
                person=person,
                certificate_number=form.cleaned_data["certificate_number"],
                issued_on=form.cleaned_data["issued_on"],
                ip_address=client_ip(request),
            )
        except services.AccessServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Vetting check recorded for {person}.")
            return redirect("web:person", person_id=person.pk)
    return render(request, "web/manage/vetting.html", {"form": form, "person": person})


_DATE_PAGES: dict[str, tuple[str, str, Callable[..., User], str]] = {
    # kind: (page heading, question, service, success message)
    "training": (
        "Record ContactPoint training",
        "When did they complete ContactPoint training?",
        lambda **kw: services.record_training(completed_on=kw.pop("on"), **kw),
        "Training recorded",
    ),
    "shielding-training": (
        "Record shielding training",
        "When did they complete shielding training?",
        lambda **kw: services.record_shielding_training(completed_on=kw.pop("on"), **kw),
        "Shielding training recorded",
    ),
    "agreement": (
        "Record the signed user agreement",
        "When did they sign the ContactPoint user agreement?",
        lambda **kw: services.record_agreement(signed_on=kw.pop("on"), **kw),
        "User agreement recorded",
    ),
}


def _record_date_page(request: HttpRequest, person_id: int, kind: str) -> HttpResponse:
    person = _managed_person(request, person_id)
    heading, question, record, done = _DATE_PAGES[kind]
    form = RecordDateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            record(
                actor=signed_in_user(request),
                person=person,
                on=form.cleaned_data["on"],
                ip_address=client_ip(request),
            )
        except services.AccessServiceError as error:
            form.add_error("on", str(error))
        else:
            messages.success(request, f"{done} for {person}.")
            return redirect("web:person", person_id=person.pk)
    return render(
        request,
        "web/manage/record_date.html",
        {"form": form, "person": person, "heading": heading, "question": question},
    )


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_training(request: HttpRequest, person_id: int) -> HttpResponse:
    return _record_date_page(request, person_id, "training")


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_shielding_training(request: HttpRequest, person_id: int) -> HttpResponse:
    return _record_date_page(request, person_id, "shielding-training")


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_agreement(request: HttpRequest, person_id: int) -> HttpResponse:
    return _record_date_page(request, person_id, "agreement")


def _act(
    request: HttpRequest, person_id: int, action: Callable[..., User], done: str
) -> HttpResponse:
    """Run a one-button change (authorise, re-enable, reset authenticator) and report it."""
    person = _managed_person(request, person_id)
    try:
        action(actor=signed_in_user(request), person=person, ip_address=client_ip(request))
    except services.AccessServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{done}: {person}.")
    return redirect("web:person", person_id=person.pk)


@access_rule(MANAGE)
@require_POST
def person_authorise(request: HttpRequest, person_id: int) -> HttpResponse:
    return _act(request, person_id, services.authorise_account, "Account authorised")


@access_rule(MANAGE)
@require_POST
def person_reenable(request: HttpRequest, person_id: int) -> HttpResponse:
    return _act(request, person_id, services.reenable_account, "Account re-enabled")


@access_rule(MANAGE)
@require_POST
def person_reset_authenticator(request: HttpRequest, person_id: int) -> HttpResponse:
    return _act(
        request,
        person_id,
        services.reset_second_factor,
        "Authenticator removed; they will set up a new one when they next sign in",
    )


@access_rule(MANAGE)
@require_POST
def person_temporary_password(request: HttpRequest, person_id: int) -> HttpResponse:
    """A new temporary password for someone who has forgotten theirs, shown once."""
    person = _managed_person(request, person_id)
    try:
        temporary_password = services.issue_temporary_password(
            actor=signed_in_user(request), person=person, ip_address=client_ip(request)
        )
    except services.AccessServiceError as error:
        messages.error(request, str(error))
        return redirect("web:person", person_id=person.pk)
    return render(
        request,
        "web/manage/temporary_password.html",
        {"person": person, "temporary_password": temporary_password, "created": False},
    )


@access_rule(MANAGE)
@require_http_methods(["GET", "POST"])
def person_suspend(request: HttpRequest, person_id: int) -> HttpResponse:
    """Suspend an account: every session and API token it has ends at once."""
    person = _managed_person(request, person_id)
    form = SuspendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.suspend_account(
                actor=signed_in_user(request),
                person=person,
                reason=form.cleaned_data["reason"],
                ip_address=client_ip(request),
            )
        except services.AccessServiceError as error:
            form.add_error("reason", str(error))
        else:
            messages.success(request, f"Account suspended: {person}. They have been signed out.")
            return redirect("web:person", person_id=person.pk)
    return render(request, "web/manage/suspend.html", {"form": form, "person": person})
