"""The contacts' reminder to send the day's headcount report, as a broadcast stores it."""

from __future__ import annotations

from datetime import time

from handlers.actions import N_
from models.broadcasts import message_text

# Contacts' reminders to report (scheduled, or staff's remind-all in /missing); every key
# starts with REMINDER_PREFIX.
REMINDER_PREFIX = "report.remind."
REMINDER_BEFORE = N_("report.remind.before")
REMINDER_OVERDUE = N_("report.remind.overdue")


def reminder_text(local_time: time, deadline: time) -> str:
    """A report reminder as a broadcast stores it: due by the deadline, or overdue after it."""
    key = REMINDER_OVERDUE if local_time >= deadline else REMINDER_BEFORE
    return message_text(key, deadline=f"{deadline:%H:%M}")
