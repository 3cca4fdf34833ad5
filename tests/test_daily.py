"""The district's daily jobs: the digest reaches staff (officers, their town), the purge waits."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import daily
from bot.config import Settings
from models.people import Role
from tests.harness import Kit, catalogs
from tests.test_flow_broadcast import member
from tests.test_flow_checkin import enrolled
from tests.test_sender import ScriptedMessenger, drain


class Recording(ScriptedMessenger):
    """Keeps the texts too: each chat's messages, and all of them joined."""

    def __init__(self, retry_after: dict[int, float] | None = None) -> None:
        super().__init__(retry_after=retry_after)
        self.parts: dict[int, list[str]] = {}

    async def send_text(self, chat_id: int, text: str, markup: Any = None) -> int:
        sent = await super().send_text(chat_id, text, markup)
        self.parts.setdefault(chat_id, []).append(text)
        return sent

    @property
    def texts(self) -> dict[int, str]:
        return {chat: "\n".join(parts) for chat, parts in self.parts.items()}


def background(kit: Kit) -> Any:
    app = SimpleNamespace(
        sessions=kit.sessions, settings=Settings(), catalogs=catalogs(), clock=kit.clock
    )
    return cast(Any, SimpleNamespace(app=app, settings=app.settings))


async def test_the_digest_goes_to_staff_and_officers_see_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enrolled(kit, 100)  # its enterprise is in 开发区
    await kit.add_enterprise("东湖一厂", "东湖镇")
    await member(kit, 900)
    await member(kit, 901, Role.TOWN_OFFICER, town="东湖镇")
    worker_only = kit.user(100)
    messenger = Recording()
    written = await daily.digest(background(kit), kit.clock())
    assert messenger.texts == {}, "written to the outbox, sent by the sender"
    await drain(kit, messenger, kit.clock)
    assert written == 2 and set(messenger.texts) == {900, 901}
    assert worker_only.user_id not in messenger.texts
    assert "每日汇总" in messenger.texts[900]
    assert "企业100" in messenger.texts[900] and "东湖一厂" in messenger.texts[900]
    assert "东湖一厂" in messenger.texts[901] and "企业100" not in messenger.texts[901]


async def test_a_long_digest_arrives_whole_in_parts_after_a_wait(db: AsyncEngine) -> None:
    kit = Kit(db)
    for town in range(50):
        for number in range(2):
            await kit.add_enterprise(f"第{town:02d}镇第{number}机械制造有限公司", f"第{town:02d}镇")
    await member(kit, 900)
    messenger = Recording(retry_after={900: 0.01})
    written = await daily.digest(background(kit), kit.clock())
    started = datetime.now(UTC)
    await drain(kit, messenger, lambda: kit.clock() + (datetime.now(UTC) - started))
    parts = messenger.parts[900]
    assert written == 1 and len(messenger.pauses) == 1, "told to wait, waited, sent"
    assert len(parts) >= 2 and all(len(part) <= 4096 for part in parts)
    whole = messenger.texts[900]
    assert "每日汇总" in whole and "第00镇" in whole and "第49镇" in whole
