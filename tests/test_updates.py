"""Reading Bot API update JSON into inbound events (shared by both runtimes)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.updates import event_from_update
from handlers.events import ButtonPress, ChatStatus, Command, ContactShared, Media, Text

USER = {"id": 42, "is_bot": False, "first_name": "Test", "language_code": "zh-hant"}
CHAT = {"id": 42, "type": "private"}


def message(**fields: Any) -> dict[str, Any]:
    return {
        "update_id": 7,
        "message": {"message_id": 3, "date": 0, "chat": CHAT, "from": USER, **fields},
    }


def test_text() -> None:
    event = event_from_update(message(text="张三"))
    assert event == Text(
        update_id=7, user_id=42, chat_id=42, language_code="zh-hant", text="张三", message_id=3
    )


@pytest.mark.parametrize(
    ("text", "name", "arg"),
    [
        ("/start abc_DEF-1", "start", "abc_DEF-1"),
        ("/START@outreach_bot  abc ", "start", "abc"),
        ("/checkin", "checkin", ""),
    ],
)
def test_commands(text: str, name: str, arg: str) -> None:
    event = event_from_update(
        message(text=text, entities=[{"type": "bot_command", "offset": 0, "length": 3}])
    )
    assert isinstance(event, Command) and (event.name, event.arg) == (name, arg)


def test_a_slash_without_a_command_entity_is_text() -> None:
    assert isinstance(event_from_update(message(text="/ not a command")), Text)


def test_contact() -> None:
    event = event_from_update(message(contact={"phone_number": "8613812345678", "user_id": 42}))
    assert event == ContactShared(
        update_id=7,
        user_id=42,
        chat_id=42,
        language_code="zh-hant",
        phone="8613812345678",
        contact_user_id=42,
    )


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"photo": [{"file_id": "small"}, {"file_id": "big"}]}, "photo"),
        ({"sticker": {"file_id": "s"}}, "sticker"),
        ({"location": {"latitude": 1.0, "longitude": 2.0}}, "location"),
        ({"document": {"file_id": "d", "file_name": "a.xlsx"}}, "document"),
        ({"voice": {"file_id": "v"}}, "voice"),
        ({"dice": {"emoji": "🎲", "value": 3}}, "other"),
    ],
)
def test_media(fields: dict[str, Any], kind: str) -> None:
    event = event_from_update(message(**fields))
    assert isinstance(event, Media) and event.kind == kind
    if kind == "photo":
        assert event.file_id == "big"


def test_button_press() -> None:
    update = {
        "update_id": 8,
        "callback_query": {
            "id": "cb1",
            "from": USER,
            "chat_instance": "x",
            "data": "t1|plan|stay",
            "message": {"message_id": 5, "date": 0, "chat": CHAT},
        },
    }
    event = event_from_update(update)
    assert isinstance(event, ButtonPress)
    assert (event.data, event.callback_id, event.message_id) == ("t1|plan|stay", "cb1", 5)


@pytest.mark.parametrize(("status", "blocked"), [("kicked", True), ("member", False)])
def test_blocking(status: str, blocked: bool) -> None:
    update = {
        "update_id": 9,
        "my_chat_member": {
            "chat": CHAT,
            "from": USER,
            "date": 0,
            "old_chat_member": {"status": "member", "user": USER},
            "new_chat_member": {"status": status, "user": USER},
        },
    }
    event = event_from_update(update)
    assert isinstance(event, ChatStatus) and event.blocked is blocked


def test_ignored_updates() -> None:
    assert event_from_update({"update_id": 1, "edited_message": {}}) is None
    bot_user = {**USER, "is_bot": True}
    update = message(text="hi")
    update["message"]["from"] = bot_user
    assert event_from_update(update) is None


def test_group_messages_are_marked_not_private() -> None:
    update = message(text="hi")
    update["message"]["chat"] = {"id": -100, "type": "supergroup"}
    event = event_from_update(update)
    assert event is not None and not event.private
