"""Files across channels (bot/files.py): a web upload read from the database, a Telegram file
through getFile and the download (against the fake Bot API), the size cap, the line a web
reader gets for a file that cannot be had, and a web file uploaded to Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.files import Files, FileUnavailable, parse_web_ref, web_ref
from bot.runtimes.web.guard import audio_type
from bot.runtimes.web.messenger import WebMessenger
from bot.telegram_http import HttpMessenger
from models import web as store
from tests.fakebotapi import VOICE_OGG, FakeBotAPI
from tests.harness import Kit, catalogs
from tests.webclient import PNG

TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTESTtoken1"


def files(kit: Kit, api: FakeBotAPI | None = None, limit: int = 100_000) -> Files:
    """The reader of files, with the fake's token (none without a fake)."""
    base = api.base_url if api is not None else "http://127.0.0.1:9"
    return Files(kit.sessions, api_base_url=base, token=TOKEN if api else "", limit=limit)


async def web_chat(kit: Kit) -> int:
    async with kit.sessions() as session, session.begin():
        held, _ = await store.open_chat(session, kit.clock())
    return held.chat_id


async def web_file(kit: Kit, chat_id: int, mime: str, data: bytes) -> str:
    async with kit.sessions() as session, session.begin():
        return web_ref(await store.add_file(session, chat_id, mime, "voice", data, kit.clock()))


def test_web_references() -> None:
    assert parse_web_ref(web_ref(12)) == 12
    assert parse_web_ref("AgACAgIAAxkBAAIB") is None
    assert parse_web_ref("web:") is None and parse_web_ref("web:1x") is None


async def test_a_telegram_file_is_read_through_getfile_within_the_cap(db: AsyncEngine) -> None:
    kit = Kit(db)
    with FakeBotAPI(token=TOKEN) as api:
        voice = api.voice_message(7)["message"]["voice"]["file_id"]
        reader = files(kit, api)
        read = await reader.read(voice)
        assert (read.data, read.mime) == (VOICE_OGG, "audio/ogg")
        assert await reader.read(voice) == read, "kept: one download for many readers"
        with pytest.raises(FileUnavailable):
            await files(kit, api, limit=10).read(voice)
        with pytest.raises(FileUnavailable):
            await files(kit, api).read("AwACAgIAAxkBAAIBgone")
        assert api.count("getFile", 200) == 2
    # A web upload, from the database, named for Telegram by its type.
    ref = await web_file(kit, await web_chat(kit), "audio/ogg", VOICE_OGG)
    read = await files(kit).read(ref)
    assert (read.data, read.name) == (VOICE_OGG, "voice.oga")


async def test_without_a_token_the_web_reader_gets_a_line_not_a_failure(db: AsyncEngine) -> None:
    kit = Kit(db)
    chat = await web_chat(kit)
    messenger = WebMessenger(kit.sessions, kit.clock, files(kit), catalogs())
    await messenger.send_voice(chat, "AwACAgIAAxkBAAIB", "求助 #3 的语音")
    await messenger.send_photo(chat, "AgACAgIAAxkBAAIC", None)
    async with kit.sessions() as session:
        shown = await store.changes_after(session, chat, 0)
    assert [(m.file_id, m.voice, m.photo) for m in shown] == [(None, False, False)] * 2
    assert shown[0].html.startswith("求助 #3 的语音")
    assert all(catalogs().plain("zh_Hans", "web.file_unavailable") in m.html for m in shown)


async def test_a_web_file_is_uploaded_to_telegram_as_a_voice_or_else_a_document(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    chat = await web_chat(kit)
    ogg = await web_file(kit, chat, "audio/ogg", VOICE_OGG)
    amr = await web_file(kit, chat, "audio/amr", b"#!AMR\n" + bytes(32))
    with FakeBotAPI(token=TOKEN) as api:
        messenger = HttpMessenger(api.base_url, TOKEN, files(kit, api))
        markup: dict[str, Any] = {"inline_keyboard": [[{"text": "OK", "callback_data": "x"}]]}
        try:
            await messenger.send_voice(42, ogg, "语音", markup)
            await messenger.send_voice(42, amr, None)
        finally:
            await messenger.close()
        [voice] = api.calls_of("sendVoice")
        assert voice.files["voice"] == ("voice.oga", VOICE_OGG)
        assert voice.result["voice"]["file_size"] == len(VOICE_OGG)
        assert voice.result["reply_markup"] == markup
        [document] = api.calls_of("sendDocument")
        assert document.files["document"][1].startswith(b"#!AMR"), "Telegram plays no AMR"


@asynccontextmanager
async def telegram_messenger(runtime: str, api: FakeBotAPI, reader: Files) -> AsyncIterator[Any]:
    """The Telegram messenger of a runtime (or the sender's own HTTP one), on the fake."""
    if runtime == "aiogram":
        from bot.runtimes.aiogram_runtime import AiogramMessenger, new_bot

        bot = new_bot(TOKEN, api.base_url)
        try:
            yield AiogramMessenger(bot, reader)
        finally:
            await bot.session.close()
    elif runtime == "ptb":
        from bot.config import Settings, TelegramSettings
        from bot.runtimes.ptb_runtime import PtbMessenger, make_application

        telegram = TelegramSettings(token=SecretStr(TOKEN), api_base_url=api.base_url)
        application = make_application(Settings(telegram=telegram), polling=False)
        async with application.bot as ptb_bot:
            yield PtbMessenger(ptb_bot, reader)
    else:
        messenger = HttpMessenger(api.base_url, TOKEN, reader)
        try:
            yield messenger
        finally:
            await messenger.close()


@pytest.mark.parametrize("runtime", ["aiogram", "ptb", "http"])
async def test_a_web_picture_sent_to_many_goes_up_to_telegram_once(
    db: AsyncEngine, runtime: str
) -> None:
    kit = Kit(db)
    chat = await web_chat(kit)
    picture = await web_file(kit, chat, "image/png", PNG)
    voice = await web_file(kit, chat, "audio/ogg", VOICE_OGG)
    with FakeBotAPI(token=TOKEN) as api:
        reader = files(kit, api)
        async with telegram_messenger(runtime, api, reader) as messenger:
            for reader_chat in (41, 42, 43):
                await messenger.send_photo(reader_chat, picture, "春节慰问", None)
                await messenger.send_voice(reader_chat, voice, None)
        photos, voices = api.calls_of("sendPhoto"), api.calls_of("sendVoice")
        # The first of each is an upload; the rest name the file Telegram made of it.
        assert [bool(c.files) for c in photos] == [True, False, False]
        assert [bool(c.files) for c in voices] == [True, False, False]
        first_photo = photos[0].result["photo"][-1]["file_id"]
        assert {c.params["photo"] for c in photos[1:]} == {first_photo}
        assert {c.params["voice"] for c in voices[1:]} == {voices[0].result["voice"]["file_id"]}
        assert all(c.ok for c in photos + voices)
    # A picture is not taken for the voice of the same file, nor the other way round.
    assert reader.uploaded(picture, "voice") is None
    assert reader.uploaded(voice, "photo") is None


def test_a_recording_uploaded_on_the_page_is_known_by_its_content() -> None:
    assert audio_type(VOICE_OGG) == "audio/ogg"
    assert audio_type(b"ID3\x04\x00" + bytes(20)) == "audio/mpeg"
    assert audio_type(b"\xff\xfb\x90\x00" + bytes(20)) == "audio/mpeg"
    assert audio_type(b"\x00\x00\x00\x20ftypM4A " + bytes(20)) == "audio/mp4"
    assert audio_type(b"#!AMR\n" + bytes(20)) == "audio/amr"
    assert audio_type(bytes.fromhex("89504e470d0a1a0a") + bytes(20)) is None, "a picture"
    assert audio_type(b"%PDF-1.7" + bytes(20)) is None
