"""The district's daily jobs: the digest reaches staff (officers, their town), the purge waits."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import daily
from bot.config import Settings
from models.people import Role
from tests.harness import Kit, catalogs
from tests.test_flow_broadcast import member
from tests.test_flow_checkin import enrolled
from tests.test_sender import ScriptedMessenger


class Recording(ScriptedMessenger):
    """Keeps the texts too."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: dict[int, str] = {}

    async def send_text(self, chat_id: int, text: str, markup: Any = None) -> int:
        self.texts[chat_id] = text
        return await super().send_text(chat_id, text, markup)


def background(kit: Kit, messenger: ScriptedMessenger) -> Any:
    app = SimpleNamespace(
        sessions=kit.sessions, settings=Settings(), catalogs=catalogs(), clock=kit.clock
    )
    return cast(Any, SimpleNamespace(app=app, settings=app.settings, messenger=messenger))


async def test_the_digest_goes_to_staff_and_officers_see_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enrolled(kit, 100)  # its enterprise is in 开发区
    await kit.add_enterprise("东湖一厂", "东湖镇")
    await member(kit, 900)
    await member(kit, 901, Role.TOWN_OFFICER, town="东湖镇")
    worker_only = kit.user(100)
    messenger = Recording()
    sent = await daily.digest(background(kit, messenger), kit.clock())
    assert sent == 2 and set(messenger.texts) == {900, 901}
    assert worker_only.user_id not in messenger.texts
    assert "每日汇总" in messenger.texts[900]
    assert "企业100" in messenger.texts[900] and "东湖一厂" in messenger.texts[900]
    assert "东湖一厂" in messenger.texts[901] and "企业100" not in messenger.texts[901]
