"""Staff's figures marked by channel: a broadcast's report and /notices split Telegram from
the web, and a letter a web page showed counts as read, in /letter and /stats."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.files import Files
from bot.messenger import Markup
from bot.runtimes.web.messenger import WebMessenger
from handlers.actions import SendText
from models import broadcasts, people, stats, web
from models.broadcasts import (
    Audience,
    Broadcast,
    BroadcastRun,
    BroadcastStatus,
    ContentKind,
    Delivery,
    DeliveryStatus,
    LetterRead,
    Outcome,
    Purpose,
)
from models.checkins import CheckIn, Plan
from models.people import TELEGRAM, WEB, Person, Role
from tests.harness import ZONE, Kit, SimUser, catalogs
from tests.test_flow_broadcast import member
from tests.test_sender import ScriptedMessenger, drain

STAFF_ID = 900


class RecordingMessenger(ScriptedMessenger):
    """A Telegram messenger that keeps the texts it sent."""

    def __init__(self, blocked: set[int]) -> None:
        super().__init__(blocked=blocked)
        self.texts: list[str] = []

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        message_id = await super().send_text(chat_id, text, markup)
        self.texts.append(text)
        return message_id


def now() -> datetime:
    return datetime.now(UTC)


async def mixed_audience(kit: Kit, telegram: int, on_web: int) -> tuple[int, list[int]]:
    """Workers of one enterprise on Telegram (chats 5000...) and on the web (each with a web
    chat of their own); returns the enterprise's id and the web chats."""
    enterprise_id, _ = await kit.add_enterprise("城建九公司", "开发区")
    chats: list[int] = []
    async with kit.sessions() as session, session.begin():
        for i in range(telegram):
            session.add(worker(TELEGRAM, 5000 + i, enterprise_id))
        for _ in range(on_web):
            held, _token = await web.open_chat(session, now())
            chats.append(held.chat_id)
            session.add(worker(WEB, held.chat_id, enterprise_id))
    return enterprise_id, chats


def worker(channel: str, address: int, enterprise_id: int) -> Person:
    return Person(
        channel=channel,
        telegram_user_id=address,
        chat_id=address,
        role=Role.WORKER,
        language="zh_Hans",
        enterprise_id=enterprise_id,
        enrolled_at=now(),
        active=True,
    )


async def post(kit: Kit, kind: ContentKind, created_by: int | None = None) -> int:
    """A broadcast (a notice, or the letter) to every worker, its run enqueued; its id. With
    `created_by`, that staff member is shown its progress and final report."""
    async with kit.sessions() as session, session.begin():
        broadcast = await broadcasts.add(
            session,
            Broadcast(
                content_kind=kind,
                purpose=Purpose.LETTER if kind is ContentKind.LETTER else Purpose.BROADCAST,
                text="春节慰问" if kind is ContentKind.TEXT else None,
                audience=Audience().to_json(),
                send_at=now(),
                status=BroadcastStatus.DONE,
                created_by=created_by,
                report_progress=created_by is not None,
                created_at=now(),
            ),
        )
        run = await broadcasts.enqueue_run(session, broadcast, now(), now())
        assert run is not None
        return broadcast.id


async def staff_member(kit: Kit) -> tuple[SimUser, int]:
    """A staff member on Telegram, and their person id."""
    user = await member(kit, STAFF_ID)
    async with kit.sessions() as session:
        found = await people.by_telegram_id(session, STAFF_ID)
    assert found is not None
    return user, found.id


def web_messenger(kit: Kit) -> WebMessenger:
    """The web channel's messenger, with no Telegram to fetch files from."""
    files = Files(kit.sessions, api_base_url="http://127.0.0.1:9", token="", limit=1_000_000)
    return WebMessenger(kit.sessions, now, files, catalogs())


async def test_a_broadcast_to_a_mixed_audience_reports_the_split(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff, staff_id = await staff_member(kit)
    await mixed_audience(kit, telegram=3, on_web=2)
    number = await post(kit, ContentKind.TEXT, created_by=staff_id)
    telegram = RecordingMessenger(blocked={5001})
    sender = await drain(kit, telegram, web=web_messenger(kit))
    telegram.texts.clear()
    await sender.report()
    # The staff member's progress line and final report: each figure split by channel.
    progress, final = telegram.texts
    assert "共 5 人" in progress
    assert f"通知 #{number} 发送报告" in final
    assert "已送达：4（Telegram 2 · 网页 2）" in final
    assert "已屏蔽机器人：1（Telegram 1）" in final
    assert "失败：0" in final
    # The deliveries keep the channel they went by; the web ones the message they became.
    rows = await kit.rows(Delivery)
    assert sorted((d.channel, d.status) for d in rows) == [
        (TELEGRAM, DeliveryStatus.BLOCKED),
        (TELEGRAM, DeliveryStatus.SENT),
        (TELEGRAM, DeliveryStatus.SENT),
        (WEB, DeliveryStatus.SENT),
        (WEB, DeliveryStatus.SENT),
    ]
    assert all(d.message_id for d in rows if d.status is DeliveryStatus.SENT)
    # /notices lists it with the same split.
    await staff.command("notices")
    assert "送达 4（Telegram 2 · 网页 2） · 屏蔽 1（Telegram 1） · 失败 0" in staff.last_text()
    async with kit.sessions() as session:
        by_purpose = await broadcasts.figures_by_purpose(session)
    assert by_purpose[Purpose.BROADCAST].by_channel(DeliveryStatus.SENT) == {
        TELEGRAM: 2,
        WEB: 2,
    }


async def page_shows(kit: Kit, chat: int, seq: int) -> None:
    """The web page says it showed the chat's changes up to `seq` (as the runtime takes it)."""
    async with kit.sessions() as session, session.begin():
        if await web.mark_read(session, chat, seq):
            await broadcasts.read_when_shown(session, now(), web_chat=chat)


async def readers(kit: Kit) -> set[int]:
    """The people recorded as having read the letter."""
    return {r.person_id for r in await kit.rows(LetterRead)}


async def test_a_letter_shown_on_a_web_page_counts_as_read(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff, _ = await staff_member(kit)
    enterprise_id, (shown, not_yet) = await mixed_audience(kit, telegram=2, on_web=2)
    pages = web_messenger(kit)
    welcome = await pages.send_text(not_yet, "欢迎")
    await post(kit, ContentKind.TEXT)
    letter = await post(kit, ContentKind.LETTER)
    await drain(kit, ScriptedMessenger(), web=pages)
    by_chat = {p.chat_id: p.id for p in await kit.rows(Person)}
    runs = {r.id: r.broadcast_id for r in await kit.rows(BroadcastRun)}
    to_shown = [d for d in await kit.rows(Delivery) if d.person_id == by_chat[shown]]
    [notice] = [d for d in to_shown if runs[d.run_id] != letter]
    letters = {
        d.person_id: d.message_id for d in await kit.rows(Delivery) if runs[d.run_id] == letter
    }
    # A notice that is not the letter, shown, reads nothing.
    await page_shows(kit, shown, notice.message_id or 0)
    assert await readers(kit) == set()
    # The letter shown on one page counts; on a page that has not shown it yet, not; and
    # on Telegram only "I have read it" counts, as before.
    await page_shows(kit, shown, letters[by_chat[shown]] or 0)
    await page_shows(kit, not_yet, welcome)
    assert await readers(kit) == {by_chat[shown]}
    # Told twice, it is one read.
    async with kit.sessions() as session, session.begin():
        await broadcasts.read_when_shown(session, now(), web_chat=shown)
    assert await kit.count(LetterRead) == 1
    # /letter shows the coverage on each channel, and /stats the readers by channel.
    answer = await staff.command("letter")
    status = kit.render("zh_Hans", next(a for a in answer.actions if isinstance(a, SendText)).text)
    assert "全部：1/4 人已读（25%）" in status
    assert "Telegram：0/2（0%）\n网页：1/2（50%）" in status
    today = now().astimezone(ZONE).date()
    async with kit.sessions() as session, session.begin():
        for person_id in by_chat.values():
            person = await session.get(Person, person_id)
            if person is not None and person.role is Role.WORKER:
                session.add(checkin(person_id, enterprise_id, today))
    async with kit.sessions() as session:
        picture = await stats.picture(session, today, zone=ZONE)
    assert picture.letter_read == 1
    assert picture.letter_read_by_channel == {TELEGRAM: 0, WEB: 1}
    await staff.command("stats")
    assert "已阅读公开信：1 人（25%；网页 1）" in staff.last_text()


def checkin(person_id: int, enterprise_id: int, day: date) -> CheckIn:
    return CheckIn(
        person_id=person_id,
        enterprise_id=enterprise_id,
        created_at=now(),
        local_date=day,
        plan=Plan.STAY,
        needs=[],
    )


async def test_a_letter_the_page_showed_before_its_outcome_was_written_counts(
    db: AsyncEngine,
) -> None:
    """The page hears of a message as it is stored, before the sender writes the outcome:
    whichever of the two comes second records the read."""
    kit = Kit(db)
    _, (chat,) = await mixed_audience(kit, telegram=0, on_web=1)
    await post(kit, ContentKind.LETTER)
    [pending] = await kit.rows(Delivery)
    message_id = await web_messenger(kit).send_text(chat, "公开信")
    await page_shows(kit, chat, message_id)
    assert await readers(kit) == set(), "not known as the letter yet"
    outcome = Outcome(
        pending.id,
        pending.person_id,
        DeliveryStatus.SENT,
        1,
        now(),
        sent_at=now(),
        message_id=message_id,
        channel=WEB,
    )
    async with kit.sessions() as session, session.begin():
        await broadcasts.record(session, [outcome])
    assert await readers(kit) == {pending.person_id}
