"""The signed-in person's own pages: their account and gates, password, reason for access."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from contactpoint.access import signin
from contactpoint.access.client import client_ip
from contactpoint.access.models import User
from contactpoint.access.roles import Capability
from contactpoint.access.rules import SIGNED_IN, access_rule, requires
from contactpoint.access.selectors import PURPOSE_SESSION_KEY, get_gate_statuses
from contactpoint.access.services import InvalidChange, change_own_password
from contactpoint.web.forms import ChangePasswordForm, PurposeForm
from contactpoint.web.signin_views import safe_next


def signed_in_user(request: HttpRequest) -> User:
    """The person making the request; the access rule has already required a signed-in one."""
    user = request.user
    if not isinstance(user, User):  # unreachable behind the middleware: fail closed anyway
        raise PermissionError("no signed-in person")
    return user


@access_rule(SIGNED_IN)
@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    """Who you are, your organisation and role, and which gates you meet (and why not)."""
    user = signed_in_user(request)
    return render(
        request,
        "web/account/account.html",
        {"person": user, "gates": get_gate_statuses(user)},
    )


@access_rule(SIGNED_IN)
@require_http_methods(["GET", "POST"])
def change_password(request: HttpRequest) -> HttpResponse:
    """Change your password; your other sessions end, this one continues."""
    user = signed_in_user(request)
    form = ChangePasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        user = change_own_password(
            user=user, new_password=form.cleaned_data["new_password"], ip_address=client_ip(request)
        )
        update_session_auth_hash(request, user)
        messages.success(request, "Your password has been changed.")
        return redirect("web:account")
    return render(
        request,
        "web/account/change_password.html",
        {"form": form, "help_texts": ChangePasswordForm.help_texts()},
    )


@access_rule(requires(Capability.STATE_PURPOSE))
@require_http_methods(["GET", "POST"])
def purpose(request: HttpRequest) -> HttpResponse:
    """Why you need ContactPoint now: kept with your session and on every audit event."""
    stated = request.session.get(PURPOSE_SESSION_KEY) or {}
    form = PurposeForm(
        request.POST or None, initial={"reason": stated.get("reason"), "other": stated.get("other")}
    )
    if request.method == "POST" and form.is_valid():
        try:
            signin.state_purpose(
                request, reason=form.cleaned_data["reason"], other=form.cleaned_data["other"]
            )
        except InvalidChange as error:
            form.add_error("other", str(error))
        else:
            return redirect(safe_next(request, request.GET.get("next")))
    return render(request, "web/account/purpose.html", {"form": form})
