"""Access rules: every route declares one, so nothing is reachable by omission.

A rule says who may reach a route: anyone (PUBLIC), anyone signed in with both factors
(SIGNED_IN), or someone passing every gate whose role has a capability (`requires(...)`).
Web views carry it as an attribute set by `@access_rule(...)`; DRF views as a class attribute.
The URL-walking test in tests/access fails for any route without one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from contactpoint.access.roles import Capability, role_has

RULE_ATTRIBUTE = "access_rule"
ViewT = TypeVar("ViewT", bound=Callable[..., Any])


class RuleKind(StrEnum):
    PUBLIC = "public"
    SIGNED_IN = "signed_in"
    CAPABILITY = "capability"


@dataclass(frozen=True)
class AccessRule:
    kind: RuleKind
    capability: Capability | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.capability}" if self.capability else str(self.kind)

    def admits_role(self, role: str | None) -> bool:
        """Whether a fully gated person of this role (None: anonymous) meets the rule."""
        if self.kind is RuleKind.PUBLIC:
            return True
        if role is None:
            return False
        if self.kind is RuleKind.SIGNED_IN:
            return True
        return self.capability is not None and role_has(role, self.capability)


PUBLIC = AccessRule(RuleKind.PUBLIC)
SIGNED_IN = AccessRule(RuleKind.SIGNED_IN)


def requires(capability: Capability) -> AccessRule:
    return AccessRule(RuleKind.CAPABILITY, capability)


def access_rule(rule: AccessRule) -> Callable[[ViewT], ViewT]:
    """Declare the access rule of a function view.

    Wraps rather than mutates, so that a shared callable (for example Django's static `serve`)
    can be given a rule in one route without changing it everywhere.
    """

    def decorate(view: ViewT) -> ViewT:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        setattr(wrapped, RULE_ATTRIBUTE, rule)
        return wrapped  # type: ignore[return-value]

    return decorate


def rule_for_view(callback: Callable[..., Any]) -> AccessRule | None:
    """The rule a resolved URL callback declares, on the function or its view class."""
    rule = getattr(callback, RULE_ATTRIBUTE, None)
    if rule is None:
        view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
        rule = getattr(view_class, RULE_ATTRIBUTE, None)
    return rule if isinstance(rule, AccessRule) else None
