"""The messenger port: the few Bot API calls the program makes, with typed failures.

Each runtime implements it; the renderer, the broadcast sender and scheduled jobs use it.
Keyboards travel as Bot API JSON (dicts), text as Telegram HTML. A file travels as the
reference of the channel it came in on; a messenger reads another channel's through
bot/files.py.
"""

from __future__ import annotations

from typing import Any, Protocol

Markup = dict[str, Any]


class MessengerError(Exception):
    """A Bot API call failed."""


class RetryAfter(MessengerError):
    """Telegram asks us to wait (HTTP 429) before sending anything more."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class Blocked(MessengerError):
    """The person blocked the bot or deleted their account (HTTP 403)."""


class ChatNotFound(MessengerError):
    """The chat does not exist (or never talked to the bot)."""


class Transient(MessengerError):
    """A network error or a Telegram server error: worth trying again later."""


class Rejected(MessengerError):
    """Telegram refused the request itself (HTTP 400 other than chat-not-found)."""


def bot_api_error(status: int, answer: dict[str, Any]) -> MessengerError:
    """Telegram's refusal as the messenger's typed error."""
    code = int(answer.get("error_code") or status)
    description = str(answer.get("description") or f"HTTP {code}")
    parameters = answer.get("parameters") or {}
    if code == 429:
        return RetryAfter(float(parameters.get("retry_after") or 1))
    if code == 403:
        return Blocked(description)
    if code == 400 and "chat not found" in description.lower():
        return ChatNotFound(description)
    if code >= 500 or code in (408, 409):
        return Transient(description)
    return Rejected(description)


class Messenger(Protocol):
    """Sending and editing messages, whatever the framework underneath."""

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        """Send an HTML message; returns its message id."""
        ...

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        """Replace a message's text and inline keyboard."""
        ...

    async def edit_markup(self, chat_id: int, message_id: int, markup: Markup | None) -> None:
        """Replace only a message's inline keyboard."""
        ...

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        """Answer a button press."""
        ...

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        """Send a file; returns the message id."""
        ...

    async def send_stored_document(
        self, chat_id: int, file_id: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        """Send a document already held (a file reference of any channel); its message id."""
        ...

    async def send_photo(
        self, chat_id: int, photo: bytes | str, caption: str | None, markup: Markup | None = None
    ) -> int:
        """Send a picture (bytes, or a file reference of any channel); returns the message id."""
        ...

    async def send_voice(
        self, chat_id: int, voice: str, caption: str | None, markup: Markup | None = None
    ) -> int:
        """Send a voice message (a file reference of any channel); returns the message id."""
        ...

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        """Set the command menu for a language (and, with chat_id, for one chat)."""
        ...


class BotProfile(Protocol):
    """What the bot says about itself before anyone writes: the runtimes' messengers set it."""

    async def set_description(
        self, description: str, short_description: str, language_code: str | None
    ) -> None:
        """The empty chat's text and the profile's short text, for a language (None: default)."""
        ...
