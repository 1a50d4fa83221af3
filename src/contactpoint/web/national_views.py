"""The national team's pages: organisations and their go-live."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from contactpoint.access import selectors, services
from contactpoint.access.client import client_ip
from contactpoint.access.roles import Capability
from contactpoint.access.rules import access_rule, requires
from contactpoint.access.vocabularies import OrganisationKind, OrganisationStatus
from contactpoint.web.account_views import signed_in_user
from contactpoint.web.forms import OrganisationStatusForm

ORGANISATIONS = requires(Capability.MANAGE_ORGANISATIONS)
PAGE_SIZE = 50


@access_rule(ORGANISATIONS)
@require_http_methods(["GET"])
def organisations(request: HttpRequest) -> HttpResponse:
    """Every organisation with its status, filterable by kind and status."""
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    kind = kind if kind in OrganisationKind.values else ""
    status = status if status in OrganisationStatus.values else ""
    page = Paginator(selectors.list_organisations(kind=kind, status=status), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/national/organisations.html",
        {
            "page": page,
            "kind": kind,
            "status": status,
            "kinds": OrganisationKind.choices,
            "statuses": OrganisationStatus.choices,
        },
    )


@access_rule(ORGANISATIONS)
@require_http_methods(["GET", "POST"])
def organisation_detail(request: HttpRequest, code: str) -> HttpResponse:
    """One organisation, and the status changes open to it (accredit, go live, suspend)."""
    organisation = selectors.get_organisation(code)
    if organisation is None:
        raise Http404("No such organisation")
    allowed = selectors.allowed_status_changes(organisation)
    form = OrganisationStatusForm(request.POST or None, allowed=allowed)
    if request.method == "POST" and form.is_valid():
        try:
            services.change_organisation_status(
                actor=signed_in_user(request),
                organisation=organisation,
                new_status=form.cleaned_data["new_status"],
                ip_address=client_ip(request),
            )
        except services.AccessServiceError as error:
            form.add_error("new_status", str(error))
        else:
            messages.success(
                request,
                f"{organisation.name} is now {OrganisationStatus(form.cleaned_data['new_status']).label.lower()}.",
            )
            return redirect("web:organisation", code=organisation.code)
    return render(
        request,
        "web/national/organisation.html",
        {"organisation": organisation, "form": form, "allowed": allowed},
    )
