"""A worker's request for help (/request): what about, what happened, a photo, who may know.

A worker picks a category, describes the problem (in writing, or as a voice message of a
few minutes at most) and may add a photo; for a wage matter they choose whether their
employer may learn who asked. Only Confirm sends it, to whoever handles
it (the rules are in handlers/helpdesk.py).

```mermaid
stateDiagram-v2
    [*] --> category
    category --> description
    description --> photo
    photo --> anonymity
    photo --> confirm
    anonymity --> confirm
    confirm --> category
    confirm --> [*]
```
"""

from __future__ import annotations

from handlers import validation
from handlers.access import WORKERS
from handlers.actions import (
    N_,
    Action,
    Button,
    Inline,
    Msg,
    SendPhoto,
    SendText,
    SendVoice,
    say,
)
from handlers.events import Media
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    Goto,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
    refuse,
)
from handlers.helpdesk import VOICE_MAX_SECONDS, open_request, voice_problem, wait_time
from handlers.labels import CATEGORY_LABELS, VOICE_LABEL
from models import requests
from models.people import Role
from models.requests import Category, Source

# Two characters: "工资没发" says it all in four; one is a slip of the thumb.
DESCRIPTION_MIN = 2
# More open requests than this from one worker is a mistake or abuse, not need.
MAX_OPEN_PER_WORKER = 10


async def request_command(ctx: Context, arg: str) -> CommandResult:
    """Start a request, unless the worker already has too many open."""
    person = ctx.person
    if person is None:
        return [say("start.no_code")]
    if await requests.count_open(ctx.session, person.id) >= MAX_OPEN_PER_WORKER:
        return [say("request.too_many_open")]
    return Switch("request")


async def ask_category(state: State, ctx: Context) -> list[Action]:
    """What the request is about."""
    buttons = [Button(Msg(label), c.value) for c, label in CATEGORY_LABELS.items()]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [SendText(Msg("request.ask_category"), Inline.of(rows))]


async def on_category(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a category."""
    if value not in set(Category):
        return Reject(Msg("error.stale_button"))
    state.data["category"] = value
    return Goto("description")


async def ask_description(state: State, ctx: Context) -> list[Action]:
    """What happened, in the worker's words or voice (what they said already kept with one
    tap)."""
    category = Msg(CATEGORY_LABELS[Category(state.data["category"])])
    question = Msg(
        "request.ask_description",
        category=category,
        min=DESCRIPTION_MIN,
        max=ctx.settings.description_max_length,
        minutes=VOICE_MAX_SECONDS // 60,
    )
    if state.data.get("voice"):
        keep = Inline.of([[Button(Msg("request.keep_voice"), "keep")]])
        return [SendText(question, keep)]
    if not state.data.get("description"):
        return [SendText(question)]
    keep = Inline.of([[Button(Msg("request.keep_description"), "keep")]])
    return [SendText(question, keep)]


async def on_keep_description(state: State, value: str, ctx: Context) -> Outcome:
    """What was said before (outside the request, or on an earlier pass), as it is."""
    if value != "keep" or not (state.data.get("description") or state.data.get("voice")):
        return Reject(Msg("error.stale_button"))
    return Goto("photo")


def parse_description(text: str, ctx: Context) -> str | Reject:
    """Free text within the length limits, without hidden control characters."""
    parsed = validation.parse_note(text, max_len=ctx.settings.description_max_length)
    if isinstance(parsed, validation.Invalid):
        return refuse(parsed)
    if len(parsed) < DESCRIPTION_MIN:
        return Reject(Msg("request.description_too_short", min=DESCRIPTION_MIN))
    return parsed


async def on_description(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a description."""
    parsed = parse_description(text, ctx)
    if isinstance(parsed, Reject):
        return parsed
    state.data["description"] = parsed
    state.data["voice"] = None
    return Goto("photo")


async def on_voice_description(state: State, event: Media, ctx: Context) -> Outcome:
    """A voice message as the description, kept as the file (within the length limit)."""
    problem = voice_problem(event)
    if problem is not None:
        return Reject(problem)
    state.data["voice"] = event.file_id
    state.data["description"] = None
    return Goto("photo")


async def ask_photo(state: State, ctx: Context) -> list[Action]:
    """A photo helps (a payslip, the dormitory); optional."""
    return [SendText(Msg("request.ask_photo"), Inline.of([[Button(Msg("ui.skip"), "skip")]]))]


def _after_photo(state: State) -> Goto:
    wages = Category(state.data["category"]) in requests.WAGE_CATEGORIES
    return Goto("anonymity" if wages else "confirm")


async def on_photo(state: State, event: Media, ctx: Context) -> Outcome:
    """Keep one photo."""
    if event.is_image_file:
        return Reject(Msg("photo.as_file"))
    if event.kind != "photo" or not event.file_id:
        return Reject(Msg("request.photo_only"))
    state.data["photo"] = event.file_id
    return _after_photo(state)


async def on_no_photo(state: State, value: str, ctx: Context) -> Outcome:
    """No photo."""
    if value != "skip":
        return Reject(Msg("error.stale_button"))
    state.data["photo"] = None
    return _after_photo(state)


async def ask_anonymity(state: State, ctx: Context) -> list[Action]:
    """Whether the employer may learn who asked about their wages."""
    return [
        SendText(
            Msg("request.ask_anonymity"),
            Inline.of(
                [
                    [Button(Msg("request.anonymity.withhold"), "withhold")],
                    [Button(Msg("request.anonymity.allow"), "allow")],
                ]
            ),
        )
    ]


async def on_anonymity(state: State, value: str, ctx: Context) -> Outcome:
    """Keep the worker's choice."""
    if value not in ("withhold", "allow"):
        return Reject(Msg("error.stale_button"))
    state.data["anonymous"] = value == "withhold"
    return Goto("confirm")


async def _who_handles(ctx: Context, category: Category, anonymous: bool) -> Msg:
    """Who will get the request, in the worker's words."""
    if category in requests.WAGE_CATEGORIES:
        return (
            Msg("request.goes_to.inspection_anonymous")
            if anonymous
            else Msg("request.goes_to.inspection")
        )
    person = ctx.person
    enterprise_id = person.enterprise_id if person is not None else None
    contacts = await requests.contacts_of(ctx.session, enterprise_id) if enterprise_id else []
    if not contacts:
        return Msg("request.goes_to.staff")
    return Msg("request.goes_to.contact", wait=wait_time(ctx.settings.request_escalate_after))


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """Everything in one message (the photo and voice above it); only Confirm sends it."""
    data = state.data
    category = Category(data["category"])
    anonymous = bool(data.get("anonymous")) and category in requests.WAGE_CATEGORIES
    actions: list[Action] = []
    if data.get("photo"):
        actions.append(SendPhoto(data["photo"]))
    if data.get("voice"):
        actions.append(SendVoice(data["voice"]))
    actions.append(
        SendText(
            Msg(
                "request.summary",
                category=Msg(CATEGORY_LABELS[category]),
                description=data.get("description") or Msg(VOICE_LABEL),
                photo=Msg("request.summary_photo") if data.get("photo") else "",
                goes_to=await _who_handles(ctx, category, anonymous),
            ),
            Inline.of([[Button(Msg("ui.confirm"), "ok"), Button(Msg("ui.edit"), "edit")]]),
        )
    )
    return actions


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Store and send the request, or start again to change it."""
    if value == "edit":
        return Goto("category")
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    worker = ctx.person
    if worker is None or worker.role is not Role.WORKER:
        return Finish((say("error.not_allowed"),))
    data = state.data
    request, sent = await open_request(
        ctx.session,
        worker,
        Category(data["category"]),
        description=data.get("description"),
        voice=data.get("voice"),
        photo=data.get("photo"),
        anonymous=bool(data.get("anonymous")),
        source=Source.REQUEST,
        now=ctx.now,
    )
    return Finish((say("request.sent", number=request.id), *sent))


REQUEST = Flow(
    name="request",
    roles=WORKERS,
    steps=(
        Step("category", ask_category, N_("hint.press_button"), on_button=on_category,
             goes_to=("description",)),
        Step("description", ask_description, N_("request.hint_description"),
             on_text=on_description, on_button=on_keep_description,
             on_media=on_voice_description, goes_to=("photo",)),
        Step("photo", ask_photo, N_("request.hint_photo"), on_media=on_photo,
             on_button=on_no_photo, goes_to=("anonymity", "confirm")),
        Step("anonymity", ask_anonymity, N_("hint.press_button"), on_button=on_anonymity,
             goes_to=("confirm",)),
        Step("confirm", ask_confirm, N_("hint.press_button"), on_button=on_confirm,
             goes_to=("category",), ends=True),
    ),
)  # fmt: skip
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("request", N_("command.request"), request_command, WORKERS),
)
