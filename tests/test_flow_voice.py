"""A voice message as a request's description, as plain functions: kept as the file, read
as one label where text is needed, refused when over-long, offered as a request when sent
outside any flow, heard by whoever handles it, listed by /mydata and erased by /forget and
the retention purge."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import SendPhoto, SendVoice
from handlers.engine import Answer
from handlers.events import Media
from handlers.helpdesk import VOICE_MAX_SECONDS
from models import privacy
from models.people import Role
from models.requests import Category, HelpRequest
from tests.harness import Kit, SimUser, hand_over, keys, said
from tests.test_flow_requests import contact, only_request, person, worker

VOICE = "VOICE-FILE"


async def send_voice(user: SimUser, **fields: Any) -> Answer:
    """A voice message from the user, as Telegram delivers one (3 seconds unless told)."""
    event = Media(
        update_id=next(user.kit.update_ids),
        user_id=user.user_id,
        chat_id=user.user_id,
        language_code=user.language_code,
        kind="voice",
        file_id=VOICE,
        mime_type="audio/ogg",
        **({"duration": 3, "file_size": 9_000} | fields),
    )
    return await user.deliver(event)


def voices(answer: Answer) -> list[str]:
    return [a.voice for a in answer.actions if isinstance(a, SendVoice)]


async def voice_request(user: SimUser, category: str = "request.category.heating") -> Answer:
    """A whole /request described by a voice message, up to and including Confirm."""
    await user.command("request")
    await user.press(category)
    assert keys(await send_voice(user)) == ["request.ask_photo"]
    await user.press("ui.skip")
    return await user.press("ui.confirm")


async def test_a_voice_message_is_the_description_and_reads_as_its_label(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await contact(kit)
    await user.command("request")
    question = await user.press("request.category.heating")
    assert "3 分钟以内的语音" in said(kit, question)[-1]
    await send_voice(user)
    answer = await user.press("ui.skip")
    assert voices(answer) == [VOICE], "the summary plays the voice that goes with it"
    assert "情况：（语音）" in said(kit, answer)[-1]
    assert await kit.count(HelpRequest) == 0, "only Confirm stores it"
    assert keys(await user.press("ui.confirm"))[0] == "request.sent"
    row = await only_request(kit)
    assert row.voice_file_id == VOICE and row.description is None


async def test_an_over_long_voice_or_a_photo_is_refused_at_the_description(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await user.command("request")
    await user.press("request.category.food")
    answer = await send_voice(user, duration=VOICE_MAX_SECONDS + 1)
    assert keys(answer) == ["request.voice_too_long", "request.ask_description"]
    assert "3 分钟以内" in said(kit, answer)[0]
    answer = await send_voice(user, duration=None, file_size=6_000_000)
    assert keys(answer)[0] == "request.voice_too_long", "a size too large for 3 minutes"
    assert keys(await user.send_media("photo"))[0] == "request.voice_or_text"
    state = await user.state()
    assert state is not None and state.step == "description"
    assert not state.data.get("voice"), "nothing of a refused voice is kept"
    # Written words replace a voice kept on an earlier pass, and the reverse.
    await send_voice(user)
    await user.press("nav.back")
    assert user.button_keys()[0] == "request.keep_voice"
    await user.send("食堂春节不开门")
    state = await user.state()
    assert state is not None and state.data["voice"] is None
    assert state.data["description"] == "食堂春节不开门"


async def test_a_voice_outside_any_flow_is_offered_as_a_request_carrying_it(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    answer = await send_voice(user)
    assert keys(answer) == ["idle.offer_voice_request", "request.ask_category"]
    assert keys(await user.press("request.category.housing")) == ["request.ask_description"]
    assert user.button_keys() == ["request.keep_voice", "nav.back", "nav.cancel"]
    assert keys(await user.press("request.keep_voice")) == ["request.ask_photo"]
    await user.press("ui.skip")
    await user.press("ui.confirm")
    assert (await only_request(kit)).voice_file_id == VOICE
    # Too long: refused at once, no conversation begun.
    answer = await send_voice(user, duration=600)
    assert keys(answer) == ["request.voice_too_long"]
    assert await user.state() is None
    # Not a worker: no request to offer.
    boss = await contact(kit)
    assert keys(await send_voice(boss)) == ["idle.other"]


async def test_whoever_handles_it_hears_the_voice_unless_they_may_not_know_who_asked(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    boss = await contact(kit)
    await hand_over(kit, await voice_request(user), boss)
    answer = await boss.press("request.answer_button")
    row = await only_request(kit)
    assert voices(answer) == [VOICE]
    assert next(a.caption for a in answer.actions if isinstance(a, SendVoice)) is not None
    card = said(kit, answer)[0]
    assert "（语音）" in card and "不转给单位" not in card
    # A wage matter the worker asked to keep from the employer, passed on by staff.
    async with kit.sessions() as session, session.begin():
        wages = await session.get(HelpRequest, row.id)
        assert wages is not None
        wages.category, wages.anonymous, wages.forwarded_at = Category.WAGES, True, kit.clock()
    answer = await boss.press_data(f"!rqa|{row.id}")
    assert voices(answer) == [] and not any(isinstance(a, SendPhoto) for a in answer.actions)
    assert any("语音不转给单位" in text for text in said(kit, answer))


async def test_mydata_lists_the_voice_and_forget_and_the_purge_erase_it(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    user = await worker(kit)
    await voice_request(user)
    answer = await user.command("mydata")
    assert "情况：（语音）（附语音，见下）" in said(kit, answer)[0]
    assert voices(answer) == [VOICE]
    await user.command("forget")
    await user.press("forget.yes")
    assert (await only_request(kit)).voice_file_id is None
    # The retention purge blanks it as well.
    other = await person(kit, 101, Role.WORKER)
    await voice_request(other)
    async with kit.sessions() as session, session.begin():
        await privacy.purge_workers(session, kit.clock())
    assert [r.voice_file_id for r in await kit.rows(HelpRequest)] == [None, None]
