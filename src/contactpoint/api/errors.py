"""API errors as JSON with a message a person can act on; gate refusals list their reasons."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from contactpoint.access.exceptions import AccessRefused


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, AccessRefused):
        return Response(
            {
                "detail": "You cannot use this endpoint.",
                "reasons": [
                    {"gate": r.gate.value, "message": r.message} for r in exc.decision.refusals
                ],
            },
            status=403,
        )
    return drf_exception_handler(exc, context)
