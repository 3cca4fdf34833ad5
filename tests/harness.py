"""A test kit for flows as plain functions: simulated users, a frozen clock, a simulated chat.

Users press buttons by their label key, as a person presses them by their text; the chat
keeps the bot's messages (with edits applied) so button presses carry real message ids.
After every event the stored conversation state is round-tripped through JSON.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.i18n import Catalogs
from handlers import registry
from handlers.actions import (
    Action,
    AnswerButton,
    Button,
    EditMarkup,
    EditText,
    Inline,
    Msg,
    Raw,
    Reply,
    SendText,
)
from handlers.engine import Answer, Engine
from handlers.events import ButtonPress, Command, ContactShared, Inbound, Media, MediaKind, Text
from handlers.flow import FlowSettings, State
from models import conversations, invites, organisation
from models.base import Base
from models.conversations import StoredConversation
from models.db import create_sessionmaker
from models.invites import InviteKind
from models.people import Person

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Shanghai")
# During the coming season's service phase, mid-morning in the district.
CAMPAIGN_NOW = datetime(2027, 1, 20, 10, 0, tzinfo=ZONE).astimezone(UTC)
LANGUAGES = ("zh_Hans", "zh_Hant", "en")


@cache
def catalogs() -> Catalogs:
    """The real catalogs, loaded once per test session."""
    return Catalogs(ROOT / "locales", LANGUAGES, "zh_Hans", ZONE)


def test_settings(**changes: Any) -> FlowSettings:
    """Flow settings like the example config's."""
    values: dict[str, Any] = {
        "timezone": ZONE,
        "default_language": "zh_Hans",
        "languages": LANGUAGES,
        "conversation_timeout": timedelta(hours=24),
        "consent_version": 1,
        "retention_until": date(2027, 3, 16),
        "help_phones": ("0315-0000001", "0315-0000002"),
        "ask_again_days": (3, 7, 14),
        "note_max_length": 500,
    }
    values.update(changes)
    return FlowSettings(**values)


class FrozenClock:
    """A clock that moves only when told."""

    def __init__(self, now: datetime = CAMPAIGN_NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move time forward."""
        self.now += timedelta(**delta)


@dataclass
class ChatMessage:
    """One of the bot's messages as the user sees it."""

    message_id: int
    text: Msg | Raw
    markup: Any = None


@dataclass
class SimUser:
    """A person talking to the engine."""

    kit: Kit
    user_id: int
    language_code: str = "zh-hans"
    messages: list[ChatMessage] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    # Sending ---------------------------------------------------------------------------

    def _origin(self) -> dict[str, Any]:
        return {
            "update_id": next(self.kit.update_ids),
            "user_id": self.user_id,
            "chat_id": self.user_id,
            "language_code": self.language_code,
        }

    async def send(self, text: str) -> Answer:
        """Type a message."""
        return await self.deliver(Text(**self._origin(), text=text))

    async def command(self, name: str, arg: str = "") -> Answer:
        """Send /name arg."""
        return await self.deliver(Command(**self._origin(), name=name, arg=arg))

    async def share_contact(self, phone: str, *, own: bool = True) -> Answer:
        """Share a contact card (one's own, by default)."""
        owner = self.user_id if own else self.user_id + 1
        return await self.deliver(
            ContactShared(**self._origin(), phone=phone, contact_user_id=owner)
        )

    async def send_media(self, kind: MediaKind) -> Answer:
        """Send a sticker, photo, location..."""
        return await self.deliver(Media(**self._origin(), kind=kind, file_id="FILE"))

    def find(
        self, key: str, *, message: ChatMessage | None = None, **params: object
    ) -> tuple[Button, ChatMessage]:
        """The button labelled with catalog key `key` (and these parameters) on the newest
        message showing it, with that message."""
        candidates = [message] if message else reversed(self.messages)
        for chat_message in candidates:
            for button in _buttons(chat_message.markup):
                if _label_key(button) != key:
                    continue
                label = button.label
                if params and not (isinstance(label, Msg) and dict(label.params) == params):
                    continue
                return button, chat_message
        raise AssertionError(f"no button {key!r}; buttons now: {self.button_keys()}")

    async def press(
        self, key: str, *, message: ChatMessage | None = None, **params: object
    ) -> Answer:
        """Press the button labelled with catalog key `key` on the newest message showing it."""
        button, chat_message = self.find(key, message=message, **params)
        return await self.press_data(button.data, chat_message.message_id)

    async def press_data(self, data: str, message_id: int | None = None) -> Answer:
        """Press a button carrying exactly this callback data (forged ones too)."""
        if message_id is None:
            message_id = self.messages[-1].message_id if self.messages else 1
        return await self.deliver(
            ButtonPress(
                **self._origin(),
                data=data,
                callback_id=f"cb{next(self.kit.update_ids)}",
                message_id=message_id,
            )
        )

    async def deliver(self, event: Inbound) -> Answer:
        """Hand one event to the engine and apply its answer to the simulated chat."""
        answer = await self.kit.engine.handle(event)
        self.answers.append(answer)
        for action in answer.actions:
            self._apply(action)
        await self.kit.check_state_json(self.user_id)
        return answer

    def _apply(self, action: Action) -> None:
        if isinstance(action, SendText):
            self.messages.append(
                ChatMessage(next(self.kit.message_ids), action.text, action.markup)
            )
        elif isinstance(action, EditText):
            message = self.message(action.message_id)
            message.text, message.markup = action.text, action.markup
        elif isinstance(action, EditMarkup):
            self.message(action.message_id).markup = action.markup

    # Reading ---------------------------------------------------------------------------

    def message(self, message_id: int) -> ChatMessage:
        """The chat message with this id."""
        for message in self.messages:
            if message.message_id == message_id:
                return message
        raise AssertionError(f"no message {message_id}")

    def button_keys(self) -> list[str]:
        """Label keys of the newest message with an inline keyboard."""
        for message in reversed(self.messages):
            if isinstance(message.markup, Inline):
                return [_label_key(b) for b in message.markup.buttons()]
        return []

    def reply_keys(self) -> list[str]:
        """Label keys of the reply keyboard last shown."""
        for message in reversed(self.messages):
            if isinstance(message.markup, Reply):
                return [
                    b.label.key
                    for row in message.markup.rows
                    for b in row
                    if isinstance(b.label, Msg)
                ]
        return []

    def last_text(self) -> str:
        """The newest message, rendered in the user's current language."""
        answer = self.answers[-1]
        return self.kit.render(answer.language, self.messages[-1].text)

    async def state(self) -> State | None:
        """The stored conversation state."""
        return await self.kit.state(self.user_id)


def photo(user: SimUser, file_id: str) -> Media:
    """A photo from the user, as the runtimes deliver one (vary it with dataclasses.replace)."""
    return Media(
        update_id=next(user.kit.update_ids),
        user_id=user.user_id,
        chat_id=user.user_id,
        language_code="zh-hans",
        kind="photo",
        file_id=file_id,
    )


def keys(answer: Answer) -> list[str]:
    """The message keys an answer says (alerts included), in order, then those it tells
    other people through the outbox."""
    result: list[str] = []
    for action in answer.actions:
        if (isinstance(action, SendText | EditText) and isinstance(action.text, Msg)) or (
            isinstance(action, AnswerButton) and action.text is not None
        ):
            result.append(action.text.key)
    return result + [told.text.key for told in answer.told]


def _buttons(markup: Any) -> list[Button]:
    return markup.buttons() if isinstance(markup, Inline) else []


def _label_key(button: Button) -> str:
    label = button.label
    if isinstance(label, Msg):
        inner = label.params.get("label")
        if label.key in ("ui.checked", "ui.unchecked") and isinstance(inner, Msg):
            return inner.key
        return label.key
    return label.text


class Kit:
    """An engine over a real database with a frozen clock and deterministic tokens."""

    def __init__(self, db: AsyncEngine, **settings: Any) -> None:
        self.db = db
        self.sessions: async_sessionmaker[AsyncSession] = create_sessionmaker(db)
        self.clock = FrozenClock()
        self.update_ids = itertools.count(1)
        self.message_ids = itertools.count(1)
        tokens = itertools.count(1)
        self.settings = test_settings(**settings)
        self.engine = Engine(
            sessions=self.sessions,
            flows=registry.FLOWS,
            commands=registry.COMMANDS,
            buttons=registry.BUTTONS,
            idle=registry.idle,
            gate=registry.GATE,
            home_keyboards=registry.HOME_KEYBOARDS,
            shortcuts=registry.SHORTCUTS,
            settings=self.settings,
            texts=catalogs(),
            clock=self.clock,
            new_token=lambda: f"t{next(tokens)}",
        )

    def user(self, user_id: int, language_code: str = "zh-hans") -> SimUser:
        """A new simulated person."""
        return SimUser(self, user_id, language_code)

    def render(self, language: str, text: Msg | Raw) -> str:
        """A message as the person reads it."""
        return catalogs().render(language, text)

    async def state(self, user_id: int) -> State | None:
        """The stored conversation state of a user."""
        async with self.sessions() as session:
            row = await conversations.load(session, user_id, user_id, for_update=False)
            return State.from_json(row.state) if row and row.state else None

    async def check_state_json(self, user_id: int) -> None:
        """The stored state survives a JSON round trip unchanged."""
        async with self.sessions() as session:
            row = await conversations.load(session, user_id, user_id, for_update=False)
            if row is None or row.state is None:
                return
            again = json.loads(json.dumps(row.state))
            restored = State.from_json(again)
            assert restored is not None and restored.to_json() == row.state

    async def add_enterprise(
        self, name: str = "城建一公司", town: str = "开发区"
    ) -> tuple[int, str]:
        """An enterprise with its worker invite; returns (enterprise id, invite code)."""
        async with self.sessions() as session, session.begin():
            town_row = await organisation.get_or_create_town(session, town)
            enterprise = await organisation.add_enterprise(session, name, town_row, self.clock())
            invite = await invites.add(
                session, InviteKind.WORKER, self.clock(), enterprise_id=enterprise.id
            )
            return enterprise.id, invite.code

    async def count(self, model: type[Base]) -> int:
        """How many rows a table holds."""
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

    async def rows(self, model: type[Base]) -> list[Any]:
        """Every row of a table."""
        async with self.sessions() as session:
            return list(await session.scalars(select(model)))

    async def conversation(self, user_id: int) -> StoredConversation | None:
        """The raw conversation row of a user."""
        async with self.sessions() as session:
            return await conversations.load(session, user_id, user_id, for_update=False)


@dataclass
class Sent:
    """One message to another person (through the outbox), as they read it."""

    chat_id: int
    key: str
    text: str
    message: SendText
    purpose: str


async def sent(kit: Kit, answer: Answer) -> list[Sent]:
    """Every message an answer wrote to the outbox, one per reader, rendered in the reader's
    language (what the sender will deliver)."""
    out: list[Sent] = []
    async with kit.sessions() as session:
        for told in answer.told:
            for person_id in told.to:
                person = await session.get(Person, person_id)
                if person is None or person.chat_id is None:
                    continue
                out.append(
                    Sent(
                        person.chat_id,
                        told.text.key,
                        kit.render(person.language, told.text),
                        SendText(told.text, told.markup),
                        told.purpose,
                    )
                )
    return out


def said(kit: Kit, answer: Answer) -> list[str]:
    """What the person who acted reads (texts and edits), rendered."""
    return [
        kit.render(answer.language, a.text)
        for a in answer.actions
        if isinstance(a, SendText | EditText)
    ]


async def hand_over(kit: Kit, answer: Answer, *users: SimUser) -> list[Sent]:
    """Put the messages for `users` in their chats (so they can press the buttons)."""
    out = await sent(kit, answer)
    for item in out:
        for user in users:
            if user.user_id == item.chat_id:
                user.messages.append(
                    ChatMessage(next(kit.message_ids), item.message.text, item.message.markup)
                )
    return out
