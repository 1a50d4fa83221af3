"""The audit actions protective monitoring writes, declared once (audit.action holds 40 characters)."""

from __future__ import annotations

from enum import StrEnum


class ProtectiveAction(StrEnum):
    LOOKUP_STOPPED = "access.lookup_stopped"
    ALERT_RAISED = "access.alert_raised"
    ALERT_INVESTIGATING = "access.alert_investigating"
    ALERT_CLOSED = "access.alert_closed"
    REPORT_CHILD_VIEWERS = "access.report_child_viewers"
    REPORT_PERSON_ACTIVITY = "access.report_person_activity"
    REPORT_EVENT = "access.report_event"
    HOME_ADDRESS_RECORDED = "access.home_address_recorded"


# The search app's audit actions for a search and a record view (search.audit_actions). Access
# sits below search and may not import it; tests/monitoring checks that the two agree.
SEARCH_ACTION = "search.children"
VIEW_ACTION = "search.view_child"
LOOKUP_ACTIONS = (SEARCH_ACTION, VIEW_ACTION)
