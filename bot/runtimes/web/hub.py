"""The open pages of one instance, and how a chat's changes reach them.

Each page holds a WebSocket and the sequence number of the last change it got. When a chat
changes (written here, or on another instance and announced by PostgreSQL's NOTIFY), the
hub reads that chat's changes after the lowest number its pages hold, once, and sends each
page what it lacks. A chat's pushes run one at a time, so a page gets changes in order.
What this instance has just written comes with the change (`Fresh`): when it holds every
change the pages lack, it is sent as it is, without reading it back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode
from aiohttp import web as aioweb

from models import web as store

log = logging.getLogger(__name__)

# Reads a chat's changes after a sequence number, as the page's JSON.
Reader = Callable[[int, int], Awaitable[list[dict[str, Any]]]]


def page_json(message: store.Shown) -> dict[str, Any]:
    """One message as the page draws it."""
    return {
        "id": message.id,
        "seq": message.seq,
        "html": message.html,
        "markup": message.markup,
        "mine": message.mine,
        "photo": message.photo,
        "voice": message.voice,
        "file": f"/f/{message.file_id}" if message.file_id is not None else None,
    }


@dataclass(frozen=True)
class Fresh:
    """Changes just written to a chat: every sequence number from `first` to `last` is
    theirs (an edit of a message gone leaves its number unused), as the page's JSON."""

    first: int
    last: int
    changes: tuple[dict[str, Any], ...]

    @classmethod
    def of(cls, written: store.Written) -> Fresh:
        """What a write stored, ready to push."""
        return cls(written.first, written.last, tuple(page_json(m) for m in written.messages))

    def after(self, seq: int) -> list[dict[str, Any]] | None:
        """Every change after `seq`, oldest first, if these hold all of them; else None."""
        if self.first > seq + 1:
            return None
        latest = {change["id"]: change for change in self.changes if change["seq"] > seq}
        return sorted(latest.values(), key=lambda change: int(change["seq"]))

    def then(self, more: Fresh) -> Fresh | None:
        """These and `more`, when `more` runs on from them; else None."""
        if not self.first <= more.first <= self.last + 1:
            return None
        return Fresh(self.first, max(self.last, more.last), self.changes + more.changes)


@dataclass(eq=False)
class Page:
    """One open page: its socket and the last change it was sent."""

    chat_id: int
    socket: aioweb.WebSocketResponse
    seq: int


@dataclass
class Hub:
    """Open pages by chat, and the pushes in flight."""

    read: Reader
    pages: dict[int, set[Page]] = field(default_factory=dict)
    _pending: set[int] = field(default_factory=set)
    _fresh: dict[int, Fresh] = field(default_factory=dict)
    # Chats with a change that only a read can show: written elsewhere, or out of order.
    _unknown: set[int] = field(default_factory=set)
    _running: dict[int, asyncio.Task[None]] = field(default_factory=dict)

    def add(self, page: Page) -> None:
        """A page opened (or reconnected)."""
        self.pages.setdefault(page.chat_id, set()).add(page)

    def remove(self, page: Page) -> None:
        """A page closed."""
        held = self.pages.get(page.chat_id)
        if held is not None:
            held.discard(page)
            if not held:
                del self.pages[page.chat_id]
                self._fresh.pop(page.chat_id, None)
                self._unknown.discard(page.chat_id)

    @property
    def count(self) -> int:
        """How many pages are open on this instance."""
        return sum(len(held) for held in self.pages.values())

    def changed(self, chat_id: int, fresh: Fresh | None = None) -> None:
        """A chat changed (`fresh`: what this instance wrote): push to its pages here, if
        any (safe to call from any callback)."""
        if chat_id not in self.pages:
            return
        known = self._fresh.pop(chat_id, None)
        merged = fresh if known is None or fresh is None else known.then(fresh)
        if merged is None:
            # Written elsewhere, or not running on from what is known: only a read shows it.
            self._unknown.add(chat_id)
        else:
            self._fresh[chat_id] = merged
        if chat_id in self._running:
            # One push at a time per chat; the one running goes round once more.
            self._pending.add(chat_id)
            return
        self._running[chat_id] = asyncio.get_running_loop().create_task(self._push(chat_id))

    async def _push(self, chat_id: int) -> None:
        try:
            while True:
                self._pending.discard(chat_id)
                await self._push_once(chat_id)
                if chat_id not in self._pending:
                    break
        except Exception:
            log.exception("could not push the changes of web chat %s", chat_id)
        finally:
            self._running.pop(chat_id, None)

    async def _push_once(self, chat_id: int) -> None:
        held = list(self.pages.get(chat_id, ()))
        if not held:
            return
        since = min(page.seq for page in held)
        fresh = self._fresh.pop(chat_id, None)
        changes = None
        if fresh is not None and chat_id not in self._unknown:
            changes = fresh.after(since)
        # What comes after this now calls `changed` again and is pushed in the next round.
        self._unknown.discard(chat_id)
        if changes is None:
            changes = await self.read(chat_id, since)
        if not changes:
            return
        for page in held:
            lacking = [change for change in changes if change["seq"] > page.seq]
            if not lacking or page.socket.closed:
                continue
            try:
                await page.socket.send_json({"messages": lacking})
                page.seq = max(page.seq, lacking[-1]["seq"])
            except (ConnectionError, RuntimeError):
                log.debug("a page of web chat %s went away mid-push", chat_id)

    async def close(self) -> None:
        """Close every page (on shutdown): they reconnect, to this or another instance."""
        for task in list(self._running.values()):
            task.cancel()
        for held in list(self.pages.values()):
            for page in list(held):
                await page.socket.close(code=WSCloseCode.GOING_AWAY)
        self.pages.clear()
