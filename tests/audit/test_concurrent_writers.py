"""Two processes writing audit events at once keep one unbroken chain (PostgreSQL)."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from urllib.parse import quote

import pytest
from django.db import connection

from contactpoint.audit.models import AuditEvent
from contactpoint.audit.selectors import verify_chain
from contactpoint.audit.services import record_event

EVENTS_PER_WRITER = 150
WRITER = textwrap.dedent(
    """
    import os, django
    django.setup()
    from django.db import transaction
    from contactpoint.audit.services import audited_transaction, record_event
    writer = os.environ["AUDIT_WRITER"]
    for n in range(int(os.environ["AUDIT_EVENTS"])):
        if n % 2:  # both ways of writing: at once, and with the COMMIT (audited_transaction)
            with audited_transaction() as audit:
                audit.record(action="test.concurrent", detail={"writer": writer, "n": n})
        else:
            with transaction.atomic():
                record_event(action="test.concurrent", detail={"writer": writer, "n": n})
    """
)


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL: SQLite's in-memory test database is not shared between processes",
)
def test_two_processes_writing_at_once_keep_one_chain() -> None:
    record_event(action="test.start")
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "contactpoint.settings",
        "AUDIT_EVENTS": str(EVENTS_PER_WRITER),
    }
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER],
            env={**environment, "AUDIT_WRITER": name},
            stderr=subprocess.PIPE,
        )
        for name in ("first", "second")
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()[-2000:]

    result = verify_chain()
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    order = list(
        AuditEvent.objects.filter(action="test.concurrent")
        .order_by("sequence")
        .values_list("detail__writer", flat=True)
    )
    assert result.ok, result.problem
    assert sequences == list(range(1, 2 * EVENTS_PER_WRITER + 2))
    # The two really did write at the same time: their events are interleaved in the chain.
    assert any(a != b for a, b in itertools.pairwise(order))
