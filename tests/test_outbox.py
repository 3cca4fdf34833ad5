"""The one road out: what a committed change says to others survives a crash, once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot import jobs
from bot.config import BroadcastSettings
from bot.sender import Schedule, Sender
from handlers.actions import (
    Button,
    Inline,
    Lines,
    Msg,
    Raw,
    Tell,
    inline_from_json,
    inline_to_json,
    text_from_json,
    text_to_json,
)
from handlers.engine import Engine
from handlers.outbox import StaffContent, post
from models.broadcasts import Audience, Broadcast, ContentKind, Delivery, DeliveryStatus, Purpose
from models.people import Role
from models.requests import HelpRequest
from tests.harness import CAMPAIGN_NOW, ZONE, Kit, catalogs, keys, sent
from tests.test_flow_requests import ask, contact, worker
from tests.test_jobs import TODAY, four_enterprises, local, settings_for
from tests.test_sender import ScriptedMessenger, drain


def sender(kit: Kit, messenger: ScriptedMessenger) -> Sender:
    """A sender on the kit's clock, as a freshly started process has one."""
    return Sender(
        kit.sessions,
        {"telegram": messenger},
        catalogs(),
        BroadcastSettings(rate_per_second=200.0, progress_seconds=60.0),
        kit.clock,
        Schedule(ZONE, 3600),
    )


async def test_what_was_committed_before_a_crash_is_sent_once_after_restart(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    # A request for help: the contact's notice is committed with the request.
    user = await worker(kit)
    await contact(kit)
    notice = await sent(kit, await ask(user))
    assert [n.chat_id for n in notice] == [500]
    # A report reminder written by its job, and a staff broadcast.
    kit.clock.now = local(15)
    await four_enterprises(kit)
    reminder = await jobs.write_report_reminder(kit.sessions, settings_for(), kit.clock(), time(15))
    assert reminder is not None
    async with kit.sessions() as session, session.begin():
        await post(
            session,
            StaffContent(ContentKind.TEXT, "今晚食堂加餐"),
            Audience(role=Role.WORKER),
            Purpose.BROADCAST,
            kit.clock(),
        )
    # The process dies after enqueueing, before a single send.
    assert await sender(kit, ScriptedMessenger()).enqueue_due() == 3
    assert {d.status for d in await kit.rows(Delivery)} == {DeliveryStatus.PENDING}
    # Restarted, it sends every pending delivery once; a second restart sends nothing more.
    after_restart = ScriptedMessenger()
    started = datetime.now(UTC)
    moving = lambda: kit.clock() + (datetime.now(UTC) - started)  # noqa: E731
    await drain(kit, after_restart, moving)
    deliveries = await kit.rows(Delivery)
    assert {d.status for d in deliveries} == {DeliveryStatus.SENT}
    assert len(after_restart.sends) == len(deliveries)
    assert len({chat for _, chat in after_restart.sends}) < len(deliveries), "a chat got two"
    again = ScriptedMessenger()
    await drain(kit, again, moving)
    assert again.sends == []


async def test_a_purpose_is_typed_and_already_sent_is_a_query_on_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    kit.clock.now = local(15)
    await four_enterprises(kit)
    settings = settings_for()
    first = await jobs.write_report_reminder(kit.sessions, settings, kit.clock(), time(15))
    assert first is not None
    [row] = [b for b in await kit.rows(Broadcast) if b.id == first]
    assert row.purpose is Purpose.REPORT_REMINDER
    kit.clock.advance(minutes=5)
    again = await jobs.write_report_reminder(kit.sessions, settings, kit.clock(), time(15))
    assert again is None, "already reminded: a query on the purpose, not on a catalog key"
    assert kit.clock().astimezone(ZONE).date() == TODAY


async def test_a_daily_message_runs_each_day_and_one_missed_long_ago_is_not_sent(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    async with kit.sessions() as session, session.begin():
        daily = await post(
            session,
            StaffContent(ContentKind.TEXT, "每日提醒"),
            Audience(),
            Purpose.BROADCAST,
            CAMPAIGN_NOW,
            daily_until=(CAMPAIGN_NOW + timedelta(days=2)).astimezone(ZONE).date(),
        )
        late = await post(
            session,
            StaffContent(ContentKind.TEXT, "过期通知"),
            Audience(),
            Purpose.BROADCAST,
            CAMPAIGN_NOW - timedelta(hours=3),
            send_at=CAMPAIGN_NOW - timedelta(hours=2),
        )
    the_sender = sender(kit, ScriptedMessenger())
    assert await the_sender.enqueue_due() == 1, "the daily one; the late one is past its grace"
    kit.clock.advance(days=1)
    assert await the_sender.enqueue_due() == 1
    kit.clock.advance(hours=1)
    assert await the_sender.enqueue_due() == 0, "once a day"
    rows = {b.id: b for b in await kit.rows(Broadcast)}
    assert rows[late.id].status.value == "missed"
    assert rows[daily.id].next_run_at == CAMPAIGN_NOW + timedelta(days=2)


def test_a_told_message_keeps_its_parameters_and_keys_through_json() -> None:
    text = Msg(
        "request.notify_new",
        card=Lines((Msg("ui.yes"), Raw("<李四>"), 3), sep=Msg("ui.list_separator")),
        day=CAMPAIGN_NOW.date(),
        at=CAMPAIGN_NOW,
    )
    markup = Inline.of([[Button(Msg("request.answer_button"), "!rqa|7")]])
    told = Tell((1, 2), text, Purpose.REQUEST_NOTICE.value, markup)
    assert text_from_json(text_to_json(told.text)) == text
    assert inline_from_json(inline_to_json(told.markup)) == markup


async def test_a_change_rolled_back_after_its_message_was_written_sends_nothing(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await contact(kit)
    written = Engine._tell_others

    async def then_fail(self: Engine, told: Any, ctx: Any) -> None:
        await written(self, told, ctx)
        if told:
            assert await kit_count_in(ctx.session) == 1, "written in the transaction"
            raise RuntimeError("the database went away before the commit")

    monkeypatch.setattr(Engine, "_tell_others", then_fail)
    answer = await ask(user)
    assert "error.internal" in keys(answer)
    assert await kit.count(Broadcast) == 0
    assert await kit.count(HelpRequest) == 0


async def kit_count_in(session: AsyncSession) -> int:
    """Outbox rows as the transaction in hand sees them."""
    return int(await session.scalar(select(func.count()).select_from(Broadcast)) or 0)
