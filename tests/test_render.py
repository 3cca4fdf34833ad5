"""Rendering: keyboards as Bot API JSON, escaping, long messages cut safely."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.render import markup_json, split_text
from handlers.actions import Button, Inline, Lines, Msg, Raw, RemoveReply, Reply, ReplyButton
from tests.harness import catalogs


def test_inline_keyboard_labels_are_translated_and_plain() -> None:
    markup = Inline.of([[Button(Msg("plan.stay"), "t|s|v"), Button(Raw("A & B <Co>"), "!x|1")]])
    assert markup_json(catalogs(), "en", markup) == {
        "inline_keyboard": [
            [
                {"text": "🏠 Stay here", "callback_data": "t|s|v"},
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
