"""Counting lookups in fixed windows and distinct children over rolling periods, on Redis and
in the database.

Every test that takes `quota_store` runs on both stores; the parallel tests need a store that
several connections can share at once (Redis, or PostgreSQL for the database store).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction
from tests.monitoring.support import practitioner

from contactpoint.access.models import QuotaCounter
from contactpoint.access.protective import quotas
from contactpoint.access.protective.quotas import (
    PERIOD_SECONDS,
    Limit,
    Measure,
    Period,
    QuotaStoreUnavailable,
    RoleQuota,
    Usage,
    assess,
    peek_usage,
    quota_for,
    record_usage,
)
from contactpoint.access.roles import ROLE_CAPABILITIES, Capability, Role

pytestmark = pytest.mark.django_db

# 10:00:00 UTC on a Tuesday: the start of an hour, so windows are easy to reason about.
T = 1_795_514_400
assert T % 3600 == 0


def test_each_lookup_counts_once_in_every_window(quota_store: str) -> None:
    person = practitioner()
    for _ in range(3):
        usage = record_usage(user_id=person.pk, now=T + 5)
    assert usage.lookups == {Period.WEEK: 3, Period.DAY: 3, Period.HOUR: 3, Period.MINUTE: 3}


def test_windows_are_fixed_and_aligned_to_the_epoch(quota_store: str) -> None:
    person = practitioner()
    usage = record_usage(user_id=person.pk, now=T + 61)
    assert usage.window_starts[Period.MINUTE] == T + 60
    assert usage.window_starts[Period.HOUR] == T
    assert usage.window_starts[Period.DAY] == T - T % 86_400


def test_a_new_minute_starts_from_zero_but_the_hour_goes_on(quota_store: str) -> None:
    person = practitioner()
    record_usage(user_id=person.pk, now=T + 1)
    record_usage(user_id=person.pk, now=T + 2)
    usage = record_usage(user_id=person.pk, now=T + 61)
    assert usage.lookups[Period.MINUTE] == 1
    assert usage.lookups[Period.HOUR] == 3


def test_each_child_counts_once_per_period_however_often_disclosed(quota_store: str) -> None:
    person = practitioner()
    record_usage(user_id=person.pk, child_ids=[1, 2, 3], now=T + 1)
    record_usage(user_id=person.pk, child_ids=[2, 3, 4], now=T + 2)
    usage = record_usage(user_id=person.pk, child_ids=[4, 4, 4], now=T + 3)
    assert usage.children == {Period.WEEK: 4, Period.DAY: 4, Period.HOUR: 4}
    # An hour after the last of them, only child 1 (disclosed again) is in the last hour.
    later = record_usage(user_id=person.pk, child_ids=[1], now=T + 3 + 3600)
    assert later.children[Period.HOUR] == 1 and later.children[Period.DAY] == 4


def test_children_are_counted_over_the_last_24_hours_not_since_midnight(quota_store: str) -> None:
    """A day's limit taken just before midnight is still counted just after it."""
    person = practitioner()
    midnight = T - T % 86_400 + 86_400
    before = record_usage(user_id=person.pk, child_ids=range(1, 31), now=midnight - 120)
    after = record_usage(user_id=person.pk, child_ids=range(31, 51), now=midnight + 120)
    assert before.children[Period.DAY] == 30
    assert after.window_starts[Period.DAY] == midnight  # a new lookup window, as before
    assert after.children[Period.DAY] == 50 and after.children[Period.HOUR] == 50
    # A child disclosed again moves forward, never counted twice.
    again = record_usage(user_id=person.pk, child_ids=[1], now=midnight + 180)
    assert again.children[Period.DAY] == 50
    # Once 24 hours have passed since the first thirty, only the later ones remain.
    next_day = record_usage(user_id=person.pk, child_ids=[], now=midnight - 120 + 86_400 + 1)
    assert next_day.children[Period.DAY] == 21  # children 31 to 50, and child 1 again


def test_children_are_counted_over_the_last_7_days_across_the_weeks_end(
    quota_store: str,
) -> None:
    person = practitioner()
    week_ends = T - T % 604_800 + 604_800
    for day in (3, 2, 1):  # three days before the week's end, 45 new children each day
        start = 1000 * day
        record_usage(
            user_id=person.pk, child_ids=range(start, start + 45), now=week_ends - day * 86_400
        )
    after = record_usage(user_id=person.pk, child_ids=range(5000, 5045), now=week_ends + 3600)
    assert after.window_starts[Period.WEEK] == week_ends
    assert after.children[Period.WEEK] == 180  # over the weekly hard limit: suspended


def test_a_clock_stepping_back_loses_no_disclosed_child(quota_store: str) -> None:
    person = practitioner()
    record_usage(user_id=person.pk, child_ids=[1, 2], now=T + 3 * 3600)
    usage = record_usage(user_id=person.pk, child_ids=[1, 3], now=T)
    assert usage.children[Period.HOUR] == 3  # child 1 keeps its later time
    assert usage.children[Period.WEEK] == 3


def test_people_have_separate_counters(quota_store: str) -> None:
    first, second = practitioner(), practitioner()
    record_usage(user_id=first.pk, child_ids=[1], now=T)
    usage = record_usage(user_id=second.pk, child_ids=[2], now=T)
    assert usage.lookups[Period.DAY] == 1 and usage.children[Period.DAY] == 1


def test_a_clock_stepping_back_never_reopens_an_earlier_window(quota_store: str) -> None:
    """The store's clock goes back an hour: counting carries on in the latest window."""
    person = practitioner()
    for _ in range(4):
        record_usage(user_id=person.pk, child_ids=[7, 8], now=T + 3 * 3600)
    usage = record_usage(user_id=person.pk, child_ids=[9], now=T + 2 * 3600)
    assert usage.window_starts[Period.HOUR] == T + 3 * 3600
    assert usage.lookups[Period.HOUR] == 5
    assert usage.children[Period.HOUR] == 3


@pytest.mark.parametrize("store", ["database", "redis"])
def test_the_web_servers_clock_changing_neither_resets_nor_splits_the_counters(
    store: str, request: pytest.FixtureRequest, settings: Any
) -> None:
    """The windows follow the store's own clock (Redis TIME, the database's now()), so a web
    server whose clock is set a day ahead, then a day behind, counts in the same windows.

    Unlike `quota_store`, the database store here keeps its real clock: time-machine moves
    only this process's clock, as a misset or tampered web server would.
    """
    if store == "redis":
        request.getfixturevalue("redis_store")
    else:
        settings.REDIS_URL = ""
    person = practitioner()
    first = record_usage(user_id=person.pk, child_ids=[1])
    for shift in (dt.timedelta(days=1), dt.timedelta(days=-1)):
        with time_machine.travel(dt.datetime.now(tz=dt.UTC) + shift, tick=False):
            usage = record_usage(user_id=person.pk, child_ids=[2 + (shift.days > 0)])
    assert usage.window_starts[Period.DAY] == first.window_starts[Period.DAY]
    assert usage.lookups[Period.DAY] == 3
    assert usage.children[Period.DAY] == 3


def test_peeking_counts_nothing(quota_store: str) -> None:
    person = practitioner()
    record_usage(user_id=person.pk, child_ids=[1], now=T)
    peeked = peek_usage(user_id=person.pk, now=T)
    assert peeked.lookups[Period.DAY] == 1 and peeked.children[Period.DAY] == 1
    assert peek_usage(user_id=person.pk, now=T).lookups[Period.DAY] == 1


def test_a_replayed_request_is_counted_again_never_subtracted(quota_store: str) -> None:
    person = practitioner()
    first = record_usage(user_id=person.pk, child_ids=[5], now=T)
    replay = record_usage(user_id=person.pk, child_ids=[5], now=T)
    assert replay.lookups[Period.MINUTE] == first.lookups[Period.MINUTE] + 1
    assert replay.children[Period.HOUR] == 1


def test_the_database_store_keeps_one_row_per_window(database_store: None) -> None:
    person = practitioner()
    for _ in range(5):
        record_usage(user_id=person.pk, now=T)
    assert QuotaCounter.objects.filter(user=person).count() == len(quotas.PERIODS)


def test_an_unreachable_redis_is_reported_not_ignored(settings) -> None:  # type: ignore[no-untyped-def]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    with pytest.raises(QuotaStoreUnavailable):
        record_usage(user_id=1, now=T)


# --- The quota table ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [*Role.values, "a_role_added_later"])
def test_every_role_that_looks_children_up_has_a_quota(role: str) -> None:
    capabilities = ROLE_CAPABILITIES.get(role, frozenset())
    looks_up = {Capability.SEARCH_CHILDREN, Capability.VIEW_CHILD, Capability.READ_AUDIT}
    assert (quota_for(role) is not None) == bool(capabilities & looks_up)


def test_a_new_searching_role_gets_limits_from_its_capabilities(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(
        ROLE_CAPABILITIES, "visiting_practitioner", frozenset({Capability.SEARCH_CHILDREN})
    )
    assert quota_for("visiting_practitioner") == quota_for(Role.PRACTITIONER)


def test_the_daily_hard_limit_on_children_is_at_most_50() -> None:
    """The promise the attack test checks: nobody leaves with more than 50 children a day."""
    for role in Role.values:
        quota = quota_for(role)
        if quota is not None and Period.DAY in quota.children:
            assert quota.children[Period.DAY].hard <= 50


def test_limits_are_ordered_soft_below_hard_and_short_below_long() -> None:
    for role in Role.values:
        quota = quota_for(role)
        if quota is None:
            continue
        for table in (quota.lookups, quota.children):
            for limit in table.values():
                assert 0 < limit.soft < limit.hard
            hards = [table[p].hard for p in quotas.PERIODS if p in table]
            assert hards == sorted(hards, reverse=True)


def test_assess_reports_hard_breaches_first() -> None:
    quota = RoleQuota(lookups={Period.MINUTE: Limit(2, 3)}, children={Period.HOUR: Limit(5, 10)})
    usage = Usage(
        now=T,
        window_starts={Period.MINUTE: T, Period.HOUR: T},
        lookups={Period.MINUTE: 2},
        children={Period.HOUR: 11},
    )
    breaches = assess(quota, usage)
    assert [(b.measure, b.hard) for b in breaches] == [
        (Measure.CHILDREN, True),
        (Measure.LOOKUPS, False),
    ]


# --- Many processes at once --------------------------------------------------------------------------


def _in_parallel(work: Callable[[int], None], workers: int) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            work(index)
        except BaseException as error:  # surfaced below: a thread's failure fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def _needs_shared_store(store: str) -> None:
    if store == "database" and connection.vendor != "postgresql":
        pytest.skip("parallel writers need PostgreSQL: SQLite's test database is per connection")


def _lookup_transaction(store: str) -> AbstractContextManager[object]:
    """A lookup's transaction: the database store counts inside it; Redis needs none."""
    return transaction.atomic() if store == "database" else nullcontext()


@pytest.mark.django_db(transaction=True)
def test_parallel_lookups_are_all_counted(quota_store: str) -> None:
    _needs_shared_store(quota_store)
    person = practitioner()
    per_worker, workers = 10, 8

    def work(index: int) -> None:
        for n in range(per_worker):
            with _lookup_transaction(quota_store):
                record_usage(user_id=person.pk, child_ids=[index * 100 + n], now=T)

    _in_parallel(work, workers)
    usage = peek_usage(user_id=person.pk, now=T)
    assert usage.lookups[Period.MINUTE] == per_worker * workers
    assert usage.children[Period.HOUR] == per_worker * workers


@pytest.mark.django_db(transaction=True)
def test_parallel_disclosures_never_pass_the_hard_limit(quota_store: str) -> None:
    """Eight lookups at once, ten new children each: what is allowed stays within the limit."""
    _needs_shared_store(quota_store)
    person = practitioner()
    hard = quotas._FINDING_CHILDREN.children[Period.HOUR].hard
    allowed: list[list[int]] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        children = [index * 100 + n for n in range(10)]
        with _lookup_transaction(quota_store):
            usage = record_usage(user_id=person.pk, child_ids=children, now=T)
            if usage.children[Period.HOUR] <= hard:
                with lock:
                    allowed.append(children)

    _in_parallel(work, 8)
    shown = {child for batch in allowed for child in batch}
    assert len(shown) <= hard
    assert len(allowed) == hard // 10


def test_period_lengths_nest_so_a_longer_window_boundary_is_every_shorter_one() -> None:
    lengths = [PERIOD_SECONDS[p] for p in reversed(quotas.PERIODS)]
    assert all(longer % shorter == 0 for shorter, longer in itertools.pairwise(lengths))


def test_children_from_other_regions_are_counted_once_each_per_day(quota_store: str) -> None:
    person = practitioner()
    record_usage(user_id=person.pk, child_ids=[1, 2], far_child_ids=[2], now=T)
    usage = record_usage(user_id=person.pk, child_ids=[2, 3], far_child_ids=[2, 3], now=T + 60)
    assert usage.far_children == 2
    tomorrow = record_usage(user_id=person.pk, child_ids=[4], far_child_ids=[4], now=T + 86_400)
    assert tomorrow.far_children == 1


def test_sensitive_records_opened_are_counted_apart_from_the_far_ones(quota_store: str) -> None:
    person = practitioner()
    record_usage(
        user_id=person.pk, child_ids=[1, 2, 3], far_child_ids=[1], sensitive_child_ids=[2, 3], now=T
    )
    usage = record_usage(
        user_id=person.pk, child_ids=[3, 4], far_child_ids=[4], sensitive_child_ids=[3], now=T + 60
    )
    assert (usage.far_children, usage.sensitive_children) == (2, 2)
    assert usage.count(Measure.CHILDREN, Period.DAY) == 4
    peeked = quotas.peek_usage(user_id=person.pk, now=T + 120)
    assert (peeked.far_children, peeked.sensitive_children) == (2, 2)
    tomorrow = record_usage(
        user_id=person.pk, child_ids=[5], sensitive_child_ids=[5], now=T + 86_400
    )
    assert (tomorrow.far_children, tomorrow.sensitive_children) == (0, 1)


# --- The command -----------------------------------------------------------------------------------


def test_the_command_shows_a_persons_usage_against_their_quota(database_store: None) -> None:
    import io

    from django.core.management import call_command

    person = practitioner(username="counted.person")
    record_usage(user_id=person.pk, child_ids=[1, 2, 3])
    out = io.StringIO()
    call_command("quotas", "show", "counted.person", stdout=out)
    text = out.getvalue()
    assert "counted in the database" in text
    assert "children  this day       3  (soft 35, hard 50)  ok" in text


def test_pruning_removes_only_windows_long_past(database_store: None) -> None:
    from contactpoint.access.models import QuotaChildDisclosed

    person = practitioner()
    record_usage(user_id=person.pk, child_ids=[1], now=T - 30 * 86_400)
    record_usage(user_id=person.pk, child_ids=[2], now=T)
    removed = quotas.prune_database_counters(now=T)
    assert removed == len(quotas.PERIODS) + 1  # the old lookup windows and the old child
    assert QuotaCounter.objects.filter(user=person).count() == len(quotas.PERIODS)
    assert list(
        QuotaChildDisclosed.objects.filter(user=person).values_list("child_id", flat=True)
    ) == [2]
