"""Sign-in pages: password, new password, authenticator set-up, code; and sign-out.

Thin: each parses a form and calls access.signin, which audits every outcome.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from contactpoint.access import signin
from contactpoint.access.rules import PUBLIC, access_rule
from contactpoint.access.totp import base32_secret, otpauth_uri, qr_code_svg
from contactpoint.web.forms import CodeForm, NewPasswordForm, SignInForm

NEXT_SESSION_KEY = "web.next"
_STAGE_URLS = {
    signin.Stage.NEW_PASSWORD: "web:sign-in-new-password",
    signin.Stage.ENROL: "web:sign-in-enrol",
    signin.Stage.CODE: "web:sign-in-code",
}
_ENDED_MESSAGES = {
    "idle": "You were signed out because you had not done anything for 15 minutes.",
    "absolute": "You were signed out because you had been signed in for 12 hours.",
    "signed_out": "You have signed out.",
    "no_session_clock": "Your session had ended. Sign in again.",
    "pending_expired": "Signing in took too long, or was interrupted. Start again.",
}


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """Only a path on this site: never an open redirect to somewhere else."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("web:start")


def _restart(request: HttpRequest) -> HttpResponseRedirect:
    return redirect(f"{reverse('web:sign-in')}?ended=pending_expired")


@access_rule(PUBLIC)
@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Username and password. The same answer for an unknown user and a wrong password."""
    form = SignInForm(request.POST or None)
    status = 200
    error = ""
    if request.method == "POST" and form.is_valid():
        result = signin.submit_password(
            request,
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
        )
        if result.ok and result.next_stage is not None:
            request.session[NEXT_SESSION_KEY] = safe_next(request, request.GET.get("next"))
            return redirect(_STAGE_URLS[result.next_stage])
        error = result.message
        status = 429 if result.locked_out else 200
        form = SignInForm(initial={"username": form.cleaned_data["username"]})
    ended = request.GET.get("ended", "")
    return render(
        request,
        "web/sign_in/password.html",
        {
            "form": form,
            "error": error,
            "ended_message": _ENDED_MESSAGES.get(ended, ""),
        },
        status=status,
    )


@access_rule(PUBLIC)
@never_cache
@sensitive_post_parameters("new_password", "confirm_password")
@require_http_methods(["GET", "POST"])
def sign_in_new_password(request: HttpRequest) -> HttpResponse:
    """Replace the temporary password an administrator issued."""
    user = signin.get_pending_user(request)
    if user is None:
        return _restart(request)
    if signin.next_stage_for(user) is not signin.Stage.NEW_PASSWORD:
        return redirect(_STAGE_URLS[signin.next_stage_for(user)])
    form = NewPasswordForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        result = signin.submit_new_password(
            request, user=user, new_password=form.cleaned_data["new_password"]
        )
        assert result.next_stage is not None
        return redirect(_STAGE_URLS[result.next_stage])
    return render(
        request,
        "web/sign_in/new_password.html",
        {"form": form, "help_texts": NewPasswordForm.help_texts()},
    )


@access_rule(PUBLIC)
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code, then type the code it shows."""
    user = signin.get_pending_user(request)
    if user is None:
        return _restart(request)
    if signin.next_stage_for(user) is not signin.Stage.ENROL:
        return redirect(_STAGE_URLS[signin.next_stage_for(user)])
    device = signin.get_or_create_enrolment_device(user)
    form = CodeForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        result = signin.submit_code(
            request, user=user, code=form.cleaned_data["code"], enrolling=True
        )
        if result.ok:
            return redirect(request.session.pop(NEXT_SESSION_KEY, reverse("web:start")))
        error = result.message
        status = 429 if result.locked_out else 200
    uri = otpauth_uri(device)
    return render(
        request,
        "web/sign_in/enrol.html",
        {
            "form": form,
            "error": error,
            "qr_svg": qr_code_svg(uri),
            "secret": base32_secret(device),
        },
        status=status,
    )


@access_rule(PUBLIC)
@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_code(request: HttpRequest) -> HttpResponse:
    """The second factor: the 6-digit code from the person's authenticator app."""
    user = signin.get_pending_user(request)
    if user is None:
        return _restart(request)
    if signin.next_stage_for(user) is not signin.Stage.CODE:
        return redirect(_STAGE_URLS[signin.next_stage_for(user)])
    form = CodeForm(request.POST or None)
    error = ""
    status = 200
    if request.method == "POST" and form.is_valid():
        result = signin.submit_code(request, user=user, code=form.cleaned_data["code"])
        if result.ok:
            return redirect(request.session.pop(NEXT_SESSION_KEY, reverse("web:start")))
        error = result.message
        status = 429 if result.locked_out else 200
    return render(request, "web/sign_in/code.html", {"form": form, "error": error}, status=status)


@access_rule(PUBLIC)
@never_cache
@require_http_methods(["GET", "POST"])
def sign_out(request: HttpRequest) -> HttpResponse:
    """GET asks to confirm (a link must not sign anyone out); POST signs out."""
    if request.method == "POST":
        signin.sign_out(request, reason="signed_out")
        return redirect(f"{reverse('web:sign-in')}?ended=signed_out")
    return render(request, "web/sign_in/sign_out.html")
