"""Riding out outages of the database and the Bot API: try again with backoff, say it once.

A loop that uses the database (the sender, its flusher and reporter, the scheduler lease,
the scheduler's jobs) keeps an `Outage`: the first failure is one log line, the tries after
it are quiet while the waits between them double, and the first success says how long it
lasted. At start, `keep_trying` waits for the Bot API or the database instead, in one line
per attempt, since nothing else is running yet that would say so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, TypeVar

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.util import iscoroutinefunction_partial
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from bot.config import RetrySettings

log = logging.getLogger(__name__)
T = TypeVar("T")
# SQLSTATE classes and codes of a server that is out of reach rather than of a wrong query:
# connection exceptions, insufficient resources, operator intervention (shutdown, starting
# up), the database missing or "not currently accepting connections".
_UNAVAILABLE_CLASSES = ("08", "53", "57")
_UNAVAILABLE_CODES = ("3D000", "55000")


def unavailable(error: BaseException) -> bool:
    """Whether the error means the database (or the network) is out of reach, not a bug."""
    if isinstance(error, OSError | TimeoutError | DisconnectionError):
        return True
    if isinstance(error, OperationalError | InterfaceError):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        code = str(getattr(error.orig, "sqlstate", None) or "")
        return code.startswith(_UNAVAILABLE_CLASSES) or code in _UNAVAILABLE_CODES
    return False


def describe(error: BaseException) -> str:
    """The error in a few words for a log line: its class and the first line of its message.

    A database error is described by the driver's error, without SQLAlchemy's statement and
    parameters (which may carry personal data) or its help link.
    """
    cause: BaseException = error
    if isinstance(error, DBAPIError) and isinstance(error.orig, BaseException):
        cause = error.orig
    lines = str(cause).strip().splitlines()
    first = lines[0][:200] if lines else ""
    return f"{type(cause).__name__}: {first}" if first else type(cause).__name__


class Backoff:
    """Waits that double from `first` to `longest` seconds; reset after a success."""

    def __init__(self, first: float, longest: float) -> None:
        self.first = first
        self.longest = longest
        self._next = first

    @classmethod
    def configured(cls, settings: RetrySettings) -> Backoff:
        """The backoff of the [retry] settings."""
        return cls(settings.first_seconds, settings.longest_seconds)

    def next(self) -> float:
        """The wait before the next try."""
        wait = self._next
        self._next = min(self._next * 2, self.longest)
        return wait

    def reset(self) -> None:
        """Start again from the first wait."""
        self._next = self.first


class Outage:
    """One loop's failures, logged once per outage, with the waits between its tries."""

    def __init__(
        self, what: str, settings: RetrySettings, logger: logging.Logger | None = None
    ) -> None:
        self.what = what
        self.backoff = Backoff.configured(settings)
        self.log = logger or log
        self.since: float | None = None
        self.failures = 0

    @property
    def ongoing(self) -> bool:
        """Whether the last try failed."""
        return self.since is not None

    def failed(self, error: BaseException) -> float:
        """Note a failed try (logged if it starts an outage); the seconds to wait."""
        self.failures += 1
        wait = self.backoff.next()
        if self.since is None:
            self.since = time.monotonic()
            if unavailable(error):
                self.log.warning(
                    "%s: the database is out of reach (%s); said once until it answers again",
                    self.what,
                    describe(error),
                )
            else:
                # Not an outage but a fault: its traceback, once, is what finds it.
                self.log.error(
                    "%s failed; said once until it works again",
                    self.what,
                    exc_info=error,
                )
        else:
            self.log.debug("%s: still failing (%s)", self.what, describe(error))
        return wait

    def succeeded(self) -> None:
        """Note a successful try; the end of an outage is logged."""
        if self.since is None:
            return
        lasted = time.monotonic() - self.since
        self.log.warning(
            "%s: working again after %.0f s (%d failed tries)", self.what, lasted, self.failures
        )
        self.since = None
        self.failures = 0
        self.backoff.reset()


async def retrying(
    call: Callable[[], Awaitable[T]],
    outage: Outage,
    worth_retrying: Callable[[BaseException], bool] = unavailable,
) -> T:
    """`call()`'s result, tried again after each failure `worth_retrying` accepts."""
    while True:
        try:
            result = await call()
        except Exception as error:
            if not worth_retrying(error):
                raise
            await asyncio.sleep(outage.failed(error))
            continue
        outage.succeeded()
        return result


async def keep_trying(
    attempt: Callable[[], Awaitable[object]],
    what: str,
    backoff: Backoff,
    worth_retrying: Callable[[BaseException], bool],
    *,
    stop: asyncio.Event | None = None,
    give_up_after: float | None = None,
) -> BaseException | None:
    """Call `attempt` until it succeeds, saying so in one line per failed attempt.

    Returns None once it succeeded; the last error when `stop` was set or `give_up_after`
    seconds have passed first (for the caller to say). Errors `worth_retrying` refuses are
    raised.
    """
    deadline = None if give_up_after is None else time.monotonic() + give_up_after
    tries = 0
    while True:
        try:
            await attempt()
        except Exception as error:
            if not worth_retrying(error):
                raise
            tries += 1
            wait = backoff.next()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            if wait <= 0 or (stop is not None and stop.is_set()):
                return error
            log.warning(
                "%s unreachable (%s); attempt %d, trying again in %.1f s",
                what,
                describe(error),
                tries,
                wait,
            )
            if stop is None:
                await asyncio.sleep(wait)
            else:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), wait)
                if stop.is_set():
                    return error
            continue
        backoff.reset()
        return None


class _Retried:
    """A job as APScheduler's executor sees it, its function retried through outages."""

    def __init__(self, job: Any, settings: RetrySettings) -> None:
        self._job = job
        func = job.func

        async def run(*args: Any, **kwargs: Any) -> Any:
            outage = Outage(f"job {job.id}", settings)
            return await retrying(lambda: func(*args, **kwargs), outage)

        self.func = run

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __str__(self) -> str:
        return str(self._job)


class RetryingExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """APScheduler's asyncio executor; a job that finds the database out of reach is run
    again with backoff until it gets through (logged once), rather than failing with a
    traceback and waiting for its next run. Other failures are APScheduler's as before."""

    def __init__(self, settings: RetrySettings) -> None:
        super().__init__()
        self.settings = settings

    def _do_submit_job(self, job: Any, run_times: Any) -> None:
        if iscoroutinefunction_partial(job.func):
            job = _Retried(job, self.settings)
        super()._do_submit_job(job, run_times)
