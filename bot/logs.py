"""Logging that never carries the bot token (HTTP libraries log URLs, and URLs carry it)."""

from __future__ import annotations

import logging
import re
import time

# A Bot API token is "<bot id>:<35 characters>"; redact any such shape, not only our own.
TOKEN_SHAPE = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{20,}\b")


class RedactSecrets(logging.Filter):
    """Replaces the configured secrets, and anything shaped like a token, in every record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = TOKEN_SHAPE.sub("<token>", message)
        for secret in self.secrets:
            cleaned = cleaned.replace(secret, "<secret>")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks are formatted later from exc_info; pre-format and redact them here.
            text = logging.Formatter().formatException(record.exc_info)
            text = TOKEN_SHAPE.sub("<token>", text)
            for secret in self.secrets:
                text = text.replace(secret, "<secret>")
            record.exc_text, record.exc_info = text, None
        return True


class SeldomRepeated(logging.Filter):
    """Lets a message starting with `prefix` through at most once every `every` seconds.

    APScheduler says each failed look into its job store, every 10 s while the database is
    out of reach; the bot's own loops say an outage once (bot/resilience.py).
    """

    def __init__(self, prefix: str, every: float) -> None:
        super().__init__()
        self.prefix = prefix
        self.every = every
        self._last = -float("inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True


def setup_logging(level: str, secrets: list[str]) -> None:
    """Log to stderr at `level`, with secrets redacted and chatty HTTP loggers quietened."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic tells its dialect and every step on each start; what a migration did is said
    # once by its caller (models.migrate.Upgraded).
    for noisy in (
        "alembic",
        "httpx",
        "httpcore",
        "aiohttp.access",
        "aiosqlite",
        "apscheduler.executors.default",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    scheduler = logging.getLogger("apscheduler.scheduler")
    scheduler.filters[:] = [SeldomRepeated("Error getting due jobs", every=300)]
