"""Values every page template needs: the service name, the environment banner, the navigation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from contactpoint.access.models import User
from contactpoint.access.roles import Capability, role_has


@dataclass(frozen=True)
class NavigationItem:
    label: str
    url: str
    active: bool


# Service navigation by role: each entry shows only to people whose role has its capability.
_NAVIGATION: tuple[tuple[str, str, Capability | None], ...] = (
    ("Find a child", "web:search", Capability.SEARCH_CHILDREN),
    ("Review queue", "web:review-queue", Capability.WORK_REVIEW_QUEUE),
    ("Shielding", "web:shielding", Capability.MANAGE_SHIELDING),
    ("ContactPoint team alerts", "web:team-alerts", Capability.MANAGE_SHIELDING),
    ("Security alerts", "web:security-alerts", Capability.READ_AUDIT),
    ("Reason for access", "web:purpose", Capability.STATE_PURPOSE),
    ("People", "web:people", Capability.MANAGE_ACCOUNTS),
    ("Organisations", "web:organisations", Capability.MANAGE_ORGANISATIONS),
    ("Your account", "web:account", None),
)


def _navigation(request: HttpRequest) -> list[NavigationItem]:
    user = getattr(request, "user", None)
    is_verified = getattr(user, "is_verified", None)
    if not isinstance(user, User) or not (callable(is_verified) and is_verified()):
        return []
    items = []
    for label, url_name, capability in _NAVIGATION:
        if capability is not None and not role_has(user.role, capability):
            continue
        url = reverse(url_name)
        items.append(NavigationItem(label, url, request.path.startswith(url)))
    return items


def service(request: HttpRequest) -> dict[str, Any]:
    return {
        "service_name": "ContactPoint",
        "environment_name": settings.ENVIRONMENT.value,
        "environment_banner": settings.ENVIRONMENT.banner,
        "service_navigation": _navigation(request),
    }
