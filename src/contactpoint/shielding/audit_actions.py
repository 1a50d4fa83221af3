"""Every audit action the shielding app writes, declared once (audit.action holds 40 characters).

Shielding events never carry a justification, a typed reason or any location detail: only
categories, dates, references and ContactPoint IDs, so that the audit log and its exports
cannot disclose where a shielded child is (issue 7).
"""

from __future__ import annotations

from enum import StrEnum


class ShieldingAction(StrEnum):
    SHIELDED = "shielding.shielded"
    SOURCE_SHIELDED = "shielding.source_shielded"
    REVIEWED = "shielding.reviewed"
    UNSHIELDED = "shielding.unshielded"
    REQUEST_RECORDED = "shielding.request_recorded"
    REQUEST_DECIDED = "shielding.request_decided"
    CONTACT_REQUESTED = "shielding.contact_requested"
    CONTACT_HANDLED = "shielding.contact_handled"
    BREAK_GLASS_GRANTED = "shielding.break_glass_granted"
    BREAK_GLASS_VIEWED = "shielding.break_glass_viewed"
    BREAK_GLASS_REFUSED = "shielding.break_glass_refused"
    QUEUE_VIEWED = "shielding.queue_viewed"
    RECORD_VIEWED = "shielding.record_viewed"
    REPORT_VIEWED = "shielding.report_viewed"
    REFUSED = "shielding.refused"


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    EXPIRED = "expired"
    ALREADY_USED = "already_used"


# The monitoring rule name break-glass alerts carry in access.Alert (issue 6's alert queues).
BREAK_GLASS_ALERT_RULE = "break_glass"
