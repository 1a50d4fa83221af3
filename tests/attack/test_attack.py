"""An authorised but malicious practitioner tries to take the index away, and is stopped.

A real server (gunicorn, 4 worker processes, sharing Redis) on 127.0.0.1, over a PostgreSQL
database of 20,000 generated children of the North West pilot. Each strategy is played by a
fresh, fully gated Manchester practitioner who knows only what anyone knows (common British
family and given names, the shape of a ContactPoint ID) and looks at every record found:

- common-surname sweep: common family names x common given names x years of birth, shuffled;
- date-of-birth sweep: one common family name, day after day of birth;
- ID guessing: random well-formed IDs, then IDs counted on from one seen in a result;
- stolen class list: real children's names and LA (as from a school roll), as fast as it goes,
  opening every record;
- many parallel sessions: the class list shared by eight API sessions of one account at once;
- slow and steady: the class list with dates of birth, one search every 10.5 s, under the
  per-minute soft limit (a patient insider over days is simulated in tests/quotas);
- web browsing: the class list through the web pages, opening every record found.

Each must be stopped (account suspended) having seen at most 50 distinct children, and the
security officer's alert must name the account. Bounded: at most 400 requests and 120 s per
strategy, only ever 127.0.0.1. Runs when DATABASE_URL is PostgreSQL (the PostgreSQL pass of
`make test`, as in CI) and both PostgreSQL and Redis answer; skipped with the reason otherwise.
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.cookiejar import Cookie, CookieJar
from typing import Any
from urllib import error as urlerror
from urllib import request as urlrequest

import pytest
from tests.attack import server

from contactpoint.index import contactpoint_id as cp_id

pytestmark = pytest.mark.attack

MOST_CHILDREN = 50
MAX_REQUESTS = 400
MAX_SECONDS = 120.0
ID_FORMS = re.compile(r"(?<![\d-])(\d{4})[- ]?(\d{4})[- ]?(\d{4})(?![\d-])")


def _skip_reason() -> str | None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return "the attack test runs in the PostgreSQL pass (DATABASE_URL is not PostgreSQL)"
    return server.reachable()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    server.ensure_database()
    with server.running_server() as running:
        yield running


# --- What the attacker knows ------------------------------------------------------------------


def _common(path: str, column: str, count: int) -> list[str]:
    from contactpoint.synthetic.data import DATA_DIR

    with (DATA_DIR / path).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda row: -float(row[column] or 0))
    return [row["name"] for row in rows[:count]]


def _combinations(rng: random.Random) -> list[tuple[str, str, int]]:
    surnames = _common("surnames.csv", "weight", 30)
    given = _common("given_names.csv", "weight_2013", 30)
    combos = [(s, g, y) for s in surnames for g in given for y in range(2008, 2025)]
    rng.shuffle(combos)
    return combos


# --- The attacker's tools -----------------------------------------------------------------------


@dataclass
class Ledger:
    """What one attacker got: every distinct child named in an answer, and how it ended."""

    strategy: str
    username: str
    seen: set[str] = field(default_factory=set)
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    stopped_after: int | None = None
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, ids: set[str]) -> None:
        with self.lock:
            self.requests += 1
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.seen |= ids
            if status in {401, 403} and self.stopped_after is None:
                self.stopped_after = self.requests

    @property
    def stopped(self) -> bool:
        return self.stopped_after is not None

    def out_of_budget(self) -> bool:
        return (
            self.stopped
            or self.requests >= MAX_REQUESTS
            or time.monotonic() - self.started > MAX_SECONDS
        )


def ids_in(text: str) -> set[str]:
    return {i for i in ("".join(m.groups()) for m in ID_FORMS.finditer(text)) if cp_id.is_valid(i)}


class ApiSession:
    """One API token: a session of its own, on its own connection."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection(server.HOST, port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        payload = json.dumps(body) if body is not None else None
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw or b"{}")
        except ValueError:
            return response.status, {}

    def search(self, ledger: Ledger, **criteria: Any) -> set[str]:
        status, answer = self._call("POST", "/api/v1/children/search", criteria)
        ids = (
            {row["contactpoint_id"] for row in answer.get("results", [])}
            if status == 200
            else set()
        )
        ledger.record(status, ids)
        return ids

    def view(self, ledger: Ledger, contactpoint_id: str) -> None:
        status, answer = self._call("GET", f"/api/v1/children/{contactpoint_id}")
        shown = answer.get("identity", {}).get("contactpoint_id") if status == 200 else None
        ledger.record(status, {shown} if shown else set())


class WebSession:
    """A signed-in browser session: cookies, CSRF tokens, the pages a person would use."""

    def __init__(self, port: int, session_key: str) -> None:
        self.base = f"http://{server.HOST}:{port}"
        self.jar = CookieJar()
        self.jar.set_cookie(_cookie("sessionid", session_key))
        self.opener = urlrequest.build_opener(
            urlrequest.HTTPCookieProcessor(self.jar), _NoRedirects()
        )

    def _open(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str]:
        from urllib.parse import urlencode

        body = urlencode(data).encode() if data is not None else None
        request = urlrequest.Request(self.base + path, data=body)
        if data is not None:
            request.add_header("Referer", self.base + path)
        try:
            with self.opener.open(request, timeout=30) as response:
                return int(response.status), response.read().decode("utf-8", "replace")
        except urlerror.HTTPError as answer:
            return int(answer.code), answer.read().decode("utf-8", "replace")

    def _csrf(self) -> str:
        return next((c.value for c in self.jar if c.name == "csrftoken"), "") or ""

    def search(self, ledger: Ledger, **fields: Any) -> set[str]:
        if not self._csrf():
            self._open("/search")
        status, page = self._open("/search", {**fields, "csrfmiddlewaretoken": self._csrf()})
        results = page.split('data-testid="search-results"', 1)
        ids = ids_in(results[1]) if status == 200 and len(results) == 2 else set()
        ledger.record(302 if status == 302 else status, ids)
        return ids

    def view(self, ledger: Ledger, contactpoint_id: str) -> None:
        status, page = self._open(f"/children/{contactpoint_id}")
        ledger.record(status, ids_in(page) & {contactpoint_id} if status == 200 else set())


class _NoRedirects(urlrequest.HTTPRedirectHandler):
    """A redirect (to sign-in, once the session is ended) is an answer, not something to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _cookie(name: str, value: str) -> Cookie:
    return Cookie(
        0, name, value, None, False, server.HOST, False, False, "/", True, False, None, False,
        None, None, {},
    )  # fmt: skip


# --- The strategies -------------------------------------------------------------------------------


def _class_list(rng: random.Random) -> list[dict[str, str]]:
    return server.stolen_class_list(MAX_REQUESTS, seed=rng.randrange(10**6))


def _by_name_and_la(child: dict[str, str]) -> dict[str, str]:
    return {k: child[k] for k in ("family_name", "given_name", "local_authority")}


def surname_sweep(ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random) -> None:
    api = ApiSession(port, attacker.tokens[0])
    for family, given, year in _combinations(rng):
        if ledger.out_of_budget():
            return
        found = api.search(ledger, family_name=family, given_name=given, date_of_birth=str(year))
        for child in found:
            if ledger.out_of_budget():
                return
            api.view(ledger, child)


def birth_date_sweep(
    ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random
) -> None:
    import datetime as dt

    api = ApiSession(port, attacker.tokens[0])
    day = dt.date(2015, 1, 1)
    while not ledger.out_of_budget():
        for child in api.search(ledger, family_name="Smith", date_of_birth=day.isoformat()):
            api.view(ledger, child)
        day += dt.timedelta(days=1)


def id_guessing(ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random) -> None:
    api = ApiSession(port, attacker.tokens[0])
    for _ in range(3):  # random guesses: almost all miss (11 million in 100 billion)
        api.view(ledger, cp_id.with_check_digit(f"{rng.randrange(10**11):011d}"))
    known: set[str] = set()
    for child in _class_list(rng):
        known = api.search(ledger, **_by_name_and_la(child))
        if known or ledger.out_of_budget():
            break
    if not known:
        return
    body = int(sorted(known)[0][:11])
    while not ledger.out_of_budget():  # counting on from a real ID
        body += 1
        api.view(ledger, cp_id.with_check_digit(f"{body:011d}"))


def class_list(ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random) -> None:
    api = ApiSession(port, attacker.tokens[0])
    for child in _class_list(rng):
        if ledger.out_of_budget():
            return
        for contactpoint_id in api.search(ledger, **_by_name_and_la(child)):
            if ledger.out_of_budget():
                return
            api.view(ledger, contactpoint_id)


def parallel_sessions(
    ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random
) -> None:
    targets = iter(_class_list(rng))
    lock = threading.Lock()

    def worker(token: str) -> None:
        api = ApiSession(port, token)
        while not ledger.out_of_budget():
            with lock:
                child = next(targets, None)
            if child is None:
                return
            for contactpoint_id in api.search(ledger, **_by_name_and_la(child)):
                api.view(ledger, contactpoint_id)

    threads = [threading.Thread(target=worker, args=(token,)) for token in attacker.tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=MAX_SECONDS + 30)


def slow_and_steady(
    ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random
) -> None:
    """Under the per-minute soft limit (6): one search every 10.5 seconds, nothing else."""
    api = ApiSession(port, attacker.tokens[0])
    for child in _class_list(rng):
        if ledger.out_of_budget():
            return
        began = time.monotonic()
        api.search(ledger, family_name=child["family_name"], date_of_birth=child["date_of_birth"])
        time.sleep(max(0.0, 10.5 - (time.monotonic() - began)))


def web_browsing(ledger: Ledger, port: int, attacker: server.Attacker, rng: random.Random) -> None:
    web = WebSession(port, attacker.session_cookie)
    for child in _class_list(rng):
        if ledger.out_of_budget():
            return
        for contactpoint_id in web.search(ledger, **_by_name_and_la(child)):
            if ledger.out_of_budget():
                return
            web.view(ledger, contactpoint_id)


STRATEGIES: dict[str, Callable[[Ledger, int, server.Attacker, random.Random], None]] = {
    "common-surname sweep": surname_sweep,
    "date-of-birth sweep": birth_date_sweep,
    "ID guessing": id_guessing,
    "stolen class list": class_list,
    "8 parallel sessions": parallel_sessions,
    "slow and steady": slow_and_steady,
    "web browsing": web_browsing,
}


def test_a_malicious_practitioner_is_stopped_having_seen_at_most_50_children(port: int) -> None:
    run = uuid.uuid4().hex[:6]
    names = {strategy: f"mal-{index}-{run}" for index, strategy in enumerate(STRATEGIES)}
    attackers = server.create_attackers(list(names.values()), tokens=8)
    ledgers = {s: Ledger(s, names[s]) for s in STRATEGIES}
    threads = [
        threading.Thread(
            target=STRATEGIES[s], args=(ledgers[s], port, attackers[names[s]], random.Random(i))
        )
        for i, s in enumerate(STRATEGIES)
    ]
    for thread in threads:  # all at once, as several insiders might
        thread.start()
    for thread in threads:
        thread.join(timeout=MAX_SECONDS + 60)

    print("\nstrategy                requests  stopped after  distinct children seen  alerts")
    failures = []
    for strategy, ledger in ledgers.items():
        alerts = server.alerts_about(ledger.username)
        rules = sorted({a["rule"] for a in alerts})
        print(
            f"{strategy:<23} {ledger.requests:>8}  {ledger.stopped_after or '-':>13}  "
            f"{len(ledger.seen):>22}  {', '.join(rules)}"
        )
        if len(ledger.seen) > MOST_CHILDREN:
            failures.append(f"{strategy}: saw {len(ledger.seen)} children")
        if not (ledger.stopped and server.is_suspended(ledger.username)):
            failures.append(f"{strategy}: not stopped ({ledger.statuses})")
        if not any(
            a["username"] == ledger.username and ledger.username in a["summary"]
            for a in alerts
            if a["audience"] == "security_officer" and a["organisation"] == "Manchester"
        ):
            failures.append(f"{strategy}: no alert to Manchester's security officer names it")
    most = max(len(ledger.seen) for ledger in ledgers.values())
    print(f"most distinct children any attacker saw: {most} (limit {MOST_CHILDREN})")
    assert not failures, failures
