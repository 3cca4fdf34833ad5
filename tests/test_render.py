"""Rendering: keyboards as Bot API JSON, escaping, long messages cut safely."""

from __future__ import annotations

from collections.abc import Mapping
from html.parser import HTMLParser
from typing import cast

from bot.messenger import Markup, Messenger, RetryAfter
from bot.render import UPLOAD_LIMIT, Made, Maker, Renderer, markup_json, split_text
from handlers.actions import (
    Action,
    AnswerButton,
    Button,
    EditText,
    Inline,
    Lines,
    Msg,
    Raw,
    RemoveReply,
    Reply,
    ReplyButton,
    SendMade,
    SendText,
    say,
)
from handlers.engine import Answer
from handlers.events import ButtonPress, Command
from tests.harness import catalogs


def test_inline_keyboard_labels_are_translated_and_plain() -> None:
    markup = Inline.of([[Button(Msg("plan.stay"), "t|s|v"), Button(Raw("A & B <Co>"), "!x|1")]])
    assert markup_json(catalogs(), "en", markup) == {
        "inline_keyboard": [
            [
                {"text": "🏠 Staying here", "callback_data": "t|s|v"},
                {"text": "A & B <Co>", "callback_data": "!x|1"},
            ]
        ]
    }


def test_reply_keyboard_and_its_removal() -> None:
    markup = Reply(((ReplyButton(Msg("enrol.share_phone"), request_contact=True),),))
    assert markup_json(catalogs(), "zh_Hans", markup) == {
        "keyboard": [[{"text": "📱 发送我的手机号", "request_contact": True}]],
        "resize_keyboard": True,
        "one_time_keyboard": False,
    }
    assert markup_json(catalogs(), "en", RemoveReply()) == {"remove_keyboard": True}


def test_user_text_is_escaped_and_messages_are_not() -> None:
    text = catalogs().render("en", Msg("checkin.line.note", note="<b>&</b>"))
    assert text == "Note: &lt;b&gt;&amp;&lt;/b&gt;"
    nested = catalogs().render(
        "en",
        Msg(
            "checkin.line.needs",
            needs=Lines((Msg("need.food"), Raw("x<y")), sep=Msg("ui.list_separator")),
        ),
    )
    assert nested == "Lacking: Food, x&lt;y"


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        self.depth -= 1


def test_long_text_is_cut_at_lines_within_the_limit() -> None:
    line = "<b>标题</b> " + "字" * 90
    text = "\n".join([line] * 200)
    parts = split_text(text)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == text
    for part in parts:
        checker = _Balance()
        checker.feed(part)
        assert checker.depth == 0


def test_a_single_huge_line_is_cut_outside_entities() -> None:
    text = "&amp;" * 2000
    parts = split_text(text)
    assert "".join(parts) == text
    assert all(p.startswith("&") and p.endswith(";") for p in parts)


class Recorder:
    """Records each call the renderer makes: (method, chat, message id, text, markup)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None, str, Markup | None]] = []

    async def send_text(self, chat_id: int, text: str, markup: Markup | None = None) -> int:
        self.calls.append(("send", chat_id, None, text, markup))
        return len(self.calls)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: Markup | None = None
    ) -> None:
        self.calls.append(("edit", chat_id, message_id, text, markup))

    async def answer_button(self, callback_id: str, text: str | None, alert: bool) -> None:
        self.calls.append(("answer", 0, None, text or "", None))


async def rendered(*actions: Action) -> list[tuple[str, int, int | None, str, Markup | None]]:
    messenger = Recorder()
    renderer = Renderer(cast(Messenger, messenger), catalogs())
    event = ButtonPress(update_id=1, user_id=7, chat_id=7, data="x", callback_id="c")
    await renderer.deliver(event, Answer("en", actions))
    return messenger.calls


KEYS = Inline.of([[Button(Msg("ui.confirm"), "ok")]])
KEYS_JSON = {"inline_keyboard": [[{"text": "✅ Confirm", "callback_data": "ok"}]]}


async def test_a_plain_notice_is_joined_to_the_question_after_it() -> None:
    calls = await rendered(AnswerButton(), say("error.internal"), SendText(Msg("ui.confirm"), KEYS))
    assert calls == [
        ("answer", 0, None, "", None),
        ("send", 7, None, f"{text('error.internal')}\n\n{text('ui.confirm')}", KEYS_JSON),
    ]


async def test_a_plain_note_after_an_edit_joins_the_edit_which_keeps_its_keys() -> None:
    calls = await rendered(EditText(5, Msg("ui.confirm"), KEYS), say("error.internal"))
    assert calls == [("edit", 7, 5, f"{text('ui.confirm')}\n\n{text('error.internal')}", KEYS_JSON)]


async def test_keys_and_the_limit_keep_messages_apart() -> None:
    keys_first = await rendered(SendText(Msg("ui.confirm"), KEYS), say("error.internal"))
    assert [c[0] for c in keys_first] == ["send", "send"]
    huge = await rendered(SendText(Raw("字" * 4000)), SendText(Raw("字" * 100)))
    assert [len(c[3]) for c in huge] == [4000, 100]


def text(key: str) -> str:
    return catalogs().render("en", Msg(key))


class Uploads(Recorder):
    """Records uploads too; the first upload may be told to wait."""

    def __init__(self, wait_first: bool = False) -> None:
        super().__init__()
        self.wait_first = wait_first

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        if self.wait_first:
            self.wait_first = False
            raise RetryAfter(0.01)
        self.calls.append(("document", chat_id, None, filename, None))
        return len(self.calls)


async def delivered(messenger: Uploads, maker: Maker) -> list[str]:
    renderer = Renderer(cast(Messenger, messenger), catalogs(), {"export": maker})
    event = Command(update_id=1, user_id=7, chat_id=7, name="export", arg="")
    await renderer.deliver(event, Answer("en", (SendMade("export", {}),)))
    return [call[3] for call in messenger.calls]


async def test_a_made_file_is_made_once_even_when_its_send_is_retried() -> None:
    made: list[int] = []

    async def maker(params: Mapping[str, str | int | bool | None], language: str) -> Made:
        made.append(1)
        return Made("export.xlsx", b"PK...")

    assert await delivered(Uploads(wait_first=True), maker) == ["export.xlsx"]
    assert len(made) == 1, "one workbook, one audit entry"


async def test_a_file_that_cannot_be_made_is_explained_in_the_persons_language() -> None:
    async def broken(params: Mapping[str, str | int | bool | None], language: str) -> Made:
        raise OSError("disk full")

    assert await delivered(Uploads(), broken) == [text("made.failed")]


async def test_a_file_over_the_upload_limit_is_not_sent_and_the_person_is_told_why() -> None:
    async def huge(params: Mapping[str, str | int | bool | None], language: str) -> Made:
        return Made("export.xlsx", bytes(UPLOAD_LIMIT + 1))

    [said] = await delivered(Uploads(), huge)
    assert "50 MB" in said and "/export" in said


class FileRecorder(Recorder):
    """Also records documents: (file name, its text, caption)."""

    def __init__(self) -> None:
        super().__init__()
        self.documents: list[tuple[str, str, str | None]] = []

    async def send_document(
        self, chat_id: int, filename: str, data: bytes, caption: str | None = None
    ) -> int:
        self.documents.append((filename, data.decode("utf-8"), caption))
        return len(self.documents)


async def test_a_long_text_with_a_file_name_goes_as_one_plain_text_file() -> None:
    messenger = FileRecorder()
    renderer = Renderer(cast(Messenger, messenger), catalogs())
    event = Command(update_id=1, user_id=7, chat_id=7, name="mydata", arg="")
    notes = Lines(tuple(Msg("checkin.line.note", note=f"第{n}条 & <记录>" * 20) for n in range(60)))
    long = Msg("stats.text", body=notes)
    short = Msg("checkin.line.note", note="短")
    await renderer.deliver(
        event, Answer("zh_Hans", (SendText(long, file_name="mydata.txt"), SendText(short)))
    )
    [(name, text, caption)] = messenger.documents
    assert name == "mydata.txt" and caption == catalogs().plain("zh_Hans", "made.long_text_as_file")
    # Plain text: no tags, no entities, every line.
    assert "第59条 & <记录>" in text and "&amp;" not in text and text.count("\n") == 59
    # The short message after it is sent as a message, not joined into the file.
    assert [call[3] for call in messenger.calls] == [catalogs().render("zh_Hans", short)]
    # Short enough, it is an ordinary message.
    messenger = FileRecorder()
    renderer = Renderer(cast(Messenger, messenger), catalogs())
    await renderer.deliver(event, Answer("zh_Hans", (SendText(short, file_name="mydata.txt"),)))
    assert messenger.documents == [] and len(messenger.calls) == 1
