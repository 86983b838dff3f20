"""Exercise 3's contract as data: the interval GET /events uses when it is absent, and the limits it accepts."""

from __future__ import annotations

EVENTS_DEFAULT_INTERVAL = 1.0
EVENTS_INTERVAL_LIMITS = ("0.01", "60")
EVENTS_COUNT_MINIMUM = "1"
