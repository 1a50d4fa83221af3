"""The people's API: a token after password and TOTP, the account, the reason for access.

Each view declares an access rule; api.permissions.MeetsAccessRule applies it with the same
gates as the web pages. Later issues add search and view endpoints here.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from contactpoint.access import selectors, services, signin
from contactpoint.access.client import client_ip
from contactpoint.access.models import ApiToken, User
from contactpoint.access.roles import Capability, capabilities_of
from contactpoint.access.rules import PUBLIC, SIGNED_IN, requires
from contactpoint.api.permissions import MeetsAccessRule
from contactpoint.api.serializers import (
    ErrorSerializer,
    MeSerializer,
    PurposeSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)


def _person(request: Request) -> tuple[User, ApiToken]:
    """The token's person; the access rule has already required one."""
    if not isinstance(request.user, User) or not isinstance(request.auth, ApiToken):
        raise PermissionError("no person's token")  # unreachable behind MeetsAccessRule
    return request.user, request.auth


class TokenView(APIView):
    """Exchange username, password and a TOTP code for a 15-minute token."""

    access_rule = PUBLIC
    authentication_classes: list[Any] = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            429: ErrorSerializer,
        },
        summary="Issue a token (password and authenticator code in one call)",
    )
    def post(self, request: Request) -> Response:
        incoming = TokenRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        http_request = request._request  # axes and the audit need Django's request
        user, result = signin.check_password(
            http_request,
            username=incoming.validated_data["username"],
            password=incoming.validated_data["password"],
        )
        if user is None:
            code = (
                status.HTTP_429_TOO_MANY_REQUESTS
                if result.locked_out
                else status.HTTP_401_UNAUTHORIZED
            )
            return Response({"detail": result.message}, status=code)
        if user.must_change_password or not selectors.has_confirmed_device(user):
            return Response(
                {
                    "detail": "Sign in on the website first to set your password and authenticator app."
                },
                status=status.HTTP_401_UNAUTHORIZED,
            )
        device, result = signin.verify_code(
            http_request, user=user, code=incoming.validated_data["code"]
        )
        if device is None:
            code = (
                status.HTTP_429_TOO_MANY_REQUESTS
                if result.locked_out
                else status.HTTP_401_UNAUTHORIZED
            )
            return Response({"detail": result.message}, status=code)
        issued = services.issue_api_token(user=user, ip_address=client_ip(http_request))
        body = TokenSerializer({"token": issued.raw, "expires_at": issued.token.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)


class CurrentTokenView(APIView):
    """Revoke the token used for this request (sign out of the API)."""

    access_rule = SIGNED_IN

    @extend_schema(request=None, responses={204: None}, summary="Revoke this token")
    def delete(self, request: Request) -> Response:
        _, token = _person(request)
        services.revoke_api_token(token=token, ip_address=client_ip(request._request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PurposeView(APIView):
    """State the reason for access; it is kept with the token and recorded on every event."""

    access_rule = requires(Capability.STATE_PURPOSE)

    @extend_schema(
        request=PurposeSerializer, responses={200: PurposeSerializer, 400: ErrorSerializer}
    )
    def put(self, request: Request) -> Response:
        _, token = _person(request)
        incoming = PurposeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            services.state_token_purpose(
                token=token,
                reason=incoming.validated_data["reason"],
                other=incoming.validated_data["other"],
                ip_address=client_ip(request._request),
            )
        except services.InvalidChange as error:
            return Response({"detail": str(error)}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            PurposeSerializer({"reason": token.purpose, "other": token.purpose_other}).data
        )


class MeView(APIView):
    """Who the token belongs to, what their role may do, and which gates they meet."""

    access_rule = SIGNED_IN

    @extend_schema(responses={200: MeSerializer})
    def get(self, request: Request) -> Response:
        user, token = _person(request)
        body = MeSerializer(
            {
                "username": user.get_username(),
                "name": user.get_full_name(),
                "role": user.role,
                "organisation": user.organisation.code if user.organisation else "",
                "capabilities": sorted(capabilities_of(user.role)),
                "gates": [
                    {
                        "gate": g.gate.value,
                        "title": g.label,
                        "passed": g.passed,
                        "message": g.message,
                    }
                    for g in selectors.get_gate_statuses(user)
                ],
                "purpose": selectors.get_request_purpose(request),
                "token_expires_at": token.expires_at,
            }
        ).data
        return Response(body)


class SchemaView(SpectacularAPIView):
    """The OpenAPI description of this API (it reveals no data)."""

    access_rule = PUBLIC
    authentication_classes: list[Any] = []
    # drf-spectacular sets its own permissions; every API view must apply the access rule.
    permission_classes = [MeetsAccessRule]
