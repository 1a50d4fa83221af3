"""The protective monitoring rules, as data: one table, read by monitoring.py (CONVENTIONS 12).

Each rule names the pattern it looks for (the code that recognises a pattern is in
monitoring.PATTERNS, one function per pattern), its severity, its parameters, and what follows
when it fires: always an alert to the person's organisation's security officer; with
`suspends`, the account is suspended at once and the lookup that fired it is refused; with
`notify_child_la`, the child's local authority ContactPoint team is told as well (as NHS CP-IS
tells a council when a flagged child's record is looked at).

Thresholds are set so that an ordinary practitioner's day, generated from synthetic data in
tests/monitoring, raises nothing; each rule's own test shows the pattern it is for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from contactpoint.access.models import AlertSeverity
from contactpoint.access.roles import Role


class Pattern(StrEnum):
    QUOTA_HARD_LIMIT = "quota_hard_limit"
    QUOTA_SOFT_LIMIT = "quota_soft_limit"
    VOLUME_ABOVE_BASELINE = "volume_above_baseline"
    MANY_DISTINCT_CHILDREN = "many_distinct_children"
    CONSECUTIVE_IDS = "consecutive_ids"
    UNKNOWN_IDS = "unknown_ids"
    CONSECUTIVE_BIRTH_DATES = "consecutive_birth_dates"
    REPEATED_TOO_MANY = "repeated_too_many"
    ONE_SURNAME_MANY_SEARCHES = "one_surname_many_searches"
    STEADY_CADENCE = "steady_cadence"
    SHIELDED_VIEWED = "shielded_viewed"
    SENSITIVE_VIEWED = "sensitive_viewed"
    OWN_SURNAME = "own_surname"
    OWN_ADDRESS = "own_address"
    OUT_OF_HOURS = "out_of_hours"
    OUTSIDE_OWN_REGION = "outside_own_region"


@dataclass(frozen=True)
class MonitoringRule:
    name: str
    severity: AlertSeverity
    pattern: Pattern
    description: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    suspends: bool = False
    notify_child_la: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))


MONITORING_RULES: tuple[MonitoringRule, ...] = (
    MonitoringRule(
        "quota_hard_limit",
        AlertSeverity.HIGH,
        Pattern.QUOTA_HARD_LIMIT,
        "A hard quota was crossed (access.protective.quotas.ROLE_QUOTAS).",
        suspends=True,
    ),
    MonitoringRule(
        "quota_soft_limit",
        AlertSeverity.LOW,
        Pattern.QUOTA_SOFT_LIMIT,
        "A soft quota was reached: the person was warned.",
    ),
    MonitoringRule(
        "volume_far_above_baseline",
        AlertSeverity.MEDIUM,
        Pattern.VOLUME_ABOVE_BASELINE,
        "Far more lookups today than the person's own daily average over recent weeks.",
        {"factor": 4.0, "minimum_lookups": 60, "history_days": 28, "default_daily_mean": 15.0},
    ),
    MonitoringRule(
        "many_distinct_children",
        AlertSeverity.MEDIUM,
        Pattern.MANY_DISTINCT_CHILDREN,
        "Many different children disclosed in an hour or a day.",
        {"per_hour": 20, "per_day": 35},
    ),
    MonitoringRule(
        "consecutive_contactpoint_ids",
        AlertSeverity.HIGH,
        Pattern.CONSECUTIVE_IDS,
        "Records asked for by ContactPoint IDs that follow one another (ID walking).",
        {"run": 3, "window_minutes": 60},
        suspends=True,
    ),
    MonitoringRule(
        "contactpoint_id_guessing",
        AlertSeverity.HIGH,
        Pattern.UNKNOWN_IDS,
        "Repeated requests for ContactPoint IDs that match no child the person may see.",
        {"count": 5, "window_minutes": 30},
        suspends=True,
    ),
    MonitoringRule(
        "birth_date_sweep",
        AlertSeverity.HIGH,
        Pattern.CONSECUTIVE_BIRTH_DATES,
        "Searches stepping through consecutive dates, months or years of birth.",
        {"run": 4, "window_minutes": 60},
        suspends=True,
    ),
    MonitoringRule(
        "repeated_too_many_matches",
        AlertSeverity.MEDIUM,
        Pattern.REPEATED_TOO_MANY,
        "Repeated searches too broad to answer (probing common names).",
        {"count": 5, "window_minutes": 30},
    ),
    MonitoringRule(
        "persistent_too_many_matches",
        AlertSeverity.HIGH,
        Pattern.REPEATED_TOO_MANY,
        "Searches too broad to answer, persisting after the first alert.",
        {"count": 12, "window_minutes": 60},
        suspends=True,
    ),
    MonitoringRule(
        "surname_sweep",
        AlertSeverity.HIGH,
        Pattern.ONE_SURNAME_MANY_SEARCHES,
        "One family name searched with many different given names or dates (a sweep).",
        {"distinct_searches": 8, "window_minutes": 60},
        suspends=True,
    ),
    MonitoringRule(
        "scripted_cadence",
        AlertSeverity.HIGH,
        Pattern.STEADY_CADENCE,
        "Lookups at a machine-steady rhythm (a script pacing itself under the limits).",
        {"lookups": 8, "max_variation": 0.15, "min_mean_seconds": 2, "max_mean_seconds": 90},
        suspends=True,
    ),
    MonitoringRule(
        "shielded_record_viewed",
        AlertSeverity.MEDIUM,
        Pattern.SHIELDED_VIEWED,
        "A shielded child's record was viewed by someone other than that LA's shielding officers.",
        {"exempt_own_la_roles": (Role.SHIELDING_OFFICER,)},
        notify_child_la=True,
    ),
    MonitoringRule(
        "sensitive_record_viewed",
        AlertSeverity.LOW,
        Pattern.SENSITIVE_VIEWED,
        "Several records opened in a day of children with a sensitive service (sexual health, "
        "mental health, substance misuse).",
        # A day's count, not every view: about one child in thirteen has such a service, so an
        # alert a view flooded the officer's queue with ordinary work (decision 0004).
        {"per_day": 5},
    ),
    MonitoringRule(
        "child_with_own_surname",
        AlertSeverity.HIGH,
        Pattern.OWN_SURNAME,
        "A child with the person's own family name was searched for or disclosed "
        "(the 2009 breaches: staff 'testing' on their own families).",
    ),
    MonitoringRule(
        "child_at_own_address",
        AlertSeverity.CRITICAL,
        Pattern.OWN_ADDRESS,
        "A child living at the person's own recorded home address was searched for or disclosed.",
    ),
    MonitoringRule(
        "out_of_hours",
        AlertSeverity.LOW,
        Pattern.OUT_OF_HOURS,
        "Lookups outside working hours (local time) or at the weekend.",
        {"day_starts": "07:00", "day_ends": "20:00", "working_days": (0, 1, 2, 3, 4)},
    ),
    MonitoringRule(
        "children_far_outside_own_la",
        AlertSeverity.MEDIUM,
        Pattern.OUTSIDE_OWN_REGION,
        "Several records opened in a day of children whose local authority is in another "
        "region from the person's own (search results, which list namesakes, do not count).",
        {"per_day": 3, "exempt_roles": (Role.NATIONAL_TEAM,)},
    ),
)

RULES_BY_NAME: dict[str, MonitoringRule] = {rule.name: rule for rule in MONITORING_RULES}


def rules_for(pattern: Pattern) -> tuple[MonitoringRule, ...]:
    return tuple(rule for rule in MONITORING_RULES if rule.pattern is pattern)
