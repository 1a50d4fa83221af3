"""Signed checkpoints of the audit chain, kept outside the database, and retention pruning.

The hash chain shows that no event was changed, inserted or removed *within* the log. It
cannot show that someone with the database removed the newest events and moved the chain head
back (truncation), or built a whole new, self-consistent chain (rebuilding). Checkpoints do:

- `write_checkpoint()` appends one line to a JSON Lines file outside the database (default
  var/audit-checkpoints/checkpoints.jsonl; CONTACTPOINT_AUDIT_CHECKPOINT_DIR): the chain
  head's sequence (= the number of events written) and hash, the time, and the digest of the
  previous line, signed with an Ed25519 key the database never sees (one file per database:
  <dir>/<database name>/checkpoints.jsonl). Run it periodically
  (`contactpoint audit checkpoint`, say every 10 minutes from cron) and ship the file to
  write-once storage.
- `verify_checkpoints()` checks every line's signature and link, then that every
  checkpointed event is still in the log with the hash it had: a truncated log lacks them, a
  rebuilt one has other hashes. `contactpoint audit verify` runs it after the chain walk.
- `prune_expired()` removes events older than the retention period (six years unless
  CONTACTPOINT_AUDIT_RETENTION_DAYS says otherwise), oldest first, after appending a signed
  prune marker naming the last event removed and its hash, so verification starts there.

Keys: CONTACTPOINT_AUDIT_SIGNING_KEY holds the 32-byte Ed25519 private key (64 hex digits,
base64, or a PEM). Outside production a demo key is generated once into
var/audit-signing-key.demo; production refuses to sign without the variable. Verification uses
CONTACTPOINT_AUDIT_VERIFY_KEY (the public key) when set, so a verifying host needs no secret.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.db.models import Max, Min
from django.utils import timezone

from contactpoint import config
from contactpoint.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from contactpoint.audit.services import compute_hash, record_event

FORMAT_VERSION = 1
CHECKPOINT_FILE = "checkpoints.jsonl"
DEMO_KEY_FILE = "audit-signing-key.demo"
DEFAULT_RETENTION_DAYS = 6 * 365 + 2  # six years, leap days included
PRUNED_ACTION = "audit.pruned"


class CheckpointError(RuntimeError):
    """A checkpoint could not be written or a prune could not be made; nothing was changed."""


# --- Configuration ------------------------------------------------------------------------------


def checkpoint_dir() -> Path:
    configured = getattr(settings, "CONTACTPOINT_AUDIT_CHECKPOINT_DIR", "") or config.read_str(
        "CONTACTPOINT_AUDIT_CHECKPOINT_DIR"
    )
    return Path(configured) if configured else Path(settings.VAR_DIR) / "audit-checkpoints"


def checkpoint_path() -> Path:
    """One file per audit log: named after the database, so a demo log's checkpoints are never
    read against another database's log (a test database, a restored copy)."""
    name = str(connection.settings_dict.get("NAME") or "default")
    label = re.sub(r"[^A-Za-z0-9_.]+", "-", Path(name).name).strip("-.") or "default"
    return checkpoint_dir() / label / CHECKPOINT_FILE


def retention_days() -> int:
    configured = getattr(settings, "CONTACTPOINT_AUDIT_RETENTION_DAYS", None)
    days = (
        int(configured)
        if configured is not None
        else config.read_int("CONTACTPOINT_AUDIT_RETENTION_DAYS", default=DEFAULT_RETENTION_DAYS)
    )
    if days < 365:
        raise ImproperlyConfigured("CONTACTPOINT_AUDIT_RETENTION_DAYS must be at least 365")
    return days


def _is_production() -> bool:
    return bool(getattr(settings, "IS_PRODUCTION", False))


def _decode_key_bytes(raw: str, *, name: str) -> bytes:
    text = raw.strip()
    if len(text) == 64:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError) as error:
        raise ImproperlyConfigured(f"{name} is not hex, base64 or PEM") from error
    if len(decoded) != 32:
        raise ImproperlyConfigured(f"{name} must hold a 32-byte Ed25519 key")
    return decoded


def _private_key_from(raw: str) -> Ed25519PrivateKey:
    if "BEGIN" in raw:
        key = serialization.load_pem_private_key(raw.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ImproperlyConfigured("CONTACTPOINT_AUDIT_SIGNING_KEY is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(
        _decode_key_bytes(raw, name="CONTACTPOINT_AUDIT_SIGNING_KEY")
    )


def signing_key() -> Ed25519PrivateKey:
    """The private key from the environment; outside production a generated demo key."""
    raw = config.read_str("CONTACTPOINT_AUDIT_SIGNING_KEY")
    if raw:
        return _private_key_from(raw)
    if _is_production():
        raise ImproperlyConfigured(
            "CONTACTPOINT_AUDIT_SIGNING_KEY must be set in production: audit checkpoints are "
            "signed with it (64 hex digits; generate with `contactpoint audit keygen`)"
        )
    path = Path(settings.VAR_DIR) / DEMO_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        raw_bytes = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(raw_bytes.hex() + "\n")
    return _private_key_from(path.read_text())


def verification_key() -> Ed25519PublicKey:
    """The public key checkpoints must verify under (CONTACTPOINT_AUDIT_VERIFY_KEY, or derived)."""
    raw = config.read_str("CONTACTPOINT_AUDIT_VERIFY_KEY")
    if raw:
        return Ed25519PublicKey.from_public_bytes(
            _decode_key_bytes(raw, name="CONTACTPOINT_AUDIT_VERIFY_KEY")
        )
    return signing_key().public_key()


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key_hex() -> str:
    """A fresh private key as 64 hex digits, for CONTACTPOINT_AUDIT_SIGNING_KEY."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    ).hex()


def public_key_hex(private_hex: str) -> str:
    key = _private_key_from(private_hex).public_key()
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


# --- The file -----------------------------------------------------------------------------------------


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()


@contextmanager
def _locked_file(mode: str) -> Iterator[IO[str]]:
    """The checkpoint file, locked against other writers for the duration."""
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append_signed(body: dict[str, Any]) -> dict[str, Any]:
    """Sign a record, link it to the last line, and append it durably."""
    key = signing_key()
    with _locked_file("a+") as handle:
        handle.seek(0)
        lines = [line.rstrip("\n") for line in handle if line.strip()]
        record = {
            **body,
            "v": FORMAT_VERSION,
            "key": key_id(key.public_key()),
            "previous": _digest(lines[-1]) if lines else "",
        }
        record["signature"] = base64.b64encode(key.sign(_canonical(record))).decode()
        handle.seek(0, os.SEEK_END)
        handle.write(json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return record


# --- Writing ------------------------------------------------------------------------------------------


def _head_snapshot() -> tuple[int, str]:
    """The chain head, checked against the event it names (a broken log is not checkpointed)."""
    with transaction.atomic():
        head = AuditChainHead.objects.filter(id=1).first()
        if head is None or head.sequence == 0:
            return 0, GENESIS_HASH
        event = AuditEvent.objects.filter(sequence=head.sequence).first()
        if event is None or event.hash != head.hash or compute_hash(event) != event.hash:
            raise CheckpointError(
                f"the chain head (#{head.sequence}) does not match its event: run "
                "`contactpoint audit verify` before checkpointing"
            )
        return head.sequence, head.hash


def write_checkpoint(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Append a signed checkpoint of the chain head; returns the record written."""
    sequence, head_hash = _head_snapshot()
    first = AuditEvent.objects.aggregate(first=Min("sequence"))["first"] or 1
    return _append_signed(
        {
            "kind": "checkpoint",
            "sequence": sequence,
            "hash": head_hash,
            "events": max(0, sequence - first + 1),
            "written_at": (now or timezone.now()).isoformat(),
        }
    )


@dataclass(frozen=True)
class PruneResult:
    removed: int
    through_sequence: int
    cutoff: dt.datetime


def prune_expired(*, now: dt.datetime | None = None, days: int | None = None) -> PruneResult:
    """Remove events older than the retention period, oldest first, behind a signed marker.

    The marker is appended before the delete: if the delete then fails, verification still
    finds an unbroken chain from where it stood. On PostgreSQL the append-only trigger is
    disabled for this one transaction (which needs the table's owner, as the audit migration
    says); on SQLite its trigger already allows removing the oldest events.
    """
    now = now or timezone.now()
    days = days if days is not None else retention_days()
    cutoff = now - dt.timedelta(days=days)
    through = AuditEvent.objects.filter(occurred_at__lt=cutoff).aggregate(last=Max("sequence"))[
        "last"
    ]
    if through is None:
        return PruneResult(0, 0, cutoff)
    last = AuditEvent.objects.get(sequence=through)
    removed = AuditEvent.objects.filter(sequence__lte=through).count()
    _append_signed(
        {
            "kind": "prune",
            "through_sequence": through,
            "through_hash": last.hash,
            "events_removed": removed,
            "cutoff": cutoff.isoformat(),
            "retention_days": days,
            "written_at": now.isoformat(),
        }
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence <= %s", [through])
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")
        record_event(
            action=PRUNED_ACTION,
            actor_username="retention",
            detail={
                "through_sequence": through,
                "through_hash": last.hash,
                "events_removed": removed,
                "cutoff": cutoff.isoformat(),
            },
        )
    write_checkpoint(now=now)
    return PruneResult(removed, through, cutoff)


# --- Verifying ------------------------------------------------------------------------------------------


@dataclass
class CheckpointVerification:
    checkpoints: int = 0
    prune_markers: int = 0
    start_sequence: int = 1
    start_hash: str = GENESIS_HASH
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_records(result: CheckpointVerification) -> list[dict[str, Any]]:
    """Every line, its signature and its link checked; problems are added to the result."""
    path = checkpoint_path()
    if not path.exists():
        return []
    public_key = verification_key()
    expected_key = key_id(public_key)
    records = []
    previous = ""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number} of {path}"
        try:
            record = json.loads(line)
            signature = base64.b64decode(record.pop("signature"))
        except (ValueError, KeyError, TypeError, binascii.Error):
            result.problems.append(f"{where} is not a signed checkpoint: the file was altered")
            previous = _digest(line)
            continue
        try:
            public_key.verify(signature, _canonical(record))
        except InvalidSignature:
            reason = "signed with another key" if record.get("key") != expected_key else "altered"
            result.problems.append(f"{where} fails its signature ({reason})")
        if record.get("previous", "") != previous:
            result.problems.append(
                f"{where} does not follow the line before it: lines were removed or reordered"
            )
        previous = _digest(line)
        records.append(record)
    return records


def _chain_start(
    markers: list[dict[str, Any]], result: CheckpointVerification
) -> tuple[int, str] | None:
    """Where the chain in the database must begin: #1, or just after a signed prune marker."""
    first = AuditEvent.objects.aggregate(first=Min("sequence"))["first"]
    head = AuditChainHead.objects.filter(id=1).first()
    head_sequence = head.sequence if head else 0
    by_end = {int(m["through_sequence"]): str(m["through_hash"]) for m in markers}
    if first is None:
        if head_sequence == 0 or head_sequence in by_end:
            return head_sequence + 1, by_end.get(head_sequence, GENESIS_HASH)
        result.problems.append(
            f"the audit log is empty but its head says #{head_sequence}, and no signed prune "
            "marker accounts for that: every event was deleted"
        )
        return None
    if first == 1:
        return 1, GENESIS_HASH
    if first - 1 in by_end:
        return first, by_end[first - 1]
    result.problems.append(
        f"events #1 to #{first - 1} are missing and no signed prune marker accounts for them: "
        "they were deleted"
    )
    return None


def verify_checkpoints() -> CheckpointVerification:
    """Check the checkpoint file and the log against it (see the module docstring)."""
    result = CheckpointVerification()
    records = _read_records(result)
    checkpoints = [r for r in records if r.get("kind") == "checkpoint"]
    markers = [r for r in records if r.get("kind") == "prune"]
    result.checkpoints, result.prune_markers = len(checkpoints), len(markers)
    start = _chain_start(markers, result)
    if start is not None:
        result.start_sequence, result.start_hash = start
    head = AuditChainHead.objects.filter(id=1).first()
    head_sequence = head.sequence if head else 0
    if not checkpoints:
        message = (
            f"there are no audit checkpoints at {checkpoint_path()}: truncation or rebuilding "
            "of the log cannot be detected (run `contactpoint audit checkpoint` periodically)"
        )
        if _is_production() and head_sequence:
            result.problems.append(message)
        else:
            result.warnings.append(message)
        return result
    wanted = {
        int(c["sequence"]): c for c in checkpoints if int(c["sequence"]) >= result.start_sequence
    }
    found = dict(
        AuditEvent.objects.filter(sequence__in=list(wanted)).values_list("sequence", "hash")
    )
    for sequence, checkpoint in sorted(wanted.items()):
        when = checkpoint.get("written_at", "?")
        if sequence > head_sequence:
            result.problems.append(
                f"the checkpoint of {when} saw the log at #{sequence}, but it now ends at "
                f"#{head_sequence}: the log was truncated"
            )
        elif sequence not in found:
            result.problems.append(
                f"event #{sequence}, recorded by the checkpoint of {when}, is missing: the log "
                "was truncated or rebuilt"
            )
        elif found[sequence] != checkpoint["hash"]:
            result.problems.append(
                f"event #{sequence} no longer has the hash the checkpoint of {when} recorded: "
                "the log was rebuilt or rewritten"
            )
    for checkpoint in checkpoints:
        sequence = int(checkpoint["sequence"])
        if (
            sequence == result.start_sequence - 1
            and sequence
            and (checkpoint["hash"] != result.start_hash)
        ):
            result.problems.append(
                f"the prune marker's last event #{sequence} differs from the checkpoint of "
                f"{checkpoint.get('written_at', '?')}: the pruned log was rebuilt"
            )
    return result
