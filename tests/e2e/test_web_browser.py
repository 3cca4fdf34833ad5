"""The chat page in a real browser: Debian's chromium, headless, driven by Playwright.

A worker opens the poster's address on a 360x640 phone screen, enrols and checks in by
tapping, and the screenshots are saved under docs/. The page loads nothing from another
host and weighs under 100 KB. Skipped where chromium (or Playwright) is absent; no browser
is ever downloaded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.botprocess import BotProcess, count_rows, label
from tests.fakebotapi import FakeBotAPI
from tests.harness import ROOT

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = ROOT / "docs"

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip(
        "Debian's chromium is not installed (apt install chromium)", allow_module_level=True
    )


@pytest.fixture
def web_bot(tmp_path: Path) -> Iterator[BotProcess]:
    """The program with no token: the web channel alone."""
    with FakeBotAPI(token="123456789:TESTtokenTESTtokenTESTtokenTESTtoken1") as api:
        bot = BotProcess(api, tmp_path / "bot", telegram=False)
        bot.start()
        yield bot
        assert bot.stop() == 0, bot.log()


def test_a_worker_enrols_and_checks_in_by_tapping_in_chromium(web_bot: BotProcess) -> None:
    code = web_bot.add_enterprise("城建八公司")
    own = urlsplit(web_bot.web_url).netloc
    hosts: set[str] = set()
    weight = 0
    with playwright_api.sync_playwright() as play:
        browser = play.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(
            viewport={"width": 360, "height": 640}, locale="zh-CN", device_scale_factor=2
        )
        page = context.new_page()
        page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))

        def weigh(response: object) -> None:
            nonlocal weight
            body = response.body()  # type: ignore[attr-defined]
            weight += len(body)

        page.on("response", weigh)
        page.goto(f"{web_bot.web_url}/j/{code}")
        page.get_by_text("个人信息告知").first.wait_for()
        first_load = weight
        page.screenshot(path=str(DOCS / "web-consent.png"))
        page.get_by_role("button", name=label("enrol.agree")).click()
        page.get_by_text("真实姓名").first.wait_for()
        page.locator("#text").fill("张三")
        page.locator("#send").click()
        page.get_by_text("手机号").last.wait_for()
        page.locator("#keys").get_by_role("button", name=label("enrol.share_phone")).click()
        assert page.locator("#text").get_attribute("type") == "tel", "the number is typed"
        page.locator("#text").fill("13812345678")
        page.locator("#send").click()
        page.get_by_role("button", name="河南").click()
        # The home city by tapping: Henan's prefectures are buttons.
        page.get_by_role("button", name="信阳市").last.click()
        page.get_by_role("button", name=label("plan.stay")).last.wait_for()
        page.screenshot(path=str(DOCS / "web-enrolled.png"))
        page.get_by_role("button", name=label("plan.stay")).last.click()
        heating = label("ui.unchecked").format(label=label("need.heating"))
        page.get_by_role("button", name=heating).last.click()
        page.get_by_role("button", name=label("ui.done")).last.click()
        page.get_by_text("还有什么想告诉我们").last.wait_for()
        page.locator("#text").fill("宿舍 <b>没有</b> 暖气")
        page.locator("#send").click()
        page.get_by_text("请核对").last.wait_for()
        page.get_by_role("button", name=label("ui.confirm")).last.click()
        page.get_by_text("已保存").last.wait_for()
        assert page.locator(".msg b", has_text="没有").count() == 0, "typed tags stay text"
        page.screenshot(path=str(DOCS / "web-checkin.png"))
        browser.close()
    assert hosts == {own}, f"the page loads nothing from another host: {hosts}"
    assert first_load < 100_000, f"first load {first_load} bytes"
    assert count_rows(web_bot, "checkins") == 1
    assert count_rows(web_bot, "people", "channel = 'web' AND phone = '13812345678'") == 1
