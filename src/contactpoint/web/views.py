"""Thin page views: parse, call a selector, render."""

from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contactpoint.index import selectors


@require_GET
def start_page(request: HttpRequest) -> HttpResponse:
    """The service start page: what ContactPoint is and how many records it holds."""
    return render(request, "web/start.html", {"summary": selectors.get_index_summary()})


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers; reveals no record data."""
    try:
        selectors.check_database()
    except DatabaseError:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
