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
    """A reply keyboard (needed for "share my number", which inline buttons cannot do)."""

    rows: tuple[tuple[ReplyButton, ...], ...]
    placeholder: Msg | None = None


@dataclass(frozen=True)
class RemoveReply:
    """Take a reply keyboard away."""


Markup: TypeAlias = "Inline | Reply | RemoveReply | None"


@dataclass(frozen=True)
class SendText:
    """Send a message to the chat of the event (or to `chat_id`, in `language`).

    With `file_name` (and no keys), a text too long for one message goes as that plain-text
    file instead of as several messages (what /mydata shows: one piece to keep)."""

    text: Msg | Raw
    markup: Markup = None
    chat_id: int | None = None
    language: str | None = None
    file_name: str | None = None


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
class SendMade:
    """Send a file the program makes from the database (an export, a chart), by maker name.

    Flows stay free of file formats: the bot layer has a maker for each name and sends what
    it makes, as a document or a picture.
    """

    what: str
    params: Mapping[str, str | int | bool | None]


Action: TypeAlias = (
    "SendText | EditText | EditMarkup | AnswerButton | SendDocument | SendPhoto | SendMade"
)


def say(key: str, /, markup: Markup = None, **params: Param) -> SendText:
    """The common case: send one catalog message to the current chat."""
    return SendText(Msg(key, **params), markup)
