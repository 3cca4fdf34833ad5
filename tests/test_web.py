"""The web channel in process: the page's API refusing bad input with nothing written, the
WebSocket push and its catch-up after a reconnect, two instances on one PostgreSQL, the
personal link, and the sanitising of message HTML."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import event, func, select

from bot.app import App, build_app
from bot.config import DatabaseSettings, SchedulerSettings, Settings, WebSettings
from bot.messenger import Rejected
from bot.runtimes.web.html import sanitise
from bot.runtimes.web.hub import Fresh, Hub, page_json
from bot.runtimes.web.hub import Page as HubPage
from bot.runtimes.web.messenger import AnswerWriter
from bot.runtimes.web.server import COOKIE, WebRuntime, accept_language, changes_from
from models import broadcasts, web
from models.broadcasts import Delivery, DeliveryStatus, LetterRead, Outcome
from models.conversations import ProcessedUpdate
from models.people import WEB, Person, Role

NOW = datetime(2027, 1, 20, 8, 0, tzinfo=UTC)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Instance:
    """One instance of the program with its web runtime, served on a loopback port."""

    app: App
    runtime: WebRuntime
    server: TestServer

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


async def start_instance(url: str, **web_options: Any) -> Instance:
    settings = Settings(
        database=DatabaseSettings(url=url),
        scheduler=SchedulerSettings(enabled=False),
        web=WebSettings(**web_options),
    )
    app = await build_app(settings, clock=lambda: NOW, run_migrations=False)
    runtime = WebRuntime(app)
    server = TestServer(runtime.application())
    await server.start_server()
    return Instance(app, runtime, server)


@pytest.fixture
async def instance(database_url: str) -> AsyncIterator[Instance]:
    one = await start_instance(database_url)
    yield one
    await one.server.close()
    await one.app.close()


class Browser:
    """A page's requests, with its own cookie jar."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf = ""

    async def open(self) -> None:
        async with self.client.get(self.instance.url("/")) as reply:
            assert reply.status == 200
            html = await reply.text()
        blob = html.split('id="data">', 1)[1].split("</script>", 1)[0]
        self.csrf = json.loads(blob)["csrf"]

    async def send(
        self, body: dict[str, Any], *, csrf: str | None = None, origin: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        if origin is not None:
            headers["Origin"] = origin
        body = {"nonce": secrets.randbelow(2**50) + 1, "after": 0, **body}
        async with self.client.post(
            self.instance.url("/api/send"), json=body, headers=headers
        ) as reply:
            return reply.status, await reply.json()

    async def close(self) -> None:
        await self.client.close()


@pytest.fixture
async def browser(instance: Instance) -> AsyncIterator[Browser]:
    page = Browser(instance)
    await page.open()
    yield page
    await page.close()


async def written(instance: Instance) -> tuple[int, int]:
    """(web messages, web requests recorded): what a refused request must not change."""
    async with instance.app.sessions() as session:
        messages = await session.scalar(select(func.count()).select_from(web.WebMessage))
        nonces = await session.scalar(select(func.count()).where(ProcessedUpdate.channel == "web"))
    return int(messages or 0), int(nonces or 0)


async def test_a_command_is_answered_on_the_page(browser: Browser) -> None:
    status, answer = await browser.send({"kind": "text", "text": "/help"})
    assert status == 200
    mine, reply = answer["messages"][0], answer["messages"][-1]
    assert mine["mine"] and mine["html"] == "/help"
    assert not reply["mine"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in reply["html"]), "zh_Hans by default"


async def test_missing_or_forged_csrf_and_another_origin_are_refused_with_nothing_written(
    instance: Instance, browser: Browser
) -> None:
    other = Browser(instance)
    await other.open()
    before = await written(instance)
    text = {"kind": "text", "text": "/help"}
    assert (await browser.send(text, csrf=""))[0] == 403
    assert (await browser.send(text, csrf=other.csrf))[0] == 403, "another chat's token"
    assert (await browser.send(text, origin="https://evil.example"))[0] == 403
    assert await written(instance) == before
    await other.close()


async def test_a_replayed_request_is_refused_and_writes_nothing(
    instance: Instance, browser: Browser
) -> None:
    body = {"kind": "text", "text": "/help", "nonce": 424242}
    assert (await browser.send(body))[0] == 200
    after_first = await written(instance)
    status, answer = await browser.send(body)
    assert status == 409 and answer["error"]
    assert await written(instance) == after_first


async def test_another_chats_identifier_opens_nothing(instance: Instance, browser: Browser) -> None:
    async with instance.app.sessions() as session, session.begin():
        held, _ = await web.open_chat(session, NOW)
        file_id = await web.add_file(session, held.chat_id, "image/png", "p", PNG, NOW)
    async with browser.client.get(instance.url(f"/f/{file_id}")) as reply:
        assert reply.status == 404, "another chat's file"
    forged = aiohttp.ClientSession(cookies={COOKIE: str(held.chat_id)})
    async with forged.post(
        instance.url("/api/send"),
        json={"nonce": 5, "after": 0, "kind": "text", "text": "hi"},
        headers={"X-CSRF-Token": held.csrf},
    ) as reply:
        assert reply.status == 403, "a chat id is not a session"
    await forged.close()


async def upload(browser: Browser, data: bytes, nonce: int = 77) -> int:
    form = aiohttp.FormData()
    form.add_field("nonce", str(nonce))
    form.add_field("after", "0")
    form.add_field("photo", data, filename="p.jpg", content_type="image/jpeg")
    async with browser.client.post(
        browser.instance.url("/api/upload"), data=form, headers={"X-CSRF-Token": browser.csrf}
    ) as reply:
        return reply.status


async def test_oversized_or_disguised_uploads_are_refused_with_nothing_written(
    database_url: str,
) -> None:
    small = await start_instance(database_url, upload_max_bytes=20_000)
    page = Browser(small)
    await page.open()
    before = await written(small)
    assert await upload(page, PNG + b"\0" * 30_000) == 413
    assert await upload(page, b"<script>alert(1)</script>" + b"\0" * 100, nonce=78) == 415
    assert await written(small) == before
    assert await upload(page, PNG, nonce=79) == 200
    async with small.app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(web.WebFile)) == 1
    await page.close()
    await small.server.close()
    await small.app.close()


async def test_a_thousand_requests_a_second_from_one_address_are_held_back(
    instance: Instance, browser: Browser
) -> None:
    before = await written(instance)
    started = asyncio.get_running_loop().time()
    statuses = await asyncio.gather(
        *(browser.send({"kind": "text", "text": "/help"}) for _ in range(1000))
    )
    elapsed = asyncio.get_running_loop().time() - started
    codes = [status for status, _ in statuses]
    accepted = codes.count(200)
    assert set(codes) <= {200, 429}, "refused cleanly"
    limits = instance.app.settings.web
    assert accepted <= limits.burst_per_chat + limits.rate_per_chat * elapsed + 1, accepted
    _, nonces = await written(instance)
    assert nonces - before[1] == accepted, "nothing written for a refused request"
    await asyncio.sleep(1.0)
    assert (await browser.send({"kind": "text", "text": "/help"}))[0] == 200, "served again"


async def socket_of(
    browser: Browser, after: int = 0
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await browser.client.ws_connect(browser.instance.url("/ws"))
    await ws.send_json({"csrf": browser.csrf, "after": after})
    hello = await ws.receive_json(timeout=5)
    return ws, hello


async def chat_of(browser: Browser) -> int:
    cookie = next(c.value for c in browser.client.cookie_jar if c.key == COOKIE)
    async with browser.instance.app.sessions() as session:
        held = await web.session_for(session, cookie)
    assert held is not None
    return held.chat_id


async def test_messages_are_pushed_live_and_a_reconnect_misses_nothing(
    instance: Instance, browser: Browser
) -> None:
    chat = await chat_of(browser)
    messenger = instance.runtime.messenger
    ws, hello = await socket_of(browser)
    assert hello["messages"] == []
    await messenger.send_text(chat, "<b>一</b><script>x</script>")
    pushed = await ws.receive_json(timeout=2)
    assert pushed["messages"][0]["html"] == "<b>一</b>x", "sanitised"
    seq = pushed["messages"][-1]["seq"]
    await ws.send_json({"read": seq})
    await ws.close()
    for text in ("二", "三", "四"):
        await messenger.send_text(chat, text)
    ws, hello = await socket_of(browser, after=seq)
    assert [m["html"] for m in hello["messages"]] == ["二", "三", "四"]
    assert hello["unread"] == 3, "waiting for the person, counted"
    await ws.close()


async def test_the_letter_counts_as_read_once_the_page_shows_it(
    instance: Instance, browser: Browser
) -> None:
    chat = await chat_of(browser)
    async with instance.app.sessions() as session, session.begin():
        person = Person(
            channel=WEB,
            telegram_user_id=chat,
            chat_id=chat,
            role=Role.WORKER,
            language="zh_Hans",
            enrolled_at=NOW,
            active=True,
        )
        session.add(person)
        letter = await broadcasts.ensure_letter_broadcast(session, NOW, NOW)
        await broadcasts.enqueue_run(session, letter, NOW, NOW)
        [delivery_id] = await session.scalars(select(Delivery.id))
    # The sender stores the letter for the page and writes its outcome.
    message_id = await instance.runtime.messenger.send_text(chat, "公开信")
    outcome = Outcome(
        delivery_id,
        person.id,
        DeliveryStatus.SENT,
        1,
        NOW,
        sent_at=NOW,
        message_id=message_id,
        channel=WEB,
    )
    async with instance.app.sessions() as session, session.begin():
        await broadcasts.record(session, [outcome])

    async def reads() -> int:
        async with instance.app.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(LetterRead)) or 0)

    assert await reads() == 0, "stored, not shown yet"
    ws, hello = await socket_of(browser)
    assert [m["id"] for m in hello["messages"]] == [message_id]
    await ws.send_json({"read": message_id})
    for _ in range(100):
        if await reads():
            break
        await asyncio.sleep(0.02)
    assert await reads() == 1
    await ws.close()


async def test_a_socket_without_the_csrf_token_is_closed(browser: Browser) -> None:
    ws = await browser.client.ws_connect(browser.instance.url("/ws"))
    await ws.send_json({"csrf": "wrong", "after": 0})
    message = await ws.receive(timeout=5)
    assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await ws.close()


async def test_a_message_stored_by_one_instance_reaches_a_page_on_another(
    database_url: str,
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY between instances needs PostgreSQL")
    one, two = await start_instance(database_url), await start_instance(database_url)
    listening = [one.runtime.serving_listener(), two.runtime.serving_listener()]
    try:
        for listener in listening:
            await listener.__aenter__()
        page = Browser(one)
        await page.open()
        chat = await chat_of(page)
        ws, _ = await socket_of(page)
        started = asyncio.get_running_loop().time()
        await two.runtime.messenger.send_text(chat, "来自另一个实例")
        pushed = await ws.receive_json(timeout=1.0)
        assert pushed["messages"][0]["html"] == "来自另一个实例"
        assert asyncio.get_running_loop().time() - started < 1.0
        await ws.close()
        # The page reconnects to the other instance: nothing missed there either.
        await one.runtime.messenger.send_text(chat, "再来一条")
        moved = Browser(two)
        moved.client.cookie_jar.update_cookies(
            {COOKIE: next(c.value for c in page.client.cookie_jar if c.key == COOKIE)}
        )
        moved.csrf = page.csrf
        ws, hello = await socket_of(moved, after=pushed["messages"][0]["seq"])
        assert [m["html"] for m in hello["messages"]] == ["再来一条"]
        await ws.close()
        await page.close()
        await moved.close()
    finally:
        for listener in listening:
            await listener.__aexit__(None, None, None)
        for instance in (one, two):
            await instance.server.close()
            await instance.app.close()


async def test_the_personal_link_opens_the_chat_elsewhere_until_it_is_stopped(
    instance: Instance, browser: Browser
) -> None:
    _, answer = await browser.send({"kind": "text", "text": "/mydata"})
    offer = answer["messages"][-1]
    data = offer["markup"]["inline_keyboard"][0][0]["callback_data"]
    _, answer = await browser.send({"kind": "button", "data": data, "message_id": offer["id"]})
    link = answer["messages"][-1]["html"].split("/k/", 1)[1].split()[0]
    phone = Browser(instance)
    async with phone.client.get(instance.url(f"/k/{link}"), allow_redirects=False) as reply:
        assert reply.status == 303
    await phone.open()
    assert await chat_of(phone) == await chat_of(browser), "the same chat on the other phone"
    stop = offer["markup"]["inline_keyboard"][1][0]["callback_data"]
    await browser.send({"kind": "button", "data": stop, "message_id": offer["id"]})
    async with phone.client.get(instance.url(f"/k/{link}"), allow_redirects=False) as reply:
        assert reply.status == 404, "a stopped link opens nothing"
    assert (await phone.send({"kind": "text", "text": "/help"}))[0] == 403, "signed out"
    await phone.close()


class Counted:
    """The transactions begun and the statements sent on an instance's database."""

    def __init__(self, instance: Instance) -> None:
        self.engine = instance.app.db.sync_engine
        self.transactions = 0
        self.statements: list[str] = []
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, _connection: Any) -> None:
        self.transactions += 1

    def _statement(self, _connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.statements.append(statement)

    def close(self) -> None:
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "before_cursor_execute", self._statement)


async def changes(browser: Browser, after: int) -> list[dict[str, Any]]:
    """What a page catching up after `after` is sent (read from the database)."""
    async with browser.client.get(browser.instance.url(f"/api/changes?after={after}")) as reply:
        assert reply.status == 200
        messages: list[dict[str, Any]] = (await reply.json())["messages"]
        return messages


async def test_a_press_is_answered_in_three_transactions_from_what_it_wrote(
    instance: Instance, browser: Browser
) -> None:
    _, started = await browser.send({"kind": "text", "text": "/language"})
    asked = started["messages"][-1]
    button = asked["markup"]["inline_keyboard"][0][-1]["callback_data"]
    seq = started["messages"][-1]["seq"]
    counted = Counted(instance)
    try:
        status, answer = await browser.send(
            {"kind": "button", "data": button, "message_id": asked["id"], "after": seq}
        )
    finally:
        counted.close()
    assert status == 200
    # Its session and nonce; the engine's turn; the answer (the edit and what follows).
    assert counted.transactions == 3, counted.statements
    reads_back = [s for s in counted.statements if "ORDER BY web_messages.seq" in s]
    assert not reads_back, "answered from what was written, not read back"
    assert answer["messages"] == await changes(browser, seq), "the same as reading them back"
    assert answer["messages"][0]["id"] == asked["id"], "the pressed one, edited"


async def test_a_message_written_by_another_in_between_reaches_the_answer(
    instance: Instance, browser: Browser
) -> None:
    _, first = await browser.send({"kind": "text", "text": "/help"})
    seq = first["messages"][-1]["seq"]
    await instance.runtime.messenger.send_text(await chat_of(browser), "一条通知")
    _, answer = await browser.send({"kind": "text", "text": "/help", "after": seq})
    said = [m["html"] for m in answer["messages"]]
    assert said[0] == "一条通知", "the change the page had not had comes first"
    assert said[1] == "/help"
    assert answer["messages"] == await changes(browser, seq)


async def test_an_open_page_is_pushed_what_was_written_without_reading_it_back(
    instance: Instance, browser: Browser
) -> None:
    ws, _ = await socket_of(browser)
    counted = Counted(instance)
    try:
        status, answer = await browser.send({"kind": "text", "text": "/help"})
        pushed: list[dict[str, Any]] = []
        while len(pushed) < len(answer["messages"]):
            pushed += (await ws.receive_json(timeout=2))["messages"]
    finally:
        counted.close()
    assert status == 200
    assert pushed == answer["messages"]
    if instance.app.db.dialect.name == "sqlite":
        # (PostgreSQL's NOTIFY comes back to this instance too, and that one is read.)
        assert not [s for s in counted.statements if "ORDER BY web_messages.seq" in s]
    await ws.close()


class Socket:
    """A page's socket as the hub sees it: what it was sent."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)


async def test_the_hub_reads_back_what_written_changes_cannot_show() -> None:
    stored = [{"id": seq, "seq": seq} for seq in range(1, 10)]
    reads: list[int] = []

    async def read(_chat: int, after: int) -> list[dict[str, Any]]:
        reads.append(after)
        return [change for change in stored if change["seq"] > after]

    hub = Hub(read)
    socket = Socket()
    page = HubPage(7, socket, 4)  # type: ignore[arg-type]
    hub.add(page)
    hub.changed(7, Fresh(5, 6, tuple(stored[4:6])))
    hub.changed(7, Fresh(7, 7, tuple(stored[6:7])))
    await asyncio.sleep(0.05)
    assert (reads, page.seq) == ([], 7), "what was written, running on: pushed as it is"
    # 8-9 announced before 5-6 was (seq 7 here too): 5-6 alone must not pass for all.
    page.seq = 4
    hub.changed(7, Fresh(8, 9, tuple(stored[7:9])))
    hub.changed(7, Fresh(5, 6, tuple(stored[4:6])))
    await asyncio.sleep(0.05)
    assert (reads, page.seq) == ([4], 9)
    hub.changed(7, Fresh(5, 6, tuple(stored[4:6])))
    hub.changed(7)  # written by another instance
    page.seq = 4
    await asyncio.sleep(0.05)
    assert (reads, page.seq) == ([4, 4], 9)
    assert [change["seq"] for sent in socket.sent for change in sent["messages"]] == [
        *range(5, 8),
        *range(5, 10),
        *range(5, 10),
    ]


def shown(seq: int, message_id: int | None = None) -> web.Shown:
    return web.Shown(message_id or seq, seq, str(seq), None, False, False, False, None)


def test_an_answer_comes_from_the_writes_only_when_they_leave_no_gap() -> None:
    mine = web.Written(11, 11, [shown(11)], [11])
    answer = web.Written(12, 14, [shown(12), shown(13, message_id=5), shown(14)], [12, 14])

    def seqs(found: list[dict[str, Any]] | None) -> list[int] | None:
        return None if found is None else [change["seq"] for change in found]

    assert seqs(changes_from(10, [mine, answer])) == [11, 12, 13, 14]
    assert changes_from(9, [mine, answer]) is None, "seq 10 is someone else's"
    assert changes_from(10, [mine, web.Written(13, 13, [shown(13)], [13])]) is None
    assert changes_from(10, [None, web.Written(0, 0, [], [])]) is None, "nothing written"
    assert seqs(changes_from(11, [mine, answer])) == [12, 13, 14]
    edited_twice = web.Written(12, 13, [shown(12, message_id=5), shown(13, message_id=5)], [])
    assert changes_from(11, [edited_twice]) == [page_json(shown(13, message_id=5))], "latest"


async def test_an_answer_is_written_when_complete_and_an_edit_needs_its_message(
    instance: Instance, browser: Browser
) -> None:
    chat = await chat_of(browser)
    other = Browser(instance)
    await other.open()
    other_chat = await chat_of(other)
    writer = AnswerWriter(instance.runtime.messenger, chat)
    assert await writer.send_text(chat, "<b>一</b>") == -1, "no id before it is written"
    assert await writer.send_text(other_chat, "二") > 0, "another chat's is stored at once"
    with pytest.raises(Rejected):
        await writer.edit_text(chat, 424242, "gone")
    with pytest.raises(Rejected):
        await writer.edit_markup(chat, -1, None)
    assert await changes(browser, 0) == [], "nothing written before the answer is complete"
    written = await writer.commit()
    await writer.edit_text(chat, written.new_ids[0], "改")
    again = await writer.commit()
    assert [m.html for m in written.messages + again.messages] == ["<b>一</b>", "改"]
    assert [m["html"] for m in await changes(browser, 0)] == ["改"]
    await other.close()


def test_message_html_keeps_only_the_telegram_subset() -> None:
    assert sanitise("<b>a</b><i>b</i><code>c</code><pre>d</pre>") == (
        "<b>a</b><i>b</i><code>c</code><pre>d</pre>"
    )
    assert sanitise("<script>alert(1)</script>") == "alert(1)"
    assert sanitise('<b onclick="x">a</b>') == "<b>a</b>"
    assert sanitise('<a href="javascript:alert(1)">x</a>') == "x"
    assert sanitise('<a href="https://t.me/x">x</a>').startswith('<a href="https://t.me/x"')
    assert sanitise("1 &lt; 2 &amp; <img src=x onerror=y>") == "1 &lt; 2 &amp; "
    assert sanitise("<b>open") == "<b>open</b>"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("en-US,en;q=0.9", "en-US"),
        ("zh-TW;q=0.8,en;q=0.9", "en"),
        ("zh-CN", "zh-CN"),
    ],
)
def test_the_browsers_language(header: str | None, expected: str | None) -> None:
    assert accept_language(header) == expected
