"""What the conversations need from the program around them, as protocols."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from handlers.actions import Msg, Raw

Clock = Callable[[], datetime]


class Texts(Protocol):
    """Renders catalog messages in a language (the bot's i18n implements it)."""

    def render(self, language: str, text: Msg | Raw) -> str:
        """The message as HTML in the language."""
        ...

    def plain(self, language: str, key: str) -> str:
        """A catalog entry as it reads, without parameters (button labels, for matching)."""
        ...
