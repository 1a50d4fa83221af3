"""The few statements run on every search and record view, prepared once per connection.

Quotas, protective monitoring and the audit write must add at most 2 ms to a lookup (issue 6),
and PostgreSQL spent about 0.3 ms planning the protective facts query alone, every time. Here
such a statement runs on a server-binding psycopg cursor with `prepare=True`: parsed and
planned once per connection, then only executed. The cursor is opened on the connection Django
holds, so it runs in the caller's transaction; database errors are wrapped as Django's, as
callers (search.services) expect.

Django's own cursors bind client-side and never prepare (so that connection poolers work);
this module changes nothing for them. psycopg keeps the cache per connection and drops it on a
rollback. Behind a transaction-pooling PgBouncer, prepared statements need PgBouncer 1.21 or
later with max_prepared_statements set. These statements are not in `connection.queries`.
On other databases (SQLite) the statement runs on an ordinary Django cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

# psycopg prepares a statement automatically after this many executions; Django disables that
# (None), which would also make `prepare=True` a no-op. So large that only the statements
# here, which ask explicitly, are ever prepared.
_ONLY_WHEN_ASKED = 2**62


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement (with %s placeholders) and return its rows ([] if it returns none)."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall()) if cursor.description else []
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=True)
        return list(cursor.fetchall()) if cursor.description else []
