"""Benchmark search: recall, too-many-matches rate and latency on generated children.

    .venv/bin/python benchmarks/search.py [--sizes 100000,1000000] [--queries 2000] [--http]

For each size it uses the PostgreSQL database contactpoint_bench_search_<size> (on the server of
--database-url), creating and filling it with `contactpoint generate` when it is missing or holds
a different number of children (--fresh always regenerates). It then builds realistic queries
from known children with realistic errors (typos, phonetic respellings, nicknames from the
generator's own table, swapped names, former names, partial dates, day/month swaps, age ranges,
postcodes) and runs them as a practitioner through search.services.search_children, audit write
and commit included. It prints the machine, the data size, recall (the intended child is among
the results), the too-many-matches rate and p50/p95/p99 latency with searches per second, per
kind of query and overall; with --http also over HTTP (POST /api/v1/children/search) with 8
concurrent clients against gunicorn on 127.0.0.1. Figures are also written as JSON under
benchmarks/results/.

It also reports what quotas, protective monitoring and the audit write add to each search and
to each record view (access.protective.enforce_and_monitor, the audit event and the COMMIT,
which only the audit event makes a write, timed inside the same calls; goal <= 2 ms at p95),
with the quota store in use (Redis when REDIS_URL is set).
Searches are shared among a pool of benchmark practitioners picked at random, so that, as in
real use, nobody comes near a quota or looks like a script. Before the measured searches each
practitioner makes the first lookup of their day (a record view), timed on its own: outside
working hours (weekday 07:00-20:00) that first lookup raises the day's out-of-hours alert, which
costs three more round trips, and every later one finds it raised already. Without it each
measured search would be its practitioner's first of the day, which no real day looks like, and
the figures would depend on the time of day and on whether the benchmark already ran that day.
Each measured lookup is also marked by whether it raised a new alert, reported apart. For
comparison it measures what this machine's database costs at the least: a round trip, and the
durable commit of one small row (the disk's share of any audit event that commits with its
lookup).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/contactpoint_bench_search"
WARM_UP_QUERIES = 100
BENCH_USERS = 5000  # fewer than one search each: nobody comes near a quota
VIEWS = 2000  # record views measured after the searches (each searcher opens what they found)

# How often each kind of query occurs: the mix a busy practitioner population might produce.
QUERY_MIX: dict[str, float] = {
    "exact": 0.14,
    "family_typo": 0.12,
    "given_typo": 0.08,
    "phonetic": 0.10,
    "nickname": 0.09,
    "swapped": 0.05,
    "former_name": 0.04,
    "year_only": 0.08,
    "year_month": 0.05,
    "day_month_swapped": 0.05,
    "age_range": 0.04,
    "postcode": 0.08,
    "postcode_with_typo": 0.04,
    "family_and_date_only": 0.04,
}

# Respellings that sound the same (the errors people make when a name is spoken to them), as
# regular expressions on the lower-cased name: "$" anchors an ending (Sophy/Sophie).
_RESPELLINGS = (
    ("ph", "f"),
    ("f(?!f)", "ph"),
    ("ck", "k"),
    ("(?<!c)k", "ck"),
    ("ie$", "y"),
    ("y$", "ie"),
    ("ey$", "y"),
    ("(?<=[^aeiou])i(?=[^aeiou])", "y"),
    ("(?<=[^aeiou])y(?=[^aeiou])", "i"),
    ("ee", "ea"),
    ("ea", "ee"),
    ("son$", "sen"),
    ("sen$", "son"),
    ("ll", "l"),
    ("tt", "t"),
    ("nn", "n"),
    ("mm", "m"),
    ("ss", "s"),
    ("z", "s"),
    ("(?<=[aeiou])s(?=[aeiou])", "z"),
    ("ai", "ay"),
    ("ay", "ai"),
    ("c(?=[aou])", "k"),
    ("th", "t"),
    ("ae", "e"),
    ("our", "or"),
    ("(?<=[aeiou])l(?=[aeiou])", "ll"),
    ("(?<=[aeiou])n(?=[aeiou])", "nn"),
)
_KEYBOARD = {
    "a": "qsz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "wa",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
}


@dataclass
class Query:
    kind: str
    target: str  # the ContactPoint ID of the child the practitioner is looking for
    criteria: dict[str, Any]


@dataclass
class Target:
    contactpoint_id: str
    given: str
    family: str
    date_of_birth: dt.date
    postcode: str
    is_shielded: bool
    other_names: list[tuple[str, str]] = field(default_factory=list)


# --- Realistic errors ----------------------------------------------------------------------------


def typo(rng: random.Random, name: str) -> str:
    """One keying error: a letter dropped, doubled, mistyped or two swapped; rarely the first."""
    if len(name) < 3:
        return name
    position = 0 if rng.random() < 0.15 else rng.randrange(1, len(name))
    kind = rng.choice(("drop", "double", "neighbour", "swap"))
    char = name[position]
    if kind == "drop":
        return name[:position] + name[position + 1 :]
    if kind == "double":
        return name[:position] + char + name[position:]
    if kind == "neighbour" and char.lower() in _KEYBOARD:
        wrong = rng.choice(_KEYBOARD[char.lower()])
        return name[:position] + (wrong.upper() if char.isupper() else wrong) + name[position + 1 :]
    if position < len(name) - 1:
        return name[:position] + name[position + 1] + name[position] + name[position + 2 :]
    return name[:position]


def respell(rng: random.Random, name: str) -> str | None:
    """The name written as it sounds, one common respelling away; None if none applies."""
    lower = name.lower()
    options = [(old, new) for old, new in _RESPELLINGS if re.search(old, lower[1:])]
    if not options:
        return None
    old, new = rng.choice(options)
    match = re.search(old, lower[1:])
    assert match is not None
    start, end = match.start() + 1, match.end() + 1
    changed = name[:start] + new + name[end:]
    return changed if changed.lower() != lower else None


def nickname_for(given: str, table: dict[str, tuple[str, ...]], rng: random.Random) -> str | None:
    if given in table:
        return rng.choice(table[given])
    formals = [formal for formal, forms in table.items() if given in forms]
    return rng.choice(formals) if formals else None


def swap_day_month(day: dt.date) -> dt.date | None:
    if day.day > 12 or day.day == day.month:
        return None
    return day.replace(month=day.day, day=day.month)


def age_on(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def make_query(
    kind: str,
    child: Target,
    rng: random.Random,
    nicknames: dict[str, tuple[str, ...]],
    today: dt.date,
) -> Query | None:
    """A query of this kind for this child, or None when the child does not lend itself to it."""
    given, family, born = child.given, child.family, child.date_of_birth
    whole = born.isoformat()
    base = {"family_name": family, "given_name": given, "date_of_birth": whole}
    if kind == "exact":
        criteria = base
    elif kind == "family_typo":
        criteria = {**base, "family_name": typo(rng, family)}
    elif kind == "given_typo":
        criteria = {**base, "given_name": typo(rng, given)}
    elif kind == "phonetic":
        fields = ["family_name", "given_name"]
        rng.shuffle(fields)
        for which in fields:
            spoken = respell(rng, base[which])
            if spoken is not None:
                criteria = {**base, which: spoken}
                break
        else:
            return None
    elif kind == "nickname":
        familiar = nickname_for(given, nicknames, rng)
        if familiar is None:
            return None
        criteria = {**base, "given_name": familiar}
    elif kind == "swapped":
        criteria = {**base, "family_name": given, "given_name": family}
    elif kind == "former_name":
        if not child.other_names:
            return None
        other_given, other_family = rng.choice(child.other_names)
        criteria = {**base, "given_name": other_given, "family_name": other_family}
    elif kind == "year_only":
        criteria = {**base, "date_of_birth": whole[:4]}
    elif kind == "year_month":
        criteria = {**base, "date_of_birth": whole[:7]}
    elif kind == "day_month_swapped":
        swapped = swap_day_month(born)
        if swapped is None or swapped > today:  # the search form refuses a future date
            return None
        criteria = {**base, "date_of_birth": swapped.isoformat()}
    elif kind == "age_range":
        age = age_on(born, today)
        low = max(0, age - rng.choice((0, 1, 2)))
        criteria = {"family_name": family, "given_name": given, "age_from": low, "age_to": low + 2}
    elif kind in {"postcode", "postcode_with_typo"}:
        if not child.postcode or child.is_shielded:  # never findable by postcode, by design
            return None
        criteria = {"family_name": family, "given_name": given, "postcode": child.postcode}
        if kind == "postcode_with_typo":
            which = rng.choice(("family_name", "given_name"))
            criteria[which] = typo(rng, criteria[which])
    elif kind == "family_and_date_only":
        criteria = {"family_name": family, "date_of_birth": whole}
    else:
        raise ValueError(kind)
    return Query(kind=kind, target=child.contactpoint_id, criteria=criteria)


# --- Measuring (inside a Django process pointed at the benchmark database) ----------------------


def percentile(sorted_values: list[float], share: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(share * (len(sorted_values) - 1))))
    return sorted_values[index]


def summarise(
    latencies: list[float], hits: list[bool], too_many: list[bool], seconds: float
) -> dict[str, Any]:
    ordered = sorted(latencies)
    answered = [hit for hit, many in zip(hits, too_many, strict=True) if not many]
    return {
        "queries": len(latencies),
        "recall": round(sum(hits) / len(hits), 4) if hits else None,
        # Among searches answered with a list: "too many" asks for more detail by design.
        "recall_when_listed": round(sum(answered) / len(answered), 4) if answered else None,
        "too_many_rate": round(sum(too_many) / len(too_many), 4) if too_many else None,
        "p50_ms": round(percentile(ordered, 0.50), 2),
        "p95_ms": round(percentile(ordered, 0.95), 2),
        "p99_ms": round(percentile(ordered, 0.99), 2),
        "mean_ms": round(statistics.fmean(ordered), 2) if ordered else None,
        "searches_per_second": round(len(latencies) / seconds, 1) if seconds else None,
    }


def load_targets(ids: list[int]) -> list[Target]:
    """The children with these ids (archived ones left out: practitioners never see them)."""
    from contactpoint.index.models import Address, Child, ChildName
    from contactpoint.index.vocabularies import AddressKind, ChildStatus, NameKind

    children = {
        c.pk: c
        for c in Child.objects.filter(pk__in=ids)
        .exclude(status=ChildStatus.ARCHIVED)
        .only("id", "contactpoint_id", "date_of_birth", "is_shielded")
    }
    names: dict[int, list[Any]] = defaultdict(list)
    for name in ChildName.objects.filter(child_id__in=list(children)):
        names[name.child_id].append(name)
    postcodes = dict(
        Address.objects.filter(child_id__in=list(children), kind=AddressKind.CURRENT).values_list(
            "child_id", "postcode"
        )
    )
    targets = []
    for child_id in ids:
        child = children.get(child_id)
        current = next((n for n in names[child_id] if n.kind == NameKind.CURRENT), None)
        if child is None or current is None:
            continue
        targets.append(
            Target(
                contactpoint_id=child.contactpoint_id,
                given=current.given_names.split()[0],
                family=current.family_name,
                date_of_birth=child.date_of_birth,
                postcode=postcodes.get(child_id, ""),
                is_shielded=child.is_shielded,
                other_names=[
                    (n.given_names.split()[0], n.family_name)
                    for n in names[child_id]
                    if n.kind != NameKind.CURRENT
                ],
            )
        )
    return targets


def build_queries(total: int, seed: int) -> list[Query]:
    """`total` queries in the QUERY_MIX proportions, each for a known child, seeded."""
    from django.db.models import Max, Min
    from django.utils import timezone

    from contactpoint.index.models import Child, ChildName
    from contactpoint.index.vocabularies import NameKind
    from contactpoint.synthetic.data import nicknames

    rng = random.Random(seed)
    today = timezone.localdate()
    table = nicknames()
    bounds = Child.objects.aggregate(low=Min("id"), high=Max("id"))
    every_id = range(bounds["low"], bounds["high"] + 1)
    targets = iter(load_targets(rng.sample(every_id, min(len(every_id), total * 3))))
    # Former names and aliases are rare (a few per cent): draw from children who have one.
    with_other_names = sorted(
        set(ChildName.objects.exclude(kind=NameKind.CURRENT).values_list("child_id", flat=True))
    )
    former = iter(load_targets(rng.sample(with_other_names, min(len(with_other_names), total))))
    kinds, weights = list(QUERY_MIX), list(QUERY_MIX.values())
    queries: list[Query] = []
    while len(queries) < total:
        kind = rng.choices(kinds, weights)[0]
        child = next(former if kind == "former_name" else targets, None)
        if child is None:
            if kind == "former_name":
                continue
            break
        query = make_query(kind, child, rng, table, today)
        if query is not None:
            queries.append(query)
    return queries


def bench_user(username: str = "bench.practitioner") -> Any:
    """A fully gated Manchester practitioner (created once in the benchmark database)."""
    from django.utils import timezone

    from contactpoint.access.models import Organisation, User
    from contactpoint.access.roles import Role

    user = User.objects.filter(username=username).first()
    if user is None:
        now, today = timezone.now(), timezone.localdate()
        user = User.objects.create(
            username=username,
            first_name="Bench",
            last_name="Practitioner",
            role=Role.PRACTITIONER,
            organisation=Organisation.objects.get(
                kind="local_authority", local_authority__ons_code="E08000003"
            ),
            vetting_certificate_masked="****0000",
            vetting_issued_on=today - dt.timedelta(days=30),
            vetting_recorded_at=now,
            training_completed_on=today,
            agreement_signed_on=today,
            authorised_at=now,
        )
    return user


def bench_users(count: int) -> list[Any]:
    """The pool of benchmark practitioners, with any suspension from an earlier run lifted."""
    from contactpoint.access.models import User

    users = [bench_user(f"bench.practitioner.{n:03d}") for n in range(count)]
    User.objects.filter(pk__in=[u.pk for u in users]).update(
        suspended_at=None, suspension_reason=""
    )
    return users


class OverheadTimer:
    """Times the protective hook and the audit write (with the transaction's commit) inside
    search.services, per call, and counts the alerts each lookup newly raised.

    The audit write is AuditedTransaction.record (the event built, and written at once where
    it is not deferred) plus the COMMIT; on PostgreSQL the event's INSERT travels with the
    COMMIT (audit.services._commit_with_events), so that whole round trip is what is timed.
    """

    def __init__(self) -> None:
        from contactpoint.access.protective import alerts
        from contactpoint.audit import services as audit_services
        from contactpoint.search import services

        self.services = services
        self.audit_services = audit_services
        self.alerts = alerts
        self.original_hook = services.enforce_and_monitor
        self.original_record = audit_services.AuditedTransaction.record
        self.original_commit_with_events = audit_services._commit_with_events
        self.original_raise = alerts.raise_for_finding
        self.protective = 0.0
        self.audit = 0.0
        # Alerts each lookup raised; on PostgreSQL they are written with its COMMIT, which
        # leaves one unsaved if it proved to be raised already.
        self.raised: list[Any] = []
        self.commits: list[float] = []  # ms, each transaction's COMMIT (with the event, if sent)
        self.committing = False

    def __enter__(self) -> OverheadTimer:
        from django.db import connection

        hook, record = self.original_hook, self.original_record
        commit_with_events, raise_for_finding = (
            self.original_commit_with_events,
            self.original_raise,
        )
        commit = connection.commit

        def counted_raise(*args: Any, **kwargs: Any) -> Any:
            raised = raise_for_finding(*args, **kwargs)
            self.raised.extend(raised)
            return raised

        def timed_hook(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return hook(*args, **kwargs)
            finally:
                self.protective += time.perf_counter() - began

        def timed_record(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return record(*args, **kwargs)
            finally:
                self.audit += time.perf_counter() - began

        def timed_commit_of(operation: Any) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                if self.committing:  # the COMMIT inside _commit_with_events: timed there
                    return operation(*args, **kwargs)
                self.committing = True
                began = time.perf_counter()
                try:
                    return operation(*args, **kwargs)
                finally:
                    self.committing = False
                    spent = time.perf_counter() - began
                    self.audit += spent
                    self.commits.append(spent * 1000)

            return timed

        self.services.enforce_and_monitor = timed_hook
        self.audit_services.AuditedTransaction.record = timed_record  # type: ignore[method-assign]
        self.audit_services._commit_with_events = timed_commit_of(commit_with_events)
        self.alerts.raise_for_finding = counted_raise
        # The COMMIT counts as the audit's too: without the event the lookup's transaction
        # would be read-only and its commit free, but an audit event must reach the disk (WAL
        # flush) before the lookup answers.
        connection.commit = timed_commit_of(commit)  # type: ignore[method-assign]
        self.connection = connection
        return self

    def __exit__(self, *exc: object) -> None:
        self.services.enforce_and_monitor = self.original_hook
        self.audit_services.AuditedTransaction.record = self.original_record  # type: ignore[method-assign]
        self.audit_services._commit_with_events = self.original_commit_with_events
        self.alerts.raise_for_finding = self.original_raise
        del self.connection.commit

    def take(self) -> tuple[float, float, bool]:
        """(protective ms, audit ms, whether a new alert was raised) since the last take."""
        newly = any(alert.pk is not None for alert in self.raised)
        spent = (self.protective * 1000, self.audit * 1000, newly)
        self.protective = self.audit = 0.0
        self.raised = []
        return spent


def overhead_summary(
    protective: list[float], audit: list[float], total: list[float], raised: list[bool]
) -> dict[str, Any]:
    added = [p + a for p, a in zip(protective, audit, strict=True)]
    both = sorted(added)
    quiet = sorted(value for value, alert in zip(added, raised, strict=True) if not alert)
    alerting = sorted(value for value, alert in zip(added, raised, strict=True) if alert)
    ordered_protective, ordered_audit, ordered_total = (
        sorted(protective),
        sorted(audit),
        sorted(total),
    )
    return {
        "n": len(total),
        "raised_alert": len(alerting),
        "no_alert_p95_ms": round(percentile(quiet, 0.95), 3),
        "raising_alert_p50_ms": round(percentile(alerting, 0.50), 3),
        "raising_alert_p95_ms": round(percentile(alerting, 0.95), 3),
        "added_p50_ms": round(percentile(both, 0.50), 3),
        "added_p95_ms": round(percentile(both, 0.95), 3),
        "added_p99_ms": round(percentile(both, 0.99), 3),
        "protective_p50_ms": round(percentile(ordered_protective, 0.50), 3),
        "protective_p95_ms": round(percentile(ordered_protective, 0.95), 3),
        "audit_p50_ms": round(percentile(ordered_audit, 0.50), 3),
        "audit_p95_ms": round(percentile(ordered_audit, 0.95), 3),
        "total_p50_ms": round(percentile(ordered_total, 0.50), 2),
        "total_p95_ms": round(percentile(ordered_total, 0.95), 2),
    }


def start_the_day(viewers: list[Any], known_ids: list[str]) -> dict[str, Any]:
    """Each practitioner's first lookup of the day: a view of a child the warm-up searched for.

    Timed like the measured lookups and reported apart (see the module's docstring).
    """
    from contactpoint.search.services import ChildNotFound, view_child

    chooser = random.Random(6)
    added: tuple[list[float], list[float], list[float], list[bool]] = ([], [], [], [])
    with OverheadTimer() as timer:
        for viewer in viewers:
            timer.take()
            began = time.perf_counter()
            try:
                view_child(
                    viewer=viewer,
                    contactpoint_id=chooser.choice(known_ids),
                    purpose="safeguarding_concern",
                )
            except ChildNotFound:
                continue
            elapsed = (time.perf_counter() - began) * 1000
            protective_ms, audit_ms, raised = timer.take()
            for bucket, value in zip(
                added, (protective_ms, audit_ms, elapsed, raised), strict=True
            ):
                bucket.append(value)
    return overhead_summary(*added)


def database_floor(samples: int = 1000) -> dict[str, float]:
    """The least any database work costs on this machine, to set the figures against.

    A round trip (SELECT 1), and the durable commit of one small row into a plain table (an
    INSERT in autocommit, so its WAL must reach the disk before it answers): the least an
    audit event that commits with its lookup can cost, before the event's own work (its hash
    chain, its indexes) and any Python.
    """
    from django.db import connection

    def timed(sql: str) -> list[float]:
        spent = []
        with connection.cursor() as cursor:
            for n in range(samples + 50):
                began = time.perf_counter()
                cursor.execute(sql)
                if n >= 50:  # the first few warm the connection and the table
                    spent.append((time.perf_counter() - began) * 1000)
        return sorted(spent)

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, x text)")
    try:
        trip = timed("SELECT 1")
        commit = timed("INSERT INTO bench_floor (x) VALUES ('one small row')")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_floor")
    return {
        "round_trip_p50_ms": round(percentile(trip, 0.50), 3),
        "round_trip_p95_ms": round(percentile(trip, 0.95), 3),
        "durable_commit_p50_ms": round(percentile(commit, 0.50), 3),
        "durable_commit_p95_ms": round(percentile(commit, 0.95), 3),
    }


def run_in_process(queries: list[Query], *, warm_up: list[Query]) -> dict[str, Any]:
    """Each query through search_children, audit write and commit included, one at a time."""
    from django.conf import settings
    from django.utils import timezone

    from contactpoint.access.policy import viewer_for
    from contactpoint.access.protective.monitoring import LookupRefused
    from contactpoint.search.criteria import build_criteria, parse_birth_date
    from contactpoint.search.services import ChildNotFound, search_children, view_child

    chooser = random.Random(5)
    viewers = [viewer_for(user) for user in bench_users(BENCH_USERS)]
    today = timezone.localdate()

    def criteria_of(query: Query) -> Any:
        fields = dict(query.criteria)
        birth = parse_birth_date(fields.pop("date_of_birth", ""), today=today)
        return build_criteria(birth=birth, today=today, **fields)

    for query in warm_up:  # not measured: fills the caches a running service would have warm
        search_children(
            viewer=chooser.choice(viewers),
            criteria=criteria_of(query),
            purpose="safeguarding_concern",
        )
    first_of_day = start_the_day(viewers, [q.target for q in warm_up])
    floor = database_floor()
    prepared = [(q, criteria_of(q)) for q in queries]
    by_kind: dict[str, tuple[list[float], list[bool], list[bool]]] = defaultdict(
        lambda: ([], [], [])
    )
    everything: tuple[list[float], list[bool], list[bool]] = ([], [], [])
    ranks: list[int] = []
    added: dict[str, tuple[list[float], list[float], list[float], list[bool]]] = {
        "search": ([], [], [], []),
        "view": ([], [], [], []),
    }
    found: list[tuple[Any, str]] = []
    refused = 0
    timer = OverheadTimer().__enter__()
    started = time.perf_counter()
    for query, criteria in prepared:
        viewer = chooser.choice(viewers)
        timer.take()
        began = time.perf_counter()
        try:
            results = search_children(
                viewer=viewer, criteria=criteria, purpose="safeguarding_concern"
            )
        except LookupRefused:  # should not happen with the pool; counted if it does
            refused += 1
            timer.take()
            continue
        elapsed = (time.perf_counter() - began) * 1000
        protective_ms, audit_ms, raised = timer.take()
        for bucket, value in zip(
            added["search"], (protective_ms, audit_ms, elapsed, raised), strict=True
        ):
            bucket.append(value)
        ids = [row.contactpoint_id for row in results.rows]
        hit = query.target in ids
        if hit:
            ranks.append(ids.index(query.target) + 1)
            found.append((viewer, query.target))
        for bucket in (by_kind[query.kind], everything):
            bucket[0].append(elapsed)
            bucket[1].append(hit)
            bucket[2].append(results.outcome == "too_many")
    seconds = time.perf_counter() - started
    for viewer, target in found[:VIEWS]:  # the searcher opens the record they were looking for
        timer.take()
        began = time.perf_counter()
        try:
            view_child(viewer=viewer, contactpoint_id=target, purpose="safeguarding_concern")
        except (ChildNotFound, LookupRefused):
            continue
        elapsed = (time.perf_counter() - began) * 1000
        protective_ms, audit_ms, raised = timer.take()
        for bucket, value in zip(
            added["view"], (protective_ms, audit_ms, elapsed, raised), strict=True
        ):
            bucket.append(value)
    timer.__exit__()
    commits = sorted(timer.commits)
    overall = summarise(*everything, seconds)
    overall["top_1"] = round(sum(1 for r in ranks if r == 1) / len(queries), 4)
    overall["misses"] = [
        {"kind": q.kind, "criteria": q.criteria}
        for (q, _), hit in zip(prepared, everything[1], strict=True)
        if not hit
    ][:40]
    return {
        "overall": overall,
        "protective_and_audit": {
            "quota_store": "redis" if getattr(settings, "REDIS_URL", "") else "database",
            "searches_refused": refused,
            "first_lookup_of_the_day": first_of_day,
            "floor": floor,
            "commit_p50_ms": round(percentile(commits, 0.50), 3),
            "commit_p95_ms": round(percentile(commits, 0.95), 3),
            **{kind: overhead_summary(*values) for kind, values in added.items()},
        },
        "by_kind": {
            kind: summarise(*values, sum(values[0]) / 1000)
            for kind, values in sorted(by_kind.items())
        },
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_over_http(queries: list[Query], *, clients: int, workers: int) -> dict[str, Any]:
    """Start gunicorn on this database and POST the queries from `clients` threads at once."""
    from django.db import connection

    from contactpoint.access import services

    tokens = []
    for user in bench_users(BENCH_USERS):
        issued = services.issue_api_token(user=user, ip_address=None)
        issued.token.purpose = "safeguarding_concern"
        issued.token.save()
        tokens.append(issued.raw)
    connection.close()
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
        [
            sys.executable,
            "-m",
            "gunicorn",
            "contactpoint.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "CONTACTPOINT_DEBUG": "false"},
        cwd=ROOT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.3)
        results: list[tuple[float, bool, bool, int]] = []
        lock = threading.Lock()
        shared = iter(queries)

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while True:
                with lock:
                    query = next(shared, None)
                if query is None:
                    return
                body = json.dumps(query.criteria)
                # A different practitioner each time, as in real use (see BENCH_USERS).
                headers = {
                    "Authorization": f"Bearer {random.choice(tokens)}",
                    "Content-Type": "application/json",
                }
                began = time.perf_counter()
                conn.request("POST", "/api/v1/children/search", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                elapsed = (time.perf_counter() - began) * 1000
                answer = json.loads(payload) if response.status == 200 else {}
                ids = [r["contactpoint_id"] for r in answer.get("results", [])]
                with lock:
                    results.append(
                        (
                            elapsed,
                            query.target in ids,
                            answer.get("outcome") == "too_many",
                            response.status,
                        )
                    )

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    statuses: dict[int, int] = defaultdict(int)
    for *_, code in results:
        statuses[code] += 1
    summary = summarise(
        [r[0] for r in results], [r[1] for r in results], [r[2] for r in results], seconds
    )
    summary.update({"clients": clients, "gunicorn_workers": workers, "statuses": dict(statuses)})
    return summary


def data_size() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE relname = ANY(%s)",
            [["index_child", "index_childname", "index_address", "audit_auditevent"]],
        )
        rows = dict(cursor.fetchall())
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {
        "database_mib": round(database_bytes / 1024 / 1024),
        "rows": rows,
        "postgresql": version,
        "shared_buffers": shared_buffers,
    }


def run_one(
    size: int, *, queries: int, seed: int, http_clients: int, http_workers: int
) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contactpoint.settings")
    import django

    django.setup()
    from contactpoint.index.models import Child

    children = Child.objects.count()
    built = build_queries(queries + WARM_UP_QUERIES, seed)
    warm, measured = built[:WARM_UP_QUERIES], built[WARM_UP_QUERIES:]
    result: dict[str, Any] = {"children": children, "data": data_size()}
    result["in_process"] = run_in_process(measured, warm_up=warm)
    if http_clients:
        result["http"] = run_over_http(measured, clients=http_clients, workers=http_workers)
    return result


# --- The driver ----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu, memory_gib = "unknown", 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory_gib, 1),
        "python": sys.version.split()[0],
    }


def database_url_for(base: str, size: int) -> str:
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_{size}"))


def ensure_population(url: str, size: int, *, seed: int, fresh: bool) -> None:
    """Create, migrate and fill the database unless it already holds exactly `size` children."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    children = 0
    with psycopg.connect(url) as conn:
        try:
            row = conn.execute("SELECT count(*) FROM index_child").fetchone()
            children = int(row[0]) if row else 0
        except psycopg.errors.UndefinedTable:
            children = -1
    env = {**os.environ, "DATABASE_URL": url, "CONTACTPOINT_DEBUG": "false"}
    command = [sys.executable, "-m", "contactpoint.cli"]
    subprocess.run([*command, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)  # noqa: S603
    if children == size:
        print(f"  reusing {size:,} generated children in {name}", flush=True)
        return
    if children > 0:
        raise SystemExit(f"{name} holds {children:,} children, not {size:,}: rerun with --fresh")
    print(f"  generating {size:,} children into {name} (seed {seed})...", flush=True)
    subprocess.run(  # noqa: S603
        [
            *command,
            "generate",
            "--children",
            str(size),
            "--seed",
            str(seed),
            "--authorities",
            "all",
        ],
        env=env,
        cwd=ROOT,
        check=True,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def print_summary(label: str, figures: dict[str, Any]) -> None:
    print(
        f"  {label:<22} n={figures['queries']:>5}  recall {figures['recall']:.1%} "
        f"({figures['recall_when_listed']:.1%} when listed)  "
        f"too many {figures['too_many_rate']:.1%}  p50 {figures['p50_ms']:.1f} ms  "
        f"p95 {figures['p95_ms']:.1f} ms  p99 {figures['p99_ms']:.1f} ms  "
        f"{figures['searches_per_second']:.0f}/s",
        flush=True,
    )


def forget_quota_counters(prefix: str) -> None:
    """Delete one run's quota keys from Redis (nothing to do with the database store)."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    import redis

    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated child counts")
    parser.add_argument("--database-url", default=DEFAULT_URL, help="base URL; _<size> is appended")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument(
        "--seed", type=int, default=4, help="for both the population and the queries"
    )
    parser.add_argument("--fresh", action="store_true", help="regenerate the population")
    parser.add_argument("--http", action="store_true", help="also measure over HTTP (gunicorn)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument(
        "--workers", type=int, default=0, help="gunicorn workers (default 2 x cores)"
    )
    parser.add_argument("--run-one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    workers = args.workers or 2 * (os.cpu_count() or 1)

    if args.run_one:
        result = run_one(
            args.run_one,
            queries=args.queries,
            seed=args.seed,
            http_clients=args.clients if args.http else 0,
            http_workers=workers,
        )
        print(json.dumps(result, default=str))
        return

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    info = machine()
    print(
        f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gib']} GiB RAM, Python {info['python']}"
    )
    runs = []
    for size in sizes:
        url = database_url_for(args.database_url, size)
        print(f"\n{size:,} children ({url})", flush=True)
        ensure_population(url, size, seed=args.seed, fresh=args.fresh)
        # Counters of this run's own, as on a fresh day: the benchmark's practitioners would
        # otherwise carry an earlier run's counts into this one and reach their quotas.
        quota_prefix = f"contactpoint-bench:{size}:{time.time_ns()}"
        completed = subprocess.run(  # noqa: S603 (this script, fixed arguments)
            [
                sys.executable,
                __file__,
                "--run-one",
                str(size),
                "--queries",
                str(args.queries),
                "--seed",
                str(args.seed),
                "--clients",
                str(args.clients),
                "--workers",
                str(workers),
                *(["--http"] if args.http else []),
            ],
            env={
                **os.environ,
                "DATABASE_URL": url,
                "CONTACTPOINT_DEBUG": "false",
                "CONTACTPOINT_QUOTA_KEY_PREFIX": quota_prefix,
            },
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        forget_quota_counters(quota_prefix)
        if completed.returncode != 0:
            raise SystemExit(f"the {size:,}-children run failed (exit {completed.returncode})")
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["size"] = size
        runs.append(result)
        data = result["data"]
        print(
            f"  data: {result['children']:,} children, {data['rows'].get('index_childname', 0):,} names, "
            f"{data['rows'].get('index_address', 0):,} addresses, {data['database_mib']:,} MiB "
            f"(PostgreSQL {data['postgresql']}, shared_buffers {data['shared_buffers']})"
        )
        print_summary("in-process, all", result["in_process"]["overall"])
        print(
            f"  {'':<22} top-1 (intended child ranked first): {result['in_process']['overall']['top_1']:.1%}"
        )
        for kind, figures in result["in_process"]["by_kind"].items():
            print_summary(f"  {kind}", figures)
        added = result["in_process"]["protective_and_audit"]
        for kind in ("first_lookup_of_the_day", "search", "view"):
            figures = added[kind]
            label = "a first view of the day" if kind == "first_lookup_of_the_day" else f"a {kind}"
            print(
                f"  quotas+monitoring+audit on {label:<23} n={figures['n']:>5}  added p50 "
                f"{figures['added_p50_ms']:.2f} ms  p95 {figures['added_p95_ms']:.2f} ms  p99 "
                f"{figures['added_p99_ms']:.2f} ms (quotas+monitoring p50 "
                f"{figures['protective_p50_ms']:.2f} p95 {figures['protective_p95_ms']:.2f} ms, "
                f"audit write and commit p50 {figures['audit_p50_ms']:.2f} p95 "
                f"{figures['audit_p95_ms']:.2f} ms; whole lookup p95 "
                f"{figures['total_p95_ms']:.1f} ms; quota store {added['quota_store']})",
                flush=True,
            )
            print(
                f"  {'':<4}{figures['raised_alert']} raised a new alert (added p50 "
                f"{figures['raising_alert_p50_ms']:.2f} p95 {figures['raising_alert_p95_ms']:.2f} ms);"
                f" the rest p95 {figures['no_alert_p95_ms']:.2f} ms",
                flush=True,
            )
        print(
            f"  {'':<4}of which COMMIT p50 {added['commit_p50_ms']:.2f} p95 "
            f"{added['commit_p95_ms']:.2f} ms",
            flush=True,
        )
        floor = added["floor"]
        print(
            f"  {'':<4}for comparison, on this machine: a database round trip p50 "
            f"{floor['round_trip_p50_ms']:.2f} p95 {floor['round_trip_p95_ms']:.2f} ms; the "
            f"durable commit of one small row p50 {floor['durable_commit_p50_ms']:.2f} p95 "
            f"{floor['durable_commit_p95_ms']:.2f} ms",
            flush=True,
        )
        if "http" in result:
            http_figures = result["http"]
            print_summary(f"HTTP, {http_figures['clients']} clients", http_figures)
            print(
                f"  {'':<22} gunicorn workers {http_figures['gunicorn_workers']}, statuses {http_figures['statuses']}"
            )
    if len(runs) > 1:
        first, last = runs[0], runs[-1]
        ratio = last["in_process"]["overall"]["p95_ms"] / max(
            first["in_process"]["overall"]["p95_ms"], 0.01
        )
        print(
            f"\np95 grows x{ratio:.2f} from {first['size']:,} to {last['size']:,} children "
            f"(x{last['size'] / first['size']:.0f} the data)"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"search-{stamp}.json"
    path.write_text(json.dumps({"machine": info, "runs": runs}, indent=2, default=str))
    print(f"\nfigures written to {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
