"""Registering source systems and checking their credentials (issue 5, item 1).

Only the national team registers a source system. Its credential is shown once; ContactPoint
keeps a SHA-256 digest, which is enough for a 256-bit random token (see access.ApiToken).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from contactpoint.access.models import Organisation, User
from contactpoint.access.roles import Role
from contactpoint.audit.services import record_event
from contactpoint.feeds.models import SourceSystem, SourceSystemKind
from contactpoint.feeds.schema import RecordPart

CREDENTIAL_PREFIX = "cpsrc_"


class NotPermitted(Exception):
    """The person may not do this (only the national team registers source systems)."""


@dataclass(frozen=True)
class IssuedCredential:
    source: SourceSystem
    credential: str  # shown once, never stored


def credential_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _new_credential() -> tuple[str, str, str]:
    raw = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    return raw, credential_digest(raw), raw[: len(CREDENTIAL_PREFIX) + 6]


def _require_national_team(actor: User | None) -> None:
    # actor None is the operator at the server's console (`contactpoint feeds register`), who
    # has the national team's access to the machine by definition.
    if actor is not None and actor.role != Role.NATIONAL_TEAM:
        raise NotPermitted("only the national ContactPoint team registers source systems")


@transaction.atomic
def register_source_system(
    *,
    actor: User | None,
    code: str,
    name: str,
    kind: str,
    organisation: Organisation,
    allowed_parts: Iterable[str],
) -> IssuedCredential:
    """Register a source system and issue its first credential."""
    _require_national_team(actor)
    parts = sorted(set(allowed_parts) | {RecordPart.CHILD})
    unknown = [p for p in parts if p not in RecordPart.values]
    if unknown:
        raise ValidationError({"allowed_parts": [f"unknown parts: {', '.join(unknown)}"]})
    if kind not in SourceSystemKind.values:
        raise ValidationError({"kind": [f"unknown kind {kind!r}"]})
    raw, digest, prefix = _new_credential()
    source = SourceSystem(
        code=code,
        name=name,
        kind=kind,
        organisation=organisation,
        allowed_parts=parts,
        credential_digest=digest,
        credential_prefix=prefix,
        registered_by=actor,
    )
    source.full_clean()
    source.save()
    record_event(
        action="feeds.source_registered",
        actor_id=actor.pk if actor else None,
        actor_username=actor.username if actor else "console",
        organisation_code=organisation.code,
        detail={"source": code, "kind": kind, "parts": parts},
    )
    return IssuedCredential(source, raw)


@transaction.atomic
def rotate_credential(*, actor: User | None, source: SourceSystem) -> IssuedCredential:
    """Replace a source's credential (the old one stops working at once)."""
    _require_national_team(actor)
    raw, digest, prefix = _new_credential()
    source.credential_digest = digest
    source.credential_prefix = prefix
    source.save(update_fields=["credential_digest", "credential_prefix"])
    record_event(
        action="feeds.source_credential_rotated",
        actor_id=actor.pk if actor else None,
        actor_username=actor.username if actor else "console",
        organisation_code=source.organisation.code,
        detail={"source": source.code},
    )
    return IssuedCredential(source, raw)


def authenticate_source(raw: str) -> SourceSystem | None:
    """The active source system this credential belongs to, or None."""
    if not raw or not raw.startswith(CREDENTIAL_PREFIX):
        return None
    digest = credential_digest(raw)
    source = (
        SourceSystem.objects.filter(credential_digest=digest).select_related("organisation").first()
    )
    if source is None or not source.is_active:
        return None
    # The lookup used the digest; compare again in constant time for good measure.
    if not hmac.compare_digest(source.credential_digest, digest):
        return None
    return source
