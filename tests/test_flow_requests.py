"""Workers' requests for help as plain functions: asking, routing, answering, escalation,
the open requests, and the needs of a check-in; forged buttons are refused."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta
from types import ModuleType, SimpleNamespace
from typing import Any, cast

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import escalation
from bot.config import Settings
from bot.escalation import escalate
from bot.messenger import RetryAfter
from handlers import helpdesk
from handlers.actions import AnswerButton, EditMarkup, EditText, Inline, Msg, SendPhoto, SendText
from handlers.engine import Answer
from handlers.flow import Flow
from handlers.flows import help_request, open_requests, request_answer
from models import organisation, people, requests
from models.people import Person, Role
from models.requests import Category, HelpRequest, RequestMessage, Route, Source, Status
from tests.harness import ZONE, ChatMessage, Kit, SimUser, catalogs, keys, photo
from tests.test_flow_broadcast import member
from tests.test_flow_checkin import enrolled

NAME = "李四"
PHONE = "13900001111"


# People ---------------------------------------------------------------------------------


async def enterprise(kit: Kit, name: str = "城建一公司", town: str = "开发区") -> int:
    """The enterprise with this name (made once)."""
    async with kit.sessions() as session, session.begin():
        found = await organisation.find_enterprise(session, name)
        if found is not None:
            return found.id
        town_row = await organisation.get_or_create_town(session, town)
        return (await organisation.add_enterprise(session, name, town_row, kit.clock())).id


async def person(
    kit: Kit,
    user_id: int,
    role: Role,
    *,
    company: str | None = "城建一公司",
    town: str | None = None,
    name: str = NAME,
    phone: str | None = PHONE,
    language: str = "zh_Hans",
) -> SimUser:
    """A worker or contact of `company` (a town officer of `town`) known to the bot."""
    enterprise_id = await enterprise(kit, company) if company is not None else None
    async with kit.sessions() as session, session.begin():
        town_id = (await organisation.get_or_create_town(session, town)).id if town else None
        session.add(
            Person(
                telegram_user_id=user_id,
                chat_id=user_id,
                role=role,
                language=language,
                enterprise_id=enterprise_id,
                town_id=town_id,
                full_name=name,
                phone=phone,
                enrolled_at=kit.clock(),
                active=True,
            )
        )
    return kit.user(user_id, "en" if language == "en" else "zh-hans")


async def worker(kit: Kit, user_id: int = 100, company: str = "城建一公司") -> SimUser:
    return await person(kit, user_id, Role.WORKER, company=company)


async def contact(kit: Kit, user_id: int = 500, company: str = "城建一公司") -> SimUser:
    return await person(kit, user_id, Role.CONTACT, company=company, name="王经理", phone=None)


# What the bot says to other people -----------------------------------------------------


@dataclass
class Sent:
    """One message to another person, as they read it."""

    chat_id: int
    key: str
    text: str
    message: SendText


def sent(kit: Kit, answer: Answer) -> list[Sent]:
    """Every message an answer sends to another chat, rendered in its reader's language."""
    return [
        Sent(
            a.chat_id,
            a.text.key if isinstance(a.text, Msg) else "",
            kit.render(a.language or "zh_Hans", a.text),
            a,
        )
        for a in answer.actions
        if isinstance(a, SendText) and a.chat_id is not None
    ]


def said(kit: Kit, answer: Answer) -> list[str]:
    """What the person who acted reads (texts and edits), rendered."""
    return [
        kit.render(answer.language, a.text)
        for a in answer.actions
        if (isinstance(a, SendText) and a.chat_id is None) or isinstance(a, EditText)
    ]


def hand_over(kit: Kit, answer: Answer, *users: SimUser) -> list[Sent]:
    """Put the messages for `users` in their chats (so they can press the buttons)."""
    out = sent(kit, answer)
    for item in out:
        for user in users:
            if user.user_id == item.chat_id:
                user.messages.append(
                    ChatMessage(next(kit.message_ids), item.message.text, item.message.markup)
                )
    return out


async def ask(
    user: SimUser,
    category: str = "request.category.housing",
    description: str = "宿舍漏风晚上很冷",
    *,
    photo: bool = False,
    withhold: bool | None = None,
) -> Answer:
    """A worker's whole /request, up to and including Confirm."""
    await user.command("request")
    await user.press(category)
    await user.send(description)
    if photo:
        await user.send_media("photo")
    else:
        await user.press("ui.skip")
    if withhold is not None:
        await user.press("request.anonymity.withhold" if withhold else "request.anonymity.allow")
    return await user.press("ui.confirm")


async def only_request(kit: Kit) -> HelpRequest:
    [row] = await kit.rows(HelpRequest)
    assert isinstance(row, HelpRequest)
    return row


async def stored(kit: Kit) -> list[HelpRequest]:
    return sorted(
        (r for r in await kit.rows(HelpRequest) if isinstance(r, HelpRequest)), key=lambda r: r.id
    )


# The diagrams ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "flow"),
    [
        (help_request, help_request.REQUEST),
        (request_answer, request_answer.ANSWER),
        (open_requests, open_requests.BROWSE),
    ],
)
def test_the_diagrams_are_the_flows(module: ModuleType, flow: Flow) -> None:
    assert module.__doc__ is not None
    diagrams = re.findall(r"```mermaid\n(.*?)```", module.__doc__, re.S)
    assert [d.strip() for d in diagrams] == [flow.mermaid()]


# Asking ----------------------------------------------------------------------------------


async def test_a_housing_request_goes_to_the_employers_contact(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    assert keys(await user.command("request")) == ["request.ask_category"]
    assert keys(await user.press("request.category.housing")) == ["request.ask_description"]
    assert keys(await user.send("宿舍漏风晚上很冷")) == ["request.ask_photo"]
    answer = await user.send_media("photo")
    [photo] = [a for a in answer.actions if isinstance(a, SendPhoto)]
    assert photo.photo == "FILE", "the summary shows the photo that goes with it"
    summary = said(kit, answer)[-1]
    assert "宿舍漏风" in summary and "📷" in summary
    assert "24 小时" in summary, "the worker is told who gets it, and when staff step in"
    assert await kit.count(HelpRequest) == 0, "only Confirm stores it"
    answer = await user.press("ui.confirm")
    assert keys(answer)[0] == "request.sent"
    row = await only_request(kit)
    assert row.category is Category.HOUSING
    assert row.route is Route.CONTACT and row.status is Status.OPEN
    assert row.photo_file_id == "FILE" and row.description == "宿舍漏风晚上很冷"
    assert row.source is Source.REQUEST and not row.anonymous
    [note] = sent(kit, answer)
    assert note.chat_id == boss.user_id, "the contact, and nobody else"
    assert note.key == "request.notify_new"
    assert NAME in note.text and PHONE in note.text and "宿舍漏风" in note.text
    assert isinstance(note.message.markup, Inline)
    assert [b.data for b in note.message.markup.buttons()] == [f"!rqa|{row.id}"]
    assert staff.messages == []
    assert await user.state() is None


async def test_the_contact_answers_the_worker_replies_and_marks_it_solved(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    hand_over(kit, await ask(user, photo=True), boss)
    answer = await boss.press("request.answer_button")
    assert isinstance(answer.actions[0], AnswerButton)
    assert any(isinstance(a, SendPhoto) and a.photo == "FILE" for a in answer.actions)
    assert keys(answer)[-2:] == ["request.card", "request.ask_answer"]
    assert boss.button_keys() == ["nav.cancel"]
    state = await boss.state()
    assert state is not None and state.flow == "request_answer"
    assert keys(await boss.send("   ")) == ["error.text.empty", "request.ask_answer"]
    assert keys(await boss.send("今天下午就修窗户")) == ["request.answer_preview"]
    answer = await boss.press("request.send_button")
    assert keys(answer)[0] == "request.answer_sent"
    [to_worker] = hand_over(kit, answer, user)
    assert to_worker.chat_id == user.user_id
    assert "今天下午就修窗户" in to_worker.text and "单位联系人" in to_worker.text
    row = await only_request(kit)
    assert row.status is Status.ANSWERED and row.answered_at == kit.clock()

    answer = await user.press("request.reply_button")
    assert keys(answer)[-1] == "request.ask_reply"
    await user.send("窗户修好了但暖气还是不热")
    answer = await user.press("request.send_button")
    assert keys(answer)[0] == "request.reply_sent"
    [back] = hand_over(kit, answer, boss)
    assert back.chat_id == boss.user_id and back.key == "request.notify_reply"
    assert "暖气还是不热" in back.text
    assert (await only_request(kit)).status is Status.OPEN, "waiting for an answer again"

    await boss.press("request.answer_button")
    await boss.send("暖气明天修")
    hand_over(kit, await boss.press("request.send_button"), user)
    answer = await user.press("request.solved_button")
    assert keys(answer) == ["request.solved_thanks", "request.solved_done", "request.solved_notice"]
    assert any(isinstance(a, EditMarkup) and a.markup is None for a in answer.actions)
    [told] = sent(kit, answer)
    assert told.chat_id == boss.user_id
    row = await only_request(kit)
    assert row.status is Status.SOLVED and row.finished_at == kit.clock()
    thread = [m for m in await kit.rows(RequestMessage) if isinstance(m, RequestMessage)]
    assert [m.text for m in sorted(thread, key=lambda m: m.id)] == [
        "今天下午就修窗户",
        "窗户修好了但暖气还是不热",
        "暖气明天修",
    ]
    answer = await user.press_data(f"!rqr|{row.id}")
    assert keys(answer) == ["request.already_finished"]
    answer = await boss.press_data(f"!rqa|{row.id}")
    assert keys(answer) == ["request.already_finished"]


async def test_an_answer_is_cancelled_and_nothing_is_sent(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    hand_over(kit, await ask(user), boss)
    await boss.press("request.answer_button")
    await boss.send("马上处理")
    answer = await boss.press("nav.cancel")
    assert keys(answer) == ["conversation.cancelled"]
    assert sent(kit, answer) == []
    assert await kit.count(RequestMessage) == 0
    assert (await only_request(kit)).status is Status.OPEN


async def test_the_answer_reaches_the_worker_in_their_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    await person(kit, 100, Role.WORKER, language="en")
    user = kit.user(100, "en")
    boss = await contact(kit)
    hand_over(kit, await ask(user), boss)
    await boss.press("request.answer_button")
    await boss.send("明天修")
    [to_worker] = sent(kit, await boss.press("request.send_button"))
    assert to_worker.message.language == "en"
    assert "An answer to your request" in to_worker.text and "明天修" in to_worker.text


# Routing of wage matters ------------------------------------------------------------------


async def test_a_withheld_wage_request_never_reaches_the_employer_with_a_name(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    everything: list[Answer] = []

    async def do(answer: Answer) -> Answer:
        everything.append(answer)
        return answer

    await user.command("request")
    await user.press("request.category.wages")
    await user.send("12月工资拖欠没发，共4500元")
    await user.send_media("photo")
    answer = await user.press("request.anonymity.withhold")
    assert "不会告诉单位" in said(kit, answer)[-1]
    answer = await do(await user.press("ui.confirm"))
    row = await only_request(kit)
    assert row.anonymous and row.route is Route.STAFF and row.about_wages
    notes = hand_over(kit, answer, staff)
    assert [n.chat_id for n in notes] == [staff.user_id], "labour inspection only"
    assert NAME in notes[0].text and PHONE in notes[0].text, "staff see who asked"
    assert "🔒" in notes[0].text

    # Staff pass it on to the employer's contact: still nameless for them.
    answer = await do(await staff.press_data(f"!rqf|{row.id}"))
    assert keys(answer)[:2] == ["request.forwarded", "request.notify_forwarded"]
    forwarded, _told = hand_over(kit, answer, boss)
    assert forwarded.chat_id == boss.user_id
    answer = await do(await boss.press("request.answer_button"))
    assert not any(isinstance(a, SendPhoto) for a in answer.actions), "a photo can tell who"
    await do(await boss.send("本周五前补发"))
    answer = await do(await boss.press("request.send_button"))
    hand_over(kit, answer, user)
    answer = await do(await user.press("request.reply_button"))
    await do(await user.send("好的，谢谢"))
    answer = await do(await user.press("request.send_button"))
    [reply] = hand_over(kit, answer, boss)
    assert reply.chat_id == boss.user_id, "the reply goes to whoever answered"
    await boss.command("requests")
    answer = await do(await open_listed(boss))

    # Every message the contact ever got, or read in their own chat, is nameless.
    contact_texts = [s.text for a in everything for s in sent(kit, a) if s.chat_id == 500]
    contact_texts += [kit.render("zh_Hans", m.text) for m in boss.messages]
    assert contact_texts
    for text in contact_texts:
        assert NAME not in text and PHONE not in text, text
    assert all(officer.user_id != s.chat_id for a in everything for s in sent(kit, a))
    # The contact cannot pass it on again, nor see the wage request's photo in the list.
    assert keys(await boss.press_data(f"!rqf|{row.id}")) == ["error.not_allowed"]


async def open_listed(user: SimUser) -> Answer:
    """Press the first request button of the newest list in the user's chat."""
    for message in reversed(user.messages):
        if isinstance(message.markup, Inline):
            for b in message.markup.buttons():
                if isinstance(b.label, Msg) and b.label.key == "requests.open_button":
                    return await user.press_data(b.data, message.message_id)
    raise AssertionError("no request button")


async def test_a_wage_request_unforwarded_is_invisible_to_the_contact(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    answer = await ask(user, "request.category.overtime", "春节加班补贴没有给", withhold=True)
    assert all(s.chat_id != boss.user_id for s in sent(kit, answer))
    row = await only_request(kit)
    assert keys(await boss.press_data(f"!rqa|{row.id}")) == ["error.not_allowed"]
    assert keys(await boss.command("requests")) == ["requests.none"]
    assert await boss.state() is not None
    token = (await boss.state()).token  # type: ignore[union-attr]
    answer = await boss.press_data(f"{token}|open_list|r:{row.id}")
    assert keys(answer) == ["error.stale_button"]


async def test_a_wage_request_the_worker_lets_the_employer_know_shows_the_name(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    answer = await ask(user, "request.category.wages", "工资晚发了两个月", withhold=False)
    assert [s.chat_id for s in sent(kit, answer)] == [staff.user_id]
    row = await only_request(kit)
    assert not row.anonymous
    forwarded, told = sent(kit, await staff.press_data(f"!rqf|{row.id}"))
    assert forwarded.chat_id == boss.user_id and NAME in forwarded.text
    assert told.chat_id == user.user_id and told.key == "request.forwarded_to_worker_named"
    assert "对方会看到您的姓名和电话" in told.text


async def test_the_worker_is_told_in_their_language_when_staff_pass_it_on(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    await person(kit, 100, Role.WORKER, language="en")
    user = kit.user(100, "en")
    boss = await contact(kit)
    staff = await member(kit, 900)
    await ask(user, "request.category.wages", "No pay since November", withhold=True)
    row = await only_request(kit)
    answer = await staff.press_data(f"!rqf|{row.id}")
    assert keys(answer) == [
        "request.forwarded",
        "request.notify_forwarded",
        "request.forwarded_to_worker_anonymous",
    ]
    told = {s.chat_id: s for s in sent(kit, answer)}
    assert set(told) == {boss.user_id, user.user_id}
    to_worker = told[user.user_id]
    assert to_worker.message.language == "en"
    assert f"#{row.id}" in to_worker.text and "Wages unpaid or late" in to_worker.text
    assert "without telling them it was you" in to_worker.text
    # The worker is not told twice: it can be passed on only once.
    assert keys(await staff.press_data(f"!rqf|{row.id}")) == ["error.stale_button"]


async def test_passing_on_needs_a_contact_and_only_once(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    staff = await member(kit, 900)
    await ask(user, "request.category.wages", "工资晚发了两个月", withhold=True)
    row = await only_request(kit)
    answer = await staff.press_data(f"!rqf|{row.id}")
    assert keys(answer) == ["request.no_contact"]
    await contact(kit)
    await staff.press_data(f"!rqf|{row.id}")
    assert keys(await staff.press_data(f"!rqf|{row.id}")) == ["error.stale_button"]


# Escalation ------------------------------------------------------------------------------


async def _escalate(kit: Kit) -> list[SendText]:
    async with kit.sessions() as session, session.begin():
        return await helpdesk.escalate_due(session, kit.clock(), kit.settings)


async def test_an_unanswered_request_goes_to_staff_after_the_time(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    elsewhere = await member(kit, 902, Role.TOWN_OFFICER, town="别的镇")
    await ask(user)
    kit.clock.advance(hours=23, minutes=59)
    assert await _escalate(kit) == [], "not before the time"
    kit.clock.advance(minutes=2)
    messages = await _escalate(kit)
    by_chat = {m.chat_id: m for m in messages}
    assert set(by_chat) == {staff.user_id, officer.user_id, user.user_id}
    assert elsewhere.user_id not in by_chat and boss.user_id not in by_chat
    to_staff = by_chat[staff.user_id]
    assert isinstance(to_staff.text, Msg) and to_staff.text.key == "request.notify_escalated"
    assert "24 小时" in kit.render("zh_Hans", to_staff.text)
    worker_note = by_chat[user.user_id].text
    assert isinstance(worker_note, Msg) and worker_note.key == "request.escalated_to_worker"
    row = await only_request(kit)
    assert row.escalated_at == kit.clock()
    kit.clock.advance(hours=30)
    assert await _escalate(kit) == [], "escalated once"

    # Staff answer from the button on the escalation.
    staff.messages.append(ChatMessage(next(kit.message_ids), to_staff.text, to_staff.markup))
    await staff.press("request.answer_button")
    await staff.send("区里已联系单位，今天送取暖器")
    [to_worker] = sent(kit, await staff.press("request.send_button"))
    assert to_worker.chat_id == user.user_id and "区工作人员" in to_worker.text


async def test_an_answered_request_is_not_escalated(db: AsyncEngine) -> None:
    kit = Kit(db, request_escalate_after=timedelta(hours=2))
    user = await worker(kit)
    boss = await contact(kit)
    await member(kit, 900)
    hand_over(kit, await ask(user), boss)
    kit.clock.advance(hours=1)
    await boss.press("request.answer_button")
    await boss.send("马上修")
    hand_over(kit, await boss.press("request.send_button"), user)
    kit.clock.advance(hours=5)
    assert await _escalate(kit) == []
    # The worker's reply starts the wait again; unanswered, it goes to staff in time.
    await user.press("request.reply_button")
    await user.send("还没修")
    await user.press("request.send_button")
    kit.clock.advance(hours=1)
    assert await _escalate(kit) == []
    kit.clock.advance(hours=1)
    assert {m.chat_id for m in await _escalate(kit)} == {900, user.user_id}


class FakeMessenger:
    """Records what the escalation job sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, Any]] = []

    async def send_text(self, chat_id: int, text: str, markup: Any = None) -> int:
        self.sent.append((chat_id, text, markup))
        return len(self.sent)


async def test_the_scheduled_job_escalates_and_sends(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await contact(kit)
    await member(kit, 900)
    await ask(user)
    messenger = FakeMessenger()
    count = await escalate(kit.sessions, messenger, catalogs(), kit.settings, kit.clock)
    assert count == 0 and messenger.sent == []
    kit.clock.advance(hours=25)
    count = await escalate(kit.sessions, messenger, catalogs(), kit.settings, kit.clock)
    assert count == 2
    to_staff = next(s for s in messenger.sent if s[0] == 900)
    assert "单位联系人 24 小时内未答复" in to_staff[1]
    button = to_staff[2]["inline_keyboard"][0][0]
    assert button == {"text": "✍️ 答复", "callback_data": f"!rqa|{(await only_request(kit)).id}"}
    assert (await only_request(kit)).escalated_at is not None


class FloodedMessenger(FakeMessenger):
    """Telegram asks to wait `seconds` instead of sending, the first `refusals` times."""

    def __init__(self, refusals: int, seconds: float) -> None:
        super().__init__()
        self.refusals = refusals
        self.seconds = seconds

    async def send_text(self, chat_id: int, text: str, markup: Any = None) -> int:
        if self.refusals > 0:
            self.refusals -= 1
            raise RetryAfter(self.seconds)
        return await super().send_text(chat_id, text, markup)


async def escalated_after_a_flood(
    db: AsyncEngine, messenger: FloodedMessenger
) -> tuple[int, list[float]]:
    """A housing request left unanswered, escalated to two staff through `messenger`; how
    many messages went, and the waits."""
    kit = Kit(db)
    user = await worker(kit)
    await contact(kit)
    await member(kit, 900)
    await member(kit, 901)
    await ask(user)
    kit.clock.advance(hours=25)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    count = await escalate(kit.sessions, messenger, catalogs(), kit.settings, kit.clock, sleep)
    assert (await only_request(kit)).escalated_at is not None
    return count, waits


async def test_the_job_waits_as_telegram_asks_and_loses_no_message(db: AsyncEngine) -> None:
    messenger = FloodedMessenger(refusals=1, seconds=7)
    count, waits = await escalated_after_a_flood(db, messenger)
    assert waits == [7]
    assert count == 3
    assert sorted(chat for chat, _text, _markup in messenger.sent) == [100, 900, 901]


async def test_the_job_waits_within_bounds_and_then_goes_on(db: AsyncEngine) -> None:
    messenger = FloodedMessenger(refusals=escalation.TRIES, seconds=3600)
    count, waits = await escalated_after_a_flood(db, messenger)
    assert waits == [escalation.LONGEST_WAIT] * (escalation.TRIES - 1)
    assert count == 2, "the message refused every time is left; the others still go"
    assert len({chat for chat, _text, _markup in messenger.sent}) == 2


async def test_the_job_is_scheduled_every_few_minutes() -> None:
    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")
    scheduler.start(paused=True)
    background = SimpleNamespace(scheduler=scheduler, settings=Settings())
    try:
        escalation.schedule(cast(Any, background))
        escalation.schedule(cast(Any, background))  # a restart does not add it twice
        [job] = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)
    assert job.id == escalation.JOB_ID and job.func is escalation.escalate_requests
    assert job.trigger.interval == timedelta(minutes=escalation.EVERY_MINUTES)
    await escalation.escalate_requests()  # no scheduler service here: nothing to do


async def test_without_a_contact_staff_and_the_towns_officers_get_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    elsewhere = await member(kit, 902, Role.TOWN_OFFICER, town="别的镇")
    answer = await ask(user, "request.category.food", "食堂放假，没地方吃饭")
    assert {s.chat_id for s in sent(kit, answer)} == {staff.user_id, officer.user_id}
    assert elsewhere.messages == []
    row = await only_request(kit)
    assert row.route is Route.STAFF
    kit.clock.advance(hours=48)
    assert await _escalate(kit) == [], "staff have it already"


# The check-in's needs ---------------------------------------------------------------------


async def checkin_staying(user: SimUser, *needs: str, note: str = "宿舍没有暖气") -> Answer:
    await user.command("checkin")
    await user.press("plan.stay")
    for need in needs:
        await user.press(need)
    await user.press("ui.done")
    await user.send(note)
    return await user.press("ui.confirm")


async def test_needs_ticked_in_a_checkin_open_requests_once(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit, 100)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    assert await kit.count(HelpRequest) == 0, "nothing needed, nothing opened"
    staff = await member(kit, 900)
    boss = await person(kit, 500, Role.CONTACT, company="企业100", name="王经理", phone=None)
    answer = await checkin_staying(user, "need.heating", "need.wages")
    assert keys(answer)[:2] == ["checkin.saved", "request.opened_from_checkin"]
    assert "不会告诉单位" in said(kit, answer)[1]
    heating, wages = await stored(kit)
    assert heating.category is Category.HEATING and heating.route is Route.CONTACT
    assert heating.source is Source.CHECKIN and heating.description is None
    assert wages.category is Category.WAGES and wages.route is Route.STAFF and wages.anonymous
    assert wages.description == "宿舍没有暖气", "the note goes with the request for staff alone"
    notes = {n.chat_id: n for n in sent(kit, answer)}
    assert {(chat, n.key) for chat, n in notes.items()} == {
        (boss.user_id, "request.notify_new"),
        (staff.user_id, "request.notify_new"),
    }
    assert "宿舍没有暖气" in notes[staff.user_id].text
    assert "宿舍没有暖气" not in notes[boss.user_id].text
    assert "工人在春节去留登记" in notes[boss.user_id].text, "the need's own line instead"

    answer = await checkin_staying(user, "need.heating", "need.food")
    assert keys(answer)[:2] == ["checkin.saved", "request.opened_from_checkin"]
    assert [r.category for r in await stored(kit)] == [
        Category.HEATING,
        Category.WAGES,
        Category.FOOD,
    ], "no second open request for the same need"
    await checkin_staying(user, "need.heating")
    assert await kit.count(HelpRequest) == 3

    async with kit.sessions() as session, session.begin():
        row = await requests.get(session, heating.id)
        assert row is not None
        await requests.finish(session, row, Status.SOLVED, kit.clock(), None)
    await checkin_staying(user, "need.heating")
    assert await kit.count(HelpRequest) == 4, "solved, and lacking it again: a new request"


async def test_a_checkin_note_never_reaches_the_employer(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit, 100)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    staff = await member(kit, 900)
    boss = await person(kit, 500, Role.CONTACT, company="企业100", name="王经理", phone=None)
    note = "老板三个月没发工资，宿舍也没暖气"
    everything = [await checkin_staying(user, "need.heating", "need.wages", note=note)]
    assert "不会告诉单位" in said(kit, everything[0])[1]
    heating, wages = await stored(kit)
    hand_over(kit, everything[0], boss, staff)
    # Staff pass the wage request on; the contact reads both requests in full.
    everything.append(await staff.press_data(f"!rqf|{wages.id}"))
    hand_over(kit, everything[-1], boss)
    for request in (heating, wages):
        everything.append(await boss.press_data(f"!rqa|{request.id}"))
        assert keys(everything[-1])[-2:] == ["request.card", "request.ask_answer"]
        await boss.press("nav.cancel")
    await boss.command("requests")
    everything.append(await open_listed(boss))
    for_boss = [s.text for a in everything for s in sent(kit, a) if s.chat_id == boss.user_id]
    for_boss += [t for a in everything[2:] for t in said(kit, a)]
    assert len(for_boss) >= 5
    for text in for_boss:
        assert "三个月没发" not in text and "宿舍也没暖气" not in text, text
    # Staff still read the note, with the wage request only.
    assert wages.description is not None and "三个月没发" in wages.description
    assert heating.description is None and wages.anonymous
    [for_staff] = [s for s in sent(kit, everything[0]) if s.chat_id == staff.user_id]
    assert wages.description in for_staff.text


# Validation and navigation ------------------------------------------------------------------


async def test_bad_input_is_refused_with_the_reason(db: AsyncEngine) -> None:
    kit = Kit(db, description_max_length=50)
    user = await worker(kit)
    await user.command("request")
    assert keys(await user.send("随便写")) == ["hint.press_button"]
    token = (await user.state()).token  # type: ignore[union-attr]
    assert keys(await user.press_data(f"{token}|category|rent")) == ["error.stale_button"]
    await user.press("request.category.other")
    for typed, problem in (
        ("冷", "request.description_too_short"),
        ("   ", "error.text.empty"),
        ("长" * 51, "error.note.too_long"),
        ("没有\u202e暖气片了", "error.text.control_chars"),
        ("工资\x07没发，怎么办", "error.text.control_chars"),
    ):
        answer = await user.send(typed)
        assert keys(answer) == [problem, "request.ask_description"], typed
        state = await user.state()
        assert state is not None and state.step == "description"
        assert "description" not in state.data
    await user.send("<b>宿舍</b> & 厕所都坏了")
    assert keys(await user.send_media("sticker")) == ["request.photo_only", "request.ask_photo"]
    assert keys(await user.send("照片在手机里")) == ["request.hint_photo"]
    answer = await user.press("ui.skip")
    summary = said(kit, answer)[-1]
    assert "&lt;b&gt;宿舍&lt;/b&gt; &amp; 厕所都坏了" in summary, "shown as typed, safely"
    assert "📷" not in summary
    assert await kit.count(HelpRequest) == 0


async def test_a_picture_sent_as_a_file_is_answered_with_how_to_send_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await user.command("request")
    await user.press("request.category.housing")
    await user.send("宿舍的门锁坏了")
    as_file = replace(photo(user, "DOC"), kind="document", mime_type="image/jpeg")
    answer = await user.deliver(as_file)
    assert keys(answer) == ["photo.as_file", "request.ask_photo"]
    state = await user.state()
    assert state is not None and state.step == "photo" and "photo" not in state.data
    await user.deliver(photo(user, "PHOTO"))
    state = await user.state()
    assert state is not None and state.data["photo"] == "PHOTO"


async def test_four_chinese_characters_are_description_enough(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await user.command("request")
    answer = await user.press("request.category.wages")
    assert "（2–1,000 个字）" in said(kit, answer)[-1]
    for typed in ("a", "。"):
        answer = await user.send(typed)
        assert keys(answer) == ["request.description_too_short", "request.ask_description"]
        assert "至少写 2 个字" in said(kit, answer)[0]
    assert keys(await user.send("工资没发")) == ["request.ask_photo"]
    await user.press("ui.skip")
    await user.press("request.anonymity.withhold")
    await user.press("ui.confirm")
    assert (await only_request(kit)).description == "工资没发"


def test_a_wait_is_said_in_minutes_under_an_hour_else_in_hours() -> None:
    assert helpdesk.wait_time(timedelta(hours=0.5)) == Msg("request.wait.minutes", minutes=30)
    assert helpdesk.wait_time(timedelta(seconds=20)) == Msg("request.wait.minutes", minutes=1)
    assert helpdesk.wait_time(timedelta(hours=1)) == Msg("request.wait.hours", hours="1")
    assert helpdesk.wait_time(timedelta(hours=1.5)) == Msg("request.wait.hours", hours="1.5")
    assert helpdesk.wait_time(timedelta(hours=24)) == Msg("request.wait.hours", hours="24")
    assert helpdesk.wait_time(timedelta(minutes=100)) == Msg("request.wait.hours", hours="1.7")


async def test_half_an_hour_to_answer_is_said_as_30_minutes(db: AsyncEngine) -> None:
    kit = Kit(db, request_escalate_after=timedelta(minutes=30))
    user = await worker(kit)
    await contact(kit)
    staff = await member(kit, 900)
    await user.command("request")
    await user.press("request.category.housing")
    await user.send("宿舍漏风晚上很冷")
    summary = said(kit, await user.press("ui.skip"))[-1]
    assert "30 分钟内没有答复" in summary and "0 小时" not in summary
    await user.press("ui.confirm")
    kit.clock.advance(minutes=31)
    by_chat = {m.chat_id: m for m in await _escalate(kit)}
    escalated = kit.render("zh_Hans", by_chat[staff.user_id].text)
    assert "单位联系人 30 分钟内未答复" in escalated


async def test_change_and_back_before_confirming(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await user.command("request")
    await user.press("request.category.wages")
    await user.send("工资两个月没发了")
    await user.press("ui.skip")
    assert keys(await user.press("nav.back")) == ["request.ask_photo"]
    await user.press("ui.skip")
    token = (await user.state()).token  # type: ignore[union-attr]
    assert keys(await user.press_data(f"{token}|anonymity|maybe")) == ["error.stale_button"]
    await user.press("request.anonymity.withhold")
    assert keys(await user.press("ui.edit")) == ["request.ask_category"]
    await user.press("request.category.health")
    await user.send("腰疼，想看医生")
    answer = await user.press("ui.skip")
    assert keys(answer) == ["request.summary"], "no question about the employer for health"
    await user.press("ui.confirm")
    row = await only_request(kit)
    assert row.category is Category.HEALTH and not row.anonymous


async def test_too_many_open_requests_are_refused(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    for _ in range(help_request.MAX_OPEN_PER_WORKER):
        await ask(user, "request.category.other", "还有别的事情")
    assert keys(await user.command("request")) == ["request.too_many_open"]


async def test_the_answer_button_starts_afresh_after_a_stale_conversation(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    hand_over(kit, await ask(user), boss)
    await boss.command("requests")
    kit.clock.advance(hours=25)
    answer = await boss.press("request.answer_button")
    assert keys(answer) == ["conversation.expired", "request.card", "request.ask_answer"]
    state = await boss.state()
    assert state is not None and state.flow == "request_answer"
    await boss.send("好的")
    assert keys(await boss.press("request.send_button"))[0] == "request.answer_sent"


# Who may do what -------------------------------------------------------------------------


async def test_forged_buttons_are_refused_and_change_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    other_worker = await worker(kit, 101)
    await contact(kit)
    stranger = await contact(kit, 501, company="钢铁二厂")
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    await member(kit, 900)
    await ask(user)
    await ask(user, "request.category.wages", "工资没发，欠三个月", withhold=True)
    housing, wages = await stored(kit)
    cases: list[tuple[SimUser, str, str]] = [
        (user, f"!rqa|{housing.id}", "error.not_allowed"),  # a worker answering
        (other_worker, f"!rqs|{housing.id}", "error.not_allowed"),  # someone else's request
        (other_worker, f"!rqr|{housing.id}", "error.not_allowed"),
        (stranger, f"!rqa|{housing.id}", "error.not_allowed"),  # another employer's
        (stranger, f"!rqr|{housing.id}", "error.not_allowed"),
        (officer, f"!rqa|{wages.id}", "error.not_allowed"),  # wages stay with inspection
        (officer, f"!rqf|{wages.id}", "error.not_allowed"),
        (user, "!rqa|999", "error.not_allowed"),
        (stranger, "!rqa|x", "error.not_allowed"),
    ]
    for who, data, problem in cases:
        answer = await who.press_data(data)
        assert keys(answer) == [problem], data
        assert isinstance(answer.actions[0], AnswerButton) and answer.actions[0].alert
        assert await who.state() is None
    assert [r.status for r in await stored(kit)] == [Status.OPEN, Status.OPEN]
    assert await kit.count(RequestMessage) == 0
    assert [r.forwarded_at for r in await stored(kit)] == [None, None]
    assert keys(await user.command("requests")) == ["error.not_allowed"]
    assert keys(await stranger.command("request")) == ["error.not_allowed"]


async def test_an_answer_flow_checks_again_at_send(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    hand_over(kit, await ask(user), boss)
    await boss.press("request.answer_button")
    await boss.send("下午修")
    # Meanwhile staff close the request.
    await staff.command("requests")
    await open_listed(staff)
    answer = await staff.press("request.close_button")
    assert keys(answer)[:2] == ["request.closed", "request.closed_notice"]
    [told] = sent(kit, answer)
    assert told.chat_id == user.user_id
    answer = await boss.press("request.send_button")
    assert keys(answer) == ["request.already_finished"]
    assert await kit.count(RequestMessage) == 0


# The open requests (/requests) ---------------------------------------------------------------


async def test_staff_list_open_requests_by_age_category_town_and_enterprise(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    await enterprise(kit, "钢铁二厂", "别的镇")
    first = await worker(kit, 100)
    second = await person(kit, 101, Role.WORKER, company="钢铁二厂")
    staff = await member(kit, 900)
    await ask(first, "request.category.food", "食堂春节关门了")
    kit.clock.advance(hours=30)
    await ask(second, "request.category.heating", "宿舍没有暖气")
    kit.clock.advance(hours=3)
    await ask(first, "request.category.wages", "工资两个月没发了", withhold=True)
    food, heating, wages = await stored(kit)

    answer = await staff.command("requests")
    text = said(kit, answer)[-1]
    assert "共 3 件" in text
    assert text.index(f"#{food.id}") < text.index(f"#{heating.id}") < text.index(f"#{wages.id}")
    assert "1 天" in text and "3 小时" in text and "0 小时" in text
    assert staff.button_keys() == [
        *["requests.open_button"] * 3,
        "requests.by_category",
        "requests.by_town",
        "requests.by_enterprise",
        "nav.cancel",
    ]

    answer = await staff.press("requests.by_category")
    labels = [b.label for b in staff.messages[-1].markup.buttons()]
    assert Msg("requests.count_label", label=Msg("request.category.food"), count=1) in labels
    assert Msg("requests.count_label", label=Msg("request.category.other"), count=0) in labels
    token = (await staff.state()).token  # type: ignore[union-attr]
    answer = await staff.press_data(f"{token}|by_category|c:heating")
    text = said(kit, answer)[-1]
    assert "共 1 件" in text and f"#{heating.id}" in text
    await staff.press("requests.all")

    await staff.press("requests.by_town")
    token = (await staff.state()).token  # type: ignore[union-attr]
    async with kit.sessions() as session:
        town = await organisation.find_town(session, "开发区")
    assert town is not None
    answer = await staff.press_data(f"{token}|by_town|t:{town.id}")
    text = said(kit, answer)[-1]
    assert "共 2 件" in text and f"#{heating.id}" not in text

    await staff.press("requests.all")
    await staff.press("requests.by_enterprise")
    assert keys(await staff.send("不存在的厂")) == [
        "requests.no_matches",
        "requests.ask_enterprise",
    ]
    answer = await staff.send("钢铁")
    text = said(kit, answer)[-1]
    assert "共 1 件" in text and "钢铁二厂" in text

    answer = await open_listed(staff)
    assert keys(answer)[-1] == "request.card"
    assert staff.button_keys() == [
        "request.answer_button",
        "request.close_button",
        "nav.back",
        "nav.cancel",
    ]
    answer = await staff.press("request.answer_button")
    assert keys(answer)[-1] == "request.ask_answer"
    state = await staff.state()
    assert state is not None and state.flow == "request_answer"


async def test_a_town_officer_sees_their_towns_requests_but_not_wages(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enterprise(kit, "钢铁二厂", "别的镇")
    first = await worker(kit, 100)
    second = await person(kit, 101, Role.WORKER, company="钢铁二厂")
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    await ask(first, "request.category.food", "食堂春节关门了")
    await ask(first, "request.category.wages", "工资两个月没发了", withhold=True)
    await ask(second, "request.category.heating", "宿舍没有暖气")
    food, _wages, heating = await stored(kit)
    answer = await officer.command("requests")
    text = said(kit, answer)[-1]
    assert "共 1 件" in text and f"#{food.id}" in text
    assert "requests.by_town" not in officer.button_keys()
    token = (await officer.state()).token  # type: ignore[union-attr]
    answer = await officer.press_data(f"{token}|open_list|town")
    assert keys(answer) == ["error.stale_button"]
    answer = await officer.press_data(f"{token}|open_list|r:{heating.id}")
    assert keys(answer) == ["error.stale_button"]
    await open_listed(officer)
    answer = await officer.press("request.close_button")
    assert keys(answer)[0] == "request.closed"
    assert (await stored(kit))[0].status is Status.CLOSED


async def test_a_contact_lists_their_enterprises_requests(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    await ask(user)
    answer = await boss.command("requests")
    assert "共 1 件" in said(kit, answer)[-1]
    assert "requests.by_category" not in boss.button_keys()
    await open_listed(boss)
    assert boss.button_keys() == ["request.answer_button", "nav.back", "nav.cancel"]
    token = (await boss.state()).token  # type: ignore[union-attr]
    for forged in ("close", "forward"):
        answer = await boss.press_data(f"{token}|request_card|{forged}")
        assert keys(answer) == ["error.stale_button"]
    assert (await only_request(kit)).status is Status.OPEN


async def test_a_contact_without_an_enterprise_has_no_requests(db: AsyncEngine) -> None:
    kit = Kit(db)
    nobody = await person(kit, 500, Role.CONTACT, company=None)
    assert keys(await nobody.command("requests")) == ["requests.no_scope"]


async def test_erasing_a_worker_blanks_what_they_wrote(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    hand_over(kit, await ask(user, photo=True), boss)
    await boss.press("request.answer_button")
    await boss.send("明天修")
    await boss.press("request.send_button")
    await user.command("forget")
    await user.press("forget.yes")
    row = await only_request(kit)
    assert row.description is None and row.photo_file_id is None
    assert [m.text for m in await kit.rows(RequestMessage) if isinstance(m, RequestMessage)] == [
        None
    ]
    await boss.command("requests")
    answer = await open_listed(boss)
    card = said(kit, answer)[-1]
    assert NAME not in card and "个人信息已删除" in card


async def test_the_export_holds_what_requests_shows_on_its_dates(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enterprise(kit, "钢铁二厂", "别的镇")
    first = await worker(kit, 100)
    await ask(first, "request.category.food", "食堂春节关门了")
    await ask(first, "request.category.wages", "工资两个月没发了", withhold=True)
    kit.clock.advance(days=1)
    await ask(await worker(kit, 101, "钢铁二厂"), "request.category.heating", "宿舍没有暖气")
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    food, wages, heating = await stored(kit)
    day_one = food.created_at.astimezone(ZONE).date()

    async def exported(
        first: date | None = None, last: date | None = None, town_id: int | None = None
    ) -> list[requests.RequestRow]:
        async with kit.sessions() as session:
            found = requests.for_export(session, first, last, town_id, zone=ZONE)
            return [row async for row in found]

    everything = await exported()
    assert [(r.number, r.enterprise, r.town, r.name) for r in everything] == [
        (food.id, "城建一公司", "开发区", NAME),
        (wages.id, "城建一公司", "开发区", NAME),
        (heating.id, "钢铁二厂", "别的镇", NAME),
    ]
    assert everything[1].anonymous and everything[1].source is Source.REQUEST
    async with kit.sessions() as session:
        town = await organisation.find_town(session, "开发区")
        scope = helpdesk.scope_of(await people.by_telegram_id(session, officer.user_id))
        assert town is not None and scope is not None
        listed, _total = await requests.list_open(session, scope, requests.Filter(), 100)
    in_town = await exported(town_id=town.id)
    assert [r.number for r in in_town] == [food.id], "no wage request for a town, nor elsewhere"
    assert [r.number for r in in_town] == [item.request.id for item in listed], "as /requests"
    assert [r.number for r in await exported(day_one, day_one)] == [food.id, wages.id]
    next_day = day_one + timedelta(days=1)
    assert [r.number for r in await exported(first=next_day)] == [heating.id]
    assert [r.number for r in await exported(last=next_day)] == [food.id, wages.id, heating.id]
    assert await exported(first=next_day + timedelta(days=1)) == []


# Labour inspection (劳动监察大队) ---------------------------------------------------------


async def inspector(kit: Kit, user_id: int, *, active: bool = True) -> SimUser:
    """A district staff member of labour inspection (`active` false: the bot was blocked)."""
    user = await member(kit, user_id)
    async with kit.sessions() as session, session.begin():
        found = await people.by_telegram_id(session, user_id)
        assert found is not None
        found.labour_inspection = True
        found.active = active
    return user


async def test_a_wage_request_goes_to_labour_inspection_and_not_other_staff(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    admin = await member(kit, 902, Role.ADMIN)
    brigade = await inspector(kit, 903)
    await inspector(kit, 904, active=False)
    answer = await ask(user, "request.category.wages", "12月工资拖欠没发", withhold=True)
    [note] = hand_over(kit, answer, brigade)
    assert (note.chat_id, note.key) == (brigade.user_id, "request.notify_new")
    assert NAME in note.text, "labour inspection see who asked"
    assert staff.messages == admin.messages == boss.messages == []
    row = await only_request(kit)
    assert row.route is Route.STAFF and row.about_wages

    # Any district staff member may still find and answer it.
    answer = await staff.press_data(f"!rqa|{row.id}")
    assert keys(answer)[-2:] == ["request.card", "request.ask_answer"]
    await staff.send("已联系企业，本周补发")
    [to_worker] = sent(kit, await staff.press("request.send_button"))
    assert to_worker.chat_id == user.user_id


async def test_a_wage_need_ticked_in_a_checkin_goes_to_labour_inspection(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await enrolled(kit, 100)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    staff = await member(kit, 900)
    brigade = await inspector(kit, 903)
    boss = await person(kit, 500, Role.CONTACT, company="企业100", name="王经理", phone=None)
    answer = await checkin_staying(user, "need.heating", "need.wages")
    heating, wages = await stored(kit)
    assert wages.about_wages and not heating.about_wages
    assert set(notified(kit, answer)) == {
        (boss.user_id, f"!rqa|{heating.id}"),
        (brigade.user_id, f"!rqa|{wages.id}"),
    }
    assert staff.messages == []


def notified(kit: Kit, answer: Answer) -> list[tuple[int, str]]:
    """(chat, the Answer button's data) of every new request's notification an answer sends."""
    found: list[tuple[int, str]] = []
    for note in sent(kit, answer):
        markup = note.message.markup
        if note.key == "request.notify_new" and isinstance(markup, Inline):
            found.append((note.chat_id, markup.buttons()[0].data))
    return found


async def test_with_no_labour_inspection_to_reach_wages_go_to_all_district_staff(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    first = await worker(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    admin = await member(kit, 902, Role.ADMIN)
    answer = await ask(first, "request.category.wages", "工资两个月没发了", withhold=False)
    assert {s.chat_id for s in sent(kit, answer)} == {staff.user_id, admin.user_id}

    # An inspector who blocked the bot is no one to tell: nothing is lost.
    await inspector(kit, 903, active=False)
    second = await worker(kit, 101)
    answer = await ask(second, "request.category.overtime", "春节加班费没给", withhold=False)
    assert {s.chat_id for s in sent(kit, answer)} == {staff.user_id, admin.user_id}
    assert officer.messages == []


async def test_labour_inspection_changes_nothing_for_a_housing_request(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    brigade = await inspector(kit, 903)
    [note] = sent(kit, await ask(user))
    assert note.chat_id == boss.user_id, "the contact, and nobody else"
    kit.clock.advance(hours=25)
    escalated = {m.chat_id for m in await _escalate(kit) if m.chat_id != user.user_id}
    assert escalated == {staff.user_id, officer.user_id, brigade.user_id}

    # Without a contact, staff and the town's officers, labour inspection among them.
    await enterprise(kit, "钢铁二厂", "别的镇")
    other = await worker(kit, 101, "钢铁二厂")
    answer = await ask(other, "request.category.housing", "宿舍没有了")
    assert {s.chat_id for s in sent(kit, answer)} == {staff.user_id, brigade.user_id}
