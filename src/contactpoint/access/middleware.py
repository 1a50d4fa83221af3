"""Session limits: signed out after 15 minutes idle or 12 hours in all (issue 3)."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import resolve_url

from contactpoint.access.signin import (
    LAST_SEEN_SESSION_KEY,
    SIGNED_IN_AT_SESSION_KEY,
    session_age_limits,
    sign_out,
)


class SessionTimeoutMiddleware:
    """Ends a signed-in session that has been idle too long or has lasted too long.

    Runs on every request after authentication. A session without the clocks (which only
    sign-in sets) is ended too, so no other path can create an unlimited session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.user.is_authenticated:
            expired = self._expired(request)
            if expired is not None:
                sign_out(request, reason=expired)
                return self._to_sign_in(request, expired)
            request.session[LAST_SEEN_SESSION_KEY] = time.time()
        return self.get_response(request)

    @staticmethod
    def _expired(request: HttpRequest) -> str | None:
        idle_limit, absolute_limit = session_age_limits()
        now = time.time()
        signed_in_at = request.session.get(SIGNED_IN_AT_SESSION_KEY)
        last_seen = request.session.get(LAST_SEEN_SESSION_KEY)
        if not isinstance(signed_in_at, int | float) or not isinstance(last_seen, int | float):
            return "no_session_clock"
        if now - signed_in_at > absolute_limit:
            return "absolute"
        if now - last_seen > idle_limit:
            return "idle"
        return None

    @staticmethod
    def _to_sign_in(request: HttpRequest, reason: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return HttpResponse(
                '{"detail": "Your session has ended. Sign in again."}',
                status=401,
                content_type="application/json",
            )
        query = urlencode({"ended": reason})
        return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")
