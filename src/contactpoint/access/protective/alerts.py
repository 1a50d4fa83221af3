"""Alerts: raising them, the queues that hold them, and the work of closing them.

An alert goes to the security officer of the person's organisation (an employer registered
with an LA has no security officer of its own, so its alerts go to that LA's). When a shielded
child's record is viewed, the child's LA ContactPoint team (its shielding officers) is told as
well, as NHS CP-IS tells a council when a flagged child is looked at.

Every alert raised, taken up or closed, and every automatic suspension, is an audit event.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from contactpoint import prepared_sql
from contactpoint.access.audit_actions import AccessAction
from contactpoint.access.models import (
    Alert,
    AlertAudience,
    AlertOutcome,
    AlertStatus,
    Organisation,
    User,
)
from contactpoint.access.organisations import NATIONAL_TEAM_CODE
from contactpoint.access.protective.actions import ProtectiveAction
from contactpoint.access.roles import Capability, role_has
from contactpoint.access.services import InvalidChange, NotPermitted, _suspend
from contactpoint.access.vocabularies import OrganisationKind
from contactpoint.audit.services import (
    record_event,
    record_event_of_act,
    record_event_of_insert,
)

if TYPE_CHECKING:
    from contactpoint.access.protective.monitoring import PersonFacts
    from contactpoint.access.protective.rules import MonitoringRule

SYSTEM_ACTOR = "protective-monitoring"
DETAIL_ID_LIMIT = 50  # an alert keeps at most this many IDs; pages show fewer (see security views)


# --- Where alerts go ---------------------------------------------------------------------------


def security_organisation_for(organisation_id: int | None) -> Organisation:
    """The organisation whose security officer hears about this person."""
    organisation = (
        Organisation.objects.filter(pk=organisation_id).first() if organisation_id else None
    )
    if organisation is not None and organisation.kind == OrganisationKind.EMPLOYER:
        organisation = Organisation.objects.filter(
            kind=OrganisationKind.LOCAL_AUTHORITY,
            local_authority_id=organisation.local_authority_id,
        ).first()
    return organisation or Organisation.objects.get(code=NATIONAL_TEAM_CODE)


# security_organisation_for's id as an SQL expression, for the INSERT of the alert itself:
# raising a person's first alert of the day happens inside their lookup, where finding the
# organisation first cost a round trip of its own (issue 6's budget for all of quotas,
# monitoring and the audit write is 2 ms). NULL only if the national team is missing, which
# the alert's NOT NULL organisation then refuses (the lookup fails closed).
_SECURITY_ORGANISATION_ID_SQL = (
    "COALESCE((SELECT CASE WHEN o.kind = %s THEN (SELECT la.id FROM access_organisation la "
    "WHERE la.kind = %s AND la.local_authority_id = o.local_authority_id ORDER BY la.id "
    "LIMIT 1) ELSE o.id END FROM access_organisation o WHERE o.id = %s), "
    "(SELECT n.id FROM access_organisation n WHERE n.code = %s))"
)


def _security_organisation_of(organisation_id: int | None) -> tuple[str, list[Any]]:
    """(SQL, parameters): the id of security_organisation_for(organisation_id)."""
    return _SECURITY_ORGANISATION_ID_SQL, [
        OrganisationKind.EMPLOYER.value,
        OrganisationKind.LOCAL_AUTHORITY.value,
        organisation_id,
        NATIONAL_TEAM_CODE,
    ]


def la_team_organisation(local_authority_id: int) -> Organisation | None:
    """The organisation of the LA whose ContactPoint team (shielding officers) is told."""
    return Organisation.objects.filter(
        kind=OrganisationKind.LOCAL_AUTHORITY, local_authority_id=local_authority_id
    ).first()


# --- Raising ----------------------------------------------------------------------------------------


def raise_for_finding(
    *,
    person: PersonFacts,
    rule: MonitoringRule,
    summary: str,
    dedupe: str,
    detail: Mapping[str, Any],
    contactpoint_ids: Sequence[str] = (),
    child_la_id: int | None = None,
    account_suspended: bool = False,
    ip_address: str | None = None,
    raised_before: Mapping[str, bool] | None = None,
) -> list[Alert]:
    """Raise the alerts one finding calls for; returns those newly raised (repeats are quiet).

    Inside a lookup's transaction on PostgreSQL an alert is written with the COMMIT (see
    _raise): until then it is returned unsaved, and it stays so if it proves to be a repeat.

    `raised_before` (PersonFacts.raised_alerts: dedupe key to account_suspended) lets a
    repeat be skipped without a query.
    """
    ids = list(dict.fromkeys(contactpoint_ids))[:DETAIL_ID_LIMIT]
    common: dict[str, Any] = {
        "rule": rule.name,
        "severity": rule.severity,
        "summary": summary[:300],
        "detail": {**detail, "contactpoint_ids": ids, "description": rule.description},
        "subject_user_id": person.user_id,
        "subject_username": person.username,
        "subject_organisation_code": person.organisation_code,
        "contactpoint_id": ids[0] if len(ids) == 1 else "",
        "account_suspended": account_suspended,
    }
    key, team_key = alert_keys(rule=rule, user_id=person.user_id, dedupe=dedupe)
    known = raised_before or {}

    def repeat(key: str) -> bool:
        """Already raised, with nothing to add (a suspension not yet marked must be)."""
        return key in known and (known[key] or not account_suspended)

    raised = []
    alert = (
        None
        if repeat(key)
        else _raise(
            key=key,
            organisation=_security_organisation_of(person.organisation_id),
            audience=AlertAudience.SECURITY_OFFICER,
            fields=common,
            ip_address=ip_address,
        )
    )
    if alert is not None:
        raised.append(alert)
    if rule.notify_child_la and child_la_id is not None and not repeat(team_key):
        team = la_team_organisation(child_la_id)
        if team is not None:
            alert = _raise(
                key=team_key,
                organisation=("%s", [team.pk]),
                audience=AlertAudience.LA_CONTACTPOINT_TEAM,
                fields=common,
                ip_address=ip_address,
            )
            if alert is not None:
                raised.append(alert)
    return raised


def alert_keys(*, rule: MonitoringRule, user_id: int, dedupe: str) -> tuple[str, str]:
    """The dedupe keys of a finding's alerts: the security officer's, and the child's LA team's."""
    key = f"{rule.name}:{user_id}:{dedupe}"[:160]
    return key, f"{key}:la"[:160]


def _insert_statement(alert: Alert, organisation: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """(SQL, parameters): INSERT the alert unless one with its dedupe key exists, returning
    its id, organisation_id and organisation_code if it was inserted.

    `organisation` is an SQL expression (with its parameters) for the organisation's id, worked
    out by the INSERT itself. INSERT ... ON CONFLICT DO NOTHING: no savepoint, where
    get_or_create took four round trips (SELECT, SAVEPOINT, INSERT, RELEASE) inside every
    lookup that raised an alert. A parallel lookup raising the same alert waits for it, then
    inserts nothing.
    """
    organisation_sql, organisation_params = organisation
    values = [f.get_db_prep_save(f.pre_save(alert, add=True), connection) for f in _ALERT_FIELDS]
    return _insert_sql(connection.vendor, organisation_sql), [*organisation_params, *values]


# Every concrete field the INSERT sets, in its order (the organisation is worked out apart).
_ALERT_FIELDS = [
    f for f in Alert._meta.concrete_fields if not f.primary_key and f.name != "organisation"
]


@functools.cache
def _insert_sql(vendor: str, organisation_sql: str) -> str:
    """The text of _insert_statement's INSERT (the same for every alert: built once)."""
    quote = connection.ops.quote_name
    table = quote(Alert._meta.db_table)
    columns = ", ".join(quote(str(f.column)) for f in _ALERT_FIELDS)
    placeholders = ", ".join(["%s"] * len(_ALERT_FIELDS))
    return (
        f"INSERT INTO {table} (organisation_id, {columns}) "  # noqa: S608 (model's own names, fixed SQL)
        f"VALUES (({organisation_sql}), {placeholders}) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, organisation_id, "
        f"(SELECT code FROM access_organisation WHERE id = {table}.organisation_id) "
        "AS organisation_code"
    )


def _saved(alert: Alert, row: Sequence[Any]) -> None:
    """Fill in what the database chose for an alert the INSERT wrote."""
    alert.pk = int(row[0])
    alert.organisation_id = int(row[1])
    alert._state.adding = False
    alert._state.db = connection.alias


def _raise(
    *,
    key: str,
    organisation: tuple[str, list[Any]],
    audience: str,
    fields: dict[str, Any],
    ip_address: str | None,
) -> Alert | None:
    """Insert the alert for the organisation (an SQL expression for its id, with its
    parameters) and audit it, unless already raised.

    Part of the lookup that raised it: on PostgreSQL the INSERT and its event go with the
    lookup's COMMIT (the alert's id is filled in then; an alert found raised only then is left
    unsaved, and no event written), which spares the lookup a round trip. Elsewhere, and to
    mark a suspension on an alert raised already, it is inserted at once.
    """
    alert = Alert(dedupe_key=key, audience=audience, **fields)
    sql, params = _insert_statement(alert, organisation)
    event: dict[str, Any] = {
        "action": ProtectiveAction.ALERT_RAISED,
        "actor_username": SYSTEM_ACTOR,
        "subject_contactpoint_id": alert.contactpoint_id,
        "ip_address": ip_address,
        "detail": {
            "rule": alert.rule,
            "severity": alert.severity,
            "audience": audience,
            "person_id": alert.subject_user_id,
            "person_username": alert.subject_username,
            "account_suspended": alert.account_suspended,
        },
    }
    if not fields["account_suspended"] and record_event_of_insert(
        insert_sql=sql,
        insert_params=params,
        id_key="alert",
        on_inserted=lambda row: _saved(alert, row),
        **event,
    ):
        return alert
    # Prepared: the statement's text is fixed, and planning it would cost more than running it.
    rows = prepared_sql.fetch_all(sql, params)
    if not rows:
        if fields["account_suspended"]:
            Alert.objects.filter(dedupe_key=key, account_suspended=False).update(
                account_suspended=True
            )
        return None
    _saved(alert, rows[0])
    record_event_of_act(
        **{
            **event,
            "organisation_code": str(rows[0][2]),
            "detail": {"alert": alert.pk, **event["detail"]},
        }
    )
    return alert


def stop_account(
    *, user_id: int, reason: str, ip_address: str | None = None, purpose: str = ""
) -> bool:
    """Suspend an account for monitoring, ending every session and token; False if already so.

    The same suspension an administrator makes (access.services), with no human actor: the
    reason names the rule. Runs in the caller's transaction, so it commits with the audit
    event recording the refused lookup.
    """
    with transaction.atomic(savepoint=False):
        person = User.objects.select_for_update().filter(pk=user_id).first()
        if person is None or person.is_suspended:
            return False
        _suspend(person, reason=reason[:200], by=None)
        record_event(
            action=AccessAction.ACCOUNT_SUSPENDED,
            actor_username=SYSTEM_ACTOR,
            organisation_code=person.organisation.code if person.organisation else "",
            purpose=purpose,
            ip_address=ip_address,
            detail={
                "person_id": person.pk,
                "person_username": person.get_username(),
                "person_organisation": person.organisation.code if person.organisation else "",
                "reason": person.suspension_reason,
            },
        )
    return True


# --- The queues ----------------------------------------------------------------------------------------


def queue_audience(user: User) -> AlertAudience | None:
    """Which queue a person works: security officers theirs, shielding officers their LA team's."""
    if role_has(user.role, Capability.READ_AUDIT):
        return AlertAudience.SECURITY_OFFICER
    if role_has(user.role, Capability.MANAGE_SHIELDING):
        return AlertAudience.LA_CONTACTPOINT_TEAM
    return None


def alerts_visible_to(user: User, *, status: str = "") -> QuerySet[Alert]:
    """The alerts in this person's queue, newest first; the national team's security officers
    see every organisation's."""
    audience = queue_audience(user)
    organisation = user.organisation
    if audience is None or organisation is None:
        return Alert.objects.none()
    alerts = Alert.objects.filter(audience=audience)
    national = organisation.kind == OrganisationKind.NATIONAL_TEAM
    if not (national and audience is AlertAudience.SECURITY_OFFICER):
        alerts = alerts.filter(organisation=organisation)
    if status:
        alerts = alerts.filter(status=status)
    return alerts.select_related("organisation").order_by("-raised_at", "-pk")


def get_alert_for(user: User, alert_id: int) -> Alert | None:
    return alerts_visible_to(user).filter(pk=alert_id).first()


def open_alert_counts(user: User) -> dict[str, int]:
    """How many alerts are open and under investigation in the person's queue."""
    alerts = alerts_visible_to(user)
    return {
        status: alerts.filter(status=status).count()
        for status in (AlertStatus.OPEN, AlertStatus.INVESTIGATING)
    }


# --- Working an alert ------------------------------------------------------------------------------


def _lock_visible(officer: User, alert: Alert) -> Alert:
    if get_alert_for(officer, alert.pk) is None:
        raise NotPermitted("That alert is not in your queue.")
    return Alert.objects.select_for_update().get(pk=alert.pk)


def _audit_change(
    action: ProtectiveAction, officer: User, alert: Alert, ip_address: str | None
) -> None:
    record_event(
        action=action,
        actor_id=officer.pk,
        actor_username=officer.get_username(),
        organisation_code=officer.organisation.code if officer.organisation else "",
        subject_contactpoint_id=alert.contactpoint_id,
        ip_address=ip_address,
        detail={
            "alert": alert.pk,
            "rule": alert.rule,
            "status": alert.status,
            "outcome": alert.outcome,
            "person_username": alert.subject_username,
        },
    )


def start_investigating(*, officer: User, alert: Alert, ip_address: str | None) -> Alert:
    """Take an open alert: it moves to "investigating", with who took it."""
    with transaction.atomic():
        locked = _lock_visible(officer, alert)
        if locked.status != AlertStatus.OPEN:
            raise InvalidChange("Only an open alert can be taken up.")
        locked.status = AlertStatus.INVESTIGATING
        locked.status_changed_at = timezone.now()
        locked.handled_by = officer
        locked.save(update_fields=["status", "status_changed_at", "handled_by"])
        _audit_change(ProtectiveAction.ALERT_INVESTIGATING, officer, locked, ip_address)
    return locked


def close_alert(
    *, officer: User, alert: Alert, outcome: str, note: str, ip_address: str | None
) -> Alert:
    """Close an alert with an outcome and a note saying what was found."""
    note = " ".join(note.split())
    if outcome not in AlertOutcome.values:
        raise InvalidChange("Select the outcome.")
    if not note:
        raise InvalidChange("Enter what you found.")
    if len(note) > 1000:
        raise InvalidChange("What you found must be 1000 characters or fewer.")
    with transaction.atomic():
        locked = _lock_visible(officer, alert)
        if locked.status == AlertStatus.CLOSED:
            raise InvalidChange("That alert is already closed.")
        locked.status = AlertStatus.CLOSED
        locked.outcome = outcome
        locked.outcome_note = note
        locked.status_changed_at = timezone.now()
        locked.handled_by = officer
        locked.save(
            update_fields=["status", "outcome", "outcome_note", "status_changed_at", "handled_by"]
        )
        _audit_change(ProtectiveAction.ALERT_CLOSED, officer, locked, ip_address)
    return locked
