"""Applies every route's access rule to web requests (the API applies the same rule in DRF)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from rest_framework.views import APIView

from contactpoint.access.client import client_ip
from contactpoint.access.exceptions import AccessRefused
from contactpoint.access.gates import Decision, GateName, Refusal, decide
from contactpoint.access.models import User
from contactpoint.access.rules import rule_for_view
from contactpoint.access.selectors import get_request_purpose, has_stated_purpose
from contactpoint.access.services import record_refusal

logger = logging.getLogger(__name__)


def is_second_factor_verified(request: HttpRequest) -> bool:
    """django-otp's OTPMiddleware sets this when the session's device verified the person."""
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified()) if callable(is_verified) else False


class AccessRuleMiddleware:
    """Refuses any web request that does not meet its route's declared access rule.

    A route without a rule is refused outright (fail closed) and logged as a bug. DRF views
    are left to api.permissions.MeetsAccessRule, which calls the same `decide()`, because
    their person is known only after token authentication inside the view.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponseBase | None:
        rule = rule_for_view(view_func)
        if rule is None:
            logger.error("route %s has no access rule: refused", request.path)
            raise AccessRefused(
                Decision(False, (Refusal(GateName.ROLE_PERMITS, "This page is not available."),))
            )
        view_class = getattr(view_func, "cls", None)
        if isinstance(view_class, type) and issubclass(view_class, APIView):
            return None
        decision = decide(
            user=request.user,
            rule=rule,
            second_factor_verified=is_second_factor_verified(request),
            purpose_stated=has_stated_purpose(request),
        )
        if decision.allowed:
            return None
        if decision.needs_sign_in:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{resolve_url(settings.LOGIN_URL)}?{query}")
        if decision.needs_purpose:
            query = urlencode({"next": request.get_full_path()})
            return HttpResponseRedirect(f"{reverse('web:purpose')}?{query}")
        user = request.user
        record_refusal(
            actor=user if isinstance(user, User) else None,
            ip_address=client_ip(request),
            what="page",
            purpose=get_request_purpose(request),
            detail={"path": request.path[:200], "gates": [r.gate.value for r in decision.refusals]},
        )
        raise AccessRefused(decision)
