"""Signed checkpoints outside the database catch what the hash chain alone cannot.

Someone with the database (and the will to disable its triggers) can cut the newest events
off and move the chain head back, or build a whole new chain: the chain then verifies. The
checkpoints, signed with a key the database never sees, say otherwise.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from contactpoint.audit import checkpoints
from contactpoint.audit.models import AuditChainHead, AuditEvent
from contactpoint.audit.selectors import verify_chain
from contactpoint.audit.services import record_event

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def signing(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Checkpoints in a temporary directory, signed with a key of this test's own."""
    settings.CONTACTPOINT_AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    key = checkpoints.new_key_hex()
    monkeypatch.setenv("CONTACTPOINT_AUDIT_SIGNING_KEY", key)
    monkeypatch.delenv("CONTACTPOINT_AUDIT_VERIFY_KEY", raising=False)
    return key


def _events(count: int, label: str = "original") -> None:
    for n in range(count):
        record_event(action="test.event", actor_username=label, detail={"n": n})


def _as_a_dba_attacker() -> None:
    """Lift the append-only protection, as someone who owns the database could."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
            cursor.execute("DROP TRIGGER IF EXISTS audit_event_no_update")


def _truncate_to(sequence: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence > %s", [sequence])
    survivor = AuditEvent.objects.get(sequence=sequence)
    AuditChainHead.objects.filter(id=1).update(sequence=sequence, hash=survivor.hash)


def _verify_command() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", "--no-progress", stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue() + err.getvalue()
    return 0, out.getvalue() + err.getvalue()


def test_a_checkpoint_records_the_head_signed_and_outside_the_database() -> None:
    _events(10)
    record = checkpoints.write_checkpoint()
    head = AuditChainHead.objects.get(id=1)
    assert (record["sequence"], record["hash"], record["events"]) == (head.sequence, head.hash, 10)
    lines = checkpoints.checkpoint_path().read_text().splitlines()
    assert json.loads(lines[-1])["signature"] == record["signature"]
    assert checkpoints.verify_checkpoints().ok


def test_verify_checks_the_chain_and_the_checkpoints() -> None:
    _events(5)
    checkpoints.write_checkpoint()
    _events(3)
    checkpoints.write_checkpoint()
    status, output = _verify_command()
    assert status == 0, output
    assert "The audit chain holds: 8 events" in output and "2 signed checkpoints" in output


def test_truncating_the_log_is_detected() -> None:
    _events(10)
    checkpoints.write_checkpoint()
    _as_a_dba_attacker()
    _truncate_to(7)

    assert verify_chain().ok  # the chain alone cannot tell
    result = checkpoints.verify_checkpoints()
    assert any("the log was truncated" in p for p in result.problems), result.problems
    status, output = _verify_command()
    assert status == 1 and "now ends at #7" in output


def test_rebuilding_the_log_is_detected() -> None:
    _events(10)
    checkpoints.write_checkpoint()
    _as_a_dba_attacker()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    AuditChainHead.objects.filter(id=1).update(sequence=0, hash="0" * 64)
    _events(12, label="rewritten")  # a whole new chain, longer than the old one

    assert verify_chain().ok
    problems = checkpoints.verify_checkpoints().problems
    assert any("rebuilt or rewritten" in p for p in problems), problems


def test_an_altered_or_reordered_checkpoint_file_is_detected() -> None:
    _events(3)
    checkpoints.write_checkpoint()
    _events(3)
    checkpoints.write_checkpoint()
    _events(3)
    checkpoints.write_checkpoint()
    path = checkpoints.checkpoint_path()
    lines = path.read_text().splitlines()

    edited = json.loads(lines[2])
    edited["sequence"] = 6
    path.write_text("\n".join([*lines[:2], json.dumps(edited)]) + "\n")
    assert any("fails its signature" in p for p in checkpoints.verify_checkpoints().problems)

    path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # the middle checkpoint removed
    assert any("lines were removed" in p for p in checkpoints.verify_checkpoints().problems)


def test_checkpoints_signed_with_another_key_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _events(2)
    checkpoints.write_checkpoint()
    monkeypatch.setenv("CONTACTPOINT_AUDIT_SIGNING_KEY", checkpoints.new_key_hex())
    assert any("another key" in p for p in checkpoints.verify_checkpoints().problems)


def test_a_verifying_host_needs_only_the_public_key(
    signing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _events(2)
    checkpoints.write_checkpoint()
    monkeypatch.delenv("CONTACTPOINT_AUDIT_SIGNING_KEY")
    monkeypatch.setenv("CONTACTPOINT_AUDIT_VERIFY_KEY", checkpoints.public_key_hex(signing))
    assert checkpoints.verify_checkpoints().ok


def test_production_refuses_to_sign_without_a_key(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.IS_PRODUCTION = True
    monkeypatch.delenv("CONTACTPOINT_AUDIT_SIGNING_KEY")
    with pytest.raises(ImproperlyConfigured, match="must be set in production"):
        checkpoints.write_checkpoint()


def test_production_fails_verification_without_checkpoints(settings: Any) -> None:
    settings.IS_PRODUCTION = True
    _events(2)
    assert not checkpoints.verify_checkpoints().ok


def test_outside_production_a_demo_key_is_made_once_and_kept_private(
    settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONTACTPOINT_AUDIT_SIGNING_KEY")
    settings.VAR_DIR = tmp_path
    first = checkpoints.key_id(checkpoints.signing_key().public_key())
    assert first == checkpoints.key_id(checkpoints.signing_key().public_key())
    key_file = tmp_path / checkpoints.DEMO_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_each_database_has_its_own_checkpoint_file(settings: Any, tmp_path: Path) -> None:
    assert checkpoints.checkpoint_path().parent.parent == tmp_path / "checkpoints"
    assert checkpoints.checkpoint_path().name == checkpoints.CHECKPOINT_FILE


# --- Retention --------------------------------------------------------------------------------------


def _old_and_new_events() -> None:
    with time_machine.travel(dt.datetime(2019, 5, 1, 12, tzinfo=dt.UTC), tick=False):
        _events(6, label="old")
    with time_machine.travel(dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC), tick=False):
        _events(4, label="recent")
        checkpoints.write_checkpoint()


def test_pruning_removes_only_events_past_retention_behind_a_signed_marker() -> None:
    _old_and_new_events()
    with time_machine.travel(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC), tick=False):
        pruned = checkpoints.prune_expired()
    assert (pruned.removed, pruned.through_sequence) == (6, 6)
    assert AuditEvent.objects.filter(actor_username="old").count() == 0
    assert AuditEvent.objects.filter(actor_username="recent").count() == 4
    assert AuditEvent.objects.filter(action=checkpoints.PRUNED_ACTION).count() == 1

    signed = checkpoints.verify_checkpoints()
    assert signed.ok, signed.problems
    assert (signed.start_sequence, signed.prune_markers) == (7, 1)
    assert verify_chain(start_sequence=signed.start_sequence, start_hash=signed.start_hash).ok
    status, output = _verify_command()
    assert status == 0 and "starts at #7" in output


def test_events_removed_from_the_start_without_a_marker_are_detected() -> None:
    _events(6)
    checkpoints.write_checkpoint()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _as_a_dba_attacker()
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence <= 2")
    problems = checkpoints.verify_checkpoints().problems
    assert any("#1 to #2 are missing" in p for p in problems), problems
    status, _ = _verify_command()
    assert status == 1


def test_retention_is_configurable_but_never_under_a_year(settings: Any) -> None:
    settings.CONTACTPOINT_AUDIT_RETENTION_DAYS = 3650
    assert checkpoints.retention_days() == 3650
    settings.CONTACTPOINT_AUDIT_RETENTION_DAYS = 30
    with pytest.raises(ImproperlyConfigured):
        checkpoints.retention_days()


def test_the_default_retention_is_six_years() -> None:
    assert checkpoints.retention_days() == 6 * 365 + 2


def test_the_commands_write_a_checkpoint_and_print_a_key_pair() -> None:
    _events(3)
    out = io.StringIO()
    call_command("audit", "checkpoint", stdout=out)
    assert "#3 (3 events)" in out.getvalue()
    out = io.StringIO()
    call_command("audit", "keygen", stdout=out)
    private, public = out.getvalue().splitlines()
    assert (
        private.startswith("CONTACTPOINT_AUDIT_SIGNING_KEY=") and len(private.split("=")[1]) == 64
    )
    assert public.split("=")[1] == checkpoints.public_key_hex(private.split("=")[1])
