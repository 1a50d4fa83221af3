"""Every change shielding makes, and every read of its queues: one transaction, one audit event.

Callers pass the acting person; each service re-checks that this person may act on this child
(their role, their LA, object by object) and raises a `ShieldingRefused` subclass whose
message can be shown to them. Audit events carry categories, dates, references and IDs:
never a justification, a typed reason, or anything that would say where a child is.

`index.Child.is_shielded` is set and cleared only here, by shielding officers, apart from the
places that may only ever *add* a shield (feeds and index.linkage; issue 7, item 6).
"""

from __future__ import annotations

import calendar
import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import DatabaseError, transaction
from django.utils import timezone

from contactpoint.access.models import Alert, AlertAudience, AlertSeverity, Organisation, User
from contactpoint.access.policy import (
    PROJECTION_PREFETCH_RELATED,
    PROJECTION_SELECT_RELATED,
    BreakGlassReveal,
    ChildProjection,
    ViewMode,
    has_current_sensitive_service,
    project_child,
    view_mode,
    viewer_for,
)
from contactpoint.access.protective.alerts import la_team_organisation, security_organisation_for
from contactpoint.access.protective.monitoring import (
    LookupKind,
    LookupRefused,
    enforce_and_monitor,
)
from contactpoint.access.roles import Capability, role_has
from contactpoint.audit.services import record_event
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.models import Child
from contactpoint.index.validators import validate_uk_phone
from contactpoint.index.vocabularies import ChildStatus
from contactpoint.shielding import selectors
from contactpoint.shielding.audit_actions import BREAK_GLASS_ALERT_RULE, Outcome, ShieldingAction
from contactpoint.shielding.models import (
    BreakGlassGrant,
    ContactRequest,
    ShieldingDecision,
    ShieldingRequest,
)
from contactpoint.shielding.validators import (
    clean_text,
    validate_break_glass_reason,
    validate_justification,
    validate_short_note,
)
from contactpoint.shielding.vocabularies import (
    BREAK_GLASS_LIFETIME,
    DEFAULT_REVIEW_MONTHS,
    MAX_REVIEW_MONTHS,
    NOT_A_REASON,
    OFFICER_REASONS,
    PRECAUTION_JUSTIFICATION,
    ContactRequestStatus,
    DecisionKind,
    DecisionSource,
    RequesterKind,
    RequestStatus,
    ShieldingReason,
)

# --- Refusals ------------------------------------------------------------------------------------


class ShieldingRefused(Exception):
    """A shielding act that was refused; the message is shown to the person who asked."""


class NotPermitted(ShieldingRefused):
    """This person may not do this to this child (role, LA, training)."""


class InvalidDecision(ShieldingRefused):
    """The decision makes no sense as given (wrong reason, date, or state)."""


class NotAvailable(ShieldingRefused):
    """No such child or case for this person: the same answer whether or not it exists."""


class GrantSpent(ShieldingRefused):
    """A break-glass grant already used, or expired: it reveals nothing more."""


def _invalid(error: ValidationError) -> InvalidDecision:
    return InvalidDecision(" ".join(error.messages))


# --- Helpers -------------------------------------------------------------------------------------


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, or the month's last day when it has no such day."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_review_on(today: dt.date | None = None) -> dt.date:
    """Six months from today (issue 7: the review date defaults to six months)."""
    return add_months(today or timezone.localdate(), DEFAULT_REVIEW_MONTHS)


def _check_review_on(review_on: dt.date | None, today: dt.date) -> dt.date:
    if review_on is None:
        return default_review_on(today)
    if review_on <= today:
        raise InvalidDecision("The review date must be in the future.")
    if review_on > add_months(today, MAX_REVIEW_MONTHS):
        raise InvalidDecision(
            f"The review date must be within {MAX_REVIEW_MONTHS} months: a shield is looked at "
            "again at least once a year."
        )
    return review_on


def _check_reason(reason: str) -> str:
    if reason in NOT_A_REASON:
        raise InvalidDecision(NOT_A_REASON[reason])
    if reason not in OFFICER_REASONS:
        raise InvalidDecision("Select why the record must be shielded.")
    return reason


def _username(user: User | None) -> str:
    return user.get_username() if user is not None else ""


def _organisation_code(user: User | None) -> str:
    organisation = user.organisation if user is not None else None
    return organisation.code if organisation is not None else ""


def _audit(
    action: ShieldingAction,
    *,
    actor: User | None,
    subject: str = "",
    outcome: str = Outcome.OK,
    purpose: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
    actor_username: str = "",
) -> None:
    record_event(
        action=action,
        outcome=outcome,
        actor_id=actor.pk if actor is not None else None,
        actor_username=_username(actor) or actor_username,
        organisation_code=_organisation_code(actor),
        purpose=purpose,
        subject_contactpoint_id=subject,
        ip_address=ip_address,
        detail=detail or {},
    )


def _check_officer(officer: User, child: Child) -> None:
    """A shielding officer with recorded training, acting on a child of their own LA."""
    if not role_has(officer.role, Capability.MANAGE_SHIELDING):
        raise NotPermitted("Only shielding officers shield and unshield records.")
    if officer.shielding_training_completed_on is None:
        raise NotPermitted("Your shielding training has not been recorded.")
    if not officer.is_active or officer.is_suspended:
        raise NotPermitted("Your account cannot be used.")
    if selectors.officer_local_authority(officer) != child.responsible_la_id:
        raise NotPermitted("This child is another local authority's to shield.")
    if child.status == ChildStatus.ARCHIVED:
        raise NotPermitted("This record is archived: its shield stays as it is.")


def _lock(child: Child) -> Child:
    return Child.objects.select_for_update().get(pk=child.pk)


def _latest(child: Child) -> ShieldingDecision | None:
    return ShieldingDecision.objects.filter(child=child).order_by("-decided_at", "-pk").first()


def _set_shielded(child: Child, shielded: bool) -> None:
    Child.objects.filter(pk=child.pk).update(is_shielded=shielded, updated_at=timezone.now())
    child.is_shielded = shielded


def _decision(
    child: Child,
    *,
    kind: DecisionKind,
    reason: str,
    justification: str,
    source: DecisionSource,
    officer: User | None,
    review_on: dt.date | None,
    source_system: str = "",
) -> ShieldingDecision:
    return ShieldingDecision.objects.create(
        child=child,
        contactpoint_id=child.contactpoint_id,
        kind=kind,
        reason=reason,
        justification=justification,
        source=source,
        source_system=source_system,
        decided_by=officer,
        decided_by_username=_username(officer),
        review_on=review_on,
    )


def _decision_detail(decision: ShieldingDecision, **extra: Any) -> dict[str, Any]:
    return {
        "decision": decision.pk,
        "kind": decision.kind,
        "reason": decision.reason,
        "source": decision.source,
        "source_system": decision.source_system,
        "review_on": decision.review_on.isoformat() if decision.review_on else None,
        **extra,
    }


# --- Shielding decisions -------------------------------------------------------------------------


def shield_child(
    *,
    officer: User | None,
    child: Child,
    reason: str,
    justification: str,
    review_on: dt.date | None = None,
    source: DecisionSource = DecisionSource.OFFICER,
    source_system: str = "",
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingDecision:
    """Shield a child: location details disappear for everyone but its officers at once.

    By an officer (`source=OFFICER`): a reason from OFFICER_REASONS, a justification and a
    review date (six months by default, at most twelve). By a source system's sensitive-record
    flag (`source=SOURCE_SYSTEM`, `officer=None`, `source_system=` the feed's code): shielded
    pending an officer's review; `reason` and `review_on` are ignored, and a child whose shield
    an officer has already decided keeps that decision (the call then changes nothing).
    """
    if source == DecisionSource.SOURCE_SYSTEM:
        return _shield_from_source(
            child=child,
            source_system=source_system,
            justification=justification,
            ip_address=ip_address,
        )
    if officer is None:
        raise NotPermitted("Only a shielding officer or a source system's flag shields a record.")
    today = timezone.localdate()
    reason = _check_reason(reason)
    try:
        justification = validate_justification(justification)
    except ValidationError as error:
        raise _invalid(error) from error
    review_on = _check_review_on(review_on, today)
    with transaction.atomic():
        locked = _lock(child)
        _check_officer(officer, locked)
        if locked.is_shielded:
            raise InvalidDecision("This record is already shielded: review its shield instead.")
        decision = _decision(
            locked,
            kind=DecisionKind.SHIELD,
            reason=reason,
            justification=justification,
            source=DecisionSource.OFFICER,
            officer=officer,
            review_on=review_on,
        )
        _set_shielded(locked, True)
        _audit(
            ShieldingAction.SHIELDED,
            actor=officer,
            subject=locked.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail=_decision_detail(decision),
        )
    child.is_shielded = True
    return decision


def _shield_from_source(
    *, child: Child, source_system: str, justification: str, ip_address: str | None
) -> ShieldingDecision:
    """A feed's sensitive-record flag: shield now, for an officer to review (issue 7, item 2)."""
    source_system = source_system.strip()
    if not source_system:
        raise InvalidDecision("Name the source system whose flag asks for the shield.")
    text = clean_text(justification) or f"Sensitive-record flag from {source_system}"
    try:
        text = validate_justification(text)
    except ValidationError:
        text = f"Sensitive-record flag from {source_system}"[:300]
    with transaction.atomic():
        locked = _lock(child)
        latest = _latest(locked)
        if (
            locked.is_shielded
            and latest is not None
            and latest.keeps_shield
            and not (latest.is_precaution and justification != PRECAUTION_JUSTIFICATION)
        ):
            child.is_shielded = True
            return latest  # already shielded for a recorded reason: the flag adds nothing
        decision = _decision(
            locked,
            kind=DecisionKind.SHIELD,
            reason=ShieldingReason.SOURCE_FLAG,
            justification=text,
            source=DecisionSource.SOURCE_SYSTEM,
            officer=None,
            # Due at once: an officer reviews every shield a source asked for.
            review_on=timezone.localdate(),
            source_system=source_system,
        )
        _set_shielded(locked, True)
        _audit(
            ShieldingAction.SOURCE_SHIELDED,
            actor=None,
            actor_username=f"source:{source_system}"[:150],
            subject=locked.contactpoint_id,
            ip_address=ip_address,
            detail=_decision_detail(decision),
        )
    child.is_shielded = True
    return decision


def shield_as_precaution(*, child: Child, source_system: str) -> ShieldingDecision:
    """Shield a new child that resembles a shielded one, pending an officer's review.

    Matching's course for a record that resembles a shielded child no more than a stranger
    would (issue 5, item 5: never a new unshielded child). Recorded as the loading source's
    decision, due for review at once; a source's own flag later still counts as a flag.
    """
    return _shield_from_source(
        child=child,
        source_system=source_system,
        justification=PRECAUTION_JUSTIFICATION,
        ip_address=None,
    )


def review_shield(
    *,
    officer: User,
    child: Child,
    reason: str,
    justification: str,
    review_on: dt.date | None = None,
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingDecision:
    """Review a shield and keep it: a reason, a justification and the next review date.

    Also how an officer confirms a shield a source system, matching or a merge put on.
    """
    today = timezone.localdate()
    reason = _check_reason(reason)
    try:
        justification = validate_justification(justification)
    except ValidationError as error:
        raise _invalid(error) from error
    review_on = _check_review_on(review_on, today)
    with transaction.atomic():
        locked = _lock(child)
        _check_officer(officer, locked)
        if not locked.is_shielded:
            raise InvalidDecision("This record is not shielded: shield it instead.")
        decision = _decision(
            locked,
            kind=DecisionKind.CONFIRM,
            reason=reason,
            justification=justification,
            source=DecisionSource.OFFICER,
            officer=officer,
            review_on=review_on,
        )
        _audit(
            ShieldingAction.REVIEWED,
            actor=officer,
            subject=locked.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail=_decision_detail(decision),
        )
    return decision


def unshield_child(
    *,
    officer: User,
    child: Child,
    justification: str,
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingDecision:
    """Remove a shield: only a shielding officer of the child's LA, with a justification.

    Nothing else ever removes a shield: not a feed, not matching, not archiving (issue 7).
    """
    try:
        justification = validate_justification(justification)
    except ValidationError as error:
        raise _invalid(error) from error
    with transaction.atomic():
        locked = _lock(child)
        _check_officer(officer, locked)
        if not locked.is_shielded:
            raise InvalidDecision("This record is not shielded.")
        decision = _decision(
            locked,
            kind=DecisionKind.UNSHIELD,
            reason="",
            justification=justification,
            source=DecisionSource.OFFICER,
            officer=officer,
            review_on=None,
        )
        _set_shielded(locked, False)
        _audit(
            ShieldingAction.UNSHIELDED,
            actor=officer,
            subject=locked.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail=_decision_detail(decision),
        )
    child.is_shielded = False
    return decision


# --- Requests to shield (worked like a case) -----------------------------------------------------


def request_reference(request: ShieldingRequest) -> str:
    return f"SR{request.pk}"


def contact_reference(contact: ContactRequest) -> str:
    return f"CR{contact.pk}"


def _viewable(person: User, child: Child) -> ViewMode | None:
    return view_mode(viewer_for(person), child)


def _find_for(
    person: User, contactpoint_id: str, *, page: str, purpose: str, ip_address: str | None
) -> tuple[Child, ViewMode]:
    """The child as this person may see it, or NotAvailable (audited) when they may not.

    The same answer whether or not the child exists, so these pages are no oracle either.
    """
    child = _child_by_id(contactpoint_id)
    mode = _viewable(person, child) if child is not None else None
    if child is None or mode is None:
        with transaction.atomic():
            _audit(
                ShieldingAction.REFUSED,
                actor=person,
                subject=child.contactpoint_id if child is not None else "",
                outcome=Outcome.NOT_FOUND,
                purpose=purpose,
                ip_address=ip_address,
                detail={"page": page},
            )
        raise NotAvailable("No child with that ContactPoint ID could be found.")
    return child, mode


def ask_to_shield(
    *,
    practitioner: User,
    contactpoint_id: str,
    summary: str,
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingRequest:
    """Someone who may see the child asks its LA to shield the record; the officers decide."""
    try:
        summary = validate_justification(summary)
    except ValidationError as error:
        raise _invalid(error) from error
    child, _ = _find_for(
        practitioner, contactpoint_id, page="ask_to_shield", purpose=purpose, ip_address=ip_address
    )
    with transaction.atomic():
        request = ShieldingRequest.objects.create(
            local_authority_id=child.responsible_la_id,
            child=child,
            contactpoint_id=child.contactpoint_id,
            requester_kind=RequesterKind.PRACTITIONER,
            summary=summary,
            recorded_by=practitioner,
            recorded_by_username=_username(practitioner),
        )
        _audit(
            ShieldingAction.REQUEST_RECORDED,
            actor=practitioner,
            subject=child.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail={"request": request_reference(request), "requester_kind": "practitioner"},
        )
    return request


def record_shielding_request(
    *,
    officer: User,
    child: Child,
    requester_kind: str,
    requester_name: str,
    summary: str,
    suggested_reason: str = "",
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingRequest:
    """An officer records a request made to the LA (a parent's call, a court's letter)."""
    if requester_kind not in RequesterKind.values:
        raise InvalidDecision("Select who asked for the record to be shielded.")
    if suggested_reason:
        _check_reason(suggested_reason)
    try:
        summary = validate_justification(summary)
        requester_name = validate_short_note(
            requester_name, what="The requester's name", maximum=100
        )
    except ValidationError as error:
        raise _invalid(error) from error
    with transaction.atomic():
        _check_officer(officer, child)
        request = ShieldingRequest.objects.create(
            local_authority_id=child.responsible_la_id,
            child=child,
            contactpoint_id=child.contactpoint_id,
            requester_kind=requester_kind,
            requester_name=requester_name,
            summary=summary,
            suggested_reason=suggested_reason,
            recorded_by=officer,
            recorded_by_username=_username(officer),
        )
        _audit(
            ShieldingAction.REQUEST_RECORDED,
            actor=officer,
            subject=child.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail={"request": request_reference(request), "requester_kind": requester_kind},
        )
    return request


def decide_shielding_request(
    *,
    officer: User,
    request: ShieldingRequest,
    shield: bool,
    reason: str = "",
    justification: str = "",
    review_on: dt.date | None = None,
    note: str = "",
    ip_address: str | None = None,
    purpose: str = "",
) -> ShieldingRequest:
    """Close a request: shield the child (or keep its shield, recording a review) or decline.

    One act, one audit event: `shielding.shielded` or `shielding.reviewed` naming the request
    when it leads to a shield, `shielding.request_decided` when it is declined.
    """
    today = timezone.localdate()
    try:
        note = validate_short_note(note, what="The note")
        if shield:
            reason = _check_reason(reason)
            justification = validate_justification(justification)
            review_on = _check_review_on(review_on, today)
        elif not note:
            raise InvalidDecision("Say why the record is not being shielded.")
    except ValidationError as error:
        raise _invalid(error) from error
    with transaction.atomic():
        locked = ShieldingRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != RequestStatus.OPEN:
            raise InvalidDecision("This request has already been decided.")
        child = _lock(locked.child)
        _check_officer(officer, child)
        locked.decided_at = timezone.now()
        locked.decided_by = officer
        locked.decided_by_username = _username(officer)
        locked.outcome_note = note
        reference = request_reference(locked)
        if shield:
            kind = DecisionKind.CONFIRM if child.is_shielded else DecisionKind.SHIELD
            decision = _decision(
                child,
                kind=kind,
                reason=reason,
                justification=justification,
                source=DecisionSource.OFFICER,
                officer=officer,
                review_on=review_on,
            )
            _set_shielded(child, True)
            locked.status = RequestStatus.SHIELDED
            locked.decision = decision
            action = (
                ShieldingAction.SHIELDED
                if kind == DecisionKind.SHIELD
                else ShieldingAction.REVIEWED
            )
            detail = _decision_detail(decision, request=reference)
        else:
            locked.status = RequestStatus.DECLINED
            action = ShieldingAction.REQUEST_DECIDED
            detail = {"request": reference, "status": RequestStatus.DECLINED}
        locked.save()
        _audit(
            action,
            actor=officer,
            subject=child.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail=detail,
        )
    return locked


# --- Brokered contact ----------------------------------------------------------------------------


def request_contact(
    *,
    requester: User,
    contactpoint_id: str,
    reply_phone: str,
    reply_email: str,
    message: str,
    ip_address: str | None = None,
    purpose: str = "",
) -> ContactRequest:
    """Ask the LA's ContactPoint team to pass the requester's details to the people working
    with a shielded child (issue 7, item 4). Nothing about the child is disclosed in return."""
    reply_phone = clean_text(reply_phone)
    reply_email = clean_text(reply_email)
    try:
        validate_uk_phone(reply_phone)
        if reply_email:
            validate_email(reply_email)
        message = validate_justification(message)
    except ValidationError as error:
        raise _invalid(error) from error
    child, mode = _find_for(
        requester, contactpoint_id, page="contact_request", purpose=purpose, ip_address=ip_address
    )
    if mode is not ViewMode.RESTRICTED:
        raise InvalidDecision(
            "You can see who is working with this child on their record: contact them directly."
        )
    organisation = requester.organisation
    with transaction.atomic():
        contact = ContactRequest.objects.create(
            child=child,
            contactpoint_id=child.contactpoint_id,
            local_authority_id=child.responsible_la_id,
            requested_by=requester,
            requester_username=_username(requester),
            requester_name=(requester.get_full_name() or _username(requester))[:150],
            requester_organisation=organisation.name if organisation is not None else "",
            reply_phone=reply_phone,
            reply_email=reply_email,
            message=message,
        )
        _audit(
            ShieldingAction.CONTACT_REQUESTED,
            actor=requester,
            subject=child.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail={"contact_request": contact_reference(contact)},
        )
    return contact


def handle_contact_request(
    *,
    officer: User,
    contact: ContactRequest,
    passed_on: bool,
    note: str = "",
    ip_address: str | None = None,
    purpose: str = "",
) -> ContactRequest:
    """Record that the team passed the requester's details on (or why not)."""
    try:
        note = validate_short_note(note, what="The note")
    except ValidationError as error:
        raise _invalid(error) from error
    if not passed_on and not note:
        raise InvalidDecision("Say why the details are not being passed on.")
    with transaction.atomic():
        locked = ContactRequest.objects.select_for_update().get(pk=contact.pk)
        if locked.status != ContactRequestStatus.OPEN:
            raise InvalidDecision("This contact request has already been dealt with.")
        _check_officer(officer, locked.child)
        locked.status = (
            ContactRequestStatus.PASSED_ON if passed_on else ContactRequestStatus.DECLINED
        )
        locked.handled_at = timezone.now()
        locked.handled_by = officer
        locked.handled_by_username = _username(officer)
        locked.outcome_note = note
        locked.save()
        _audit(
            ShieldingAction.CONTACT_HANDLED,
            actor=officer,
            subject=locked.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail={"contact_request": contact_reference(locked), "status": locked.status},
        )
    return locked


# --- Break-glass ---------------------------------------------------------------------------------


def _child_by_id(contactpoint_id: str) -> Child | None:
    try:
        canonical = cp_id.parse(contactpoint_id)
    except cp_id.InvalidContactPointId:
        return None
    return Child.objects.filter(contactpoint_id=canonical).first()


def _break_glass_refused(
    user: User, contactpoint_id: str, why: str, *, purpose: str, ip_address: str | None
) -> None:
    with transaction.atomic():
        _audit(
            ShieldingAction.BREAK_GLASS_REFUSED,
            actor=user,
            subject=contactpoint_id if cp_id.is_valid(contactpoint_id) else "",
            outcome=Outcome.REFUSED,
            purpose=purpose,
            ip_address=ip_address,
            detail={"why": why},
        )


def _alert_organisations(user: User, child: Child) -> list[tuple[Organisation, str]]:
    """Who hears of a break-glass at once: the child's LA's shielding officers and security
    officer, and the security officer who answers for the person (if another organisation)."""
    targets: list[tuple[Organisation, str]] = []
    team = la_team_organisation(child.responsible_la_id)
    if team is not None:
        targets.append((team, AlertAudience.LA_CONTACTPOINT_TEAM))
        targets.append((team, AlertAudience.SECURITY_OFFICER))
    own = security_organisation_for(user.organisation_id)
    if team is None or own.pk != team.pk:
        targets.append((own, AlertAudience.SECURITY_OFFICER))
    return targets


def _raise_alerts(grant: BreakGlassGrant, user: User, child: Child) -> list[int]:
    raised = []
    for organisation, audience in _alert_organisations(user, child):
        alert = Alert.objects.create(
            organisation=organisation,
            audience=audience,
            rule=BREAK_GLASS_ALERT_RULE,
            severity=AlertSeverity.CRITICAL,
            summary=(
                f"{grant.username} broke the glass on shielded record "
                f"{cp_id.display(grant.contactpoint_id)}: investigate now."
            )[:300],
            # The typed reason is for the investigators; it names no location (validated).
            # `description` and `contactpoint_ids` are what the alert pages show (issue 6).
            detail={
                "grant": grant.reference,
                "reason": grant.reason,
                "purpose": grant.purpose,
                "contactpoint_ids": [grant.contactpoint_id],
                "description": (
                    f"A shielded record was revealed by break-glass. Reason given: {grant.reason}"
                ),
            },
            subject_user=user,
            subject_username=grant.username,
            subject_organisation_code=grant.organisation_code,
            contactpoint_id=grant.contactpoint_id,
            dedupe_key=f"{BREAK_GLASS_ALERT_RULE}:{grant.reference}:{organisation.pk}:{audience}",
        )
        raised.append(alert.pk)
    return raised


def grant_break_glass(
    *,
    user: User,
    contactpoint_id: str,
    reason: str,
    purpose: str,
    ip_address: str | None = None,
) -> BreakGlassGrant:
    """Grant one reveal of a shielded record, after the warning, and alert at once.

    Only roles with the break-glass capability, only for a record shielded from them, only
    with a typed reason and a stated reason for access. The alerts to the LA's shielding and
    security officers are raised in the same transaction as the grant: there is no reveal
    without them (issue 7, item 5).
    """
    if not role_has(user.role, Capability.BREAK_GLASS):
        _break_glass_refused(user, contactpoint_id, "role", purpose=purpose, ip_address=ip_address)
        raise NotPermitted("Your role does not allow breaking the glass on a shielded record.")
    if not purpose.strip():
        raise NotPermitted("State your reason for access first.")
    try:
        reason = validate_break_glass_reason(reason)
    except ValidationError as error:
        raise _invalid(error) from error
    child = _child_by_id(contactpoint_id)
    mode = _viewable(user, child) if child is not None else None
    if child is None or mode is None:
        _break_glass_refused(
            user, contactpoint_id, "not_found", purpose=purpose, ip_address=ip_address
        )
        raise NotAvailable("No child with that ContactPoint ID could be found.")
    if mode is not ViewMode.RESTRICTED:
        _break_glass_refused(
            user, contactpoint_id, "not_shielded", purpose=purpose, ip_address=ip_address
        )
        raise InvalidDecision("This record is not shielded from you: open it as usual.")
    now = timezone.now()
    with transaction.atomic():
        grant = BreakGlassGrant.objects.create(
            reference=secrets.token_urlsafe(18)[:24],
            user=user,
            username=_username(user),
            organisation_code=_organisation_code(user),
            child=child,
            contactpoint_id=child.contactpoint_id,
            local_authority_id=child.responsible_la_id,
            reason=reason,
            purpose=purpose[:200],
            granted_at=now,
            expires_at=now + BREAK_GLASS_LIFETIME,
        )
        alerts = _raise_alerts(grant, user, child)
        _audit(
            ShieldingAction.BREAK_GLASS_GRANTED,
            actor=user,
            subject=child.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
            detail={"grant": grant.pk, "alerts": alerts},
        )
    return grant


@dataclass(frozen=True)
class BreakGlassView:
    grant: BreakGlassGrant
    projection: ChildProjection


class BreakGlassUnavailable(RuntimeError):
    """The view or its audit event could not be written: nothing is shown (fail closed)."""


def use_break_glass(*, user: User, reference: str, ip_address: str | None = None) -> BreakGlassView:
    """Spend a grant on its one view: the whole record, once, to the person it was granted to.

    Raises NotAvailable for a grant that is not this person's (or a record gone since),
    GrantSpent for one already used or expired, LookupRefused when a quota or monitoring rule
    stops the view, and BreakGlassUnavailable when the view cannot be audited. Every outcome
    is audited and committed before the refusal is raised.
    """
    now = timezone.now()
    try:
        with transaction.atomic():
            grant = (
                BreakGlassGrant.objects.select_for_update()
                .filter(reference=reference[:32], user=user)
                .first()
            )
            if grant is None:
                _audit(
                    ShieldingAction.BREAK_GLASS_VIEWED,
                    actor=user,
                    outcome=Outcome.NOT_FOUND,
                    ip_address=ip_address,
                )
                result: BreakGlassView | Exception = NotAvailable(
                    "There is no such break-glass view for you."
                )
            else:
                result = _spend(grant, user, now=now, ip_address=ip_address)
    except DatabaseError as error:
        raise BreakGlassUnavailable(
            "the view could not be recorded, so nothing was shown"
        ) from error
    if isinstance(result, BreakGlassView):
        return result
    raise result


def _spend(
    grant: BreakGlassGrant, user: User, *, now: dt.datetime, ip_address: str | None
) -> BreakGlassView | Exception:
    """Inside use_break_glass's transaction: check, project with the reveal, monitor, audit.

    Returns the view, or the refusal to raise once the audit event has been committed.
    """
    spent = Outcome.ALREADY_USED if grant.is_used else None
    if spent is None and grant.expires_at <= now:
        spent = Outcome.EXPIRED
    if spent is not None:
        _audit(
            ShieldingAction.BREAK_GLASS_VIEWED,
            actor=user,
            subject=grant.contactpoint_id,
            outcome=spent,
            purpose=grant.purpose,
            ip_address=ip_address,
            detail={"grant": grant.pk},
        )
        return GrantSpent(
            "This break-glass view has been used or has expired. Each reveal shows the record "
            "once: ask again only if you still must."
        )
    viewer = viewer_for(user)
    child = (
        Child.objects.select_related(*PROJECTION_SELECT_RELATED)
        .prefetch_related(*PROJECTION_PREFETCH_RELATED)
        .filter(pk=grant.child_id)
        .first()
        if grant.child_id is not None
        else None
    )
    reveal = BreakGlassReveal(
        grant_id=grant.pk, user_id=user.pk, contactpoint_id=grant.contactpoint_id
    )
    projection = (
        project_child(viewer=viewer, child=child, purpose=grant.purpose, reveal=reveal)
        if child is not None
        else None
    )
    # The reveal is a lookup like any other: quotas and protective monitoring apply.
    verdict = enforce_and_monitor(
        viewer=viewer,
        kind=LookupKind.VIEW,
        outcome="ok" if projection is not None else "not_found",
        disclosed=[grant.contactpoint_id] if projection is not None else [],
        local_authority_of=(
            {grant.contactpoint_id: child.responsible_la_id} if child is not None else {}
        ),
        sensitive_ids=(
            {grant.contactpoint_id}
            if child is not None and has_current_sensitive_service(child)
            else set()
        ),
        requested_id=grant.contactpoint_id,
        purpose=grant.purpose,
        ip_address=ip_address,
    )
    grant.used_at = now  # spent whatever happens next: a grant is never tried twice
    grant.save(update_fields=["used_at"])
    if not verdict.allowed:
        outcome = verdict.audit_outcome
    elif projection is None:
        outcome = Outcome.NOT_FOUND
    else:
        outcome = Outcome.OK
    shown = projection.shown if projection is not None and verdict.allowed else []
    _audit(
        ShieldingAction.BREAK_GLASS_VIEWED,
        actor=user,
        subject=grant.contactpoint_id,
        outcome=outcome,
        purpose=grant.purpose,
        ip_address=ip_address,
        detail={
            "grant": grant.pk,
            "mode": str(projection.mode) if projection is not None else None,
            "shown": shown,
            **verdict.audit_detail,
        },
    )
    if not verdict.allowed:
        return LookupRefused(verdict)
    if projection is None:
        return NotAvailable("That record can no longer be shown.")
    return BreakGlassView(grant=grant, projection=projection)


# --- Audited reads for officers ------------------------------------------------------------------


def _require_officer_la(officer: User) -> int:
    local_authority_id = selectors.officer_local_authority(officer)
    if local_authority_id is None:
        raise NotPermitted("Only a local authority's shielding officers see its shielding work.")
    return local_authority_id


def read_review_queue(
    *, officer: User, ip_address: str | None = None, purpose: str = ""
) -> selectors.ReviewQueue:
    """The officer's overdue-review queue (capped), audited with the IDs it showed."""
    local_authority_id = _require_officer_la(officer)
    with transaction.atomic():
        queue = selectors.overdue_reviews(local_authority_id)
        _audit(
            ShieldingAction.QUEUE_VIEWED,
            actor=officer,
            purpose=purpose,
            ip_address=ip_address,
            detail={
                "queue": "reviews",
                "total_due": queue.total_due,
                "shown": [e.status.contactpoint_id for e in queue.entries],
            },
        )
    return queue


@dataclass(frozen=True)
class Cases:
    shielding_requests: list[ShieldingRequest]
    contact_requests: list[ContactRequest]


def read_cases(*, officer: User, ip_address: str | None = None, purpose: str = "") -> Cases:
    """The LA's open requests to shield and contact requests (capped), audited."""
    local_authority_id = _require_officer_la(officer)
    with transaction.atomic():
        cases = Cases(
            shielding_requests=list(selectors.open_shielding_requests(local_authority_id)),
            contact_requests=list(selectors.open_contact_requests(local_authority_id)),
        )
        _audit(
            ShieldingAction.QUEUE_VIEWED,
            actor=officer,
            purpose=purpose,
            ip_address=ip_address,
            detail={
                "queue": "cases",
                "shown": [r.contactpoint_id for r in cases.shielding_requests]
                + [c.contactpoint_id for c in cases.contact_requests],
            },
        )
    return cases


def read_la_report(
    *, officer: User, ip_address: str | None = None, purpose: str = ""
) -> selectors.LaShieldingReport:
    """The LA's shielding counts, audited (a report lists no child)."""
    local_authority_id = _require_officer_la(officer)
    with transaction.atomic():
        report = selectors.la_report(local_authority_id)
        _audit(
            ShieldingAction.REPORT_VIEWED,
            actor=officer,
            purpose=purpose,
            ip_address=ip_address,
            detail={"report": "la_shielding"},
        )
    return report


@dataclass(frozen=True)
class ShieldingRecord:
    """What an officer's page about one child shows: who, the shield, and its history."""

    child: Child
    projection: ChildProjection
    status: selectors.ShieldStatus
    history: list[ShieldingDecision]
    open_requests: list[ShieldingRequest]


def read_shielding_record(
    *, officer: User, contactpoint_id: str, purpose: str, ip_address: str | None = None
) -> ShieldingRecord:
    """One child of the officer's LA with its shielding history, audited like a record view.

    It is a lookup like any other (quotas and protective monitoring apply): LookupRefused,
    audited and committed, when they stop it; NotAvailable (audited) outside the remit.
    """
    child = selectors.get_child_in_remit(officer, contactpoint_id)
    if child is None:
        with transaction.atomic():
            _audit(
                ShieldingAction.REFUSED,
                actor=officer,
                outcome=Outcome.NOT_FOUND,
                purpose=purpose,
                ip_address=ip_address,
                detail={"page": "shielding_record", "requested": contactpoint_id[:20]},
            )
        raise NotAvailable("No child with that ContactPoint ID is your local authority's.")
    viewer = viewer_for(officer)
    with transaction.atomic():
        loaded = (
            Child.objects.select_related(*PROJECTION_SELECT_RELATED)
            .prefetch_related(*PROJECTION_PREFETCH_RELATED)
            .get(pk=child.pk)
        )
        projection = project_child(viewer=viewer, child=loaded, purpose=purpose)
        verdict = enforce_and_monitor(
            viewer=viewer,
            kind=LookupKind.VIEW,
            outcome="ok" if projection is not None else "not_found",
            disclosed=[loaded.contactpoint_id] if projection is not None else [],
            local_authority_of={loaded.contactpoint_id: loaded.responsible_la_id},
            sensitive_ids=(
                {loaded.contactpoint_id} if has_current_sensitive_service(loaded) else set()
            ),
            requested_id=loaded.contactpoint_id,
            purpose=purpose,
            ip_address=ip_address,
        )
        # The page shows who the child is and the shield, nothing of the record beyond.
        shown = ["identity", "shielding"] if projection is not None and verdict.allowed else []
        _audit(
            ShieldingAction.RECORD_VIEWED,
            actor=officer,
            subject=loaded.contactpoint_id,
            outcome=(
                verdict.audit_outcome
                if not verdict.allowed
                else (Outcome.OK if projection is not None else Outcome.NOT_FOUND)
            ),
            purpose=purpose,
            ip_address=ip_address,
            detail={"shown": shown, **verdict.audit_detail},
        )
        record = (
            ShieldingRecord(
                child=loaded,
                projection=projection,
                status=selectors.status_of(loaded),
                history=list(selectors.decision_history(loaded)[:50]),
                open_requests=list(
                    ShieldingRequest.objects.filter(child=loaded, status=RequestStatus.OPEN)
                ),
            )
            if projection is not None and verdict.allowed
            else None
        )
    if not verdict.allowed:
        raise LookupRefused(verdict)
    if record is None:  # the policy disagrees with the remit: show nothing
        raise NotAvailable("No child with that ContactPoint ID is your local authority's.")
    return record


def _pk_from(reference: str, prefix: str) -> int | None:
    if not reference.startswith(prefix) or not reference[len(prefix) :].isdigit():
        return None
    return int(reference[len(prefix) :][:18])


def read_shielding_request(
    *, officer: User, reference: str, ip_address: str | None = None, purpose: str = ""
) -> ShieldingRequest:
    """One request to shield of the officer's LA, audited; NotAvailable outside their remit."""
    pk = _pk_from(reference, "SR")
    request = selectors.get_shielding_request(officer, pk) if pk is not None else None
    with transaction.atomic():
        _audit(
            ShieldingAction.QUEUE_VIEWED if request is not None else ShieldingAction.REFUSED,
            actor=officer,
            subject=request.contactpoint_id if request is not None else "",
            outcome=Outcome.OK if request is not None else Outcome.NOT_FOUND,
            purpose=purpose,
            ip_address=ip_address,
            detail={"case": reference[:20]},
        )
    if request is None:
        raise NotAvailable("There is no such request for your local authority.")
    return request


def read_contact_request(
    *, officer: User, reference: str, ip_address: str | None = None, purpose: str = ""
) -> ContactRequest:
    """One contact request of the officer's LA, audited; NotAvailable outside their remit."""
    pk = _pk_from(reference, "CR")
    contact = selectors.get_contact_request(officer, pk) if pk is not None else None
    with transaction.atomic():
        _audit(
            ShieldingAction.QUEUE_VIEWED if contact is not None else ShieldingAction.REFUSED,
            actor=officer,
            subject=contact.contactpoint_id if contact is not None else "",
            outcome=Outcome.OK if contact is not None else Outcome.NOT_FOUND,
            purpose=purpose,
            ip_address=ip_address,
            detail={"case": reference[:20]},
        )
    if contact is None:
        raise NotAvailable("There is no such contact request for your local authority.")
    return contact
