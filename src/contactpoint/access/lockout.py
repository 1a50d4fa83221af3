"""Lock-out after repeated failures, through django-axes keyed on username and address.

Password failures reach axes through Django's `user_login_failed` signal; second-factor
failures are sent the same way, so that guessing codes locks out as guessing passwords does.
"""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse


def is_locked_out(request: HttpRequest, username: str) -> bool:
    """Whether this username, from this address, is inside its cool-off period."""
    return bool(AxesProxyHandler.is_locked(request, {"username": username}))


def record_failure(request: HttpRequest, username: str) -> bool:
    """Count one failure for username+address; returns True when it has just locked out."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def keep_view_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: our sign-in views already answered (and audited) the lock-out."""
    if original_response is not None:
        return original_response
    return HttpResponse("Too many failed attempts. Try again in 15 minutes.", status=429)
