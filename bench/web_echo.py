"""Bare aiohttp servers for bench/web_checkin.py: the least a chat page's server does.

`bare`: it parses the JSON a page posts and answers it with one message, as the web runtime
answers with the bot's reply, with no database and no conversation.

`framed`: the same, with the HTTP framing the web runtime must do for every request and
nothing else: a page that opens a session (an HttpOnly cookie holding a token, kept here
in memory as its SHA-256, with its own CSRF token), then each post checked for its
session, its origin and its CSRF token, its JSON and its nonce, and answered with one
message under a button, the security headers on every answer.

`floor`: the framed handler, each post first recorded in one transaction as the bot's engine
opens every event (bench/echo_raw.py's recorder, on the SQLite database given): the floor
under any chat server on this stack that keeps its conversations in the database.

    python -m bench.web_echo PORT [bare|framed|floor DATABASE_URL]
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from hmac import compare_digest
from urllib.parse import urlsplit

from aiohttp import web

from bench.echo_raw import Recorder, nothing, recorder
from handlers.events import Text

COOKIE = "outreach_chat"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
PAGE = '<!doctype html><title>chat</title><script type="application/json" id="data">{}</script>'


async def send(request: web.Request) -> web.Response:
    """Echo the text back as one message of the page's JSON."""
    body = await request.json()
    message = {"id": body["nonce"], "seq": body["after"] + 1, "html": body.get("text", "")}
    return web.json_response({"messages": [message], "toasts": []})


async def hello(_: web.Request) -> web.Response:
    """Ready."""
    return web.Response(text="ok")


class Framed:
    """The framing of the web runtime's page and its posts, with sessions in memory."""

    def __init__(self, database: str | None = None) -> None:
        self.sessions: dict[str, tuple[int, str]] = {}
        self.database = database
        self.record: Recorder = nothing
        self.events = itertools.count(1)

    async def recording(self, _: web.Application) -> AsyncIterator[None]:
        """Open the database for the floor's transactions, if one was given."""
        if self.database is not None:
            self.record = await recorder(self.database)
        yield

    @web.middleware
    async def headers(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """The security headers on every answer."""
        response = await handler(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def page(self, _: web.Request) -> web.Response:
        """A new session: the cookie, and the CSRF token in the page's data."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        chat = len(self.sessions) + 1
        self.sessions[hashlib.sha256(token.encode()).hexdigest()] = (chat, csrf)
        data = json.dumps({"csrf": csrf, "start": "", "strings": {}, "menu": []})
        response = web.Response(text=PAGE.format(data), content_type="text/html")
        response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", path="/")
        return response

    async def send(self, request: web.Request) -> web.Response:
        """A post checked as the web runtime checks it, answered with one message."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return web.json_response({"error": "origin"}, status=403)
        token = request.cookies.get(COOKIE, "")
        held = self.sessions.get(hashlib.sha256(token.encode()).hexdigest())
        given = request.headers.get("X-CSRF-Token", "")
        if held is None or not compare_digest(given.encode(), held[1].encode()):
            return web.json_response({"error": "session"}, status=403)
        body = await request.json()
        if not isinstance(body, dict):
            return web.json_response({"error": "bad"}, status=400)
        nonce, after = body.get("nonce"), body.get("after")
        if not isinstance(nonce, int) or not isinstance(after, int):
            return web.json_response({"error": "bad"}, status=400)
        chat = held[0]
        text = str(body.get("text", ""))
        await self.record(Text(update_id=next(self.events), user_id=chat, chat_id=chat, text=text))
        markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "echo"}]]}
        message = {
            "id": after + 1,
            "seq": after + 1,
            "html": body.get("text", ""),
            "markup": markup,
            "mine": False,
            "photo": False,
            "file": None,
        }
        return web.json_response({"messages": [message], "toasts": []})


def main() -> None:
    kind = sys.argv[2] if len(sys.argv) > 2 else "bare"
    if kind in ("framed", "floor"):
        framed = Framed(sys.argv[3] if kind == "floor" else None)
        app = web.Application(middlewares=[framed.headers])
        app.cleanup_ctx.append(framed.recording)
        app.router.add_post("/api/send", framed.send)
        app.router.add_get("/", framed.page)
    else:
        app = web.Application()
        app.router.add_post("/api/send", send)
        app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
