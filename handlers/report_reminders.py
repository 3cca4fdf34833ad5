"""The contacts' reminder to send the day's headcount report (scheduled, or staff's
remind-all in /missing)."""

from __future__ import annotations

from datetime import time

from handlers.actions import N_, Msg

REMINDER_BEFORE = N_("report.remind.before")
REMINDER_OVERDUE = N_("report.remind.overdue")


def reminder_text(local_time: time, deadline: time) -> Msg:
    """A report reminder: due by the deadline, or overdue after it."""
    key = REMINDER_OVERDUE if local_time >= deadline else REMINDER_BEFORE
    return Msg(key, deadline=f"{deadline:%H:%M}")
