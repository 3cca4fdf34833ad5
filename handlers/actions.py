"""Outbound actions: what a flow asks to be said or done, as data; the runtime does the I/O.

Text is never a finished string here: it is a message key with parameters (`Msg`), rendered
in the reader's language at the edge. Anything a person typed travels as `Raw` and is
escaped when rendered, so it can never break the HTML parse mode.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import TypeAlias


def N_(key: str) -> str:  # noqa: N802  (the gettext convention for "mark for extraction")
    """Mark a message key for the catalogs without rendering it here."""
    return key


@dataclass(frozen=True)
class Raw:
    """Text that came from a person or the data (a name, a town): shown as is, escaped."""

    text: str


@dataclass(frozen=True)
class Lines:
    """Several pieces shown one per line (or joined by `sep`)."""

    items: tuple[Param, ...]
    sep: str | Msg = "\n"


Param: TypeAlias = "str | int | date | datetime | Msg | Raw | Lines"


@dataclass(frozen=True, init=False)
class Msg:
    """A catalog key and its named parameters; plain `str` parameters are escaped like `Raw`."""

    key: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __init__(self, key: str, /, **params: Param) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "params", MappingProxyType(dict(params)))

    def __hash__(self) -> int:
        return hash((self.key, tuple(sorted(self.params.items(), key=lambda kv: kv[0]))))

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Msg({self.key!r}{params})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msg):
            return NotImplemented
        return self.key == other.key and dict(self.params) == dict(other.params)


Label: TypeAlias = "Msg | Raw"


@dataclass(frozen=True)
class Button:
    """An inline button: `data` is the value the flow gets back (or a global "!…" datum)."""

    label: Label
    data: str = ""
    url: str | None = None


@dataclass(frozen=True)
class Inline:
    """An inline keyboard under a message."""

    rows: tuple[tuple[Button, ...], ...]

    @staticmethod
    def of(rows: Sequence[Sequence[Button]]) -> Inline:
        """Build from nested lists."""
        return Inline(tuple(tuple(row) for row in rows if row))

    def buttons(self) -> list[Button]:
        """Every button, row by row."""
        return [b for row in self.rows for b in row]


@dataclass(frozen=True)
class ReplyButton:
    """A button of the keyboard that replaces the phone's keyboard; pressing it sends its text."""

    label: Label
    request_contact: bool = False


@dataclass(frozen=True)
class Reply:
    """A reply keyboard (needed for "share my number", which inline buttons cannot do).

    A `persistent` one is a person's own keyboard (a worker's 登记去留 / 我要求助...), kept
    under every conversation; the others belong to the question that shows them.
    """

    rows: tuple[tuple[ReplyButton, ...], ...]
    placeholder: Msg | None = None
    persistent: bool = False


@dataclass(frozen=True)
class RemoveReply:
    """Take a reply keyboard away."""


Markup: TypeAlias = "Inline | Reply | RemoveReply | None"


@dataclass(frozen=True)
class SendText:
    """Send a message to the chat of the event.

    With `file_name` (and no keys), a text too long for one message goes as that plain-text
    file instead of as several messages (what /mydata shows: one piece to keep)."""

    text: Msg | Raw
    markup: Markup = None
    file_name: str | None = None


@dataclass(frozen=True)
class Tell:
    """Say something to other people: written to the outbox in the event's transaction and
    sent by the sender, each person reached on their own channel, in their own language.

    `purpose` is one of models.outbox.Purpose's values (what the message is for).
    """

    to: tuple[int, ...]
    text: Msg
    purpose: str
    markup: Inline | None = None


@dataclass(frozen=True)
class EditText:
    """Replace the text (and inline keyboard) of one of the bot's messages in this chat."""

    message_id: int
    text: Msg | Raw
    markup: Inline | None = None


@dataclass(frozen=True)
class EditMarkup:
    """Replace only the inline keyboard of one of the bot's messages (None removes it)."""

    message_id: int
    markup: Inline | None = None


@dataclass(frozen=True)
class AnswerButton:
    """Stop the button's spinner, optionally with a toast or an alert."""

    text: Msg | None = None
    alert: bool = False


@dataclass(frozen=True)
class SendDocument:
    """Send a file: bytes to upload under `filename`, or a Telegram file id to reuse."""

    filename: str
    data: bytes | str
    caption: Msg | Raw | None = None


@dataclass(frozen=True)
class SendPhoto:
    """Send a picture: bytes to upload, or a Telegram file id to reuse."""

    photo: bytes | str
    caption: Msg | Raw | None = None
    markup: Inline | None = None


@dataclass(frozen=True)
class SendVoice:
    """Send a voice message a person recorded, by the file reference the flows keep."""

    voice: str
    caption: Msg | Raw | None = None


@dataclass(frozen=True)
class SendMade:
    """Send a file the program makes from the database (an export, a chart), by maker name.

    Flows stay free of file formats: the bot layer has a maker for each name and sends what
    it makes, as a document or a picture.
    """

    what: str
    params: Mapping[str, str | int | bool | None]


@dataclass(frozen=True)
class SetMenu:
    """Set the command menu of this chat: each command with its description's key, described
    in the reader's language. Said when a person's role is set in their own conversation."""

    commands: tuple[tuple[str, str], ...]


Action: TypeAlias = (
    "SendText | EditText | EditMarkup | AnswerButton | SendDocument | SendPhoto | SendVoice"
    " | SendMade | Tell | SetMenu"
)


def say(key: str, /, markup: Markup = None, **params: Param) -> SendText:
    """The common case: send one catalog message to the current chat."""
    return SendText(Msg(key, **params), markup)


# Messages as data in the outbox: what is said to someone else is stored, then rendered in
# their language when the sender sends it.

JSONValue: TypeAlias = "dict[str, JSONValue] | list[JSONValue] | str | int | float | bool | None"


def text_to_json(text: Param) -> JSONValue:
    """A message, or one of its parameters, as JSON (read back by `text_from_json`)."""
    if isinstance(text, Msg):
        return {"msg": text.key, "params": {k: text_to_json(v) for k, v in text.params.items()}}
    if isinstance(text, Raw):
        return {"raw": text.text}
    if isinstance(text, Lines):
        return {"lines": [text_to_json(i) for i in text.items], "sep": text_to_json(text.sep)}
    if isinstance(text, datetime):
        return {"datetime": text.isoformat()}
    if isinstance(text, date):
        return {"date": text.isoformat()}
    return text


def text_from_json(data: JSONValue) -> Param:
    """A message or parameter stored by `text_to_json`."""
    if isinstance(data, dict):
        if "msg" in data:
            params = data.get("params")
            assert isinstance(params, dict)
            return Msg(str(data["msg"]), **{k: text_from_json(v) for k, v in params.items()})
        if "raw" in data:
            return Raw(str(data["raw"]))
        if "lines" in data:
            items = data["lines"]
            assert isinstance(items, list)
            sep = text_from_json(data.get("sep", "\n"))
            assert isinstance(sep, str | Msg)
            return Lines(tuple(text_from_json(i) for i in items), sep)
        if "datetime" in data:
            return datetime.fromisoformat(str(data["datetime"]))
        if "date" in data:
            return date.fromisoformat(str(data["date"]))
    if isinstance(data, str | int) and not isinstance(data, bool):
        return data
    raise ValueError(f"not a stored message: {data!r}")


def inline_to_json(markup: Inline | None) -> JSONValue:
    """An inline keyboard as JSON (labels stay keys, translated when sent)."""
    if markup is None:
        return None
    return [
        [{"label": text_to_json(b.label), "data": b.data, "url": b.url} for b in row]
        for row in markup.rows
    ]


def inline_from_json(data: JSONValue) -> Inline | None:
    """An inline keyboard stored by `inline_to_json`."""
    if data is None:
        return None
    assert isinstance(data, list)
    rows: list[list[Button]] = []
    for row in data:
        assert isinstance(row, list)
        buttons: list[Button] = []
        for item in row:
            assert isinstance(item, dict)
            label = text_from_json(item["label"])
            assert isinstance(label, Msg | Raw)
            url = item.get("url")
            buttons.append(Button(label, str(item.get("data") or ""), str(url) if url else None))
        rows.append(buttons)
    return Inline.of(rows)
