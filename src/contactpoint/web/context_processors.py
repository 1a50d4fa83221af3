"""Values every page template needs: the service name and the environment banner."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def service(request: HttpRequest) -> dict[str, str]:
    return {
        "service_name": "ContactPoint",
        "environment_name": settings.ENVIRONMENT.value,
        "environment_banner": settings.ENVIRONMENT.banner,
    }
