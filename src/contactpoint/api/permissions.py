"""Every API view passes the same gates as the web pages, through access.gates.decide()."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from contactpoint.access.client import client_ip
from contactpoint.access.exceptions import AccessRefused
from contactpoint.access.gates import decide
from contactpoint.access.models import ApiToken, User
from contactpoint.access.rules import rule_for_view
from contactpoint.access.selectors import get_request_purpose
from contactpoint.access.services import record_refusal


class MeetsAccessRule(BasePermission):
    """Applies the view's declared access rule; a view without one is refused (fail closed)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        rule = getattr(view, "access_rule", None) or rule_for_view(type(view))
        if rule is None:
            raise exceptions.PermissionDenied("This endpoint is not available.")
        token = request.auth if isinstance(request.auth, ApiToken) else None
        decision = decide(
            user=request.user,
            rule=rule,
            # A person's token exists only after password and TOTP both succeeded.
            second_factor_verified=token is not None,
            purpose_stated=bool(token and token.purpose),
        )
        if decision.allowed:
            return True
        if decision.needs_sign_in:
            raise exceptions.NotAuthenticated(" ".join(decision.messages))
        user = request.user
        record_refusal(
            actor=user if isinstance(user, User) else None,
            ip_address=client_ip(request._request),
            what="api",
            purpose=get_request_purpose(request),
            detail={
                "path": request.path[:200],
                "gates": [r.gate.value for r in decision.refusals],
            },
        )
        if decision.needs_purpose:
            raise exceptions.PermissionDenied(
                "State your reason for access first: PUT /api/v1/auth/purpose."
            )
        raise AccessRefused(decision)
