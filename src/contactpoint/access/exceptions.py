"""The refusal raised when a request fails its access rule; web and API render it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from contactpoint.access.gates import Decision


class AccessRefused(PermissionDenied):
    """A request refused by the gates, carrying the reasons a person can act on."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(" ".join(decision.messages))
        self.decision = decision
