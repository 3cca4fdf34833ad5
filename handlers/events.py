"""Inbound events: what a runtime makes of an update, as one plain frozen value.

An event names its channel (`telegram` unless a runtime says otherwise, `web` from the web
runtime): the person, their conversation and the update ids already handled are looked up
by channel and id, since ids on two channels are numbered apart. Flows never read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, kw_only=True)
class Event:
    """Who acted, in which chat, on which channel, and which update carried it."""

    update_id: int | None
    user_id: int
    chat_id: int
    language_code: str | None = None
    private: bool = True
    channel: str = "telegram"


@dataclass(frozen=True, kw_only=True)
class Text(Event):
    """A typed message."""

    text: str
    message_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Command(Event):
    """A /command, with the rest of the line as its argument (deep-link payload for /start)."""

    name: str
    arg: str = ""
    message_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ButtonPress(Event):
    """An inline button pressed on one of the bot's messages."""

    data: str
    callback_id: str
    message_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class ContactShared(Event):
    """A contact card sent with the "share my number" button (or forwarded from elsewhere)."""

    phone: str
    contact_user_id: int | None = None


# A picture's file names when it is sent as a file rather than as a photo.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif", ".bmp", ".tif")
MediaKind = Literal[
    "photo", "document", "sticker", "location", "voice", "audio", "video", "animation", "other"
]


@dataclass(frozen=True, kw_only=True)
class Media(Event):
    """Anything that is not text: a photo, document, sticker, location and the like."""

    kind: MediaKind
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    caption: str | None = None
    message_id: int | None = None
    # What the channel says of a voice or audio file (seconds) and of any file (bytes).
    duration: int | None = None
    file_size: int | None = None

    @property
    def is_image_file(self) -> bool:
        """A picture sent as a file: Telegram delivers it as a document, not a photo."""
        if self.kind != "document":
            return False
        mime = (self.mime_type or "").lower()
        name = (self.file_name or "").lower()
        return mime.startswith("image/") or name.endswith(IMAGE_SUFFIXES)


@dataclass(frozen=True, kw_only=True)
class ChatStatus(Event):
    """The user blocked (or unblocked) the bot."""

    blocked: bool


Inbound = Text | Command | ButtonPress | ContactShared | Media | ChatStatus
