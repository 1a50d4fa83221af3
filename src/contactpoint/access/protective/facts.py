"""The facts the monitoring rules need, read in as few round trips as possible.

This runs inside every search and record view, so it reads with plain SQL rather than the
ORM: building an ORM query costs about half a millisecond of Python before the database is
even asked, which alone would spend a quarter of the 2 ms budget for quotas, monitoring and
the audit write together (benchmarks/search.py measures it). The tables are this project's
own (access_user, index_child ...); the queries are indexed lookups by primary key, by
ContactPoint ID and by (actor, time).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contactpoint import prepared_sql
from contactpoint.access.protective.actions import LOOKUP_ACTIONS, SEARCH_ACTION, VIEW_ACTION
from contactpoint.index.normalise import name_key
from contactpoint.index.vocabularies import SENSITIVE_SERVICE_TYPES

HISTORY_LIMIT = 300  # most recent lookups read for the pattern rules; bounded work per lookup


@dataclass(frozen=True)
class PersonFacts:
    user_id: int
    username: str
    role: str
    organisation_id: int | None
    organisation_code: str
    local_authority_id: int | None
    region: str
    surname_key: str
    home_postcode: str
    suspended: bool
    # Dedupe key: account_suspended, of the person's alerts of the last eight days.
    raised_alerts: Mapping[str, bool] = field(default_factory=dict)
    # The daily baseline last saved (computed on, daily mean): monitoring.daily_baseline's cache.
    saved_baseline: tuple[dt.date, float] | None = None


@dataclass(frozen=True)
class ChildFacts:
    pk: int
    contactpoint_id: str
    date_of_birth: dt.date
    is_shielded: bool
    responsible_la_id: int
    region: str
    sensitive: bool  # a current sensitive service; read only when asked for (with_services)
    own_surname: bool
    own_address: bool


class PastLookup(NamedTuple):
    """A lookup already made, as the pattern rules need it.

    A named tuple rather than a frozen dataclass: a busy person's hundred are built on every
    lookup they make, and a frozen dataclass takes several times as long to build.
    """

    action: str
    outcome: str
    occurred_at: dt.datetime
    subject: str
    criteria: Mapping[str, Any]
    returned: tuple[str, ...]


# The person, and each disclosed child, in ONE statement: a LEFT JOIN from the person's row
# to the children, so that a lookup that disclosed nobody still returns the person. Only fixed
# fragments and "%s" placeholders are ever put into these templates.
# Regions come from the local authorities' reference table, held in memory (region_of): one
# join fewer to plan on every lookup.
# The alerts come back as text, parsed once: psycopg would otherwise decode the same JSON on
# every child's row.
_FACTS_SQL = (
    "SELECT p.usable, p.last_name, p.postcode, p.alerts, p.baseline_on, p.daily_mean, "
    "c.id, c.contactpoint_id, c.date_of_birth, c.is_shielded, c.responsible_la_id, "
    "{sensitive}, {family_keys}, {own_address} "
    "FROM (SELECT (u.suspended_at IS NULL AND u.is_active) AS usable, u.last_name, "
    "h.postcode, COALESCE(h.line_1, '') AS line_1, CAST({alerts} AS TEXT) AS alerts, "
    "b.computed_on AS baseline_on, b.daily_mean FROM access_user u "
    "LEFT JOIN access_homeaddress h ON h.user_id = u.id "
    "LEFT JOIN access_activitybaseline b ON b.user_id = u.id WHERE u.id = %s{fence}) p "
    "LEFT JOIN index_child c ON {children}"
)
_regions: dict[int, str] = {}
_regions_lock = threading.Lock()


def region_of(local_authority_id: int | None) -> str:
    """The region of a local authority (reference data, read once per process)."""
    if local_authority_id is None:
        return ""
    with _regions_lock:
        if local_authority_id not in _regions:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, region FROM index_localauthority")
                _regions.update({int(pk): str(region) for pk, region in cursor.fetchall()})
        return _regions.get(local_authority_id, "")


_SENSITIVE_SQL = (
    "EXISTS (SELECT 1 FROM index_involvement i WHERE i.child_id = c.id AND "
    "i.service_type {types} AND (i.ended_on IS NULL OR i.ended_on > %s))"
)
# Every family name the child has had, for comparing with the person's own (name_key is
# Python's, so the comparison is made in Python).
_FAMILY_KEYS_SQL = {
    "postgresql": "(SELECT string_agg(n.family_name_key, ',') FROM index_childname n "
    "WHERE n.child_id = c.id)",
    "sqlite": "(SELECT group_concat(n.family_name_key, ',') FROM index_childname n "
    "WHERE n.child_id = c.id)",
}
# The person's recent alerts, [[dedupe key, account suspended], ...], so that a finding already
# raised (most findings, on a busy day: the day's out-of-region alert, say) costs no query.
# Only a hint: an alert missing here (older, or raised by a lookup still in flight) goes to
# alerts._raise, whose INSERT ... ON CONFLICT DO NOTHING finds it if it exists.
# Eight days: longer than any alert's dedupe window (the quota week). The database's clock, not
# a parameter, so that PostgreSQL keeps one generic plan for the prepared statement.
_ALERTS_SQL = {
    "postgresql": "(SELECT json_agg(json_build_array(a.dedupe_key, a.account_suspended)) "
    "FROM access_alert a WHERE a.subject_user_id = u.id "
    "AND a.raised_at >= now() - interval '8 days')",
    "sqlite": "(SELECT json_group_array(json_array(a.dedupe_key, a.account_suspended)) "
    "FROM access_alert a WHERE a.subject_user_id = u.id "
    "AND a.raised_at >= datetime('now', '-8 days'))",
}
# The child, or a carer, at the person's recorded home address (first line too, if recorded).
# CASE, because it fixes the order: nobody's children are probed for a person with no address.
_AT_HOME_SQL = (
    "(CASE WHEN p.postcode IS NULL THEN FALSE ELSE ("
    "EXISTS (SELECT 1 FROM index_address x WHERE x.child_id = c.id AND x.postcode = p.postcode "
    "AND (p.line_1 = '' OR lower(x.line_1) = lower(p.line_1))) OR "
    "EXISTS (SELECT 1 FROM index_carer x WHERE x.child_id = c.id AND x.postcode = p.postcode "
    "AND (p.line_1 = '' OR lower(x.line_1) = lower(p.line_1)))) END)"
)


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def read_facts(
    viewer: Any, contactpoint_ids: Sequence[str], *, with_services: bool
) -> tuple[PersonFacts | None, tuple[ChildFacts, ...]]:
    """The person (whether their account is usable now, surname, home address, region) and
    what the rules need about each disclosed child, in one database round trip.

    `with_services` adds whether a current sensitive service is involved (record views only:
    search results never show services).
    """
    if viewer.user_id is None:
        return None, ()
    ids = list(dict.fromkeys(contactpoint_ids))
    types = sorted(SENSITIVE_SERVICE_TYPES)
    postgresql = connection.vendor == "postgresql"

    def one_of(values: list[str]) -> tuple[str, list[Any]]:
        """Membership in a list: one array parameter on PostgreSQL, IN (...) elsewhere."""
        if postgresql:
            return "= ANY(%s::text[])", [values]
        if not values:
            return "IN (NULL)", []
        return f"IN ({_placeholders(len(values))})", list(values)

    params: list[Any] = []
    sensitive = "0"
    if with_services:
        membership, values = one_of(types)
        sensitive = _SENSITIVE_SQL.format(types=membership)
        params += [*values, timezone.localdate()]
    params.append(viewer.user_id)
    membership, values = one_of(ids)
    children = f"c.contactpoint_id {membership}"
    params += values
    sql = _FACTS_SQL.format(
        sensitive=sensitive,
        family_keys=_FAMILY_KEYS_SQL["postgresql" if postgresql else "sqlite"],
        alerts=_ALERTS_SQL["postgresql" if postgresql else "sqlite"],
        own_address=_AT_HOME_SQL,
        # OFFSET 0 keeps PostgreSQL from pulling the person's row into the join, which made it
        # gather the person's alerts again for every child.
        fence=" OFFSET 0" if postgresql else "",
        children=children,
    )
    rows = _fetch(sql, params)
    if not rows:
        return None, ()
    usable, last_name, postcode, raised, baseline_on, daily_mean = rows[0][:6]
    raised = json.loads(raised) if isinstance(raised, str | bytes) else raised
    person = PersonFacts(
        user_id=int(viewer.user_id),
        username=viewer.username,
        role=viewer.role,
        organisation_id=viewer.organisation_id,
        organisation_code=viewer.organisation_code,
        local_authority_id=viewer.local_authority_id,
        region=region_of(viewer.local_authority_id),
        surname_key=name_key(last_name or ""),
        home_postcode=postcode or "",
        suspended=not usable,
        raised_alerts={str(key): bool(suspended) for key, suspended in raised or ()},
        saved_baseline=None if baseline_on is None else (_date(baseline_on), float(daily_mean)),
    )
    found = tuple(_child_facts(person, row[6:]) for row in rows if row[6] is not None)
    return person, found


def _child_facts(person: PersonFacts, row: Sequence[Any]) -> ChildFacts:
    pk, contactpoint_id, born, shielded, la_id, sensitive, family_keys, at_home = row
    keys = set(str(family_keys or "").split(","))
    return ChildFacts(
        pk=int(pk),
        contactpoint_id=str(contactpoint_id),
        date_of_birth=_date(born),
        is_shielded=bool(shielded),
        responsible_la_id=int(la_id),
        region=region_of(int(la_id)),
        sensitive=bool(sensitive),
        own_surname=bool(person.surname_key) and person.surname_key in keys,
        own_address=bool(at_home),
    )


def _date(value: Any) -> dt.date:
    """A date column's value (SQLite returns text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _fetch(sql: str, params: Sequence[Any]) -> list[Any]:
    # Prepared: planning this query took longer than running it (prepared_sql).
    return prepared_sql.fetch_all(sql, params)


def read_person(viewer: Any) -> PersonFacts | None:
    """The person alone (see read_facts)."""
    return read_facts(viewer, (), with_services=False)[0]


_HISTORY_SQL = (
    "SELECT action, outcome, occurred_at, subject_contactpoint_id, detail "
    "FROM audit_auditevent WHERE actor_id = %s AND occurred_at >= %s AND action IN (%s, %s) "
    "ORDER BY occurred_at DESC, sequence DESC LIMIT %s"
)


def _aware(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if moment is None:
        return timezone.now()
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, dt.UTC)


def read_history(user_id: int, *, since: dt.datetime) -> list[PastLookup]:
    """The person's searches and views since a time, newest first, from the audit log."""
    value = (
        since
        if connection.vendor == "postgresql"
        else since.astimezone(dt.UTC).replace(tzinfo=None)
    )
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL, [user_id, value, *LOOKUP_ACTIONS, HISTORY_LIMIT])
        rows = cursor.fetchall()
    history = []
    for action, outcome, occurred_at, subject, raw_detail in rows:
        detail = json.loads(raw_detail) if isinstance(raw_detail, str | bytes) else raw_detail
        detail = detail if isinstance(detail, dict) else {}
        criteria = detail.get("criteria")
        returned = detail.get("returned")
        history.append(
            PastLookup(
                action=action,
                outcome=outcome,
                occurred_at=_aware(occurred_at),
                subject=subject or "",
                criteria=criteria if isinstance(criteria, dict) else {},
                returned=tuple(str(r) for r in returned) if isinstance(returned, list) else (),
            )
        )
    return history


# --- History kept by Redis with the counters ---------------------------------------------------

_ACTIONS = {"search": SEARCH_ACTION, "view": VIEW_ACTION}


def history_entry(
    *, kind: str, outcome: str, at: dt.datetime, subject: str, criteria: Mapping[str, Any]
) -> str:
    """A lookup as the pattern rules remember it ('' for lookups they ignore, like reports).

    Kept in Redis beside the counters, it includes lookups of the person's other sessions still
    in flight, which the audit log shows only once they commit.
    """
    action = _ACTIONS.get(kind)
    if action is None:
        return ""
    return json.dumps(
        {"a": action, "o": outcome, "t": at.timestamp(), "s": subject, "c": dict(criteria)},
        separators=(",", ":"),
        default=str,
    )


def parse_history(entries: Sequence[str], *, since: dt.datetime | None = None) -> list[PastLookup]:
    """Entries written by history_entry, newest first, as PastLookup (none before `since`)."""
    earliest = since.timestamp() if since is not None else float("-inf")
    history = []
    for entry in entries:
        past = _parse_entry(entry)
        if past is not None and past[0] >= earliest:
            history.append(past[1])
    return history


# A busy person's hundred entries come back on every lookup they make, each time with one new
# one: decoding only the new ones (a pure function of the entry's text, so safe to remember)
# saved about a tenth of a millisecond a lookup. Bounded: a few megabytes per process.
@functools.lru_cache(maxsize=50_000)
def _parse_entry(entry: str) -> tuple[float, PastLookup] | None:
    item = _decoded(entry)
    if not isinstance(item, dict):
        return None
    try:
        moment = float(item["t"])
        criteria = item.get("c")
        return moment, PastLookup(
            action=str(item["a"]),
            outcome=str(item["o"]),
            occurred_at=dt.datetime.fromtimestamp(moment, tz=dt.UTC),
            subject=str(item.get("s", "")),
            # Read-only: the same PastLookup is handed to every later lookup's rules.
            criteria=MappingProxyType(criteria if isinstance(criteria, dict) else {}),
            returned=(),
        )
    except (ValueError, KeyError, TypeError, OverflowError):
        return None  # an entry this code did not write: ignored, the counters still hold


def _decoded(entry: str) -> Any:
    try:
        return json.loads(entry)
    except ValueError:
        return None
