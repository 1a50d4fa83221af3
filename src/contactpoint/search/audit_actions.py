"""The audit actions and outcomes the search app writes, declared once."""

from __future__ import annotations

from enum import StrEnum


class SearchAction(StrEnum):
    SEARCH = "search.children"
    VIEW = "search.view_child"


class SearchOutcome(StrEnum):
    MATCHES = "matches"
    NO_MATCHES = "no_matches"
    TOO_MANY = "too_many"
    REFUSED = "refused"


class ViewOutcome(StrEnum):
    SHOWN = "ok"
    NOT_FOUND = "not_found"
