"""Answering a worker's request (whoever handles it) and replying to an answer (the worker).

Whoever handles a request answers through the bot: the Answer button on the notification,
or /requests, starts the answer flow; the worker gets the answer and may reply or mark the
request solved.

```mermaid
stateDiagram-v2
    [*] --> answer_text
    answer_text --> answer_confirm
    answer_confirm --> [*]
```
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import validation
from handlers.access import ENROLLED, REQUEST_HANDLERS, WORKERS
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditMarkup,
    Inline,
    Msg,
    SendText,
    say,
)
from handlers.events import ButtonPress
from handlers.flow import (
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
    refuse,
)
from handlers.helpdesk import (
    card_actions,
    contact_targets,
    handled_by,
    notify,
    parse_number,
    scope_of,
    staff_targets,
    worker_markup,
)
from handlers.labels import CATEGORY_LABELS
from models import requests
from models.people import Person, Role
from models.requests import HelpRequest, Route, Side, Status


def _is_worker_of(person: Person | None, request: HelpRequest) -> bool:
    return person is not None and person.role is Role.WORKER and person.id == request.person_id


async def _answerable(ctx: Context, request_id: int) -> HelpRequest | Msg:
    """The request, if this person may write in its thread now; else why not."""
    request = await requests.get(ctx.session, request_id)
    if request is None:
        return Msg("error.stale_button")
    if not _is_worker_of(ctx.person, request) and await handled_by(ctx, request_id) is None:
        return Msg("error.not_allowed")
    if not request.is_open:
        return Msg("request.already_finished", number=request.id)
    return request


async def ask_answer(state: State, ctx: Context) -> list[Action]:
    """The answer (or the worker's reply) to type."""
    number = state.data["request_id"]
    if state.data.get("side") == Side.WORKER.value:
        return [say("request.ask_reply", number=number, max=ctx.settings.description_max_length)]
    return [say("request.ask_answer", number=number, max=ctx.settings.description_max_length)]


async def on_answer(state: State, text: str, ctx: Context) -> Outcome:
    """Keep the text."""
    parsed = validation.parse_note(text, max_len=ctx.settings.description_max_length)
    if isinstance(parsed, validation.Invalid):
        return refuse(parsed)
    state.data["text"] = parsed
    return Goto("answer_confirm")


async def ask_answer_confirm(state: State, ctx: Context) -> list[Action]:
    """The text as it will be sent; only Send sends it."""
    number, text = state.data["request_id"], state.data["text"]
    preview = (
        Msg("request.reply_preview", number=number, text=text)
        if state.data.get("side") == Side.WORKER.value
        else Msg("request.answer_preview", number=number, text=text)
    )
    return [SendText(preview, Inline.of([[Button(Msg("request.send_button"), "send")]]))]


async def on_answer_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Record the answer or reply and send it on."""
    if value != "send":
        return Reject(Msg("error.stale_button"))
    found = await _answerable(ctx, int(state.data["request_id"]))
    person = ctx.person
    if isinstance(found, Msg) or person is None:
        return Finish((SendText(found if isinstance(found, Msg) else Msg("error.not_allowed")),))
    text = state.data["text"]
    if _is_worker_of(person, found):
        return Finish(tuple(await _send_reply(ctx, found, person, text)))
    return Finish(tuple(await _send_answer(ctx, found, person, text)))


async def _send_answer(
    ctx: Context, request: HelpRequest, handler: Person, text: str
) -> list[Action]:
    await requests.add_message(ctx.session, request, handler, Side.HANDLER, text, ctx.now)
    worker = await ctx.session.get(Person, request.person_id)
    if worker is None or worker.chat_id is None or not worker.active:
        return [say("request.worker_unreachable", number=request.id)]
    by = Msg("request.by_contact") if handler.role is Role.CONTACT else Msg("request.by_staff")
    return [
        say("request.answer_sent", number=request.id),
        SendText(
            Msg(
                "request.answer_to_worker",
                number=request.id,
                category=Msg(CATEGORY_LABELS[request.category]),
                by=by,
                text=text,
            ),
            worker_markup(request.id),
            chat_id=worker.chat_id,
            language=worker.language,
        ),
    ]


async def _reply_targets(
    session: AsyncSession, request: HelpRequest
) -> list[tuple[int, str, Role]]:
    """Whoever answered last, if they still handle it; else those the request goes to."""
    if request.answered_by is not None:
        last = await session.get(Person, request.answered_by)
        scope = scope_of(last)
        if (
            last is not None
            and last.chat_id is not None
            and last.active
            and scope is not None
            and await requests.visible(session, scope, request.id) is not None
        ):
            return [(last.chat_id, last.language, last.role)]
    for_contact = request.forwarded_at is not None or (
        not request.about_wages and request.route is Route.CONTACT
    )
    for_staff = request.about_wages or request.route is Route.STAFF or request.escalated_at
    targets = await contact_targets(session, request) if for_contact else []
    if for_staff:
        targets.extend(await staff_targets(session, request))
    return targets


async def _send_reply(
    ctx: Context, request: HelpRequest, worker: Person, text: str
) -> list[Action]:
    await requests.add_message(ctx.session, request, worker, Side.WORKER, text, ctx.now)
    targets = await _reply_targets(ctx.session, request)
    sent = await notify(
        ctx.session, request, targets, N_("request.notify_reply"), ctx.now, text=text
    )
    return [say("request.reply_sent", number=request.id), *sent]


ANSWER = Flow(
    name="request_answer",
    roles=ENROLLED,
    steps=(
        Step("answer_text", ask_answer, N_("request.hint_answer"), on_text=on_answer,
             goes_to=("answer_confirm",)),
        Step("answer_confirm", ask_answer_confirm, N_("hint.press_button"),
             on_button=on_answer_confirm, ends=True),
    ),
)  # fmt: skip


async def on_answer_button(ctx: Context, args: str) -> list[Action] | Switch:
    """Answer: the request, then the answer flow (staff and the employer's contact)."""
    number = parse_number(args)
    request = await handled_by(ctx, number) if number is not None else None
    if request is None:
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if not request.is_open:
        return [AnswerButton(Msg("request.already_finished", number=request.id), alert=True)]
    data = {"request_id": request.id, "side": Side.HANDLER.value}
    return Switch(ANSWER.name, data, say=tuple(await card_actions(ctx, request)))


async def on_reply_button(ctx: Context, args: str) -> list[Action] | Switch:
    """Reply: the worker answers back."""
    number = parse_number(args)
    request = await requests.get(ctx.session, number) if number is not None else None
    if request is None or not _is_worker_of(ctx.person, request):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if not request.is_open:
        return [AnswerButton(Msg("request.already_finished", number=request.id), alert=True)]
    return Switch(ANSWER.name, {"request_id": request.id, "side": Side.WORKER.value})


async def on_solved_button(ctx: Context, args: str) -> list[Action]:
    """Solved: the worker closes the request; whoever answered last is told."""
    number = parse_number(args)
    request = await requests.get(ctx.session, number) if number is not None else None
    if request is None or not _is_worker_of(ctx.person, request):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if not request.is_open:
        return [AnswerButton(Msg("request.already_finished", number=request.id), alert=True)]
    await requests.finish(ctx.session, request, Status.SOLVED, ctx.now, None)
    actions: list[Action] = [AnswerButton(Msg("request.solved_thanks"))]
    event = ctx.event
    if isinstance(event, ButtonPress) and event.message_id is not None:
        actions.append(EditMarkup(event.message_id, None))
    actions.append(say("request.solved_done", number=request.id))
    category = Msg(CATEGORY_LABELS[request.category])
    for chat_id, language, _role in await _reply_targets(ctx.session, request):
        actions.append(
            SendText(
                Msg("request.solved_notice", number=request.id, category=category),
                chat_id=chat_id,
                language=language,
            )
        )
    return actions


BUTTONS: tuple[GlobalButton, ...] = (
    GlobalButton("rqa", on_answer_button, REQUEST_HANDLERS),
    GlobalButton("rqr", on_reply_button, WORKERS),
    GlobalButton("rqs", on_solved_button, WORKERS),
)
