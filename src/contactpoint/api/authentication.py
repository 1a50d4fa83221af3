"""Bearer tokens for people, issued only after password and TOTP (see api/views.py).

Source systems authenticate differently, with credentials registered in `feeds`: this class
accepts only people's tokens (prefix cpt_), so the two can never be confused.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from contactpoint.access.models import ApiToken
from contactpoint.access.services import API_TOKEN_PREFIX, token_digest

KEYWORD = b"bearer"


class PersonTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer cpt_...`: a live, unrevoked token of an existing person."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as: Authorization: Bearer <token>."
            )
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("That token is not valid.") from error
        if not raw.startswith(API_TOKEN_PREFIX):
            raise exceptions.AuthenticationFailed("That token is not valid.")
        token = (
            ApiToken.objects.select_related("user", "user__organisation")
            .filter(digest=token_digest(raw))
            .first()
        )
        if token is None or not token.is_usable(timezone.now()):
            raise exceptions.AuthenticationFailed(
                "That token has expired or been revoked. Request a new one."
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="ContactPoint"'
