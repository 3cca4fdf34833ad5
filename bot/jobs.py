"""The campaign's recurring jobs: reminders and digests, added when the scheduler starts.

Each job is a module-level coroutine function (APScheduler stores a reference to it) with
an explicit id, added with replace_existing so a restart does not add it twice. Jobs only
enqueue broadcasts or write rows; the sender sends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.scheduler import Background


def register(background: Background) -> None:
    """Add every recurring job to the started scheduler."""
    return None
