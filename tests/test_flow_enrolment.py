"""The worker's enrolment, as plain functions: invite, consent, profile, on to the check-in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from models.checkins import CheckIn
from models.conversations import Conversation
from models.invites import Invite
from models.organisation import Enterprise
from models.people import Person, Role
from tests.harness import Kit, SimUser, keys


async def at_step(kit: Kit, user: SimUser, step: str) -> None:
    """Walk a new worker from the invite to `step` of the enrolment."""
    _, code = await kit.add_enterprise()
    await user.command("start", code)
    script: list[tuple[str, Callable[[], Awaitable[object]]]] = [
        ("consent", lambda: user.press("enrol.agree")),
        ("name", lambda: user.send("张三")),
        ("phone", lambda: user.send("13812345678")),
        ("province", lambda: user.press("province.41")),
        ("city", lambda: user.send("信阳市")),
    ]
    for name, act in script:
        if name == step:
            return
        await act()
    raise AssertionError(f"no step {step}")


async def test_invite_to_first_checkin_question(db: AsyncEngine) -> None:
    kit = Kit(db)
    enterprise_id, code = await kit.add_enterprise()
    user = kit.user(100)

    assert keys(await user.command("start", code)) == ["start.welcome", "enrol.consent"]
    assert user.button_keys() == ["enrol.agree", "enrol.decline", "nav.cancel"]
    assert keys(await user.press("enrol.agree")) == ["enrol.ask_name"]
    assert keys(await user.send("  张三 ")) == ["enrol.ask_phone"]
    assert user.reply_keys() == ["enrol.share_phone", "nav.back", "nav.cancel"]
    assert await kit.count(Person) == 0, "nothing about the person is stored before the end"
    assert keys(await user.share_contact("+86 138 1234 5678")) == [
        "enrol.phone_saved",
        "enrol.ask_province",
    ]
    # Henan's prefectures are buttons; a name typed instead is taken as well.
    assert keys(await user.press("province.41")) == ["enrol.pick_city"]
    assert "信阳市" in user.button_keys()
    assert keys(await user.send("信阳市")) == ["enrol.done", "letter.body", "checkin.ask_plan"]

    [person] = await kit.rows(Person)
    assert (person.full_name, person.phone, person.hukou_province, person.hukou_city) == (
        "张三",
        "13812345678",
        "41",
        "信阳市",
    )
    assert person.role is Role.WORKER and person.enterprise_id == enterprise_id
    assert person.consent_version == 1 and person.consent_at == kit.clock()
    assert person.language == "zh_Hans"
    [invite] = await kit.rows(Invite)
    assert invite.uses == 1
    state = await user.state()
    assert state is not None and (state.flow, state.step) == ("checkin", "plan")


async def test_the_share_button_is_removed_once_the_number_is_in(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "phone")
    answer = await user.send("138-1234-5678")
    first = answer.actions[0]
    assert type(first.markup).__name__ == "RemoveReply"  # type: ignore[union-attr]


async def test_declining_consent_stores_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100, language_code="en")
    _, code = await kit.add_enterprise()
    await user.command("start", code)
    await user.command("language")
    await user.press("language.zh_Hant")
    await user.command("start", code)
    assert keys(await user.press("enrol.decline")) == ["enrol.declined"]
    assert await kit.count(Person) == 0
    assert await kit.count(Conversation) == 0, "not even the chosen language is kept"


async def test_someone_elses_contact_card_is_refused(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "phone")
    assert keys(await user.share_contact("13812345678", own=False))[0] == "enrol.not_own_contact"
    state = await user.state()
    assert state is not None and state.step == "phone"


@pytest.mark.parametrize(
    ("step", "typed", "error"),
    [
        ("name", "", "error.text.empty"),
        ("name", "   ", "error.text.empty"),
        ("name", "张", "error.name.too_short"),
        ("name", "张" * 31, "error.name.too_long"),
        ("name", "x" * 4000, "error.name.too_long"),
        ("name", "12345", "error.name.no_letters"),
        ("name", "张三😀", "error.name.bad_chars"),
        ("name", "<b>张三</b>", "error.name.bad_chars"),
        ("name", "张\u202e三", "error.text.control_chars"),
        ("phone", "12345", "error.phone.invalid"),
        ("phone", "2月5日", "error.phone.invalid"),
        ("phone", "", "error.text.empty"),
        ("city", "123", "error.place.no_letters"),
        ("city", "信阳" * 11, "error.place.too_long"),
        ("city", "信阳😀", "error.place.bad_chars"),
    ],
)
async def test_bad_typed_input_is_explained_and_changes_nothing(
    db: AsyncEngine, step: str, typed: str, error: str
) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, step)
    before = await user.state()
    answer = await user.send(typed)
    assert keys(answer)[0] == error
    assert len(keys(answer)) == 2, "the question is asked again"
    assert await user.state() == before
    assert await kit.count(Person) == 0


@pytest.mark.parametrize("step", ["consent", "province"])
@pytest.mark.parametrize("kind", ["sticker", "photo", "location", "document"])
async def test_media_where_a_button_is_expected_gets_a_hint(
    db: AsyncEngine, step: str, kind: str
) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, step)
    before = await user.state()
    assert keys(await user.send_media(kind)) == ["hint.press_button"]  # type: ignore[arg-type]
    assert await user.state() == before


async def test_media_where_a_name_is_expected_gets_a_hint(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "name")
    assert keys(await user.send_media("sticker")) == ["enrol.hint_name"]


@pytest.mark.parametrize(
    ("step", "previous"),
    [("name", "consent"), ("phone", "name"), ("province", "phone"), ("city", "province")],
)
async def test_back_returns_to_the_previous_question(
    db: AsyncEngine, step: str, previous: str
) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, step)
    if step == "phone":
        await user.send("« 返回")  # the reply keyboard's Back arrives as text
    else:
        await user.press("nav.back")
    state = await user.state()
    assert state is not None and state.step == previous
    assert state.data["invite"]


async def test_cancel_mid_enrolment_forgets_the_answers(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "province")
    assert keys(await user.press("nav.cancel")) == ["conversation.cancelled"]
    assert await user.state() is None
    assert await kit.count(Person) == 0


@pytest.mark.parametrize(
    ("arg", "reply"),
    [
        ("", "start.no_code"),
        ("bad code!", "start.bad_code"),
        ("x" * 65, "start.bad_code"),
        ("'; DROP TABLE people; --", "start.bad_code"),
        ("unknown_code", "start.unknown_code"),
    ],
)
async def test_start_without_a_good_code_explains(db: AsyncEngine, arg: str, reply: str) -> None:
    kit = Kit(db)
    await kit.add_enterprise()
    user = kit.user(100)
    assert keys(await user.command("start", arg)) == [reply]
    assert await user.state() is None


async def test_expired_revoked_and_inactive_invites_are_refused(db: AsyncEngine) -> None:
    kit = Kit(db)
    _, code = await kit.add_enterprise()
    user = kit.user(100)
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Invite).values(expires_at=kit.clock() - timedelta(minutes=1)))
    assert keys(await user.command("start", code)) == ["start.expired_code"]
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Invite).values(expires_at=None, revoked_at=kit.clock()))
    assert keys(await user.command("start", code)) == ["start.expired_code"]
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Invite).values(revoked_at=None))
        await session.execute(update(Enterprise).values(active=False))
    assert keys(await user.command("start", code)) == ["start.invite_unusable"]


async def test_an_enterprise_deactivated_mid_enrolment_stores_nothing(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "city")
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Enterprise).values(active=False))
    assert keys(await user.send("信阳市")) == ["start.invite_unusable"]
    assert await kit.count(Person) == 0
    assert await user.state() is None


async def test_a_second_start_mid_flow_begins_again(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "province")
    [invite] = await kit.rows(Invite)
    assert keys(await user.command("start", invite.code)) == ["start.welcome", "enrol.consent"]
    state = await user.state()
    assert state is not None and state.step == "consent" and "name" not in state.data


async def test_enrolled_worker_scanning_again_and_moving(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = kit.user(100)
    await at_step(kit, user, "city")
    await user.send("信阳市")
    await user.command("cancel")
    [invite] = await kit.rows(Invite)
    assert keys(await user.command("start", invite.code)) == ["start.already_enrolled"]

    other_id, other_code = await kit.add_enterprise("钢铁二厂", "南堡镇")
    assert keys(await user.command("start", other_code)) == ["move.confirm"]
    assert keys(await user.press("ui.no")) == ["move.kept"]
    await user.command("start", other_code)
    assert keys(await user.press("ui.yes")) == ["move.done", "checkin.ask_plan"]
    [person] = await kit.rows(Person)
    assert person.enterprise_id == other_id
    assert await kit.count(CheckIn) == 0
