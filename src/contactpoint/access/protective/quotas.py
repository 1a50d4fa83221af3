"""Per-person quotas on lookups and on distinct children disclosed, shared by every process.

Two measures (DESIGN: "every user has quotas"):

- **lookups**: every search, record view and audit report asked for, whatever it answered,
  counted in fixed windows (a rate);
- **children**: the distinct children disclosed to the person, in search results or a record,
  counted over *rolling* periods: the last hour, 24 hours and 7 days. This is the bound on what
  a person can take away, and a fixed window would let them take a day's limit just before
  midnight and another just after (or a week's either side of the week's end).

Counting children *disclosed* rather than records opened is what makes the quota bound what
a person can take away: a search result row already names a child and gives the date of birth.

Where the counts live
    With ``REDIS_URL`` set, one Lua script per lookup (INCR for lookups, SADD + SCARD for the
    children) runs atomically in Redis, so any number of gunicorn workers on any number of
    machines see one count. Without Redis, the database does the same with one atomic
    ``INSERT ... ON CONFLICT DO UPDATE SET count = count + 1`` and an
    ``INSERT ... ON CONFLICT DO NOTHING`` of (window, child) rows. Not DRF throttling and not a
    per-process cache: both let parallel requests through.

Windows and clocks (decision)
    Lookup windows are fixed and aligned to the epoch in UTC (minute, hour, day, 7-day week),
    keyed by the person's id and the window's start, so parallel sessions and API tokens of one
    person share every counter. Each child disclosed keeps the time it was last disclosed (a
    Redis sorted set, a database row per person and child, never moved backwards); the rolling
    counts are the children disclosed within the period before now. A window's start still
    names the period in alerts (one alert per window). The time is the *store's* clock (Redis ``TIME`` or the database's
    ``now()``), never a worker's, so a skewed or changed web server clock cannot split a window.
    A high-water mark per person and period means a store clock stepping backwards never
    returns to an earlier (possibly expired, hence empty) window; a forward step can end the
    current windows early, once, which the longer windows and monitoring still cover. Counts
    only ever grow within a window: a replayed request is counted again, never subtracted.

When the store fails
    If Redis cannot be reached the quota cannot be checked, so the lookup is refused with a
    clear message (fail closed); it never falls through to "allowed".
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from django.conf import settings
from django.db import connection

from contactpoint import config
from contactpoint.access.roles import Capability, Role, role_has

# --- The quota table (data) ----------------------------------------------------------------------


class Period(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


PERIOD_SECONDS: dict[Period, int] = {
    Period.MINUTE: 60,
    Period.HOUR: 3_600,
    Period.DAY: 86_400,
    Period.WEEK: 604_800,
}
# Largest first: in the database store the week row is written first by every lookup, so two
# parallel lookups of one person queue on it and never count past each other (see _db_usage).
PERIODS: tuple[Period, ...] = (Period.WEEK, Period.DAY, Period.HOUR, Period.MINUTE)


class Measure(StrEnum):
    LOOKUPS = "lookups"
    CHILDREN = "children"


@dataclass(frozen=True)
class Limit:
    """At `soft` the person is warned; above `hard` the account is suspended at once."""

    soft: int
    hard: int


@dataclass(frozen=True)
class RoleQuota:
    lookups: Mapping[Period, Limit]
    children: Mapping[Period, Limit]

    def limit(self, measure: Measure, period: Period) -> Limit | None:
        return (self.lookups if measure is Measure.LOOKUPS else self.children).get(period)


# A practitioner's ordinary day is a handful of searches an hour and a few dozen children,
# mostly their own caseload again and again (tests/monitoring builds such a day from synthetic
# data). The daily hard limit on children guarantees that a determined insider leaves with at
# most 50 children a day however they search (tests/attack); the weekly one that a patient
# insider who stays under every daily soft limit is stopped within the week (tests/quotas).
_FINDING_CHILDREN = RoleQuota(
    lookups={
        Period.MINUTE: Limit(soft=6, hard=15),
        Period.HOUR: Limit(soft=60, hard=120),
        Period.DAY: Limit(soft=200, hard=400),
    },
    children={
        Period.HOUR: Limit(soft=20, hard=30),
        Period.DAY: Limit(soft=35, hard=50),
        Period.WEEK: Limit(soft=100, hard=150),
    },
)
# Security officers disclose no records; their lookups are audit reports, limited all the same.
_READING_AUDIT = RoleQuota(
    lookups={
        Period.MINUTE: Limit(soft=15, hard=40),
        Period.HOUR: Limit(soft=150, hard=300),
        Period.DAY: Limit(soft=400, hard=800),
    },
    children={},
)

# Named roles; any other role (one added later) gets its quota from its capabilities below, so
# that a new searching role is never left without limits.
ROLE_QUOTAS: dict[str, RoleQuota] = {
    Role.PRACTITIONER: _FINDING_CHILDREN,
    Role.CHILD_PROTECTION_SOCIAL_WORKER: _FINDING_CHILDREN,
    Role.POLICE_LIAISON: _FINDING_CHILDREN,
    Role.SHIELDING_OFFICER: _FINDING_CHILDREN,
    Role.DATA_QUALITY_OFFICER: _FINDING_CHILDREN,
    Role.NATIONAL_TEAM: _FINDING_CHILDREN,
    Role.SECURITY_OFFICER: _READING_AUDIT,
}


def quota_for(role: str) -> RoleQuota | None:
    """The quota of a role; None for a role that may make no lookups at all (fail closed)."""
    named = ROLE_QUOTAS.get(role)
    if named is not None:
        return named
    if role_has(role, Capability.SEARCH_CHILDREN) or role_has(role, Capability.VIEW_CHILD):
        return _FINDING_CHILDREN
    if role_has(role, Capability.READ_AUDIT):
        return _READING_AUDIT
    return None


# --- Usage -----------------------------------------------------------------------------------------


class QuotaStoreUnavailable(RuntimeError):
    """The shared counters could not be read or written, so no lookup may proceed."""


@dataclass(frozen=True)
class Usage:
    """A person's counts in the current windows, after this lookup was counted."""

    now: int  # the store's clock, seconds since the epoch
    window_starts: Mapping[Period, int]
    lookups: Mapping[Period, int]
    children: Mapping[Period, int]
    # Distinct children today from outside the person's own region (a monitoring rule's count,
    # kept by the same store so that it costs no extra round trip).
    far_children: int = 0
    # Distinct children with a current sensitive service whose records the person opened today
    # (another monitoring rule's count, kept the same way).
    sensitive_children: int = 0
    # The person's previous lookups, newest first, as recorded with `history_entry` (Redis
    # keeps them, in the same round trip); None when the store keeps none (the database store:
    # monitoring reads the audit log instead).
    recent: tuple[str, ...] | None = None

    def count(self, measure: Measure, period: Period) -> int:
        return (self.lookups if measure is Measure.LOOKUPS else self.children).get(period, 0)


@dataclass(frozen=True)
class Breach:
    measure: Measure
    period: Period
    count: int
    limit: int
    hard: bool
    window_start: int


def assess(quota: RoleQuota, usage: Usage) -> list[Breach]:
    """Every limit the usage has reached: hard ones first (count above hard), then soft."""
    hard: list[Breach] = []
    soft: list[Breach] = []
    for measure in Measure:
        for period in PERIODS:
            limit = quota.limit(measure, period)
            if limit is None:
                continue
            count = usage.count(measure, period)
            start = usage.window_starts.get(period, 0)
            if count > limit.hard:
                hard.append(Breach(measure, period, count, limit.hard, True, start))
            elif count >= limit.soft:
                soft.append(Breach(measure, period, count, limit.soft, False, start))
    return hard + soft


def describe(breach: Breach) -> str:
    what = "searches and record views" if breach.measure is Measure.LOOKUPS else "children"
    return f"{breach.count} {what} this {breach.period} (limit {breach.limit})"


def warning_for(breach: Breach, quota: RoleQuota) -> str:
    """The words a person sees when close to a limit."""
    limit = quota.limit(breach.measure, breach.period)
    hard = limit.hard if limit else breach.limit
    what = (
        "searches and record views" if breach.measure is Measure.LOOKUPS else "different children"
    )
    return (
        f"You have looked at {breach.count} {what} this {breach.period}. At more than {hard} "
        "your account is suspended automatically and your security officer is told."
    )


# Lookups remembered per person for the pattern rules (kept two hours): the hourly hard limit,
# so a whole hour's worth for anyone still allowed to look things up.
HISTORY_KEPT = 120


def record_usage(
    *,
    user_id: int,
    child_ids: Sequence[int] = (),
    far_child_ids: Sequence[int] = (),
    sensitive_child_ids: Sequence[int] = (),
    history_entry: str = "",
    now: int | None = None,
) -> Usage:
    """Count one lookup and the children it disclosed; return the counts after it.

    `child_ids` are keys that identify each child (monitoring uses the ContactPoint ID's
    digits); `far_child_ids` those of the children from outside the person's region, and
    `sensitive_child_ids` those of the children with a current sensitive service whose record
    was opened (each counted per day for monitoring, not for a quota). `history_entry`
    describes the lookup for the pattern rules (kept by Redis; see Usage.recent). `now` is for
    tests only (to move between windows); the store's own clock is used otherwise. Raises
    QuotaStoreUnavailable when the counters cannot be written.
    """
    return start_usage(
        user_id=user_id,
        child_ids=child_ids,
        far_child_ids=far_child_ids,
        sensitive_child_ids=sensitive_child_ids,
        history_entry=history_entry,
        now=now,
    ).result()


class PendingUsage(Protocol):
    """A lookup being counted: call `result()` for the counts, or `cancel()`, exactly once."""

    def result(self) -> Usage: ...

    def cancel(self) -> None:
        """Not wanted after all: what was already sent stays counted, nothing more is."""


def start_usage(
    *,
    user_id: int,
    child_ids: Sequence[int] = (),
    far_child_ids: Sequence[int] = (),
    sensitive_child_ids: Sequence[int] = (),
    history_entry: str = "",
    now: int | None = None,
) -> PendingUsage:
    """Start counting one lookup (as record_usage) and return before the store answers.

    With Redis the command is sent at once and its reply read by `result()`, so the caller can
    read the database meanwhile: the two round trips overlap (decision 0004). The database
    store counts in the caller's transaction, when `result()` is called.
    """
    if redis_url():
        return _RedisCount(
            user_id,
            child_ids,
            {FAR: far_child_ids, SENSITIVE: sensitive_child_ids},
            history_entry,
            increment=True,
            now=now,
        )
    return _DatabaseCount(
        user_id, child_ids, {FAR: far_child_ids, SENSITIVE: sensitive_child_ids}, now=now
    )


def peek_usage(*, user_id: int, now: int | None = None) -> Usage:
    """The current counts without counting anything (for the warning shown on pages)."""
    if redis_url():
        return _RedisCount(user_id, (), {}, "", increment=False, now=now).result()
    return _db_usage(user_id, (), {}, increment=False, now=now)


def redis_url() -> str:
    return str(getattr(settings, "REDIS_URL", "") or "")


def key_prefix() -> str:
    """Redis keys start with this: settings or CONTACTPOINT_QUOTA_KEY_PREFIX (tests use their own)."""
    configured = getattr(settings, "CONTACTPOINT_QUOTA_KEY_PREFIX", "") or config.read_str(
        "CONTACTPOINT_QUOTA_KEY_PREFIX"
    )
    return str(configured or "contactpoint:quota")


# --- Redis -----------------------------------------------------------------------------------------

_CHILD_PERIODS = frozenset({Period.HOUR, Period.DAY, Period.WEEK})


def _lua_periods() -> str:
    """PERIODS as a Lua table literal, so that the script need not be sent them every time."""
    rows = (
        f"{{'{period.value}', {PERIOD_SECONDS[period]}, {int(period in _CHILD_PERIODS)}}}"
        for period in PERIODS
    )
    return "{" + ", ".join(rows) + "}"


# ARGV: key base, increment (0/1), now override (0: Redis TIME), history entry ('' for none),
# history kept, how many child ids, how many of the children from outside the person's region,
# the child ids, the ids of those from outside the region, then the ids of the children with a
# current sensitive service. Returns ONE string: "now,then per period: window start,lookups,
# children, then today's counts of children from outside the region and of those with a
# sensitive service", then, if an entry was given, a newline and the earlier history entries,
# newest first, joined by newlines (JSON never holds a raw one). One flat reply, because
# redis-py parsed a nested one item by item (0.1-0.3 ms).
# One round trip, atomic: no other command runs between the counting and the counts.
_LUA_USAGE = (
    """
local periods = """
    + _lua_periods()
    + """
local base = ARGV[1]
local increment = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now == 0 then now = tonumber(redis.call('TIME')[1]) end
local entry = ARGV[4]
local kept = tonumber(ARGV[5])
local first_child = 8
local last_child = 7 + tonumber(ARGV[6])
local last_far = last_child + tonumber(ARGV[7])
local out = {now}
local day_start = 0
-- Each child with the time it was last disclosed: the rolling counts are taken from it. GT
-- never moves a time backwards, so a store clock stepping back loses no child.
local seen_key = base .. ':seen'
if increment == 1 and last_child >= first_child then
  local scored = {}
  for i = first_child, last_child do
    scored[#scored + 1] = now
    scored[#scored + 1] = ARGV[i]
  end
  redis.call('ZADD', seen_key, 'GT', unpack(scored))
  redis.call('ZREMRANGEBYSCORE', seen_key, '-inf', '(' .. (now - """
    + str(PERIOD_SECONDS[Period.WEEK])
    + """))
  redis.call('EXPIRE', seen_key, """
    + str(PERIOD_SECONDS[Period.WEEK] + PERIOD_SECONDS[Period.DAY])
    + """)
end
for _, period in ipairs(periods) do
  local name, seconds, counts_children = period[1], period[2], period[3] == 1
  local start = now - (now % seconds)
  local mark_key = base .. ':mark:' .. name
  local mark = tonumber(redis.call('GET', mark_key) or '0')
  local keep = math.max(seconds * 2, 172800)
  if mark > start then
    start = mark
  elseif increment == 1 then
    redis.call('SET', mark_key, start, 'EX', keep)
  end
  if name == 'day' then day_start = start end
  local lookups_key = base .. ':n:' .. name .. ':' .. start
  local lookups
  if increment == 1 then
    lookups = redis.call('INCR', lookups_key)
    redis.call('EXPIRE', lookups_key, seconds + keep)
  else
    lookups = tonumber(redis.call('GET', lookups_key) or '0')
  end
  local children = 0
  if counts_children then
    children = redis.call('ZCOUNT', seen_key, '(' .. (now - seconds), '+inf')
  end
  table.insert(out, start)
  table.insert(out, lookups)
  table.insert(out, children)
end
-- The day's sets of children: from outside the region, and with a sensitive service.
local function count_today(name, first, last)
  local key = base .. ':' .. name .. ':' .. day_start
  if last >= first then
    redis.call('SADD', key, unpack(ARGV, first, last))
    redis.call('EXPIRE', key, 172800)
  end
  table.insert(out, redis.call('SCARD', key))
end
count_today('far', last_child + 1, last_far)
count_today('sensitive', last_far + 1, #ARGV)
local reply = table.concat(out, ',')
if entry ~= '' then
  local history_key = base .. ':recent'
  local earlier = redis.call('LRANGE', history_key, 0, kept - 1)
  redis.call('LPUSH', history_key, entry)
  redis.call('LTRIM', history_key, 0, kept - 1)
  redis.call('EXPIRE', history_key, 7200)
  reply = reply .. '\\n' .. table.concat(earlier, '\\n')
end
return reply
"""
)

_clients: dict[str, tuple[Any, Any]] = {}
_clients_lock = threading.Lock()


def _redis_client(url: str) -> tuple[Any, Any]:
    """One client (and connection pool) and its registered script per URL and process.

    redis-py re-creates a pool after a fork, so gunicorn workers never share sockets.
    """
    import redis

    with _clients_lock:
        entry = _clients.get(url)
        if entry is None:
            client = redis.Redis.from_url(
                url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
            )
            entry = (client, client.register_script(_LUA_USAGE))
            _clients[url] = entry
    return entry


def user_key_base(user_id: int) -> str:
    """Every key of one person shares a hash tag, so a Redis Cluster keeps them on one node."""
    return f"{key_prefix()}:{{{user_id}}}"


class _RedisCount:
    """One run of the usage script: sent on construction, its reply read by `result()`.

    The command goes out on a connection taken from the client's pool, which is given back only
    once its reply has been read (or the connection closed), so no other command can read this
    reply. A script Redis does not hold yet (NOSCRIPT: it was restarted or flushed) did not
    run, so `result()` runs it again through redis-py's Script, which loads it first.
    """

    def __init__(
        self,
        user_id: int,
        child_ids: Sequence[int],
        day_sets: Mapping[str, Sequence[int]],
        history_entry: str,
        *,
        increment: bool,
        now: int | None,
    ) -> None:
        import redis

        self.client, self.script = _redis_client(redis_url())
        disclosed = sorted({int(child) for child in child_ids})
        far = sorted({int(child) for child in day_sets.get(FAR, ())})
        self.argv: list[Any] = [
            user_key_base(user_id),
            int(increment),
            int(now or 0),
            history_entry if increment else "",
            HISTORY_KEPT,
            len(disclosed),
            len(far),
            *disclosed,
            *far,
            *sorted({int(child) for child in day_sets.get(SENSITIVE, ())}),
        ]
        self.wants_history = bool(history_entry) and increment
        self.connection: Any = None
        try:
            self.connection = self.client.connection_pool.get_connection()
            self.connection.send_command("EVALSHA", self.script.sha, 0, *self.argv)
        except redis.RedisError as error:
            self._give_back(broken=True)
            raise QuotaStoreUnavailable(
                f"the quota store (Redis) did not answer: {error}"
            ) from error

    def _give_back(self, *, broken: bool) -> None:
        if self.connection is None:
            return
        if broken:
            self.connection.disconnect()
        self.client.connection_pool.release(self.connection)
        self.connection = None

    def result(self) -> Usage:
        import redis

        try:
            try:
                raw = self.connection.read_response()
            except redis.exceptions.NoScriptError:
                self._give_back(broken=False)  # the error was the reply: the connection is fine
                raw = self.script(keys=[], args=self.argv)
            if isinstance(raw, redis.exceptions.ResponseError):
                raise raw
        except redis.RedisError as error:
            self._give_back(broken=True)
            raise QuotaStoreUnavailable(
                f"the quota store (Redis) did not answer: {error}"
            ) from error
        except BaseException:
            self._give_back(broken=True)  # the reply may still be unread: never reuse it
            raise
        self._give_back(broken=False)
        return self._parse(raw)

    def cancel(self) -> None:
        """The script was sent and counts: read its reply off the connection and drop it."""
        with contextlib.suppress(QuotaStoreUnavailable):
            self.result()

    def _parse(self, raw: Any) -> Usage:
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        counts, _, earlier = text.partition("\n")
        values = [int(v) for v in counts.split(",")]
        starts: dict[Period, int] = {}
        lookups: dict[Period, int] = {}
        children: dict[Period, int] = {}
        for index, period in enumerate(PERIODS):
            start, looked, seen = values[1 + index * 3 : 4 + index * 3]
            starts[period], lookups[period] = start, looked
            if period in _CHILD_PERIODS:
                children[period] = seen
        return Usage(
            now=values[0],
            window_starts=starts,
            lookups=lookups,
            children=children,
            far_children=values[-2],
            sensitive_children=values[-1],
            recent=(tuple(earlier.split("\n")) if earlier else ()) if self.wants_history else None,
        )


class _DatabaseCount:
    """The database store's count, made in the caller's transaction when `result()` is called."""

    def __init__(
        self,
        user_id: int,
        child_ids: Sequence[int],
        day_sets: Mapping[str, Sequence[int]],
        *,
        now: int | None,
    ) -> None:
        self.arguments = (user_id, child_ids, day_sets)
        self.now = now

    def result(self) -> Usage:
        return _db_usage(*self.arguments, increment=True, now=self.now)

    def cancel(self) -> None:
        """Nothing was counted yet, and nothing will be."""


# --- The database ----------------------------------------------------------------------------------


_COUNTER_UPSERT = (
    "INSERT INTO access_quotacounter (user_id, period, window_start, count) VALUES {rows} "
    "ON CONFLICT (user_id, period, window_start) "
    "DO UPDATE SET count = access_quotacounter.count + 1 RETURNING period, count"
)
# The time a child was last disclosed to a person only ever moves forward.
_DISCLOSED_UPSERT = (
    "INSERT INTO access_quotachilddisclosed (user_id, child_id, last_disclosed) VALUES {rows} "
    "ON CONFLICT (user_id, child_id) DO UPDATE SET last_disclosed = CASE "
    "WHEN excluded.last_disclosed > access_quotachilddisclosed.last_disclosed "
    "THEN excluded.last_disclosed ELSE access_quotachilddisclosed.last_disclosed END"
)
_CHILD_INSERT = (
    "INSERT INTO access_quotachildseen (user_id, period, window_start, child_id) VALUES {rows} "
    "ON CONFLICT DO NOTHING"
)


def _database_now(cursor: Any) -> int:
    if connection.vendor == "postgresql":
        cursor.execute("SELECT EXTRACT(EPOCH FROM now())::bigint")
    else:
        cursor.execute("SELECT CAST(strftime('%s', 'now') AS INTEGER)")
    return int(cursor.fetchone()[0])


# QuotaChildSeen.period (and the Redis set) of today's children from outside the person's
# region, and of today's opened records of children with a current sensitive service.
FAR = "far"
SENSITIVE = "sensitive"


def _db_usage(
    user_id: int,
    child_ids: Sequence[int],
    day_sets: Mapping[str, Sequence[int]],
    *,
    increment: bool,
    now: int | None,
) -> Usage:
    """The same counts with atomic upserts; runs inside the caller's transaction.

    The upsert's row lock on the person's week row is held until the lookup's transaction ends,
    so parallel lookups of one person are counted one after another and each sees the children
    the others disclosed (READ COMMITTED would otherwise hide a parallel lookup's new rows).
    """
    with connection.cursor() as cursor:
        clock = now if now is not None else _database_now(cursor)
        cursor.execute(
            "SELECT period, MAX(window_start) FROM access_quotacounter WHERE user_id = %s "
            "GROUP BY period",
            [user_id],
        )
        marks = {str(period): int(mark) for period, mark in cursor.fetchall()}
        starts = {
            period: max(clock - clock % PERIOD_SECONDS[period], marks.get(period.value, 0))
            for period in PERIODS
        }
        lookups: dict[Period, int] = {}
        if increment:
            rows = ", ".join(["(%s, %s, %s, 1)"] * len(PERIODS))
            params: list[Any] = []
            for period in PERIODS:
                params += [user_id, period.value, starts[period]]
            upsert = _COUNTER_UPSERT.format(rows=rows)  # only placeholders are inserted
            cursor.execute(upsert, params)
            lookups = {Period(period): int(count) for period, count in cursor.fetchall()}
        else:
            lookups = _db_counts(cursor, "access_quotacounter", user_id, starts, PERIODS, "count")
        child_periods = [p for p in PERIODS if p in _CHILD_PERIODS]
        disclosed = sorted({int(c) for c in child_ids})
        if increment and disclosed:
            rows = ", ".join(["(%s, %s, %s)"] * len(disclosed))
            params = [value for child in disclosed for value in (user_id, child, clock)]
            cursor.execute(_DISCLOSED_UPSERT.format(rows=rows), params)
        seen_rows = [
            (name, starts[Period.DAY], child)
            for name in (FAR, SENSITIVE)
            for child in sorted({int(c) for c in day_sets.get(name, ())})
        ]
        if increment and seen_rows:
            rows = ", ".join(["(%s, %s, %s, %s)"] * len(seen_rows))
            params = [value for row in seen_rows for value in (user_id, *row)]
            cursor.execute(_CHILD_INSERT.format(rows=rows), params)
        # Within each rolling period before now (the clock may have stepped back: later
        # disclosures count too, as in Redis).
        counted = ", ".join(
            ["COALESCE(SUM(CASE WHEN last_disclosed > %s THEN 1 ELSE 0 END), 0)"]
            * len(child_periods)
        )
        cursor.execute(
            f"SELECT {counted} FROM access_quotachilddisclosed WHERE user_id = %s",  # noqa: S608 (placeholders only)
            [*(clock - PERIOD_SECONDS[p] for p in child_periods), user_id],
        )
        children = dict(zip(child_periods, (int(v) for v in cursor.fetchone()), strict=True))
        cursor.execute(
            "SELECT COALESCE(SUM(CASE WHEN period = %s THEN 1 ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN period = %s THEN 1 ELSE 0 END), 0) "
            "FROM access_quotachildseen WHERE user_id = %s AND period IN (%s, %s) "
            "AND window_start = %s",
            [FAR, SENSITIVE, user_id, FAR, SENSITIVE, starts[Period.DAY]],
        )
        far_children, sensitive_children = (int(v) for v in cursor.fetchone())
    return Usage(
        now=clock,
        window_starts=starts,
        lookups={p: lookups.get(p, 0) for p in PERIODS},
        children={p: children.get(p, 0) for p in child_periods},
        far_children=far_children,
        sensitive_children=sensitive_children,
    )


def _db_counts(
    cursor: Any,
    table: str,
    user_id: int,
    starts: Mapping[Period, int],
    periods: Sequence[Period],
    aggregate: str,
) -> dict[Period, int]:
    if not periods:
        return {}
    windows = " OR ".join(["(period = %s AND window_start = %s)"] * len(periods))
    params: list[Any] = [user_id]
    for period in periods:
        params += [period.value, starts[period]]
    select = f"MAX({aggregate})" if aggregate == "count" else aggregate
    cursor.execute(
        f"SELECT period, {select} FROM {table} WHERE user_id = %s AND ({windows}) "  # noqa: S608 (fixed names)
        "GROUP BY period",
        params,
    )
    return {Period(period): int(value) for period, value in cursor.fetchall()}


# --- Housekeeping ------------------------------------------------------------------------------------


def prune_database_counters(*, now: int | None = None) -> int:
    """Delete database counters whose windows ended over a week ago; returns rows removed.

    Only the database store needs this (Redis keys expire by themselves). Windows older than
    the longest period can no longer be read by any quota or rule.
    """
    from contactpoint.access.models import QuotaChildDisclosed, QuotaChildSeen, QuotaCounter

    with connection.cursor() as cursor:
        clock = now if now is not None else _database_now(cursor)
    horizon = clock - 2 * PERIOD_SECONDS[Period.WEEK]
    removed, _ = QuotaCounter.objects.filter(window_start__lt=horizon).delete()
    seen, _ = QuotaChildSeen.objects.filter(window_start__lt=horizon).delete()
    disclosed, _ = QuotaChildDisclosed.objects.filter(last_disclosed__lt=horizon).delete()
    return removed + seen + disclosed
