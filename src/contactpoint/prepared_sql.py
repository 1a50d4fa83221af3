"""The few statements run on every search and record view, prepared once per connection.

Quotas, protective monitoring and the audit write must add at most 2 ms to a lookup (issue 6),
and PostgreSQL spent about 0.3 ms planning the protective facts query alone, every time. Here
such a statement runs on a server-binding psycopg cursor with `prepare=True`: parsed and
planned once per connection, then only executed. The cursor is opened on the connection Django
holds, so it runs in the caller's transaction; database errors are wrapped as Django's, as
callers (search.services) expect.

Django's own cursors bind client-side and never prepare (so that connection poolers work);
this module changes nothing for them. Each new PostgreSQL connection is set to plan prepared
statements generically (`configure_connection`): these are indexed look-ups whose generic plan
is as good as a custom one, and PostgreSQL otherwise kept re-planning the protective facts
query on every run. Only prepared statements (and PL/pgSQL, here the audit log's two trivial
triggers) are affected by that setting. psycopg keeps the cache per connection and drops it on a
rollback. Behind a transaction-pooling PgBouncer, prepared statements need PgBouncer 1.21 or
later with max_prepared_statements set. These statements are not in `connection.queries`.
On other databases (SQLite) the statement runs on an ordinary Django cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper

# psycopg prepares a statement automatically after this many executions; Django disables that
# (None), which would also make `prepare=True` a no-op. So large that only the statements
# here, which ask explicitly, are ever prepared.
_ONLY_WHEN_ASKED = 2**62


def configure_connection(*, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """connection_created receiver (audit.apps): generic plans for the prepared statements.

    Run as the connection opens, in autocommit, so that the setting lasts for the session.
    """
    if connection.vendor != "postgresql":
        return
    connection.connection.prepare_threshold = _ONLY_WHEN_ASKED
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement (with %s placeholders) and return its rows ([] if it returns none)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:  # a connection opened before the receiver was connected
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        return list(cursor.fetchall()) if cursor.pgresult and cursor.pgresult.ntuples else []
