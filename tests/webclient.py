"""A person using the web channel's chat page, driven from test code like FakeUser.

It speaks the page's own HTTP API (the cookie, the CSRF token, nonces, `after`), so the
scenarios written for Telegram users run unchanged on the web runtime: `send`, `command`,
`press` a button by its label, `share_contact` (typed, as the page does), `send_photo`,
and `wait_text` for what the bot wrote, however it arrived (answer, edit or a push).
"""

from __future__ import annotations

import json
import re
import secrets
import time
import uuid
from html import unescape
from http.cookiejar import CookieJar
from typing import Any
from urllib.error import HTTPError
from urllib.request import HTTPCookieProcessor, Request, build_opener

JSON = dict[str, Any]
# The smallest real pictures: a 1x1 PNG (the page sends what the phone took).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
TAGS = re.compile(r"<[^>]+>")


def plain(html: str) -> str:
    """A message's HTML as the text a person reads."""
    return unescape(TAGS.sub("", html))


class WebUser:
    """One browser holding one web chat."""

    def __init__(self, base_url: str, *, language: str = "zh-CN,zh;q=0.9", path: str = "/"):
        self.base_url = base_url.rstrip("/")
        self.language = language
        self.jar = CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.jar))
        self.messages: dict[int, JSON] = {}
        self.last_seq = 0
        self._mark = 0
        self.csrf = ""
        self.open(path)

    # HTTP ---------------------------------------------------------------------------------

    def request(
        self,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
    ) -> tuple[int, bytes, dict[str, str]]:
        """One request with this browser's cookie; status, body and headers."""
        all_headers = {"Accept-Language": self.language, **(headers or {})}
        request = Request(self.base_url + path, data=body, headers=all_headers, method=method)
        try:
            with self.opener.open(request, timeout=30) as reply:
                return int(reply.status), reply.read(), dict(reply.headers)
        except HTTPError as error:
            return int(error.code), error.read(), dict(error.headers)

    def open(self, path: str = "/") -> str:
        """Load the page (as a browser does); its HTML. Keeps the CSRF token it carries."""
        status, body, _ = self.request(path)
        assert status == 200, (status, body[:200])
        html = body.decode()
        found = re.search(r'<script type="application/json" id="data">(.*?)</script>', html)
        assert found, html[:500]
        self.data = json.loads(found.group(1))
        self.csrf = str(self.data["csrf"])
        self.catch_up()
        if self.data.get("start"):
            self.command("start", str(self.data["start"]))
        return html

    @property
    def chat_cookie(self) -> str:
        """The session cookie's value (to play another browser with it)."""
        return next(c.value or "" for c in self.jar if c.name == "outreach_chat")

    def post_json(self, path: str, body: JSON, csrf: str | None = None) -> tuple[int, JSON]:
        """A state-changing JSON request as the page makes it."""
        headers = {"Content-Type": "application/json", "X-CSRF-Token": self.csrf}
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        status, raw, _ = self.request(path, json.dumps(body).encode(), headers)
        return status, json.loads(raw or b"{}")

    def _apply(self, answer: JSON) -> JSON:
        for message in answer.get("messages", []):
            self.messages[int(message["id"])] = message
            self.last_seq = max(self.last_seq, int(message["seq"]))
        return answer

    def catch_up(self) -> None:
        """Fetch the changes since the last one held (what the socket pushes)."""
        status, raw, _ = self.request(f"/api/changes?after={self.last_seq}")
        assert status == 200, raw
        self._apply(json.loads(raw))

    # What a person does -------------------------------------------------------------------

    def mark(self) -> int:
        """Wait for what comes after now."""
        self._mark = self.last_seq
        return self._mark

    def _send(self, body: JSON) -> JSON:
        self.mark()
        body = {"nonce": secrets.randbelow(2**53 - 1) + 1, "after": self.last_seq, **body}
        status, answer = self.post_json("/api/send", body)
        assert status == 200, (status, answer)
        self.toasts = answer.get("toasts", [])
        return self._apply(answer)

    def send(self, text: str) -> JSON:
        """Type and send a message."""
        return self._send({"kind": "text", "text": text})

    def command(self, name: str, arg: str | None = None) -> JSON:
        """Send "/name" or "/name arg"."""
        return self.send("/" + name.lstrip("/") + (f" {arg}" if arg else ""))

    def share_contact(self, phone: str, own: bool = True) -> JSON:
        """The page has no contact card: the number is typed."""
        return self.send(phone)

    def upload(
        self, data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg", field: str = "photo"
    ) -> tuple[int, JSON]:
        """Upload a picture (or, as `field` "audio", a recording) as the page does
        (multipart); the status and the answer."""
        self.mark()
        boundary = uuid.uuid4().hex
        fields = [("nonce", str(secrets.randbelow(2**53 - 1) + 1)), ("after", str(self.last_seq))]
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields
        ]
        parts.append(
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
                f'filename="{name}"\r\nContent-Type: {mime}\r\n\r\n'
            ).encode()
            + data
            + b"\r\n"
        )
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "X-CSRF-Token": self.csrf,
        }
        status, raw, _ = self.request("/api/upload", b"".join(parts), headers)
        answer = json.loads(raw or b"{}")
        if status == 200:
            self._apply(answer)
        return status, answer

    def send_photo(self, caption: str | None = None) -> JSON:
        """Send a photo (taken or chosen on the phone)."""
        status, answer = self.upload(PNG, "photo.png", "image/png")
        assert status == 200, (status, answer)
        return answer

    def send_voice(self, data: bytes) -> JSON:
        """Send a sound recording chosen on the phone (it goes as a voice message)."""
        status, answer = self.upload(data, "voice", "audio/ogg", field="audio")
        assert status == 200, (status, answer)
        return answer

    def wait_file(self, kind: str, timeout: float = 10.0) -> bytes:
        """Wait for a message from the bot, after the mark, carrying a file of `kind`
        ("photo" or "voice"); the file's bytes as the page fetches them."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self._changed_since_mark():
                if message.get("file") and message.get(kind):
                    self._mark = message["seq"]
                    status, raw, _ = self.request(message["file"])
                    assert status == 200, (status, raw)
                    return raw
            if time.monotonic() > deadline:
                got = [plain(m["html"]) for m in self._changed_since_mark()]
                raise AssertionError(f"no {kind} from the bot; got: {got}")
            time.sleep(0.05)
            self.catch_up()

    def _bot_messages(self) -> list[JSON]:
        return [m for _, m in sorted(self.messages.items(), reverse=True) if not m["mine"]]

    def press(self, label: str, *, exact: bool = True) -> JSON:
        """Tap the button with this label on the newest message showing it."""
        seen: list[str] = []
        for message in self._bot_messages():
            for row in (message.get("markup") or {}).get("inline_keyboard", []):
                for button in row:
                    seen.append(button["text"])
                    if button["text"] == label or (not exact and label in button["text"]):
                        return self._send(
                            {
                                "kind": "button",
                                "data": button["callback_data"],
                                "message_id": message["id"],
                            }
                        )
        raise AssertionError(f"no button {label!r} on the page; available: {seen}")

    def buttons(self) -> list[str]:
        """Labels of the newest message's buttons."""
        for message in self._bot_messages():
            rows = (message.get("markup") or {}).get("inline_keyboard", [])
            if rows:
                return [button["text"] for row in rows for button in row]
        return []

    def reply_keyboard(self) -> list[str]:
        """Labels of the keyboard shown above the input ([] when none)."""
        for message in self._bot_messages():
            markup = message.get("markup") or {}
            if "keyboard" in markup:
                return [button["text"] for row in markup["keyboard"] for button in row]
            if markup.get("remove_keyboard"):
                return []
        return []

    def last_text(self) -> str:
        """The newest message the bot wrote (or changed)."""
        newest = max(self._bot_messages(), key=lambda m: m["seq"])
        return plain(newest["html"])

    def _changed_since_mark(self) -> list[JSON]:
        found = [m for m in self.messages.values() if m["seq"] > self._mark and not m["mine"]]
        return sorted(found, key=lambda m: m["seq"])

    def wait_text(self, substring: str, timeout: float = 10.0) -> JSON:
        """Wait for a message from the bot, after the mark, containing `substring`."""
        deadline = time.monotonic() + timeout
        while True:
            for message in self._changed_since_mark():
                text = plain(message["html"])
                if substring in text:
                    self._mark = message["seq"]
                    return {**message, "text": text}
            if time.monotonic() > deadline:
                got = [plain(m["html"]) for m in self._changed_since_mark()]
                raise AssertionError(f"no message containing {substring!r}; got: {got}")
            time.sleep(0.05)
            self.catch_up()

    def wait_reply(self, after: int | None = None, timeout: float = 10.0) -> JSON:
        """Wait for the next message the bot writes or changes after the mark."""
        return self.wait_text("", timeout)
