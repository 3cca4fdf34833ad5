"""A bare aiohttp server for bench/web_checkin.py: the least a chat page's server does.

It parses the JSON a page posts and answers it with one message, as the web runtime
answers with the bot's reply, with no database and no conversation.

    python -m bench.web_echo PORT
"""

from __future__ import annotations

import sys

from aiohttp import web


async def send(request: web.Request) -> web.Response:
    """Echo the text back as one message of the page's JSON."""
    body = await request.json()
    message = {"id": body["nonce"], "seq": body["after"] + 1, "html": body.get("text", "")}
    return web.json_response({"messages": [message], "toasts": []})


async def hello(_: web.Request) -> web.Response:
    """Ready."""
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/send", send)
    app.router.add_get("/", hello)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
