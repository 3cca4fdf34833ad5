"""Two webhook instances behind one address, sharing one PostgreSQL database.

The test stands in for the load balancer: it posts each update to one instance or the other
in turn, as a reverse proxy spreading requests would. One instance runs aiogram (and the
scheduler), the other python-telegram-bot, so the conversation that moves between them also
moves between the two frameworks, and one run covers both runtimes on PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.botprocess import (
    POSTGRES_URL,
    TOKEN,
    BotProcess,
    count_rows,
    label,
    postgres_database,
    wait_until,
)
from tests.e2e.test_broadcast_e2e import FIRST_WORKER, STAFF_ID, received, second_run, seed
from tests.e2e.test_worker_e2e import enrol
from tests.fakebotapi import JSON, FakeBotAPI, FakeUser

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="TEST_DATABASE_URL is not set: the two-instance test needs PostgreSQL",
    ),
]

WORKERS = 30


class Balancer:
    """Spreads updates over the instances in turn; each post returns once it was handled."""

    def __init__(self, api: FakeBotAPI, bots: list[BotProcess]) -> None:
        self.api = api
        self.bots = bots
        self._next = itertools.cycle(bots)
        self.handled: Counter[str] = Counter()

    def post(self, update: JSON, bot: BotProcess | None = None) -> int:
        """Deliver one update to the next instance (or the one given); its update id."""
        bot = bot or next(self._next)
        status = self.api.post_webhook(bot.webhook_url, update, secret=bot.webhook_secret)
        assert status == 200, f"{bot.runtime} answered {status}\n{bot.log()[-3000:]}"
        self.handled[bot.home.name] += 1
        return int(update["update_id"])


class BalancedUser(FakeUser):
    """A person whose every update reaches whichever instance the balancer picks."""

    def __init__(self, balancer: Balancer, user_id: int) -> None:
        super().__init__(balancer.api, user_id)
        self.balancer = balancer

    def _push(self, update: JSON) -> int:
        self.mark()
        return self.balancer.post(update)


def test_two_instances_share_conversations_updates_and_one_scheduler(tmp_path: Path) -> None:
    runtime, other = "aiogram", "ptb"
    with postgres_database("scale") as url, FakeBotAPI(token=TOKEN) as api:
        config = "[broadcast]\nrate_per_second = 200\nprogress_seconds = 0.5\n"
        first = BotProcess(api, tmp_path / "a", runtime, "webhook", url, extra_config=config)
        second = BotProcess(
            api,
            tmp_path / "b",
            other,
            "webhook",
            url,
            extra_config=config + "[scheduler]\nenabled = false",
        )
        code = first.add_enterprise("城建一公司")
        seed(first, WORKERS)
        first.start()
        second.start()
        try:
            balancer = Balancer(api, [first, second])
            a_conversation_moves_between_instances(balancer, code)
            an_update_delivered_to_both_is_handled_once(balancer)
            only_the_first_runs_the_scheduler(first, second)
            a_second_scheduler_refuses_to_start(first, url, tmp_path)
            a_broadcast_confirmed_anywhere_is_sent_once(balancer, first)
            assert first.stop() == 0, first.log()
            assert second.stop() == 0, second.log()
        finally:
            for bot in (first, second):
                if bot.process is not None:
                    bot.kill()


def a_conversation_moves_between_instances(balancer: Balancer, code: str) -> None:
    """Each step of the enrolment and check-in goes to the other instance than the last."""
    user = BalancedUser(balancer, 501)
    enrol(user, code)
    user.press(label("plan.stay"))
    user.wait_text("缺少")
    user.press(label("ui.unchecked").format(label=label("need.heating")))
    user.wait_reply()
    assert label("ui.checked").format(label=label("need.heating")) in user.buttons()
    user.press(label("ui.done"))
    user.wait_text("还有什么想告诉我们")
    user.send("宿舍没有暖气")
    summary = user.wait_text("请核对")
    assert "取暖" in summary["text"] and "宿舍没有暖气" in summary["text"]
    user.press(label("ui.confirm"))
    user.wait_text("已保存")
    first, second = balancer.bots
    assert count_rows(first, "checkins", of_person(501)) == 1
    # 11 updates, every other one to each instance.
    assert balancer.handled == {first.home.name: 6, second.home.name: 5}


def of_person(telegram_user_id: int) -> str:
    """The SQL condition for a person's rows."""
    return f"person_id = (SELECT id FROM people WHERE telegram_user_id = {telegram_user_id})"


def an_update_delivered_to_both_is_handled_once(balancer: Balancer) -> None:
    """The same button press reaches both instances at the same moment: one check-in saved."""
    api = balancer.api
    first, second = balancer.bots
    user = BalancedUser(balancer, 501)
    user.command("checkin")
    user.wait_text("今年春节您打算")
    user.press(label("plan.undecided"))
    user.wait_text("什么时候再问您")
    user.press(label("checkin.again_in_days").format(days=3))
    summary = user.wait_text("请核对")
    confirm = next(
        button["callback_data"]
        for row in summary["reply_markup"]["inline_keyboard"]
        for button in row
        if button["text"] == label("ui.confirm")
    )
    update = api.callback(501, summary, confirm)
    update["update_id"] = 900_001
    mark = api.mark()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda bot: balancer.post(update, bot), [first, second]))
    # The first check-in, and this one once.
    assert count_rows(first, "checkins", of_person(501)) == 2
    saved = [
        c
        for c in api.calls[mark:]
        if c.method in ("sendMessage", "editMessageText") and "已保存" in str(c.params["text"])
    ]
    assert len(saved) == 1, [c.params for c in saved]
    answers = [c for c in api.calls[mark:] if c.method == "answerCallbackQuery"]
    assert len(answers) == 1


def only_the_first_runs_the_scheduler(first: BotProcess, second: BotProcess) -> None:
    """Both report the database and the one holder of the scheduler lease on /healthz."""
    assert first.process is not None
    status, body = first.health()
    assert (status, body["database"], body["scheduler"]) == (200, "ok", "running"), body
    assert f":{first.process.pid}:" in body["scheduler_holder"]
    status, other = second.health()
    assert (status, other["database"], other["scheduler"]) == (200, "ok", "off"), other
    assert other["scheduler_holder"] == body["scheduler_holder"]
    assert "scheduler and sender running" in first.log()
    assert "scheduler and sender running" not in second.log()


def a_second_scheduler_refuses_to_start(first: BotProcess, url: str, tmp_path: Path) -> None:
    """A third instance configured with the scheduler too exits with one line, sending nothing."""
    other = "ptb" if first.runtime == "aiogram" else "aiogram"
    third = BotProcess(first.api, tmp_path / "c", other, "webhook", url)
    # What the first instance's sender still had to say (a request the check-in opened) is out.
    due = "status = 'scheduled' AND purpose <> 'letter'"
    wait_until(lambda: count_rows(first, "broadcasts", due) == 0, timeout=20)
    wait_until(lambda: count_rows(first, "deliveries", "status = 'pending'") == 0, timeout=20)
    mark = first.api.mark()
    assert second_run(third) == 2, third.log()
    assert "scheduler.enabled" in third.log()
    made = {c.method for c in first.api.calls[mark:]}
    # Only what every instance says about the bot at start: its menus and descriptions.
    introduced = {"getMe", "setMyCommands", "setMyDescription", "setMyShortDescription"}
    assert made <= introduced, f"no webhook taken over, nothing sent: {made}"


def a_broadcast_confirmed_anywhere_is_sent_once(balancer: Balancer, first: BotProcess) -> None:
    """Staff compose it through both instances; the scheduler's instance sends it, once each."""
    staff = BalancedUser(balancer, STAFF_ID)
    staff.command("broadcast")
    staff.wait_text("发给谁")
    staff.press(label("broadcast.audience.workers"))
    staff.wait_text(str(WORKERS + 1))
    staff.send("春节期间食堂照常开放")
    staff.wait_text("什么时候发送")
    staff.press(label("broadcast.send_now"))
    staff.wait_text("请核对")
    staff.press(label("ui.confirm"))
    staff.wait_text("发送报告", timeout=30)
    staffs = (
        "status = 'sent' AND run_id IN (SELECT r.id FROM broadcast_runs r JOIN broadcasts b "
        "ON b.id = r.broadcast_id WHERE b.purpose = 'broadcast')"
    )
    wait_until(lambda: count_rows(first, "deliveries", staffs) == WORKERS + 1)
    got = received(first)
    assert set(got) == {FIRST_WORKER + i for i in range(WORKERS)}
    assert set(got.values()) == {1}, "nobody gets it twice"
