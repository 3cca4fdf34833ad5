"""Event notices as plain functions: composing, sign-up up to capacity, the reminder."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.sender import render_content
from handlers import content
from handlers.actions import Msg
from handlers.flows import events as events_flow
from models import broadcasts
from models.broadcasts import Audience, Broadcast, ContentKind
from models.events import Event, EventSignup
from models.people import Role
from tests.harness import ChatMessage, Kit, SimUser, catalogs, keys
from tests.test_flow_broadcast import member, said, stored
from tests.test_flow_checkin import enrolled
from tests.test_flow_words import NEXT_STEPS


async def announce(kit: Kit, capacity: str | None = "1") -> Event:
    staff = await member(kit, 900)
    await staff.command("event")
    for text, problem in (("", "error.text.empty"), ("元宵\n晚会", "event.title_one_line")):
        assert keys(await staff.send(text))[0] == problem
    await staff.send("元宵节联欢晚会")
    assert keys(await staff.send("明天"))[0] == "error.moment.format"
    assert keys(await staff.send("今天 9:00"))[0] == "broadcast.moment_past"
    await staff.send("1月22日 19:00")
    await staff.send("职工食堂二楼")
    if capacity is None:
        await staff.press("event.no_limit")
    else:
        assert keys(await staff.send("0"))[0] == "event.capacity_zero"
        assert keys(await staff.send("-5"))[0] == "error.number.negative"
        await staff.send(capacity)
    answer = await staff.press("broadcast.audience.workers")
    assert "元宵节联欢晚会" in said(kit, answer)[1], "the notice is previewed"
    assert await kit.count(Event) == 0
    answer = await staff.press("ui.confirm")
    assert keys(answer) == ["event.confirmed"]
    [event] = await kit.rows(Event)
    assert isinstance(event, Event)
    return event


async def test_an_event_with_its_notice_and_reminder(db: AsyncEngine) -> None:
    kit = Kit(db)
    event = await announce(kit)
    assert event.starts_at == datetime(2027, 1, 22, 11, 0, tzinfo=UTC)
    assert event.capacity == 1
    notice_row, reminder_row = await stored(kit)
    assert notice_row.content_kind is ContentKind.EVENT
    assert notice_row.send_at == kit.clock()
    assert reminder_row.content_kind is ContentKind.EVENT_REMINDER
    assert reminder_row.send_at == event.starts_at - events_flow.REMINDER_BEFORE
    assert Audience.from_json(reminder_row.audience) == Audience(signed_up_for=event.id)


async def test_full_means_full(db: AsyncEngine) -> None:
    kit = Kit(db)
    first = await enrolled(kit, 100)
    second = await enrolled(kit, 101)
    event = await announce(kit, capacity="1")
    assert keys(await first.press_data(f"!signup|{event.id}")) == [
        "event.signed_up",
        "event.notice_signed_up",
    ]
    assert keys(await first.press_data(f"!signup|{event.id}")) == [
        "event.already_signed_up",
        "event.notice_signed_up",
    ]
    assert keys(await second.press_data(f"!signup|{event.id}")) == [
        "event.full",
        "event.notice_full",
    ]
    assert await kit.count(EventSignup) == 1
    async with kit.sessions() as session:
        signed = Audience(signed_up_for=event.id)
        assert await broadcasts.count_audience(session, signed) == 1


async def test_no_sign_up_once_it_started_nor_for_staff(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    event = await announce(kit, capacity=None)
    kit.clock.advance(days=3)
    assert keys(await worker.press_data(f"!signup|{event.id}"))[-1] == "event.past"
    staff = kit.user(900)
    assert keys(await staff.press_data(f"!signup|{event.id}")) == ["error.not_allowed"]
    assert keys(await worker.press_data("!signup|999")) == ["error.stale_button"]
    assert await kit.count(EventSignup) == 0


async def test_the_notice_shows_places_left_and_the_button(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    event = await announce(kit, capacity="30")
    await worker.press_data(f"!signup|{event.id}")
    notice_row, reminder_row = await stored(kit)
    assert isinstance(notice_row, Broadcast)
    async with kit.sessions() as session:
        content = await render_content(session, catalogs(), notice_row, "zh_Hans")
        assert "元宵节联欢晚会" in content.text and "剩余 29" in content.text
        assert content.markup is not None
        button = content.markup["inline_keyboard"][0][0]
        assert button["callback_data"] == f"!signup|{event.id}"
        reminder = await render_content(session, catalogs(), reminder_row, "en")
        assert "Reminder" in reminder.text and reminder.markup is None


async def test_a_town_officer_announces_to_their_town(db: AsyncEngine) -> None:
    kit = Kit(db)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="东湖镇")
    await officer.command("event")
    state = await officer.state()
    assert state is not None and state.data["town_name"] == "东湖镇"


async def test_the_diagram_matches_the_table() -> None:
    assert events_flow.__doc__ is not None
    assert events_flow.EVENT.mermaid() in events_flow.__doc__


def received_notice(user: SimUser, event: Event) -> ChatMessage:
    """The event's notice in the user's chat, as the sender delivers it."""
    text = content.notice(event.title, event.starts_at, event.place, event.capacity, 0)
    message = ChatMessage(next(user.kit.message_ids), text, content.signup_markup(event.id))
    user.messages.append(message)
    return message


async def test_signing_up_changes_the_notice_itself_and_can_be_taken_back(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    first = await enrolled(kit, 100)
    second = await enrolled(kit, 101)
    event = await announce(kit, capacity="2")
    notice = received_notice(first, event)
    answer = await first.press("event.sign_up", message=notice)
    assert [type(a).__name__ for a in answer.actions] == ["AnswerButton", "EditText"]
    assert isinstance(notice.text, Msg) and notice.text.key == "event.notice_signed_up"
    shown = kit.render("zh_Hans", notice.text)
    assert "✅ <b>已报名</b>" in shown and "剩余 1" in shown
    assert first.button_keys() == ["event.cancel_sign_up", *NEXT_STEPS]
    # Someone else takes the last place; the first person's cancel frees it again.
    await second.press("event.sign_up", message=received_notice(second, event))
    answer = await first.press("event.cancel_sign_up", message=notice)
    assert keys(answer) == ["event.cancelled", "event.notice_cancelled"]
    assert "剩余 1" in kit.render("zh_Hans", notice.text)
    assert first.button_keys() == ["event.sign_up", *NEXT_STEPS]
    assert await kit.count(EventSignup) == 1
    # Cancelling twice, or after the start, changes nothing.
    assert keys(await first.press_data(f"!unsignup|{event.id}", notice.message_id))[0] == (
        "event.not_signed_up"
    )
    kit.clock.advance(days=3)
    assert keys(await second.press_data(f"!unsignup|{event.id}"))[-1] == "event.past"
    assert await kit.count(EventSignup) == 1


async def test_a_stranger_cannot_cancel_anyones_sign_up(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit, 100)
    event = await announce(kit, capacity=None)
    await worker.press_data(f"!signup|{event.id}")
    stranger = kit.user(555)
    assert keys(await stranger.press_data(f"!unsignup|{event.id}")) == ["error.not_allowed"]
    assert keys(await worker.press_data("!unsignup|abc")) == ["error.stale_button"]
    assert await kit.count(EventSignup) == 1
