"""A real ContactPoint for the attack test: its own PostgreSQL database, gunicorn, Redis.

- `ensure_database()` creates (once) and migrates the PostgreSQL database <name>_attack on
  the server of DATABASE_URL (or 127.0.0.1), where <name> is DATABASE_URL's database
  (contactpoint_attack by default; CONTACTPOINT_ATTACK_DATABASE names another), filled with
  `contactpoint generate` (20,000 children of the North West pilot); later runs reuse it.
- `running_server()` starts gunicorn with 4 worker processes on 127.0.0.1 sharing Redis DB 6
  (CONTACTPOINT_ATTACK_REDIS_DB chooses another), under a quota key prefix of this run's own,
  whose keys are removed before and after.

Two checkouts running the attack test at once therefore need only different DATABASE_URLs: their
attackers' user ids are the same small numbers, and with one shared prefix (or a FLUSHDB) each
run's counters and lookup history would mix with or vanish under the other's.
- `create_attackers()` makes fully gated Manchester practitioners, each with API tokens (one
  per parallel session) and a signed-in web session, through a script run in that database.
- `alerts_about()` reads what the security officer's queue says about a person.

Everything targets 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = 20_000
SEED = 6
HOST = "127.0.0.1"
WORKERS = 4


def _attack_database() -> str:
    named = os.environ.get("CONTACTPOINT_ATTACK_DATABASE", "")
    if named:
        return named
    base = os.environ.get("DATABASE_URL", "")
    name = urlsplit(base).path.lstrip("/") if base.startswith("postgres") else ""
    return f"{name or 'contactpoint'}_attack"


DATABASE = _attack_database()
REDIS_DB = int(os.environ.get("CONTACTPOINT_ATTACK_REDIS_DB", "6"))
QUOTA_KEY_PREFIX = f"contactpoint-attack:{DATABASE}:{os.getpid()}"


def postgres_url() -> str:
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        base = "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{DATABASE}"))


def redis_url() -> str:
    base = os.environ.get("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{REDIS_DB}"))


def reachable() -> str | None:
    """None when PostgreSQL and Redis both answer; otherwise why not."""
    import psycopg
    import redis

    admin = urlunsplit(urlsplit(postgres_url())._replace(path="/postgres"))
    try:
        with psycopg.connect(admin, connect_timeout=3):
            pass
    except psycopg.Error as error:
        return f"PostgreSQL is not reachable ({error.__class__.__name__})"
    try:
        redis.Redis.from_url(redis_url(), socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        return f"Redis is not reachable ({error.__class__.__name__})"
    return None


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": postgres_url(),
        "REDIS_URL": redis_url(),
        "CONTACTPOINT_ENV": "demo",
        "CONTACTPOINT_DEBUG": "false",
        "CONTACTPOINT_QUOTA_KEY_PREFIX": QUOTA_KEY_PREFIX,
        "LOG_LEVEL": "WARNING",
    }


def _contactpoint(*args: str, timeout: int = 600) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "contactpoint.cli", *args],
        env=_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"contactpoint {args[0]} failed:\n{completed.stderr[-3000:]}")
    return completed.stdout


def ensure_database() -> None:
    import psycopg
    from psycopg import sql

    admin = urlunsplit(urlsplit(postgres_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    _contactpoint("migrate", "--no-input", "-v", "0")
    with psycopg.connect(postgres_url()) as conn:
        row = conn.execute("SELECT count(*) FROM index_child").fetchone()
        children = int(row[0]) if row else 0
    if children != CHILDREN:
        if children:
            raise RuntimeError(f"{DATABASE} holds {children} children, not {CHILDREN}: drop it")
        _contactpoint(
            "generate", "--children", str(CHILDREN), "--seed", str(SEED), "--authorities", "pilot"
        )


def flush_redis() -> None:
    """Remove this run's quota keys (only its own: another run may share the Redis DB)."""
    import redis

    client = redis.Redis.from_url(redis_url())
    for key in client.scan_iter(f"{QUOTA_KEY_PREFIX}:*", count=1000):
        client.delete(key)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server() -> Iterator[int]:
    """gunicorn with 4 workers on 127.0.0.1; yields the port."""
    flush_redis()
    port = _free_port()
    # A file, not a pipe nobody reads: a worker logging a few hundred refusals would fill a
    # pipe's 64 KB and block mid-request.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "contactpoint.wsgi:application",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            str(WORKERS),
            "--log-level",
            "warning",
            "--timeout",
            "60",
        ],
        env=_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                probe = http.client.HTTPConnection(HOST, port, timeout=3)
                probe.request("GET", "/healthz")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                tail = log.read()[-3000:].decode("utf-8", "replace")
                raise RuntimeError(f"gunicorn did not start:\n{tail}")
            time.sleep(0.3)
        yield port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        flush_redis()


@dataclass(frozen=True)
class Attacker:
    username: str
    tokens: tuple[str, ...]
    session_cookie: str


_CREATE = """
import datetime as dt, json, time
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from contactpoint.access import services
from contactpoint.access.models import Organisation, User
from contactpoint.access.selectors import PURPOSE_SESSION_KEY
from contactpoint.access.signin import LAST_SEEN_SESSION_KEY, SIGNED_IN_AT_SESSION_KEY

now, today = timezone.now(), timezone.localdate()
manchester = Organisation.objects.get(kind="local_authority", name="Manchester")
out = []
for username in USERNAMES:
    person = User.objects.create(
        username=username, first_name="Mal", last_name="Practitioner", role="practitioner",
        organisation=manchester, vetting_certificate_masked="****0000",
        vetting_issued_on=today - dt.timedelta(days=30), vetting_recorded_at=now,
        training_completed_on=today, training_recorded_at=now, agreement_signed_on=today,
        agreement_recorded_at=now, authorised_at=now,
    )
    device = TOTPDevice.objects.create(user=person, name="phone", confirmed=True)
    tokens = []
    for _ in range(TOKENS):
        issued = services.issue_api_token(user=person, ip_address="127.0.0.1")
        services.state_token_purpose(token=issued.token, reason="safeguarding_concern", other="", ip_address="127.0.0.1")
        tokens.append(issued.raw)
    client = Client()
    client.force_login(person, backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session[SIGNED_IN_AT_SESSION_KEY] = time.time()
    session[LAST_SEEN_SESSION_KEY] = time.time()
    session[PURPOSE_SESSION_KEY] = {"reason": "safeguarding_concern", "other": ""}
    session.save()
    out.append({"username": username, "tokens": tokens, "session": session.session_key})
print("ATTACKERS=" + json.dumps(out))
"""


def create_attackers(usernames: list[str], *, tokens: int) -> dict[str, Attacker]:
    code = f"USERNAMES = {usernames!r}\nTOKENS = {tokens}\n{_CREATE}"
    output = _contactpoint("shell", "-c", code, timeout=300)
    line = next(line for line in output.splitlines() if line.startswith("ATTACKERS="))
    return {
        a["username"]: Attacker(a["username"], tuple(a["tokens"]), a["session"])
        for a in json.loads(line.removeprefix("ATTACKERS="))
    }


def alerts_about(username: str) -> list[dict[str, Any]]:
    import psycopg

    with psycopg.connect(postgres_url()) as conn:
        rows = conn.execute(
            "SELECT a.rule, a.severity, a.summary, a.subject_username, a.account_suspended, "
            "o.name, a.audience FROM access_alert a JOIN access_organisation o "
            "ON o.id = a.organisation_id WHERE a.subject_username = %s ORDER BY a.id",
            [username],
        ).fetchall()
    keys = ("rule", "severity", "summary", "username", "suspended", "organisation", "audience")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def is_suspended(username: str) -> bool:
    import psycopg

    with psycopg.connect(postgres_url()) as conn:
        row = conn.execute(
            "SELECT suspended_at IS NOT NULL FROM access_user WHERE username = %s", [username]
        ).fetchone()
    return bool(row and row[0])


def stolen_class_list(count: int, *, seed: int) -> list[dict[str, str]]:
    """Real children's names, dates of birth and LA, as an insider might bring from a school
    roll: the attacker's prior knowledge, read straight from the database (not through the
    service)."""
    import psycopg

    with psycopg.connect(postgres_url()) as conn:
        rows = conn.execute(
            "SELECT n.family_name, split_part(n.given_names, ' ', 1), c.date_of_birth, "
            "la.ons_code FROM index_child c JOIN index_childname n ON n.child_id = c.id "
            "AND n.kind = 'current' JOIN index_localauthority la ON la.id = c.responsible_la_id "
            "WHERE la.ons_code = 'E08000003' AND c.status = 'active' AND NOT c.is_shielded "
            "ORDER BY md5(c.id::text || %s) LIMIT %s",
            [str(seed), count],
        ).fetchall()
    return [
        {"family_name": f, "given_name": g, "date_of_birth": d.isoformat(), "local_authority": la}
        for f, g, d, la in rows
    ]
