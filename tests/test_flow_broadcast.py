"""Staff's /broadcast and /notices, and the open letter, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import EditText, Msg, Raw, SendPhoto, SendText
from handlers.content import letter_body
from handlers.engine import Answer
from handlers.events import Media
from handlers.flows import broadcast as broadcast_flow
from handlers.flows import letter as letter_flow
from models import broadcasts, organisation
from models.broadcasts import (
    Audience,
    Broadcast,
    BroadcastStatus,
    ContentKind,
    Delivery,
    LetterRead,
)
from models.checkins import Plan
from models.people import Person, Role
from tests.harness import CAMPAIGN_NOW, Kit, SimUser, keys
from tests.test_flow_checkin import enrolled


async def member(
    kit: Kit, user_id: int, role: Role = Role.STAFF, town: str | None = None
) -> SimUser:
    """A staff member (or town officer of `town`) known to the bot."""
    async with kit.sessions() as session, session.begin():
        town_id = None
        if town is not None:
            town_id = (await organisation.get_or_create_town(session, town)).id
        session.add(
            Person(
                telegram_user_id=user_id,
                chat_id=user_id,
                role=role,
                language="zh_Hans",
                town_id=town_id,
                full_name="工作人员",
                enrolled_at=kit.clock(),
                active=True,
            )
        )
    return kit.user(user_id)


def said(kit: Kit, answer: Answer) -> list[str]:
    """The messages an answer sends or edits in, as the staff member reads them."""
    return [
        kit.render(answer.language, a.text)
        for a in answer.actions
        if isinstance(a, SendText | EditText)
    ]


async def stored(kit: Kit) -> list[Broadcast]:
    return [b for b in await kit.rows(Broadcast) if isinstance(b, Broadcast)]


async def compose_text(staff: SimUser, text: str = "今晚 7 点食堂包饺子") -> None:
    await staff.command("broadcast")
    await staff.press("broadcast.audience.workers")
    await staff.send(text)


# Composing -----------------------------------------------------------------------------------


async def test_text_to_all_workers_now(db: AsyncEngine) -> None:
    kit = Kit(db)
    for uid in (100, 101):
        await enrolled(kit, uid)
    staff = await member(kit, 900)
    await staff.command("broadcast")
    answer = await staff.press("broadcast.audience.workers")
    assert "<b>2</b>" in said(kit, answer)[0], "the audience is counted"
    answer = await staff.send("今晚 7 点 <食堂> 包饺子 & 联欢")
    preview = [a for a in answer.actions if isinstance(a, SendText)]
    assert preview[1].text == Raw("今晚 7 点 <食堂> 包饺子 & 联欢"), "exactly as recipients get it"
    assert said(kit, answer)[1] == "今晚 7 点 &lt;食堂&gt; 包饺子 &amp; 联欢"
    await staff.press("broadcast.send_now")
    assert await stored(kit) == [], "nothing is stored before Confirm"
    answer = await staff.press("ui.confirm")
    assert keys(answer) == ["broadcast.confirmed"]
    [row] = await stored(kit)
    assert row.status is BroadcastStatus.SCHEDULED
    assert row.content_kind is ContentKind.TEXT
    assert row.send_at == CAMPAIGN_NOW
    assert row.daily_until is None
    assert row.notify_chat_id == 900
    assert Audience.from_json(row.audience) == Audience(Role.WORKER)
    assert await staff.state() is None


async def test_photo_with_caption_is_previewed_as_a_photo(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await staff.command("broadcast")
    await staff.press("broadcast.audience.contacts")
    answer = await staff.deliver(broadcast_flow_media(staff, caption="春节值班安排"))
    [photo] = [a for a in answer.actions if isinstance(a, SendPhoto)]
    assert photo.photo == "PHOTO-ID"
    assert photo.caption == Raw("春节值班安排")
    await staff.press("broadcast.send_now")
    await staff.press("ui.confirm")
    [row] = await stored(kit)
    assert row.content_kind is ContentKind.PHOTO
    assert row.file_id == "PHOTO-ID"
    assert Audience.from_json(row.audience).role is Role.CONTACT


def broadcast_flow_media(user: SimUser, caption: str) -> Media:
    return Media(
        update_id=next(user.kit.update_ids),
        user_id=user.user_id,
        chat_id=user.user_id,
        language_code="zh-hans",
        kind="photo",
        file_id="PHOTO-ID",
        caption=caption,
    )


async def test_bad_content_is_refused_and_nothing_stored(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await staff.command("broadcast")
    await staff.press("broadcast.audience.workers")
    for text, problem in (
        ("   ", "error.text.empty"),
        ("长" * 4097, "error.text.too_long"),
        ("通知\u202e内容", "error.text.control_chars"),
    ):
        answer = await staff.send(text)
        assert keys(answer)[0] == problem, text[:10]
        state = await staff.state()
        assert state is not None and state.step == "content"
    answer = await staff.send_media("sticker")
    assert keys(answer) == ["broadcast.content_kind", "broadcast.ask_content"]
    assert await stored(kit) == []


async def test_once_at_a_time_in_the_future(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await compose_text(staff)
    await staff.press("broadcast.send_once")
    for text, problem in (
        ("明天", "error.moment.format"),
        ("2月30日 9:00", "error.date.no_such_day"),
        ("明天 25:00", "error.time.no_such_time"),
        ("今天 8:00", "broadcast.moment_past"),
        ("2027-12-01 9:00", "error.date.too_far"),
    ):
        assert keys(await staff.send(text))[0] == problem, text
    await staff.send("1月21日 9点半")
    await staff.press("ui.confirm")
    [row] = await stored(kit)
    assert row.send_at == datetime(2027, 1, 21, 1, 30, tzinfo=UTC)


async def test_daily_until_a_date(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    await compose_text(staff)
    await staff.press("broadcast.send_daily")
    assert keys(await staff.send("早上"))[0] == "error.time.format"
    await staff.send("9:00")  # 10:00 has passed today: the first copy goes tomorrow
    assert keys(await staff.send("1月20日"))[0] == "broadcast.until_before_first"
    await staff.send("1月25日")
    await staff.press("ui.confirm")
    [row] = await stored(kit)
    assert row.send_at == datetime(2027, 1, 21, 1, 0, tzinfo=UTC)
    assert str(row.daily_until) == "2027-01-25"


async def test_narrowing_by_enterprise_plan_and_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    stayer = await enrolled(kit, 100)
    await stayer.press("plan.stay")
    await stayer.press("ui.done")
    await stayer.press("ui.skip")
    await stayer.press("ui.confirm")
    await enrolled(kit, 101)
    staff = await member(kit, 900)
    await staff.command("broadcast")
    await staff.press("broadcast.audience.by_plan")
    answer = await staff.press("plan.stay")
    assert "<b>1</b>" in said(kit, answer)[-1]
    await staff.press("nav.back")
    await staff.press("nav.back")
    await staff.press("broadcast.audience.by_enterprise")
    assert keys(await staff.send("不存在"))[0] == "broadcast.no_enterprise_matches"
    answer = await staff.send("企业")
    assert keys(answer) == ["broadcast.pick_enterprise"]
    await staff.press_data(f"{(await staff.state()).token}|enterprise|e:1")  # type: ignore[union-attr]
    state = await staff.state()
    assert state is not None and state.step == "content"
    assert state.data["enterprise_name"] == "企业100"


async def test_workers_and_contacts_cannot_broadcast(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    answer = await worker.command("broadcast")
    assert keys(answer) == ["error.not_allowed"]
    answer = await worker.press_data("!bcancel|1")
    assert keys(answer) == ["error.not_allowed"]
    answer = await worker.command("notices")
    assert keys(answer) == ["error.not_allowed"]
    assert await stored(kit) == []


async def test_a_town_officer_reaches_only_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enrolled(kit, 100)  # 开发区
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="东湖镇")
    answer = await officer.command("broadcast")
    assert "broadcast.audience.by_town" not in officer.button_keys()
    assert keys(answer) == ["broadcast.ask_audience_in_town"]
    answer = await officer.press_data(f"{(await officer.state()).token}|audience|town")  # type: ignore[union-attr]
    assert keys(answer) == ["error.stale_button"]
    await officer.press("broadcast.audience.workers")
    answer = await officer.send("东湖镇通知")
    await officer.press("broadcast.send_now")
    await officer.press("ui.confirm")
    [row] = await stored(kit)
    async with kit.sessions() as session:
        town = await session.scalar(
            select(organisation.Town).where(organisation.Town.name == "东湖镇")
        )
        assert town is not None
        assert row.audience["town_id"] == town.id
        assert await broadcasts.count_audience(session, Audience.from_json(row.audience)) == 0
    # Another town's broadcast cannot be cancelled by them.
    staff = await member(kit, 900)
    await compose_text(staff)
    await staff.press("broadcast.send_once")
    await staff.send("1月22日 9:00")
    await staff.press("ui.confirm")
    other = (await stored(kit))[-1]
    answer = await officer.press_data(f"!bcancel|{other.id}")
    assert keys(answer) == ["error.stale_button"]
    assert (await stored(kit))[-1].status is BroadcastStatus.SCHEDULED


# /notices --------------------------------------------------------------------------------------


async def test_notices_list_and_cancel(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 900)
    assert keys(await staff.command("notices")) == ["notices.none"]
    await compose_text(staff)
    await staff.press("broadcast.send_once")
    await staff.send("1月22日 9:00")
    await staff.press("ui.confirm")
    answer = await staff.command("notices")
    assert keys(answer) == ["notices.list"]
    assert staff.button_keys() == ["notices.cancel"]
    answer = await staff.press("notices.cancel", number=1)
    assert keys(answer) == ["notices.cancelled"]
    [row] = await stored(kit)
    assert row.status is BroadcastStatus.CANCELLED
    answer = await staff.press_data("!bcancel|1")
    assert keys(answer) == ["notices.not_cancellable"]


# Enqueueing ------------------------------------------------------------------------------------


async def test_a_run_is_enqueued_once_for_reachable_people(db: AsyncEngine) -> None:
    kit = Kit(db)
    for uid in (100, 101, 102):
        await enrolled(kit, uid)
    async with kit.sessions() as session, session.begin():
        gone = await session.scalar(select(Person).where(Person.telegram_user_id == 102))
        assert gone is not None
        gone.active = False  # blocked the bot earlier
        broadcast = await broadcasts.add(
            session,
            Broadcast(
                content_kind=ContentKind.TEXT,
                text="通知",
                audience=Audience().to_json(),
                send_at=CAMPAIGN_NOW,
                status=BroadcastStatus.SCHEDULED,
                created_at=CAMPAIGN_NOW,
            ),
        )
        run = await broadcasts.enqueue_run(session, broadcast, CAMPAIGN_NOW, CAMPAIGN_NOW)
        assert run is not None and run.total == 2
        again = await broadcasts.enqueue_run(session, broadcast, CAMPAIGN_NOW, CAMPAIGN_NOW)
        assert again is None, "the same run is never enqueued twice"
        later = CAMPAIGN_NOW + timedelta(days=1)
        assert await broadcasts.enqueue_run(session, broadcast, later, later) is not None
    assert await kit.count(Delivery) == 4


async def test_audiences_by_plan_language_and_no_checkin(db: AsyncEngine) -> None:
    kit = Kit(db)
    stayer = await enrolled(kit, 100)
    await stayer.press("plan.stay")
    await stayer.press("ui.done")
    await stayer.press("ui.skip")
    await stayer.press("ui.confirm")
    await enrolled(kit, 101, language_code="en")
    async with kit.sessions() as session:
        count = broadcasts.count_audience
        assert await count(session, Audience(plan=Plan.STAY.value)) == 1
        assert await count(session, Audience(plan=Plan.RETURN.value)) == 0
        assert await count(session, Audience(plan=broadcasts.NO_CHECKIN)) == 1
        assert await count(session, Audience(language="en")) == 1
        assert await count(session, Audience(role=Role.CONTACT)) == 0


# The open letter -------------------------------------------------------------------------------


async def test_a_new_worker_gets_the_letter_and_can_say_they_read_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    [letter] = [m for m in worker.messages if m.text == letter_flow_body()]
    answer = await worker.press("letter.read_button", message=letter)
    assert keys(answer) == ["letter.thanks"]
    assert worker.message(letter.message_id).markup is not None
    await worker.press("letter.read_done", message=letter)  # pressing again changes nothing
    assert await kit.count(LetterRead) == 1
    state = await worker.state()
    assert state is not None and state.flow == "checkin", "the check-in goes on"


def letter_flow_body() -> Msg:
    return Msg("letter.body")


async def test_staff_see_who_read_the_letter_and_can_replace_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    reader = await enrolled(kit, 100)
    await enrolled(kit, 101)
    await reader.press("letter.read_button")
    staff = await member(kit, 900)
    answer = await staff.command("letter")
    text = said(kit, answer)[0]
    assert "1/2" in text and "50%" in text
    await staff.command("replaceletter")
    await staff.press("language.en")
    assert keys(await staff.send(""))[0] == "error.text.empty"
    await staff.send("Dear friends, please stay warm.")
    await staff.press("ui.confirm")
    async with kit.sessions() as session:
        assert await letter_body(session, "en") == Raw("Dear friends, please stay warm.")
        assert await letter_body(session, "zh_Hans") == letter_flow_body()
    # The button that sends it to everyone is for district staff.
    answer = await staff.press("letter.send_all")
    assert keys(answer) == ["letter.sending"]
    [row] = await stored(kit)
    assert row.content_kind is ContentKind.LETTER and row.created_by is not None


async def test_broadcast_diagrams_match_their_tables() -> None:
    for module, flow in (
        (broadcast_flow, broadcast_flow.BROADCAST),
        (letter_flow, letter_flow.LETTER),
    ):
        assert module.__doc__ is not None
        assert flow.mermaid() in module.__doc__
