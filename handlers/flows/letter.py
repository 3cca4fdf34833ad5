"""The open letter to workers: its text, the "I have read it" button, and staff's /letter.

The letter lives in the catalogs (`letter.body`, in each reader's language); staff may
replace it for one language, and the replacement is what everyone reading that language
gets from then on. It goes to all workers on the publicity date and to each new worker at
enrolment.

```mermaid
stateDiagram-v2
    [*] --> letter_language
    letter_language --> letter_text
    letter_text --> letter_confirm
    letter_confirm --> [*]
```
"""

from __future__ import annotations

from collections.abc import Sequence

from handlers import validation
from handlers.access import DISTRICT_STAFF, ENROLLED, STAFF_ROLES, own_town
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditMarkup,
    Inline,
    Lines,
    Msg,
    Raw,
    SendText,
    say,
)
from handlers.content import read_markup
from handlers.events import ButtonPress
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    GlobalButton,
    Goto,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
    global_data,
    refuse,
)
from handlers.labels import LANGUAGE_NAMES
from handlers.outbox import Letter, post
from handlers.picture import percent, read_lines
from models import broadcasts
from models.broadcasts import Audience, Purpose, Share
from models.people import CHANNELS

LETTER_LIMIT = 4096
SHARES_SHOWN = 10


async def on_read(ctx: Context, args: str) -> list[Action]:
    """ "I have read it": remember it once, and show it on the button."""
    person = ctx.person
    event = ctx.event
    if person is None or not args.isdigit():
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    await broadcasts.mark_read(ctx.session, person.id, ctx.now)
    actions: list[Action] = [AnswerButton(Msg("letter.thanks"))]
    if isinstance(event, ButtonPress) and event.message_id is not None:
        actions.append(EditMarkup(event.message_id, read_markup(int(args), done=True)))
    return actions


# /letter for staff --------------------------------------------------------------------------


def _share_lines(shares: Sequence[broadcasts.ReadShare]) -> Lines:
    return Lines(
        tuple(
            Msg(
                "letter.share_line",
                name=share.name,
                read=share.read,
                workers=share.workers,
                percent=percent(share.read, share.workers),
            )
            for share in shares[:SHARES_SHOWN]
        )
    )


async def letter_command(ctx: Context, arg: str) -> CommandResult:
    """Who has read the letter, by town and enterprise; replace it or send it again."""
    person = ctx.person
    town = own_town(ctx)
    towns = await broadcasts.read_shares(ctx.session, by_enterprise=False, town_id=town)
    enterprises = await broadcasts.read_shares(ctx.session, by_enterprise=True, town_id=town)
    workers = sum(s.workers for s in towns)
    read = sum(s.read for s in towns)
    channels = {
        channel: Share(
            sum(s.by_channel[channel].workers for s in towns),
            sum(s.by_channel[channel].read for s in towns),
        )
        for channel in CHANNELS
    }
    text = Msg(
        "letter.status",
        read=read,
        workers=workers,
        percent=percent(read, workers),
        channels=read_lines(channels),
        towns=_share_lines(towns),
        enterprises=_share_lines(enterprises),
    )
    if person is None or person.role not in DISTRICT_STAFF:
        return [SendText(text)]
    buttons = Inline.of([[Button(Msg("letter.send_all"), global_data("letter", "send"))]])
    return [SendText(text, buttons), say("letter.how_to_replace")]


async def on_letter_button(ctx: Context, args: str) -> list[Action]:
    """Send the letter to every worker now."""
    person = ctx.person
    if person is None or person.role not in DISTRICT_STAFF:
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if args != "send":
        return [AnswerButton(Msg("error.stale_button"), alert=True)]
    broadcast = await post(
        ctx.session,
        Letter(),
        Audience(),
        Purpose.LETTER,
        ctx.now,
        created_by=person.id,
        report_progress=True,
    )
    return [AnswerButton(), say("letter.sending", number=broadcast.id)]


async def replace_command(ctx: Context, arg: str) -> CommandResult:
    """Start replacing the letter's text."""
    return Switch("letter")


async def ask_language(state: State, ctx: Context) -> list[Action]:
    """Which language's letter to replace."""
    rows = [[Button(Msg(label), code)] for code, label in LANGUAGE_NAMES.items()]
    return [SendText(Msg("letter.ask_language"), Inline.of(rows))]


async def on_language(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a language."""
    if value not in LANGUAGE_NAMES:
        return Reject(Msg("error.stale_button"))
    state.data["language"] = value
    return Goto("letter_text")


async def ask_text(state: State, ctx: Context) -> list[Action]:
    """The new text."""
    return [say("letter.ask_text", max=LETTER_LIMIT)]


async def on_text(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a text within Telegram's length."""
    body = validation.parse_message_text(text, max_len=LETTER_LIMIT)
    if isinstance(body, validation.Invalid):
        return refuse(body)
    state.data["text"] = body
    return Goto("letter_confirm")


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """The letter as readers will see it; only Confirm stores it."""
    return [
        say("letter.preview_intro", language=Msg(LANGUAGE_NAMES[state.data["language"]])),
        SendText(Raw(state.data["text"]), read_markup(0)),
        SendText(Msg("letter.ask_confirm"), Inline.of([[Button(Msg("ui.confirm"), "ok")]])),
    ]


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Store the replacement."""
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    person = ctx.person
    await broadcasts.replace_letter(
        ctx.session,
        state.data["language"],
        state.data["text"],
        person.id if person else None,
        ctx.now,
    )
    return Finish((say("letter.replaced"),))


LETTER = Flow(
    name="letter",
    roles=DISTRICT_STAFF,
    steps=(
        Step("letter_language", ask_language, N_("hint.press_button"), on_button=on_language,
             goes_to=("letter_text",)),
        Step("letter_text", ask_text, N_("letter.hint_text"), on_text=on_text,
             goes_to=("letter_confirm",)),
        Step("letter_confirm", ask_confirm, N_("hint.press_button"), on_button=on_confirm,
             ends=True),
    ),
)  # fmt: skip

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "letter", N_("command.letter"), letter_command, STAFF_ROLES, keeps_conversation=True
    ),
    CommandSpec("replaceletter", N_("command.replaceletter"), replace_command, DISTRICT_STAFF),
)
BUTTONS: tuple[GlobalButton, ...] = (
    GlobalButton("read", on_read, ENROLLED),
    GlobalButton("letter", on_letter_button, DISTRICT_STAFF),
)
