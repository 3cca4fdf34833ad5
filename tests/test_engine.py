"""The engine's rules, whatever the flow: one update once, stale and forged buttons, timeouts,
commands in the middle of a flow, languages, failures that roll back."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers import registry
from handlers.actions import AnswerButton, Msg
from handlers.engine import pick_language
from handlers.events import ChatStatus, Text
from handlers.flows import checkin, common, enrolment
from models.checkins import CheckIn
from models.conversations import ProcessedUpdate
from models.people import Person
from tests.harness import Kit, keys
from tests.test_flow_checkin import enrolled


async def test_an_update_delivered_twice_is_handled_once(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    confirm, summary = user.find("ui.confirm")
    press = await user.press_data(confirm.data, summary.message_id)
    assert keys(press) == ["checkin.saved"]
    # Telegram redelivers the very same update after a crash.
    from handlers.events import ButtonPress

    again = ButtonPress(
        update_id=next(kit.update_ids) - 2,
        user_id=100,
        chat_id=100,
        data=confirm.data,
        callback_id="again",
        message_id=summary.message_id,
    )
    await kit.engine.handle(again)
    replay = await kit.engine.handle(again)
    assert replay.actions == ()
    assert await kit.count(CheckIn) == 1


async def test_a_stale_button_from_an_earlier_conversation_changes_nothing(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    first_question = user.messages[-1]
    await user.command("cancel")
    await user.command("checkin")
    answer = await user.press("plan.stay", message=first_question)
    assert answer.actions == (AnswerButton(Msg("error.stale_button"), alert=True),)
    state = await user.state()
    assert state is not None and state.step == "plan"


@pytest.mark.parametrize(
    "data",
    [
        "t2|plan|fly_to_moon",
        "t2|summary|ok",
        "t9|plan|stay",
        "garbage",
        "",
        "!nosuchkind|1",
        "!lang|klingon",
        "t2|plan|" + "x" * 200,
    ],
)
async def test_forged_buttons_are_refused(db: AsyncEngine, data: str) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    before = await user.state()
    answer = await user.press_data(data)
    assert keys(answer) == ["error.stale_button"]
    assert isinstance(answer.actions[0], AnswerButton) and answer.actions[0].alert
    assert await user.state() == before
    assert await kit.count(CheckIn) == 0


async def test_another_users_button_is_not_theirs_to_press(db: AsyncEngine) -> None:
    kit = Kit(db)
    owner = await enrolled(kit, 100)
    intruder = await enrolled(kit, 200)
    stay, _ = owner.find("plan.stay")
    await intruder.command("cancel")
    assert keys(await intruder.press_data(stay.data)) == ["error.stale_button"]
    state = await owner.state()
    assert state is not None and state.step == "plan"


async def test_a_conversation_left_too_long_is_closed_with_a_message(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    kit.clock.advance(hours=24, minutes=1)
    answer = await user.send("hello")
    assert keys(answer) == ["conversation.expired", "idle.worker"]
    assert await user.state() is None


async def test_a_conversation_within_the_timeout_continues(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    kit.clock.advance(hours=23)
    assert keys(await user.press("ui.done")) == ["checkin.ask_note"]


async def test_cancel_anywhere_and_when_idle(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    assert keys(await user.command("cancel")) == ["conversation.cancelled"]
    assert keys(await user.command("cancel")) == ["conversation.nothing_to_cancel"]
    await user.command("checkin")
    assert keys(await user.send("✖ 取消")) == ["conversation.cancelled"]


async def test_help_mid_flow_keeps_the_conversation(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    assert keys(await user.command("help")) == ["help.text"]
    text = user.last_text()
    assert "/checkin" in text and "0315-0000001" in text and "/start" not in text
    state = await user.state()
    assert state is not None and state.step == "needs"
    assert keys(await user.press("ui.done")) == ["checkin.ask_note"]


async def test_unknown_command_and_worker_commands_for_strangers(db: AsyncEngine) -> None:
    kit = Kit(db)
    stranger = kit.user(300)
    assert keys(await stranger.command("frobnicate")) == ["error.unknown_command"]
    assert keys(await stranger.command("checkin")) == ["start.no_code"]
    assert keys(await stranger.command("status")) == ["start.no_code"]
    assert keys(await stranger.command("mydata")) == ["mydata.nothing"]
    assert keys(await stranger.send("你好")) == ["start.no_code"]
    assert await kit.count(Person) == 0


async def test_mydata_shows_everything_stored(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    await user.press("ui.confirm")
    assert keys(await user.command("mydata")) == ["mydata.text"]
    text = user.last_text()
    for expected in ("张三", "13812345678", "河南", "信阳市", "企业100", "务工人员", "简体中文"):
        assert expected in text
    assert "2027年1月20日" in text and "在本地过年" in text


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh-hant", "zh_Hant"),
        ("zh-TW", "zh_Hant"),
        ("zh-HK", "zh_Hant"),
        ("en", "en"),
        ("en-GB", "en"),
        ("ru", "zh_Hans"),
        (None, "zh_Hans"),
    ],
)
def test_telegram_language_codes(code: str | None, language: str) -> None:
    assert pick_language(code, ("zh_Hans", "zh_Hant", "en"), "zh_Hans") == language


async def test_language_follows_telegram_then_the_persons_choice(db: AsyncEngine) -> None:
    kit = Kit(db)
    stranger = kit.user(300, language_code="zh-TW")
    answer = await stranger.send("你好")
    assert answer.language == "zh_Hant"
    await stranger.command("language")
    answer = await stranger.press("language.en")
    assert answer.language == "en" and keys(answer) == ["language.changed"]
    assert (await stranger.send("hi")).language == "en", "remembered before enrolment"

    user = await enrolled(kit, 400, language_code="zh-hant")
    [person] = [p for p in await kit.rows(Person) if p.telegram_user_id == 400]
    assert person.language == "zh_Hant"
    await user.command("language")
    await user.press("language.en")
    [person] = [p for p in await kit.rows(Person) if p.telegram_user_id == 400]
    assert person.language == "en"


async def test_a_failing_step_rolls_back_and_says_so(
    db: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")

    async def broken(*_: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("models.checkins.add", broken)
    answer = await user.press("ui.confirm")
    assert keys(answer) == ["error.internal"]
    assert isinstance(answer.actions[0], AnswerButton)
    assert await kit.count(CheckIn) == 0
    state = await user.state()
    assert state is not None and state.step == "summary", "the person can simply try again"
    assert await kit.count(ProcessedUpdate) > 0


async def test_events_of_one_chat_are_handled_one_at_a_time(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")
    await user.press("checkin.nothing_needed")
    await user.press("ui.skip")
    confirm, summary = user.find("ui.confirm")
    presses = [user.press_data(confirm.data, summary.message_id) for _ in range(5)]
    answers = await asyncio.gather(*presses)
    assert (
        sorted(k for a in answers for k in keys(a))
        == ["checkin.saved"] + ["error.stale_button"] * 4
    )
    assert await kit.count(CheckIn) == 1


async def test_blocking_the_bot_marks_the_person_inactive(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enrolled(kit)
    await kit.engine.handle(ChatStatus(update_id=9000, user_id=100, chat_id=100, blocked=True))
    [person] = await kit.rows(Person)
    assert person.active is False
    await kit.engine.handle(ChatStatus(update_id=9001, user_id=100, chat_id=100, blocked=False))
    [person] = await kit.rows(Person)
    assert person.active is True


async def test_group_chats_are_ignored(db: AsyncEngine) -> None:
    kit = Kit(db)
    answer = await kit.engine.handle(
        Text(update_id=1, user_id=5, chat_id=-100, private=False, text="/start")
    )
    assert answer.actions == ()


@pytest.mark.parametrize("module", [enrolment, checkin, common])
def test_the_diagram_in_each_flow_module_is_the_flow(module: Any) -> None:
    diagrams = re.findall(r"```mermaid\n(.*?)```", module.__doc__, re.S)
    flows = [f for f in registry.FLOWS if f.steps[0].prompt.__module__ == module.__name__]
    assert diagrams and flows
    assert [d.strip() for d in diagrams] == [f.mermaid() for f in flows]


def test_every_flow_step_has_a_handler_and_valid_targets() -> None:
    for flow in registry.FLOWS:
        for step in flow.steps:
            assert step.on_text or step.on_button or step.on_contact or step.on_media
        assert flow.first in flow.by_name
