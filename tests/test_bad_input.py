"""A corpus of hostile and broken input across the flows and roles, as plain functions.

Every case brings someone to a step, sends one bad input, and checks the same things: the
engine answers (a clear reply, never a crash, never error.internal), the reply is one of
the expected ones, the conversation stays on its step with its answers, and no table
changes except the record of handled update ids. tests/e2e/test_bad_input_e2e.py replays a
sample through each real runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import EditText, SendText
from handlers.engine import Answer
from handlers.events import Media, MediaKind
from models.base import Base
from models.organisation import Enterprise
from models.people import Role
from tests.harness import Kit, SimUser, keys
from tests.test_flow_broadcast import member
from tests.test_flow_checkin import enrolled

LONG = "长" * 4096
CHANGING = {"processed_updates", "conversations"}


@dataclass(frozen=True)
class Case:
    """One hostile input at one place."""

    name: str
    to: Callable[[Kit], Awaitable[SimUser]]
    send: Callable[[SimUser], Awaitable[Answer]]
    expect: tuple[str, ...]  # acceptable first keys of the reply
    # A command such as a second /start ends the conversation in hand, as the person asked.
    keeps_state: bool = True


# Where the cases start -----------------------------------------------------------------------


async def stranger(kit: Kit) -> SimUser:
    return kit.user(300)


async def at_consent(kit: Kit) -> SimUser:
    _, code = await kit.add_enterprise("企业甲")
    user = kit.user(301)
    await user.command("start", code)
    return user


async def at_name(kit: Kit) -> SimUser:
    user = await at_consent(kit)
    await user.press("enrol.agree")
    return user


async def at_phone(kit: Kit) -> SimUser:
    user = await at_name(kit)
    await user.send("李四")
    return user


async def at_province(kit: Kit) -> SimUser:
    user = await at_phone(kit)
    await user.send("13912345678")
    return user


async def at_city(kit: Kit) -> SimUser:
    user = await at_province(kit)
    await user.press("province.41")
    return user


async def at_plan(kit: Kit) -> SimUser:
    return await enrolled(kit, 302)


async def at_note(kit: Kit) -> SimUser:
    user = await at_plan(kit)
    await user.press("plan.stay")
    await user.press("ui.done")
    return user


async def at_depart(kit: Kit) -> SimUser:
    user = await at_plan(kit)
    await user.press("plan.return")
    await user.press("province.41")
    await user.send("信阳市")
    return user


async def at_return(kit: Kit) -> SimUser:
    user = await at_depart(kit)
    await user.send("1月25日")
    return user


async def worker(kit: Kit) -> SimUser:
    user = await at_plan(kit)
    await user.command("cancel")
    return user


async def contact(kit: Kit) -> SimUser:
    return await member(kit, 303, Role.CONTACT)


async def staff_content(kit: Kit) -> SimUser:
    staff = await member(kit, 304)
    await staff.command("broadcast")
    await staff.press("broadcast.audience.workers")
    return staff


async def staff_moment(kit: Kit) -> SimUser:
    staff = await staff_content(kit)
    await staff.send("通知")
    await staff.press("broadcast.send_once")
    return staff


async def staff_capacity(kit: Kit) -> SimUser:
    staff = await member(kit, 305)
    await staff.command("event")
    await staff.send("联欢会")
    await staff.send("1月22日 19:00")
    await staff.send("食堂")
    return staff


# What they send -------------------------------------------------------------------------------


def text(value: str) -> Callable[[SimUser], Awaitable[Answer]]:
    async def send(user: SimUser) -> Answer:
        return await user.send(value)

    return send


def media(kind: MediaKind) -> Callable[[SimUser], Awaitable[Answer]]:
    async def send(user: SimUser) -> Answer:
        return await user.send_media(kind)

    return send


def command(name: str, arg: str = "") -> Callable[[SimUser], Awaitable[Answer]]:
    async def send(user: SimUser) -> Answer:
        return await user.command(name, arg)

    return send


def button(data: str) -> Callable[[SimUser], Awaitable[Answer]]:
    async def send(user: SimUser) -> Answer:
        return await user.press_data(data)

    return send


async def stale_button(user: SimUser) -> Answer:
    """A button of the same step from an earlier conversation (another token)."""
    state = await user.state()
    step = state.step if state else "plan"
    return await user.press_data(f"OLD|{step}|stay")


async def someone_elses_button(user: SimUser) -> Answer:
    """Another person presses the data of this person's current step."""
    state = await user.state()
    assert state is not None
    intruder = user.kit.user(user.user_id + 1000)
    return await intruder.press_data(f"{state.token}|{state.step}|stay")


async def contact_of_someone_else(user: SimUser) -> Answer:
    return await user.share_contact("+8613800000000", own=False)


async def photo_with_caption(user: SimUser) -> Answer:
    return await user.deliver(
        Media(
            update_id=next(user.kit.update_ids),
            user_id=user.user_id,
            chat_id=user.user_id,
            kind="photo",
            file_id="X",
            caption="长" * 1025,
        )
    )


DELETED_INVITES: dict[int, str] = {}


async def holding_a_deleted_invite(kit: Kit) -> SimUser:
    """A stranger with the invite of an enterprise that was deactivated since."""
    enterprise_id, code = await kit.add_enterprise("已注销企业")
    async with kit.sessions() as session, session.begin():
        enterprise = await session.get(Enterprise, enterprise_id)
        assert enterprise is not None
        enterprise.active = False
    user = kit.user(306)
    DELETED_INVITES[user.user_id] = code
    return user


async def deleted_enterprise_invite(user: SimUser) -> Answer:
    return await user.command("start", DELETED_INVITES[user.user_id])


HINT = ("hint.press_button",)
NAME_ERRORS = (
    "error.text.empty",
    "error.name.too_long",
    "error.name.digits",
    "error.text.control_chars",
    "error.name.letters",
    "error.name.bad_chars",
    "error.name.too_short",
    "error.name.no_letters",
)
DATE_ERRORS = (
    "error.date.no_such_day",
    "error.date.format",
    "error.date.past",
    "error.date.too_far",
    "error.date.year_out_of_range",
    "error.date.return_before_departure",
)
STALE = ("error.stale_button",)
REFUSED = ("error.not_allowed",)

CASES = [
    # Enrolment
    Case("consent: typed text instead of a button", at_consent, text("同意"), HINT),
    Case("consent: forged button value", at_consent, button("t1|consent|hack"), STALE),
    Case("consent: a sticker", at_consent, media("sticker"), HINT),
    Case("name: empty message", at_name, text(""), NAME_ERRORS),
    Case("name: only spaces", at_name, text("    "), NAME_ERRORS),
    Case("name: 4,096 characters", at_name, text(LONG), NAME_ERRORS),
    Case("name: digits only", at_name, text("1234567"), NAME_ERRORS),
    Case("name: control characters", at_name, text("张\x00三"), NAME_ERRORS),
    Case("name: right-to-left override", at_name, text("\u202e张三"), NAME_ERRORS),
    Case("name: emoji only", at_name, text("😀😀😀"), NAME_ERRORS),
    Case("name: HTML", at_name, text("<b>张三</b>"), NAME_ERRORS),
    Case("name: SQL", at_name, text("'; DROP TABLE people;--"), NAME_ERRORS),
    Case("name: a photo", at_name, media("photo"), ("enrol.hint_name",)),
    Case("name: a location", at_name, media("location"), ("enrol.hint_name",)),
    Case("name: a voice message", at_name, media("voice"), ("enrol.hint_name",)),
    Case("phone: too short", at_phone, text("12345"), ("error.phone.invalid",)),
    Case("phone: not mainland", at_phone, text("+1 555 0100"), ("error.phone.invalid",)),
    Case("phone: letters", at_phone, text("一三八"), ("error.phone.invalid",)),
    Case(
        "phone: someone else's contact",
        at_phone,
        contact_of_someone_else,
        ("enrol.not_own_contact",),
    ),
    Case("phone: a document", at_phone, media("document"), ("enrol.hint_phone",)),
    Case("province: typed", at_province, text("河南"), HINT),
    Case("province: forged code", at_province, button("t1|province|99"), STALE),
    Case("city: 4,096 characters", at_city, text(LONG), ("error.place.too_long",)),
    Case("city: HTML and ampersand", at_city, text("<script>&"), ("error.place.bad_chars",)),
    Case("city: emoji", at_city, text("🏙️"), ("error.place.bad_chars", "error.place.no_letters")),
    # The check-in
    Case("plan: typed text", at_plan, text("留下"), HINT),
    Case("plan: forged plan", at_plan, button("t1|plan|fly_to_moon"), STALE),
    Case("plan: a stale button", at_plan, stale_button, STALE),
    Case("plan: another person's button", at_plan, someone_elses_button, (*STALE, "start.no_code")),
    Case(
        "plan: a second /start with no code",
        at_plan,
        command("start"),
        ("start.welcome_back",),
        False,
    ),
    Case(
        "plan: a malformed invite code",
        at_plan,
        command("start", "../../etc"),
        ("start.bad_code",),
        False,
    ),
    Case(
        "plan: an unknown invite code",
        at_plan,
        command("start", "nosuchcode"),
        ("start.unknown_code",),
        False,
    ),
    Case("note: 4,096 characters", at_note, text(LONG), ("error.note.too_long",)),
    Case("note: control characters", at_note, text("暖气\x07坏了"), ("error.text.control_chars",)),
    Case("note: a sticker", at_note, media("sticker"), ("checkin.hint_note",)),
    Case("depart: 2月30日", at_depart, text("2月30日"), DATE_ERRORS),
    Case("depart: a number", at_depart, text("12345"), DATE_ERRORS),
    Case("depart: in the past", at_depart, text("2027-01-01"), DATE_ERRORS),
    Case("depart: full-width digits", at_depart, text("１月１０日"), DATE_ERRORS),
    Case("depart: nonsense", at_depart, text("1/1/1/1"), DATE_ERRORS),
    Case("depart: a photo", at_depart, media("photo"), ("checkin.hint_date",)),
    Case("return: before departure", at_return, text("1月21日"), DATE_ERRORS),
    Case("return: huge number", at_return, text("9" * 40), DATE_ERRORS),
    # Staff commands and buttons from the wrong people
    Case("worker: /broadcast", worker, command("broadcast"), REFUSED),
    Case("worker: /notices", worker, command("notices"), REFUSED),
    Case("worker: /event", worker, command("event"), REFUSED),
    Case("worker: /audit", worker, command("audit"), REFUSED),
    Case("worker: /towns", worker, command("towns"), REFUSED),
    Case("worker: /invite", worker, command("invite"), REFUSED),
    Case("worker: forged cancel button", worker, button("!bcancel|1"), REFUSED),
    Case("worker: forged letter button", worker, button("!letter|send"), REFUSED),
    Case("contact: /broadcast", contact, command("broadcast"), REFUSED),
    Case("contact: /replaceletter", contact, command("replaceletter"), REFUSED),
    Case("stranger: a sign-up button", stranger, button("!signup|1"), REFUSED),
    Case("stranger: garbage button data", stranger, button("\x00\x01"), STALE),
    Case(
        "stranger: a deleted enterprise's invite",
        holding_a_deleted_invite,
        deleted_enterprise_invite,
        ("start.invite_unusable",),
    ),
    Case("stranger: plain text", stranger, text("你好"), ("start.no_code",)),
    # Staff typing badly
    Case("broadcast: 5,000 characters", staff_content, text("长" * 5000), ("error.text.too_long",)),
    Case("broadcast: a sticker", staff_content, media("sticker"), ("broadcast.content_kind",)),
    Case("broadcast: a long caption", staff_content, photo_with_caption, ("error.text.too_long",)),
    Case("broadcast: 2月30日 9:00", staff_moment, text("2月30日 9:00"), DATE_ERRORS),
    Case("broadcast: 24:61", staff_moment, text("明天 24:61"), ("error.time.no_such_time",)),
    Case("broadcast: no time", staff_moment, text("明天"), ("error.moment.format",)),
    Case("event: negative capacity", staff_capacity, text("-5"), ("error.number.negative",)),
    Case("event: huge capacity", staff_capacity, text("9" * 30), ("error.number.too_big",)),
    Case("event: decimal capacity", staff_capacity, text("1.5"), ("error.number.whole",)),
    Case("event: words for a number", staff_capacity, text("五十"), ("error.number.not_a_number",)),
]


async def table_counts(kit: Kit) -> dict[str, int]:
    async with kit.sessions() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
            if table.name not in CHANGING
        }


def first_key(kit: Kit, answer: Answer) -> str:
    found = keys(answer)
    assert found, f"no reply: {answer.actions}"
    return found[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_bad_input(db: AsyncEngine, case: Case) -> None:
    kit = Kit(db)
    user = await case.to(kit)
    state_before = await user.state()
    counts_before = await table_counts(kit)
    answer = await case.send(user)
    assert "error.internal" not in keys(answer)
    assert first_key(kit, answer) in case.expect, keys(answer)
    for action in answer.actions:
        if isinstance(action, SendText | EditText):
            kit.render(answer.language, action.text)  # renders without a placeholder error
    assert await table_counts(kit) == counts_before, "nothing is written"
    state_after = await user.state()
    if state_before is not None and case.keeps_state:
        assert state_after is not None
        assert (state_after.flow, state_after.step, state_after.data) == (
            state_before.flow,
            state_before.step,
            state_before.data,
        ), "the conversation stays where it was"


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 50
