"""What the access app reads from an HTTP request: the client's address and the reason."""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as axes sees it, so audit and lock-out agree on who it was."""
    return get_client_ip_address(request) or None
