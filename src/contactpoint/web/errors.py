"""GOV.UK-style error pages: refused (403), not found (404), server error (500), CSRF failure.

Each says what happened in words a person understands, and never reveals whether a record
or an account they may not see exists.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token

from contactpoint.access.client import client_ip
from contactpoint.access.exceptions import AccessRefused
from contactpoint.access.models import User
from contactpoint.access.selectors import get_request_purpose
from contactpoint.access.services import record_csrf_refusal


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the reasons from the gates when we have them, a plain refusal otherwise."""
    reasons: list[str] = []
    if isinstance(exception, AccessRefused):
        reasons = exception.decision.messages
    elif exception is not None and str(exception):
        reasons = [str(exception)]
    return render(request, "web/errors/403.html", {"reasons": reasons}, status=403)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the same page whether the thing is missing or outside your organisation."""
    return render(request, "web/errors/404.html", status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: rendered without context processors' database reads where possible."""
    return render(request, "web/errors/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a forged or stale form is refused, explained and audited."""
    user = getattr(request, "user", None)
    record_csrf_refusal(
        actor=user if isinstance(user, User) else None,
        ip_address=client_ip(request),
        path=request.path,
        reason=reason,
        purpose=get_request_purpose(request) if isinstance(user, User) else "",
    )
    return render(request, "web/errors/csrf.html", status=403)
