"""Quotas and protective monitoring, applied to every lookup as its audit event is written.

`enforce_and_monitor()` is the one hook. search.services calls it inside the transaction of
each search and record view, after the read and before the audit event (reports in
protective.reports call it too). It

1. counts the lookup and the children it would disclose (quotas.py, shared across processes);
2. evaluates every rule of rules.MONITORING_RULES against this lookup and the person's recent
   audit events, raising alerts (alerts.py);
3. on a hard quota or a rule that `suspends`, suspends the account at once (every session and
   token ended) and answers with a refusal: the caller records the refusal instead of the
   children, commits, and raises `LookupRefused`, so nothing is disclosed.

The suspension and the alerts commit with the caller's transaction, together with the audit
event that says the lookup was stopped.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from contactpoint.access.models import ActivityBaseline
from contactpoint.access.protective import alerts, facts, quotas
from contactpoint.access.protective.actions import LOOKUP_ACTIONS, SEARCH_ACTION, VIEW_ACTION
from contactpoint.access.protective.facts import ChildFacts, PastLookup, PersonFacts
from contactpoint.access.protective.quotas import Measure, Period, QuotaStoreUnavailable, Usage
from contactpoint.access.protective.rules import MONITORING_RULES, MonitoringRule, Pattern
from contactpoint.audit.models import AuditEvent
from contactpoint.index import contactpoint_id as cp_id
from contactpoint.index.normalise import InvalidPostcode, name_key, parse_postcode

HISTORY_LIMIT = 300  # most recent lookups read for the pattern rules; bounded work per lookup

SUSPENDED_MESSAGE = (
    "Your account has been suspended automatically: {reason}. Nothing from this request has "
    "been shown and you have been signed out everywhere. Your organisation's security officer "
    "has been told; contact them or your local authority administrator."
)
UNUSUAL_PATTERN = "ContactPoint noticed a pattern of use that needs checking"
ALREADY_SUSPENDED_MESSAGE = (
    "Your account is suspended. Contact your organisation's security officer or your local "
    "authority administrator."
)
STORE_UNAVAILABLE_MESSAGE = (
    "ContactPoint cannot check usage limits just now, so searching and viewing records is "
    "paused. Try again in a few minutes. If a child may be at risk, do not wait: follow your "
    "local safeguarding procedures."
)
NO_QUOTA_MESSAGE = "Your role does not include searching for or viewing children."


class LookupKind(StrEnum):
    SEARCH = "search"
    VIEW = "view"
    REPORT = "report"
    # A data-quality officer opening a match review item, which shows each candidate child's
    # record: counted like any lookup, but not a view by ContactPoint ID (no ID-walking rule)
    # nor a search (no criteria to sweep).
    REVIEW = "review"


class Viewer(Protocol):
    """Who is looking: access.policy.Viewer satisfies this (only these fields are read)."""

    @property
    def role(self) -> str: ...
    @property
    def user_id(self) -> int | None: ...
    @property
    def username(self) -> str: ...
    @property
    def organisation_id(self) -> int | None: ...
    @property
    def organisation_code(self) -> str: ...
    @property
    def local_authority_id(self) -> int | None: ...


@dataclass(frozen=True)
class Verdict:
    """The answer for one lookup. When not allowed, disclose nothing and raise LookupRefused."""

    allowed: bool
    message: str = ""
    http_status: int = 200
    warnings: tuple[str, ...] = ()
    fired: tuple[str, ...] = ()  # names of the rules that fired on this lookup

    # The outcome the caller records on its audit event when the lookup is refused.
    audit_outcome: str = "stopped"

    @property
    def audit_detail(self) -> dict[str, Any]:
        """What the caller adds to its audit event's detail (nothing on an ordinary lookup)."""
        if self.allowed and not self.fired:
            return {}
        return {"protective": {"stopped": not self.allowed, "rules": list(self.fired)}}


class LookupRefused(PermissionError):
    """A lookup stopped by a quota, a monitoring rule, a suspension or an unreachable store."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.message)
        self.verdict = verdict
        self.http_status = verdict.http_status


# --- Facts -------------------------------------------------------------------------------------


@dataclass
class Lookup:
    """Everything a pattern function may consider about the lookup being made."""

    person: PersonFacts
    kind: LookupKind
    outcome: str
    requested_id: str
    criteria: Mapping[str, Any]
    children: tuple[ChildFacts, ...]
    usage: Usage
    quota: quotas.RoleQuota
    at: dt.datetime
    # The records opened by this lookup of children with a current sensitive service (views).
    sensitive_ids: tuple[str, ...] = ()
    _history: list[PastLookup] | None = field(default=None, repr=False)
    _breaches: list[quotas.Breach] | None = field(default=None, repr=False)

    @property
    def breaches(self) -> list[quotas.Breach]:
        """Every limit this lookup's usage has reached, hard ones first (assessed once)."""
        if self._breaches is None:
            self._breaches = quotas.assess(self.quota, self.usage)
        return self._breaches

    def history(self, *, minutes: int) -> list[PastLookup]:
        """The person's lookups in the last `minutes`, newest first (one query, then cached)."""
        if self._history is None:
            if self.usage.recent is not None:  # kept by Redis with the counters
                self._history = facts.parse_history(
                    self.usage.recent, since=self.at - _LONGEST_WINDOW
                )
            else:
                self._history = facts.read_history(
                    self.person.user_id, since=self.at - _LONGEST_WINDOW
                )
        since = self.at - dt.timedelta(minutes=minutes)
        return [past for past in self._history if past.occurred_at >= since]


@dataclass(frozen=True)
class Finding:
    rule: MonitoringRule
    summary: str
    dedupe: str
    detail: Mapping[str, Any] = field(default_factory=dict)
    contactpoint_ids: tuple[str, ...] = ()
    child: ChildFacts | None = None


def _local_day(at: dt.datetime) -> str:
    return timezone.localtime(at).date().isoformat()


# --- The patterns (one function each; the parameters come from the rule) ----------------------


def _quota_hard_limit(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    breach = next((b for b in lookup.breaches if b.hard), None)
    if breach is None:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} went over a hard limit: {quotas.describe(breach)}",
            dedupe=f"{breach.measure}:{breach.period}:{breach.window_start}",
            detail={"measure": breach.measure, "period": breach.period, "count": breach.count},
        )
    ]


def _quota_soft_limit(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    return [
        Finding(
            rule,
            f"{lookup.person.username} reached a soft limit: {quotas.describe(breach)}",
            dedupe=f"{breach.measure}:{breach.period}:{breach.window_start}",
            detail={"measure": breach.measure, "period": breach.period, "count": breach.count},
        )
        for breach in lookup.breaches
        if not breach.hard
    ]


def _volume_above_baseline(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    today = lookup.usage.count(Measure.LOOKUPS, Period.DAY)
    p = rule.parameters
    if today < p["minimum_lookups"]:
        return []  # the baseline is read only when the volume could matter
    mean = daily_baseline(
        lookup.person.user_id,
        today=timezone.localtime(lookup.at).date(),
        history_days=int(p["history_days"]),
        default_daily_mean=float(p["default_daily_mean"]),
        saved=lookup.person.saved_baseline,
    )
    threshold = max(float(p["minimum_lookups"]), float(p["factor"]) * mean)
    if today < threshold:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} made {today} lookups today; their usual day is {mean:.0f}",
            dedupe=_local_day(lookup.at),
            detail={"today": today, "daily_mean": round(mean, 1), "factor": p["factor"]},
        )
    ]


def _many_distinct_children(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    findings = []
    for period, key in ((Period.HOUR, "per_hour"), (Period.DAY, "per_day")):
        seen = lookup.usage.count(Measure.CHILDREN, period)
        if seen >= rule.parameters[key]:
            findings.append(
                Finding(
                    rule,
                    f"{lookup.person.username} has been shown {seen} different children this "
                    f"{period}",
                    dedupe=f"{period}:{lookup.usage.window_starts.get(period, 0)}",
                    detail={"period": period, "children": seen},
                )
            )
    return findings[:1]


def _longest_run_with(values: Iterable[int], current: int) -> list[int]:
    """The run of consecutive integers among `values` that contains `current`."""
    present = set(values) | {current}
    low = current
    while low - 1 in present:
        low -= 1
    high = current
    while high + 1 in present:
        high += 1
    return list(range(low, high + 1))


def _id_body(value: str) -> int | None:
    return int(value[: cp_id.BODY_LENGTH]) if cp_id.is_valid(value) else None


def _consecutive_ids(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    current = _id_body(lookup.requested_id) if lookup.kind is LookupKind.VIEW else None
    if current is None:
        return []
    minutes = int(rule.parameters["window_minutes"])
    asked = {
        body: past.subject
        for past in lookup.history(minutes=minutes)
        if past.action == VIEW_ACTION and (body := _id_body(past.subject)) is not None
    }
    run = _longest_run_with(asked, current)
    if len(run) < rule.parameters["run"]:
        return []
    ids = tuple(asked.get(body, lookup.requested_id) for body in run)
    return [
        Finding(
            rule,
            f"{lookup.person.username} asked for {len(run)} ContactPoint IDs in sequence",
            dedupe=_local_day(lookup.at),
            detail={"run": len(run)},
            contactpoint_ids=ids,
        )
    ]


def _unknown_ids(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    if lookup.kind is not LookupKind.VIEW or lookup.outcome != "not_found":
        return []
    minutes = int(rule.parameters["window_minutes"])
    misses = [
        past.subject
        for past in lookup.history(minutes=minutes)
        if past.action == VIEW_ACTION and past.outcome == "not_found"
    ]
    if len(misses) + 1 < rule.parameters["count"]:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} asked for {len(misses) + 1} ContactPoint IDs that match "
            f"no child in {minutes} minutes",
            dedupe=_local_day(lookup.at),
            detail={"unknown_ids": len(misses) + 1},
            contactpoint_ids=(lookup.requested_id, *misses),
        )
    ]


def _birth_date_step(text: str) -> tuple[str, int] | None:
    """A searched date of birth as (precision, ordinal): consecutive values differ by one."""
    try:
        parts = [int(p) for p in str(text).split("-")]
        if len(parts) == 3:
            return "day", dt.date(parts[0], parts[1], parts[2]).toordinal()
        if len(parts) == 2:
            return "month", parts[0] * 12 + parts[1]
        if len(parts) == 1:
            return "year", parts[0]
    except (TypeError, ValueError):
        return None
    return None


def _consecutive_birth_dates(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    if lookup.kind is not LookupKind.SEARCH or "date_of_birth" not in lookup.criteria:
        return []
    current = _birth_date_step(lookup.criteria["date_of_birth"])
    if current is None:
        return []
    precision, value = current
    minutes = int(rule.parameters["window_minutes"])
    earlier = [
        step[1]
        for past in lookup.history(minutes=minutes)
        if past.action == SEARCH_ACTION
        and (step := _birth_date_step(past.criteria.get("date_of_birth", ""))) is not None
        and step[0] == precision
    ]
    run = _longest_run_with(earlier, value)
    if len(run) < rule.parameters["run"]:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} searched {len(run)} consecutive {precision}s of birth",
            dedupe=_local_day(lookup.at),
            detail={"precision": precision, "run": len(run)},
        )
    ]


def _repeated_too_many(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    if lookup.kind is not LookupKind.SEARCH or lookup.outcome != "too_many":
        return []
    minutes = int(rule.parameters["window_minutes"])
    earlier = sum(
        1
        for past in lookup.history(minutes=minutes)
        if past.action == SEARCH_ACTION and past.outcome == "too_many"
    )
    if earlier + 1 < rule.parameters["count"]:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} made {earlier + 1} searches too broad to answer in "
            f"{minutes} minutes",
            dedupe=_local_day(lookup.at),
            detail={"too_many": earlier + 1},
        )
    ]


def _search_shape(criteria: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(criteria.get(k, "")) for k in sorted(criteria) if k != "family_name")


def _one_surname_many_searches(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    if lookup.kind is not LookupKind.SEARCH:
        return []
    family = name_key(str(lookup.criteria.get("family_name", "")))
    if not family:
        return []
    minutes = int(rule.parameters["window_minutes"])
    shapes = {_search_shape(lookup.criteria)} | {
        _search_shape(past.criteria)
        for past in lookup.history(minutes=minutes)
        if past.action == SEARCH_ACTION
        and name_key(str(past.criteria.get("family_name", ""))) == family
    }
    if len(shapes) < rule.parameters["distinct_searches"]:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} searched one family name {len(shapes)} different ways "
            f"in {minutes} minutes",
            dedupe=_local_day(lookup.at),
            detail={"family_name": lookup.criteria.get("family_name", ""), "searches": len(shapes)},
        )
    ]


def _steady_cadence(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    """People are bursty; a script pacing itself under the limits keeps time like a clock."""
    p = rule.parameters
    count = int(p["lookups"])
    window = int(count * float(p["max_mean_seconds"]) / 60) + 1
    times = [lookup.at] + [past.occurred_at for past in lookup.history(minutes=window)]
    if len(times) < count:
        return []
    recent = sorted(times[:count])
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(recent)]
    mean = sum(gaps) / len(gaps)
    if not float(p["min_mean_seconds"]) <= mean <= float(p["max_mean_seconds"]):
        return []
    # Plain floats: statistics.pstdev works in exact fractions, a tenth of a millisecond a lookup.
    variation = math.sqrt(sum((gap - mean) ** 2 for gap in gaps) / len(gaps)) / mean
    if variation > float(p["max_variation"]):
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} made {count} lookups {mean:.1f} s apart, as steady as a "
            "script",
            dedupe=_local_day(lookup.at),
            detail={"mean_seconds": round(mean, 1), "variation": round(variation, 3)},
        )
    ]


def _shielded_viewed(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    if lookup.kind is not LookupKind.VIEW:
        return []
    exempt_roles = set(rule.parameters.get("exempt_own_la_roles", ()))
    return [
        Finding(
            rule,
            f"{lookup.person.username} viewed the shielded record "
            f"{cp_id.display(child.contactpoint_id)}",
            dedupe=f"{child.contactpoint_id}:{_local_day(lookup.at)}",
            contactpoint_ids=(child.contactpoint_id,),
            child=child,
        )
        for child in lookup.children
        if child.is_shielded
        and not (
            lookup.person.role in exempt_roles
            and lookup.person.local_authority_id == child.responsible_la_id
        )
    ]


def _sensitive_viewed(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    # Today's count comes from the quota store, which keeps the day's set of such children.
    opened = lookup.sensitive_ids
    count = lookup.usage.sensitive_children
    if lookup.kind is not LookupKind.VIEW or not opened or count < rule.parameters["per_day"]:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} opened the records of {count} children with a sensitive "
            f"service today, the latest {cp_id.display(opened[0])}",
            dedupe=_local_day(lookup.at),
            detail={"children": count},
            contactpoint_ids=opened,
        )
    ]


def _own_surname(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    surname = lookup.person.surname_key
    searched = bool(surname) and name_key(str(lookup.criteria.get("family_name", ""))) == surname
    matching = tuple(c.contactpoint_id for c in lookup.children if c.own_surname)
    if not (searched or matching):
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} looked up a child with their own family name",
            dedupe=_local_day(lookup.at),
            detail={"searched_own_name": searched},
            contactpoint_ids=matching,
        )
    ]


def _own_address(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    home = lookup.person.home_postcode
    if not home:
        return []
    searched = _canonical_postcode(str(lookup.criteria.get("postcode", ""))) == home
    matching = tuple(c.contactpoint_id for c in lookup.children if c.own_address)
    if not (searched or matching):
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} looked up a child at their own home address",
            dedupe=_local_day(lookup.at),
            detail={"searched_own_postcode": searched},
            contactpoint_ids=matching,
        )
    ]


@functools.lru_cache(maxsize=64)
def _clock_time(text: str) -> dt.time:
    """A rule's "HH:MM" parameter (parsed once: this rule runs on every lookup)."""
    return dt.time.fromisoformat(text)


def _out_of_hours(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    local = timezone.localtime(lookup.at)
    p = rule.parameters
    starts, ends = _clock_time(str(p["day_starts"])), _clock_time(str(p["day_ends"]))
    working_day = local.weekday() in p["working_days"]
    if working_day and starts <= local.time() < ends:
        return []
    return [
        Finding(
            rule,
            f"{lookup.person.username} used ContactPoint at {local:%H:%M} on {local:%A}",
            dedupe=local.date().isoformat(),
            detail={"local_time": local.isoformat(timespec="minutes")},
        )
    ]


def _outside_own_region(rule: MonitoringRule, lookup: Lookup) -> list[Finding]:
    person = lookup.person
    if lookup.kind is not LookupKind.VIEW:
        return []  # records opened only: see _counts_as_far
    if not person.region or person.role in set(rule.parameters.get("exempt_roles", ())):
        return []
    far_now = tuple(c.contactpoint_id for c in lookup.children if c.region != person.region)
    # Today's count comes from the quota store, which keeps the day's set of such children.
    if not far_now or lookup.usage.far_children < rule.parameters["per_day"]:
        return []
    return [
        Finding(
            rule,
            f"{person.username} looked up {lookup.usage.far_children} children from other "
            "regions today",
            dedupe=_local_day(lookup.at),
            detail={"children": lookup.usage.far_children},
            contactpoint_ids=far_now,
        )
    ]


PatternFunction = Callable[[MonitoringRule, Lookup], list[Finding]]

PATTERNS: dict[Pattern, PatternFunction] = {
    Pattern.QUOTA_HARD_LIMIT: _quota_hard_limit,
    Pattern.QUOTA_SOFT_LIMIT: _quota_soft_limit,
    Pattern.VOLUME_ABOVE_BASELINE: _volume_above_baseline,
    Pattern.MANY_DISTINCT_CHILDREN: _many_distinct_children,
    Pattern.CONSECUTIVE_IDS: _consecutive_ids,
    Pattern.UNKNOWN_IDS: _unknown_ids,
    Pattern.CONSECUTIVE_BIRTH_DATES: _consecutive_birth_dates,
    Pattern.REPEATED_TOO_MANY: _repeated_too_many,
    Pattern.ONE_SURNAME_MANY_SEARCHES: _one_surname_many_searches,
    Pattern.STEADY_CADENCE: _steady_cadence,
    Pattern.SHIELDED_VIEWED: _shielded_viewed,
    Pattern.SENSITIVE_VIEWED: _sensitive_viewed,
    Pattern.OWN_SURNAME: _own_surname,
    Pattern.OWN_ADDRESS: _own_address,
    Pattern.OUT_OF_HOURS: _out_of_hours,
    Pattern.OUTSIDE_OWN_REGION: _outside_own_region,
}

_LONGEST_WINDOW = dt.timedelta(
    minutes=max(int(r.parameters.get("window_minutes", 0)) for r in MONITORING_RULES)
)


def evaluate(lookup: Lookup, rules: Sequence[MonitoringRule] = MONITORING_RULES) -> list[Finding]:
    """Every finding of every rule for this lookup (pure apart from reading history)."""
    findings: list[Finding] = []
    for rule in rules:
        findings.extend(PATTERNS[rule.pattern](rule, lookup))
    return findings


# --- Reading what the rules need ----------------------------------------------------------------


def _canonical_postcode(raw: str) -> str:
    try:
        return str(parse_postcode(raw)) if raw else ""
    except InvalidPostcode:
        return ""


def daily_baseline(
    user_id: int,
    *,
    today: dt.date,
    history_days: int,
    default_daily_mean: float,
    saved: tuple[dt.date, float] | None = None,
) -> float:
    """The person's mean lookups on the days they worked, over recent weeks (cached per day).

    New people, and people with under a week of history, get the default: a baseline of a
    few quiet days would make an ordinary busy day look "far above". `saved` is the cached
    (computed on, daily mean) already read with the person's facts, which saves a query on
    every lookup of a busy day.
    """
    if saved is not None and saved[0] == today:
        return saved[1]
    cached = ActivityBaseline.objects.filter(user_id=user_id, computed_on=today).first()
    if cached is not None:
        return cached.daily_mean
    start = timezone.make_aware(
        dt.datetime.combine(today - dt.timedelta(days=history_days), dt.time.min)
    )
    end = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    per_day = list(
        AuditEvent.objects.filter(
            actor_id=user_id, action__in=LOOKUP_ACTIONS, occurred_at__gte=start, occurred_at__lt=end
        )
        .annotate(day=TruncDate("occurred_at"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    active_days = len(per_day)
    mean = sum(per_day) / active_days if active_days >= 5 else 0.0
    mean = max(mean, default_daily_mean)
    ActivityBaseline.objects.update_or_create(
        user_id=user_id,
        defaults={"computed_on": today, "daily_mean": mean, "active_days": active_days},
    )
    return mean


# --- The hook -------------------------------------------------------------------------------------


def enforce_and_monitor(
    *,
    viewer: Viewer,
    kind: LookupKind,
    outcome: str,
    disclosed: Sequence[str] = (),
    local_authority_of: Mapping[str, int] | None = None,
    sensitive_ids: Collection[str] | None = None,
    requested_id: str = "",
    criteria: Mapping[str, Any] | None = None,
    purpose: str = "",
    ip_address: str | None = None,
    at: dt.datetime | None = None,
) -> Verdict:
    """Count this lookup, apply quotas and monitoring; call inside the lookup's transaction.

    `disclosed` is the ContactPoint IDs the lookup would show (search rows, or the record
    viewed); `local_authority_of` each one's responsible LA where the caller has read it,
    which lets the quota store be asked while the facts are read (decision 0004), as does
    `sensitive_ids` for a record view: which of them have a current sensitive service
    (`access.policy.has_current_sensitive_service`), where the caller has read them;
    `requested_id` the ID asked for by a view, found or not; `criteria` a search's criteria
    as audited. If the verdict is not allowed, show nothing: record the refusal on the audit
    event (`verdict.audit_outcome`, `verdict.audit_detail`), commit, and raise
    `LookupRefused(verdict)`. `at` is for tests only.
    """
    at = at or timezone.now()
    quota = quotas.quota_for(viewer.role)
    if quota is None or viewer.user_id is None:
        return Verdict(False, NO_QUOTA_MESSAGE, http_status=403)
    entry = facts.history_entry(
        kind=kind.value, outcome=str(outcome), at=at, subject=requested_id, criteria=criteria or {}
    )
    ids = list(dict.fromkeys(disclosed))
    pending: quotas.PendingUsage | None = None
    known = local_authority_of or {}
    opened: tuple[str, ...] = ()
    if all(i in known for i in ids) and (kind is not LookupKind.VIEW or sensitive_ids is not None):
        # The children's regions (and services) are known already: count now, read the facts
        # meanwhile.
        region = facts.region_of(viewer.local_authority_id) if _counts_as_far(kind) else ""
        far_ids = [i for i in ids if region and facts.region_of(known[i]) != region]
        opened = tuple(i for i in ids if i in (sensitive_ids or ()))
        try:
            pending = quotas.start_usage(
                user_id=viewer.user_id,
                child_ids=[_child_key(i) for i in ids],
                far_child_ids=[_child_key(i) for i in far_ids],
                sensitive_child_ids=[_child_key(i) for i in opened],
                history_entry=entry,
            )
        except QuotaStoreUnavailable:
            return _store_unavailable()
    try:
        person, children = facts.read_facts(
            viewer, ids, with_services=pending is None and kind is LookupKind.VIEW
        )
    except BaseException:
        if pending is not None:
            pending.cancel()
        raise
    if person is None or person.suspended:
        # Redis has counted the attempt already (the overlapped path); the database store not.
        if pending is not None:
            pending.cancel()
        return Verdict(False, ALREADY_SUSPENDED_MESSAGE, http_status=403)
    try:
        if pending is None:
            far = [
                c
                for c in children
                if _counts_as_far(kind) and person.region and c.region != person.region
            ]
            opened = tuple(c.contactpoint_id for c in children if c.sensitive)
            pending = quotas.start_usage(
                user_id=person.user_id,
                child_ids=[_child_key(c.contactpoint_id) for c in children],
                far_child_ids=[_child_key(c.contactpoint_id) for c in far],
                sensitive_child_ids=[_child_key(i) for i in opened],
                history_entry=entry,
            )
        usage = pending.result()
    except QuotaStoreUnavailable:
        return _store_unavailable()
    lookup = Lookup(
        person=person,
        kind=kind,
        outcome=str(outcome),
        requested_id=requested_id,
        criteria=dict(criteria or {}),
        children=children,
        usage=usage,
        quota=quota,
        at=at,
        sensitive_ids=opened,
    )
    findings = evaluate(lookup)
    warnings = tuple(
        quotas.warning_for(breach, quota) for breach in lookup.breaches if not breach.hard
    )
    if not findings:
        return Verdict(True, warnings=warnings)
    return _act_on(lookup, findings, purpose=purpose, ip_address=ip_address, warnings=warnings)


def _counts_as_far(kind: LookupKind) -> bool:
    """Whether a lookup's children from other regions count towards the day's far children.

    Record views only. A search lists whoever shares the name and date of birth: nationally a
    common name lists children from several regions, so counting search rows made nearly every
    practitioner's first common-name search of the day an alert. The quota still counts every
    child a search lists; this rule is about whose records a person chooses to open.
    """
    return kind is LookupKind.VIEW


def _child_key(contactpoint_id: str) -> int:
    """The quota stores count children by their ContactPoint ID's digits (known before facts)."""
    return int(contactpoint_id)


def _store_unavailable() -> Verdict:
    return Verdict(False, STORE_UNAVAILABLE_MESSAGE, http_status=503, audit_outcome="unchecked")


def _act_on(
    lookup: Lookup,
    findings: list[Finding],
    *,
    purpose: str,
    ip_address: str | None,
    warnings: tuple[str, ...],
) -> Verdict:
    """Raise the alerts; suspend and refuse when a finding's rule says so."""
    stopping = [f for f in findings if f.rule.suspends]
    suspended = False
    if stopping:
        breach = next((b for b in lookup.breaches if b.hard), None)
        reason = (
            f"you went over a usage limit ({quotas.describe(breach)})"
            if stopping[0].rule.pattern is Pattern.QUOTA_HARD_LIMIT and breach is not None
            else UNUSUAL_PATTERN
        )
        suspended = alerts.stop_account(
            user_id=lookup.person.user_id,
            reason=f"protective monitoring: {stopping[0].rule.name}",
            ip_address=ip_address,
            purpose=purpose,
        )
    for finding in findings:
        alerts.raise_for_finding(
            person=lookup.person,
            rule=finding.rule,
            summary=finding.summary,
            dedupe=finding.dedupe,
            detail={**finding.detail, "lookup": lookup.kind.value},
            contactpoint_ids=finding.contactpoint_ids,
            child_la_id=finding.child.responsible_la_id if finding.child else None,
            account_suspended=suspended and finding.rule.suspends,
            ip_address=ip_address,
            raised_before=lookup.person.raised_alerts,
        )
    fired = tuple(dict.fromkeys(f.rule.name for f in findings))
    if stopping:
        return Verdict(
            False,
            SUSPENDED_MESSAGE.format(reason=reason),
            http_status=403,
            fired=fired,
        )
    return Verdict(True, warnings=warnings, fired=fired)


# --- For pages: the warning shown while a person is near a limit ----------------------------------


def usage_warnings(user: Any) -> list[str]:
    """Warnings for every soft limit the person has reached in the current windows.

    Reads the counters without counting; an unreachable store gives no warning here (the
    lookup itself is what fails closed).
    """
    quota = quotas.quota_for(str(getattr(user, "role", "")))
    user_id = getattr(user, "pk", None)
    if quota is None or user_id is None:
        return []
    try:
        usage = quotas.peek_usage(user_id=int(user_id))
    except QuotaStoreUnavailable:
        return []
    return [quotas.warning_for(b, quota) for b in quotas.assess(quota, usage) if not b.hard]
