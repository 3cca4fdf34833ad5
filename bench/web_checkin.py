"""Check-ins per second through the web runtime, beside bare aiohttp handlers; open pages.

Simulated workers each go from the worker link to a confirmed check-in through the chat
page's own API (11 requests: /start, consent, name, phone, province, city, plan, a need,
done, skip, confirm), all at once, each waiting for the answer before the next tap. Three
aiohttp servers (bench/web_echo.py) get the same number of requests from the same number
of clients on the same machine: the bare handler (parse the JSON, answer one message); the
same with the HTTP framing the web runtime must do for every request (each client opens
the page for a cookie session and a CSRF token, and every post is checked for them, its
origin, JSON and nonce, and answered with one message under a button); and the framed
handler that also records each post in one SQLite transaction as the bot's engine opens
every event, the floor under a chat server that keeps its conversations in the database.
Prints requests/s for each and the web runtime's ratio to each (target: at least 0.5 to
the bare handler). Then 2,000 pages open a WebSocket to one instance and its memory is
printed, before and with them held.

    python -m bench.web_checkin [--workers 100] [--pages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.botprocess import BotProcess, count_rows, free_port, label
from tests.fakebotapi import FakeBotAPI

STEPS_PER_WORKER = 11
WARM_UP = 10
# The bench comes from one address: the per-address limits are lifted for it.
LIMITS = (
    "rate_per_address = 1000000.0\nburst_per_address = 1000000\n"
    "rate_per_chat = 1000.0\nburst_per_chat = 1000\nnew_chats_per_minute = 1000000.0"
)


class Page:
    """One person's page, over the page's HTTP API."""

    def __init__(self, client: aiohttp.ClientSession, base: str) -> None:
        self.client = client
        self.base = base
        self.csrf = ""
        self.seq = 0
        self.messages: dict[int, dict[str, Any]] = {}

    async def open(self) -> None:
        async with self.client.get(self.base + "/") as reply:
            html = await reply.text()
        blob = html.split('id="data">', 1)[1].split("</script>", 1)[0]
        self.csrf = json.loads(blob)["csrf"]

    async def post(self, body: dict[str, Any], expect: str) -> None:
        body = {"nonce": secrets.randbelow(2**52) + 1, "after": self.seq, **body}
        async with self.client.post(
            self.base + "/api/send", json=body, headers={"X-CSRF-Token": self.csrf}
        ) as reply:
            answer = await reply.json()
            assert reply.status == 200, answer
        for message in answer["messages"]:
            self.messages[message["id"]] = message
            self.seq = max(self.seq, message["seq"])
        said = " ".join(m["html"] for m in answer["messages"])
        assert expect in said, (expect, said[:300])

    async def say(self, text: str, expect: str) -> None:
        await self.post({"kind": "text", "text": text}, expect)

    async def press(self, text: str, expect: str) -> None:
        for message in sorted(self.messages.values(), key=lambda m: -m["id"]):
            for row in (message.get("markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"] == text:
                        data = button["callback_data"]
                        await self.post(
                            {"kind": "button", "data": data, "message_id": message["id"]},
                            expect,
                        )
                        return
        raise AssertionError(f"no button {text!r}")


async def checkin_walk(client: aiohttp.ClientSession, base: str, code: str) -> None:
    """One worker from the worker link to a confirmed check-in."""
    page = Page(client, base)
    await page.open()
    await page.say(f"/start {code}", "个人信息告知")
    await page.press(label("enrol.agree"), "真实姓名")
    await page.say("张三", "手机号")
    await page.say("13812345678", "户籍")
    await page.press("河南", "的哪个市")
    await page.say("信阳市", "今年春节您打算")
    await page.press(label("plan.stay"), "缺少")
    await page.press(label("ui.unchecked").format(label=label("need.heating")), "缺少")
    await page.press(label("ui.done"), "还有什么想告诉我们")
    await page.press(label("ui.skip"), "请核对")
    await page.press(label("ui.confirm"), "已保存")


async def framed_walk(client: aiohttp.ClientSession, base: str) -> None:
    """One client of the framed handler: the page, then as many posts as a check-in takes."""
    page = Page(client, base)
    await page.open()
    for index in range(STEPS_PER_WORKER):
        await page.say(f"hello {index}", f"hello {index}")


async def echo_walk(client: aiohttp.ClientSession, base: str) -> None:
    """One client sending the bare handler as many requests as a check-in takes."""
    for index in range(STEPS_PER_WORKER):
        body = {"nonce": index + 1, "after": index, "kind": "text", "text": f"hello {index}"}
        async with client.post(base + "/api/send", json=body) as reply:
            answer = await reply.json()
            assert reply.status == 200 and answer["messages"], answer


async def run_all(walks: list[Any]) -> float:
    started = time.perf_counter()
    await asyncio.gather(*walks)
    return time.perf_counter() - started


def client() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def measure_web(bot: BotProcess, codes: list[str], workers: int) -> float:
    async def walk(code: str) -> None:
        async with client() as session:  # a browser each: its own cookie
            await checkin_walk(session, bot.web_url, code)

    await run_all([walk(codes[0]) for _ in range(WARM_UP)])
    seconds = await run_all([walk(codes[i % len(codes)]) for i in range(workers)])
    return workers * STEPS_PER_WORKER / seconds


async def measure_echo(workers: int, kind: str = "bare", *args: str) -> float:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.web_echo", str(port), kind, *args
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with client() as session:
            for _ in range(200):
                try:
                    async with session.get(base + "/") as reply:
                        if reply.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            if kind != "bare":
                await run_all([framed(base) for _ in range(WARM_UP)])
                seconds = await run_all([framed(base) for _ in range(workers)])
            else:
                await run_all([echo_walk(session, base) for _ in range(WARM_UP)])
                seconds = await run_all([echo_walk(session, base) for _ in range(workers)])
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)
    return workers * STEPS_PER_WORKER / seconds


async def framed(base: str) -> None:
    async with client() as session:  # a browser each: its own cookie
        await framed_walk(session, base)


def rss_mib(pid: int) -> float:
    """A process's resident memory, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def hold_pages(bot: BotProcess, count: int) -> tuple[float, float, int]:
    """Open `count` pages with a WebSocket each; memory before, with them, and how many held."""
    assert bot.process is not None
    before = rss_mib(bot.process.pid)
    sessions = [client() for _ in range(count)]
    sockets = []
    try:
        for index in range(0, count, 100):
            batch = sessions[index : index + 100]
            pages = [Page(s, bot.web_url) for s in batch]
            await asyncio.gather(*(p.open() for p in pages))
            for page, session in zip(pages, batch, strict=True):
                ws = await session.ws_connect(bot.web_url + "/ws")
                await ws.send_json({"csrf": page.csrf, "after": 0})
                await ws.receive_json(timeout=30)
                sockets.append(ws)
        async with sessions[0].get(bot.web_url + "/healthz") as reply:
            held = int((await reply.json())["web_pages"])
        with_pages = rss_mib(bot.process.pid)
    finally:
        for ws in sockets:
            await ws.close()
        for session in sessions:
            await session.close()
    return before, with_pages, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100)
    parser.add_argument("--pages", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, FakeBotAPI() as api:
        bot = BotProcess(
            api,
            Path(home) / "web",
            telegram=False,
            log_level="WARNING",
            web_config=LIMITS,
            warm=False,
        )
        codes = [bot.add_enterprise(f"企业{i}") for i in range(max(1, args.workers // 10))]
        bot.start()
        try:
            web_rate = asyncio.run(measure_web(bot, codes, args.workers))
            assert count_rows(bot, "checkins") == args.workers + WARM_UP
            echo_rate = asyncio.run(measure_echo(args.workers))
            framed_rate = asyncio.run(measure_echo(args.workers, "framed"))
            floor = f"sqlite+aiosqlite:///{Path(home) / 'floor.db'}"
            floor_rate = asyncio.run(measure_echo(args.workers, "floor", floor))
            print(f"{args.workers} workers, {STEPS_PER_WORKER} requests each, SQLite")
            print(f"web runtime, check-ins:     {web_rate:8.1f} requests/s")
            print(f"bare aiohttp handler:       {echo_rate:8.1f} requests/s")
            print(f"handler with the framing:   {framed_rate:8.1f} requests/s")
            print(f"  + one transaction, SQLite:{floor_rate:8.1f} requests/s")
            print(f"ratio to the bare handler:   {web_rate / echo_rate:.2f} (target >= 0.5)")
            print(f"ratio to the framed handler: {web_rate / framed_rate:.2f}")
            print(f"ratio to that + one transaction: {web_rate / floor_rate:.2f}")
            print(f"one transaction's ratio to the bare handler: {floor_rate / echo_rate:.2f}")
            before, held_mib, held = asyncio.run(hold_pages(bot, args.pages))
            print(
                f"{held} open pages (WebSockets) held by one instance: "
                f"{held_mib:.1f} MiB resident ({before:.1f} MiB before, "
                f"{(held_mib - before) * 1024 / max(1, held):.1f} KiB a page)"
            )
        finally:
            bot.stop()


if __name__ == "__main__":
    main()
