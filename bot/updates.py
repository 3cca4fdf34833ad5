"""Bot API update JSON → inbound event: one reading of an update, shared by both runtimes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from handlers.events import (
    ButtonPress,
    ChatStatus,
    Command,
    ContactShared,
    Inbound,
    Media,
    MediaKind,
    Text,
)

ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
_MEDIA_KINDS: tuple[MediaKind, ...] = (
    "photo",
    "document",
    "sticker",
    "location",
    "voice",
    "audio",
    "video",
    "animation",
)


class NotAnUpdate(ValueError):
    """A webhook body that is not a Bot API update the bot can read (answered 400)."""


def read_update(body: bytes) -> tuple[dict[str, Any], Inbound | None]:
    """A webhook body as the update and the event it carries; NotAnUpdate if it is no update.

    Valid JSON is not enough: an update without an id, a message without a chat, a field of
    the wrong type or arrays nested past Python's recursion limit are refused here, before
    any runtime or flow sees them. The reason names no value, only what is wrong.
    """
    try:
        update = json.loads(body)
    except (ValueError, RecursionError) as error:  # a UnicodeDecodeError is a ValueError
        raise NotAnUpdate(f"not JSON ({type(error).__name__})") from None
    if not isinstance(update, dict):
        raise NotAnUpdate(f"a JSON {type(update).__name__}, not an object")
    try:
        return update, event_from_update(update)
    except KeyError as error:
        raise NotAnUpdate(f"no {error.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError, IndexError, RecursionError) as error:
        raise NotAnUpdate(f"a field of the wrong shape ({type(error).__name__})") from None


def event_from_update(update: Mapping[str, Any]) -> Inbound | None:
    """The inbound event an update carries, or None for updates the bot does not act on."""
    update_id = int(update["update_id"])
    if "message" in update:
        return _from_message(update_id, update["message"])
    if "callback_query" in update:
        return _from_callback(update_id, update["callback_query"])
    if "my_chat_member" in update:
        member = update["my_chat_member"]
        user = member.get("from") or {}
        status = (member.get("new_chat_member") or {}).get("status")
        if not user or status not in ("kicked", "member"):
            return None
        return ChatStatus(
            update_id=update_id,
            user_id=int(user["id"]),
            chat_id=int(member["chat"]["id"]),
            language_code=user.get("language_code"),
            private=member["chat"].get("type") == "private",
            blocked=status == "kicked",
        )
    return None


def _origin(update_id: int, user: Mapping[str, Any], chat: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "user_id": int(user["id"]),
        "chat_id": int(chat["id"]),
        "language_code": user.get("language_code"),
        "private": chat.get("type") == "private",
    }


def _from_message(update_id: int, message: Mapping[str, Any]) -> Inbound | None:
    user = message.get("from")
    if not user or user.get("is_bot"):
        return None
    origin = _origin(update_id, user, message["chat"])
    message_id = int(message["message_id"])
    text = message.get("text")
    if text is not None:
        entities = message.get("entities") or []
        if text.startswith("/") and any(
            e.get("type") == "bot_command" and e.get("offset") == 0 for e in entities
        ):
            head, _, arg = text[1:].partition(" ")
            name = head.split("@", 1)[0].lower()
            return Command(**origin, name=name, arg=arg.strip(), message_id=message_id)
        return Text(**origin, text=text, message_id=message_id)
    contact = message.get("contact")
    if contact is not None:
        owner = contact.get("user_id")
        return ContactShared(
            **origin,
            phone=str(contact.get("phone_number", "")),
            contact_user_id=int(owner) if owner is not None else None,
        )
    for kind in _MEDIA_KINDS:
        if kind in message:
            return _media(origin, message, kind, message_id)
    return Media(**origin, kind="other", message_id=message_id)


def _media(
    origin: dict[str, Any], message: Mapping[str, Any], kind: MediaKind, message_id: int
) -> Media:
    item = message[kind]
    if kind == "photo":
        item = item[-1] if item else {}
    known = item if isinstance(item, Mapping) else {}
    return Media(
        **origin,
        kind=kind,
        file_id=known.get("file_id"),
        file_name=known.get("file_name"),
        mime_type=known.get("mime_type"),
        caption=message.get("caption"),
        message_id=message_id,
        duration=_count(known.get("duration")),
        file_size=_count(known.get("file_size")),
    )


def _count(value: Any) -> int | None:
    """A whole number the update gives (seconds, bytes), or None when it gives none."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _from_callback(update_id: int, query: Mapping[str, Any]) -> Inbound | None:
    user = query.get("from")
    message = query.get("message")
    if not user:
        return None
    chat = message["chat"] if message else {"id": user["id"], "type": "private"}
    return ButtonPress(
        **_origin(update_id, user, chat),
        data=str(query.get("data") or ""),
        callback_id=str(query["id"]),
        message_id=int(message["message_id"]) if message else None,
    )
