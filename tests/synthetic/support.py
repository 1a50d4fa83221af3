"""Shared constants for the Synthetic England tests."""

from __future__ import annotations

import datetime as dt

# A fixed date keeps the tests' data identical from day to day (it must not be in the future,
# nor more than seven years ago, for the index's date validators).
AS_OF = dt.date(2026, 6, 30)
