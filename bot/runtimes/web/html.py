"""Telegram HTML made safe for the chat page: only b, i, a, code and pre survive.

The renderer writes messages in the HTML subset Telegram's parse mode takes (the catalogs
use <b> and <code>; what people typed arrives escaped). The page shows them as HTML, so
every message is rebuilt here from its parse: the allowed tags without attributes (a link
keeps an http(s) href only), every other tag dropped with its text kept, all text escaped.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from urllib.parse import urlsplit

ALLOWED = frozenset({"b", "i", "a", "code", "pre"})
# Telegram's synonyms for the allowed tags.
SYNONYMS = {"strong": "b", "em": "i"}


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = SYNONYMS.get(tag, tag)
        if tag not in ALLOWED:
            return
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if urlsplit(href).scheme not in ("http", "https"):
                return
            self.out.append(f'<a href="{escape(href)}" rel="noopener noreferrer" target="_blank">')
        else:
            self.out.append(f"<{tag}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = SYNONYMS.get(tag, tag)
        if tag in self.open:
            # Close whatever was left open inside it too, so the nesting stays valid.
            while self.open:
                inner = self.open.pop()
                self.out.append(f"</{inner}>")
                if inner == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(escape(data, quote=False))

    def result(self) -> str:
        self.close()
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def sanitise(html: str) -> str:
    """The message as HTML safe to show: allowed tags only, everything else escaped text."""
    parser = _Sanitiser()
    parser.feed(html)
    return parser.result()
