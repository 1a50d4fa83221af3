"""OpenAPI description of the people's token, so the schema says how to authenticate."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonTokenScheme(OpenApiAuthenticationExtension):
    target_class = "contactpoint.api.authentication.PersonTokenAuthentication"
    name = "personToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "cpt_… token from POST /api/v1/auth/token, valid 15 minutes",
        }
