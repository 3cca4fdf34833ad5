"""Menus per role: each chat's command menu set when the role is set, a worker's own keyboard
whose presses run the commands, and both rendered as Bot API calls."""

from __future__ import annotations

from typing import cast

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.messenger import Markup, Messenger
from bot.render import Renderer, markup_json
from handlers.actions import RemoveReply, Reply, SendText, SetMenu
from handlers.engine import Answer
from handlers.events import Command
from handlers.menus import WORKER_KEYBOARD
from models.invites import InviteKind
from models.people import Role
from tests.harness import Kit, SimUser, catalogs, keys
from tests.test_flow_checkin import enrolled
from tests.test_flow_roles import member, role_invite

WORKER_KEYS = ["keyboard.checkin", "keyboard.request", "keyboard.status", "keyboard.phones"]


def menus(user: SimUser) -> list[list[str]]:
    """The commands of every chat menu the bot set, in order."""
    return [
        [name for name, _ in action.commands]
        for answer in user.answers
        for action in answer.actions
        if isinstance(action, SetMenu)
    ]


async def test_a_new_worker_gets_the_workers_menu_and_keyboard(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    [menu] = menus(user)
    assert {"checkin", "status", "request", "phones", "mydata", "help"} <= set(menu)
    assert not {"report", "roster", "stats", "broadcast", "start"} & set(menu)
    assert user.reply_keys() == WORKER_KEYS
    [welcome] = [m for m in user.messages if getattr(m.text, "key", "") == "enrol.done"]
    assert welcome.markup == WORKER_KEYBOARD
    # The keyboard stays while the check-in asks its questions.
    await user.press("plan.stay")
    assert user.reply_keys() == WORKER_KEYS


async def test_the_keyboard_starts_what_the_commands_start(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit)
    await user.press("plan.stay")  # in the middle of the check-in
    assert keys(await user.send("我要求助")) == ["request.ask_category"]
    state = await user.state()
    assert state is not None and state.flow == "request"
    assert keys(await user.send("登记去留")) == ["checkin.ask_plan"]
    await user.press("plan.undecided")
    await user.press("checkin.again_in_days", days=3)
    await user.press("ui.confirm")
    assert keys(await user.send("我的登记")) == ["status.current"]
    assert keys(await user.send(" 咨询电话 ")) == ["phones.text"]
    assert "0315-0000001" in user.last_text()


async def test_the_keyboard_reads_in_the_workers_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    user = await enrolled(kit, 101, "en")
    await user.command("cancel")
    assert keys(await user.send("Helpline")) == ["phones.text"]
    assert keys(await user.send("我要求助")) == ["idle.worker"], "another language's label is text"


async def test_other_roles_have_their_own_menu_and_no_worker_keyboard(db: AsyncEngine) -> None:
    kit = Kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    contact = kit.user(300)
    code = await role_invite(kit, InviteKind.CONTACT, enterprise_id=enterprise_id)
    await contact.command("start", code)
    await contact.press("enrol.agree")
    await contact.send("王经理")
    assert keys(await contact.send("13912345678")) == ["role.done"]
    [menu] = menus(contact)
    assert {"report", "roster", "myreports", "nominate", "help"} <= set(menu)
    assert not {"request", "checkin", "status", "stats"} & set(menu)
    # The keyboard's words are plain text for a contact.
    assert keys(await contact.send("我要求助")) == ["idle.other"]


async def test_a_worker_who_takes_up_a_role_loses_the_keyboard(db: AsyncEngine) -> None:
    kit = Kit(db)
    worker = await enrolled(kit)
    await worker.command("cancel")
    await worker.command("start", await role_invite(kit, InviteKind.STAFF))
    await worker.press("ui.yes")
    changed = worker.answers[-1]
    assert any(isinstance(a, SetMenu) for a in changed.actions)
    [said] = [a for a in changed.actions if isinstance(a, SendText)]
    assert said.markup == RemoveReply()
    assert {"stats", "broadcast"} <= set(menus(worker)[-1])
    assert "request" not in menus(worker)[-1]


async def test_start_and_a_new_language_set_the_menu_again(db: AsyncEngine) -> None:
    kit = Kit(db)
    staff = await member(kit, 1, Role.STAFF)
    await staff.command("start")
    assert "stats" in menus(staff)[-1]
    worker = await enrolled(kit)
    await worker.command("cancel")
    await worker.command("language")
    answer = await worker.press("language.en")
    assert any(isinstance(a, SetMenu) for a in answer.actions)
    assert worker.reply_keys() == WORKER_KEYS, "the keyboard comes again, in English"
    assert kit.render("en", worker.messages[-1].text).startswith("Language")


class Recorder:
    """Records the Bot API calls a renderer makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, object]] = []

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        self.calls.append(("send", text, markup))
        return 1

    async def set_commands(
        self, commands: list[tuple[str, str]], language_code: str | None, chat_id: int | None
    ) -> None:
        self.calls.append(("menu", commands, (language_code, chat_id)))


async def test_a_chat_menu_is_set_for_that_chat_in_the_readers_language() -> None:
    recorder = Recorder()
    event = Command(update_id=1, user_id=7, chat_id=7, name="start")
    menu = SetMenu((("report", "command.report"), ("help", "command.help")))
    await Renderer(cast(Messenger, recorder), catalogs()).deliver(event, Answer("zh_Hant", (menu,)))
    [(kind, commands, scope)] = recorder.calls
    assert kind == "menu" and scope == (None, 7)
    assert commands == [("report", "提交今日人數日報"), ("help", "幫助和聯繫電話")]


def test_the_workers_keyboard_is_persistent() -> None:
    assert markup_json(catalogs(), "zh_Hans", WORKER_KEYBOARD) == {
        "keyboard": [
            [{"text": "登记去留"}, {"text": "我要求助"}],
            [{"text": "我的登记"}, {"text": "咨询电话"}],
        ],
        "resize_keyboard": True,
        "one_time_keyboard": False,
        "is_persistent": True,
    }
    assert isinstance(WORKER_KEYBOARD, Reply) and WORKER_KEYBOARD.persistent
