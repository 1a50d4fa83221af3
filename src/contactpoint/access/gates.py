"""The gates: every condition a person must meet to use ContactPoint, each a named check.

`decide()` is the one function that web pages (through web.middleware) and the API (through
api.permissions) call for every request; nothing else decides whether a request may proceed.
Each refusal carries a reason a person understands and can act on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from django.utils import timezone

from contactpoint.access.models import User
from contactpoint.access.roles import PRE_LIVE_CAPABILITIES, PURPOSE_CAPABILITIES, Role, role_has
from contactpoint.access.rules import AccessRule, RuleKind
from contactpoint.access.vocabularies import OrganisationStatus


class GateName(StrEnum):
    SIGNED_IN = "signed_in"
    SECOND_FACTOR = "second_factor"
    ACCOUNT_ACTIVE = "account_active"
    NOT_SUSPENDED = "not_suspended"
    ORGANISATION_LIVE = "organisation_live"
    VETTING_RECORDED = "vetting_recorded"
    VETTING_CURRENT = "vetting_current"
    TRAINING_COMPLETED = "training_completed"
    SHIELDING_TRAINING_COMPLETED = "shielding_training_completed"
    AGREEMENT_SIGNED = "agreement_signed"
    AUTHORISED = "authorised"
    ROLE_PERMITS = "role_permits"
    PURPOSE_STATED = "purpose_stated"


@dataclass(frozen=True)
class Refusal:
    gate: GateName
    message: str


@dataclass(frozen=True)
class GateContext:
    """What a gate may look at besides the user."""

    today: dt.date
    capability: Any = None  # the Capability a route needs, if any


@dataclass(frozen=True)
class Gate:
    name: GateName
    check: Callable[[User, GateContext], str | None]  # a reason to refuse, or None


_ASK_ADMIN = "Ask your organisation's ContactPoint administrator."


def _account_active(user: User, _: GateContext) -> str | None:
    return None if user.is_active else "This account has been closed."


def _not_suspended(user: User, _: GateContext) -> str | None:
    if user.is_suspended:
        return f"Your account is suspended. {_ASK_ADMIN}"
    return None


def _organisation_live(user: User, context: GateContext) -> str | None:
    organisation = user.organisation
    if organisation is None:
        return f"Your account does not belong to an organisation. {_ASK_ADMIN}"
    if organisation.status == OrganisationStatus.SUSPENDED:
        return f"{organisation.name} is suspended from ContactPoint."
    # Account administration may start once accredited; records only once live.
    if context.capability in PRE_LIVE_CAPABILITIES:
        if not organisation.is_accredited_or_live:
            return f"{organisation.name} has not yet been accredited for ContactPoint."
    elif not organisation.is_live:
        return f"{organisation.name} is not live on ContactPoint yet."
    return None


def _vetting_recorded(user: User, _: GateContext) -> str | None:
    if user.vetting_issued_on is None:
        return f"No enhanced vetting check has been recorded for you. {_ASK_ADMIN}"
    return None


def _vetting_current(user: User, context: GateContext) -> str | None:
    expires_on = user.vetting_expires_on()
    if expires_on is not None and expires_on <= context.today:
        return (
            "Your enhanced vetting check is more than 3 years old. "
            f"{_ASK_ADMIN} They can record your renewed check."
        )
    return None


def _training_completed(user: User, _: GateContext) -> str | None:
    if user.training_completed_on is None:
        return f"Your ContactPoint training has not been recorded. {_ASK_ADMIN}"
    return None


def _shielding_training_completed(user: User, _: GateContext) -> str | None:
    if user.role == Role.SHIELDING_OFFICER and user.shielding_training_completed_on is None:
        return f"Your shielding training has not been recorded. {_ASK_ADMIN}"
    return None


def _agreement_signed(user: User, _: GateContext) -> str | None:
    if user.agreement_signed_on is None:
        return f"Your signed user agreement has not been recorded. {_ASK_ADMIN}"
    return None


def _authorised(user: User, _: GateContext) -> str | None:
    if user.authorised_at is None:
        return f"Your organisation has not authorised your account yet. {_ASK_ADMIN}"
    return None


# The account gates, in the order a person would fix them.
ACCOUNT_GATES: tuple[Gate, ...] = (
    Gate(GateName.ACCOUNT_ACTIVE, _account_active),
    Gate(GateName.NOT_SUSPENDED, _not_suspended),
    Gate(GateName.ORGANISATION_LIVE, _organisation_live),
    Gate(GateName.VETTING_RECORDED, _vetting_recorded),
    Gate(GateName.VETTING_CURRENT, _vetting_current),
    Gate(GateName.TRAINING_COMPLETED, _training_completed),
    Gate(GateName.SHIELDING_TRAINING_COMPLETED, _shielding_training_completed),
    Gate(GateName.AGREEMENT_SIGNED, _agreement_signed),
    Gate(GateName.AUTHORISED, _authorised),
)


def account_refusals(
    user: User, *, today: dt.date | None = None, capability: Any = None
) -> list[Refusal]:
    """Every account gate this user fails today (empty when the account is usable)."""
    context = GateContext(today=today or timezone.localdate(), capability=capability)
    refusals = []
    for gate in ACCOUNT_GATES:
        reason = gate.check(user, context)
        if reason is not None:
            refusals.append(Refusal(gate.name, reason))
    return refusals


@dataclass(frozen=True)
class Decision:
    """The answer for one request: allowed, or refused with reasons."""

    allowed: bool
    refusals: tuple[Refusal, ...] = field(default=())

    @property
    def needs_sign_in(self) -> bool:
        return any(r.gate in {GateName.SIGNED_IN, GateName.SECOND_FACTOR} for r in self.refusals)

    @property
    def needs_purpose(self) -> bool:
        return [r.gate for r in self.refusals] == [GateName.PURPOSE_STATED]

    @property
    def messages(self) -> list[str]:
        return [r.message for r in self.refusals]


ALLOW = Decision(allowed=True)


def decide(
    *,
    user: Any,
    rule: AccessRule,
    second_factor_verified: bool,
    purpose_stated: bool,
    today: dt.date | None = None,
) -> Decision:
    """Decide one request against its route's access rule. Used by web and API alike.

    `user` may be anonymous. Public routes are always allowed; signed-in routes need password
    and TOTP and an unsuspended account; capability routes need every gate, the role's
    capability and, for work on children's records, a stated reason for access.
    """
    if rule.kind is RuleKind.PUBLIC:
        return ALLOW
    if not getattr(user, "is_authenticated", False) or not isinstance(user, User):
        return Decision(False, (Refusal(GateName.SIGNED_IN, "Sign in to use ContactPoint."),))
    if not second_factor_verified:
        return Decision(
            False,
            (Refusal(GateName.SECOND_FACTOR, "Sign in with your authenticator app code."),),
        )
    if rule.kind is RuleKind.SIGNED_IN:
        blocking = [
            r
            for r in account_refusals(user, today=today)
            if r.gate in {GateName.ACCOUNT_ACTIVE, GateName.NOT_SUSPENDED}
        ]
        return Decision(not blocking, tuple(blocking))

    capability = rule.capability
    refusals = account_refusals(user, today=today, capability=capability)
    if capability is None or not role_has(user.role, capability):
        refusals.append(
            Refusal(
                GateName.ROLE_PERMITS,
                f"Your role ({user.get_role_display()}) does not include this part of "
                "ContactPoint.",
            )
        )
    if refusals:
        return Decision(False, tuple(refusals))
    if capability in PURPOSE_CAPABILITIES and not purpose_stated:
        return Decision(
            False,
            (Refusal(GateName.PURPOSE_STATED, "Tell us why you need to use ContactPoint."),),
        )
    return ALLOW
