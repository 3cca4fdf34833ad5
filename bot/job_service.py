"""What every recurring job needs: the running scheduler service, given by its executor."""

from __future__ import annotations

from typing import TypeVar

Service = TypeVar("Service")


def given(service: Service | None) -> Service:
    """The service the scheduler's executor passed in (bot/scheduler.py); a job called any
    other way has nothing to write with."""
    if service is None:
        raise RuntimeError("a recurring job runs only under the scheduler service")
    return service
