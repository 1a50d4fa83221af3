"""Searching for a child and viewing their record: thin views over search.services.

Criteria travel only in the POST body, never in a URL. Pages holding children's details are
never cached. Everything shown comes from access.policy's projections.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from contactpoint.access.client import client_ip
from contactpoint.access.policy import FIELD_CLASSES, viewer_for
from contactpoint.access.protective.monitoring import LookupRefused, usage_warnings
from contactpoint.access.roles import Capability
from contactpoint.access.rules import access_rule, requires
from contactpoint.access.selectors import get_request_purpose
from contactpoint.search.criteria import CriteriaRefused
from contactpoint.search.services import (
    ChildNotFound,
    InvalidChildId,
    SearchUnavailable,
    result_cap,
    search_children,
    view_child,
)
from contactpoint.web.account_views import signed_in_user
from contactpoint.web.forms_search import ChildSearchForm


def _unavailable(request: HttpRequest) -> HttpResponse:
    return render(request, "web/search/unavailable.html", status=503)


def _stopped(request: HttpRequest, refused: LookupRefused) -> HttpResponse:
    """A quota or monitoring rule stopped the lookup (access.protective): say why, show nothing."""
    return render(
        request,
        "web/security/stopped.html",
        {"message": str(refused)},
        status=refused.http_status,
    )


def _warn_near_limits(request: HttpRequest) -> None:
    for warning in usage_warnings(signed_in_user(request)):
        messages.warning(request, warning)


@access_rule(requires(Capability.SEARCH_CHILDREN))
@require_http_methods(["GET", "POST"])
@never_cache
def search(request: HttpRequest) -> HttpResponse:
    """The search form, and on POST its results: at most the cap, or "too many matches"."""
    form = ChildSearchForm(request.POST or None)
    results = None
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.criteria is not None:
            try:
                results = search_children(
                    viewer=viewer_for(signed_in_user(request)),
                    criteria=form.criteria,
                    purpose=get_request_purpose(request),
                    ip_address=client_ip(request),
                )
            except CriteriaRefused as refusal:
                form.add_error(None, str(refusal))
            except LookupRefused as refused:
                return _stopped(request, refused)
            except SearchUnavailable:
                return _unavailable(request)
            else:
                _warn_near_limits(request)
        if form.errors:
            status = 400
    return render(
        request,
        "web/search/search.html",
        {"form": form, "results": results, "cap": result_cap()},
        status=status,
    )


@access_rule(requires(Capability.VIEW_CHILD))
@require_GET
@never_cache
def child(request: HttpRequest, contactpoint_id: str) -> HttpResponse:
    """A child's record, exactly as the view policy lets this person see it."""
    try:
        projection = view_child(
            viewer=viewer_for(signed_in_user(request)),
            contactpoint_id=contactpoint_id,
            purpose=get_request_purpose(request),
            ip_address=client_ip(request),
        )
    except InvalidChildId as invalid:
        return render(request, "web/search/bad_id.html", {"message": str(invalid)}, status=400)
    except ChildNotFound:
        return render(request, "web/search/not_found.html", status=404)
    except LookupRefused as refused:
        return _stopped(request, refused)
    except SearchUnavailable:
        return _unavailable(request)
    _warn_near_limits(request)
    return render(
        request,
        "web/search/child.html",
        {"child": projection, "field_classes": FIELD_CLASSES},
    )
