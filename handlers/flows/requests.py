"""Workers' requests for help (/request), answering them, and the open requests (/requests).

A worker picks a category, describes the problem and may add a photo. Wage matters (wages
unpaid or late, the holiday overtime subsidy) go to the district's labour inspection staff
(to all district staff while none can be reached), and the worker may ask that their
employer not be told who asked: the employer's contact then never sees who it was, not even
if staff pass the request on (the worker is told when they do). Everything else goes to the
employer's contact, and to staff as well when the contact has not answered within
`request_escalate_after` (`escalate_due`, run by the scheduler). A need ticked in a check-in
opens a request on its own (`from_checkin`), never a second open one for the same need; the
check-in's note goes only with a wage request, and the employer's contact never reads it.

Whoever handles a request answers through the bot: the Answer button on the notification,
or /requests, starts the answer flow; the worker gets the answer and may reply or mark the
request solved. Staff list open requests, oldest first, by category, town and enterprise.

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

```mermaid
stateDiagram-v2
    [*] --> answer_text
    answer_text --> answer_confirm
    answer_confirm --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> open_list
    open_list --> by_category
    open_list --> by_town
    open_list --> by_enterprise
    open_list --> request_card
    by_category --> open_list
    by_town --> open_list
    by_enterprise --> open_list
    request_card --> open_list
    request_card --> [*]
```
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import validation
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    EditMarkup,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    SendPhoto,
    SendText,
    say,
)
from handlers.events import ButtonPress, Media
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    FlowSettings,
    GlobalButton,
    Goto,
    Outcome,
    Reject,
    State,
    Stay,
    Step,
    Switch,
    global_data,
    refuse,
)
from handlers.flows.roles import ROLE_NAMES
from handlers.phone import phone_for
from models import organisation, people, requests
from models.checkins import CheckIn
from models.people import Person, Role
from models.requests import (
    Category,
    Filter,
    HelpRequest,
    Route,
    Scope,
    Side,
    Source,
    Status,
)

log = logging.getLogger(__name__)

WORKERS: frozenset[Role | None] = frozenset({Role.WORKER})
HANDLERS: frozenset[Role | None] = frozenset(
    {Role.CONTACT, Role.STAFF, Role.ADMIN, Role.TOWN_OFFICER}
)
STAFF: frozenset[Role | None] = frozenset({Role.STAFF, Role.ADMIN, Role.TOWN_OFFICER})
DISTRICT_STAFF: frozenset[Role | None] = frozenset({Role.STAFF, Role.ADMIN})
EVERYONE_ENROLLED: frozenset[Role | None] = frozenset(Role)
# Two characters: "工资没发" says it all in four; one is a slip of the thumb.
DESCRIPTION_MIN = 2
# More open requests than this from one worker is a mistake or abuse, not need.
MAX_OPEN_PER_WORKER = 10
SHOWN = 10
MATCHES_SHOWN = 20

CATEGORY_LABELS: dict[Category, str] = {
    Category.WAGES: N_("request.category.wages"),
    Category.OVERTIME: N_("request.category.overtime"),
    Category.HEATING: N_("request.category.heating"),
    Category.FOOD: N_("request.category.food"),
    Category.HOUSING: N_("request.category.housing"),
    Category.TRANSPORT: N_("request.category.transport"),
    Category.HEALTH: N_("request.category.health"),
    Category.OTHER: N_("request.category.other"),
}
STATUS_LABELS: dict[Status, str] = {
    Status.OPEN: N_("request.status.open"),
    Status.ANSWERED: N_("request.status.answered"),
    Status.SOLVED: N_("request.status.solved"),
    Status.CLOSED: N_("request.status.closed"),
}


# Who may see and handle what (asked again on every button) ------------------------------


def scope_of(person: Person | None) -> Scope | None:
    """The requests this person handles; None for someone who handles none."""
    if person is None:
        return None
    if person.role in (Role.STAFF, Role.ADMIN):
        return requests.staff_scope(None)
    if person.role is Role.TOWN_OFFICER and person.town_id is not None:
        return requests.staff_scope(person.town_id)
    if person.role is Role.CONTACT and person.enterprise_id is not None:
        return Scope(enterprise_id=person.enterprise_id, wages="forwarded")
    return None


async def handled_by(ctx: Context, request_id: int) -> HelpRequest | None:
    """The request, if the person may handle it."""
    scope = scope_of(ctx.person)
    if scope is None:
        return None
    return await requests.visible(ctx.session, scope, request_id)


def shows_identity(viewer: Role | None, request: HelpRequest) -> bool:
    """Whether this reader learns who asked: never the employer's contact, if so asked."""
    return not (viewer is Role.CONTACT and request.anonymous)


def shows_description(viewer: Role | None, request: HelpRequest) -> bool:
    """Whether this reader gets what the worker wrote: a check-in's note, written about every
    need at once and without saying who may read it, is for staff only, never the employer."""
    return not (viewer is Role.CONTACT and request.source is Source.CHECKIN)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


# Describing a request ------------------------------------------------------------------------


def age(since: datetime, now: datetime) -> Msg:
    """How long something has waited, in hours or days."""
    hours = max(0, int((now - since).total_seconds() // 3600))
    if hours < 24:
        return Msg("requests.age_hours", hours=hours)
    return Msg("requests.age_days", days=hours // 24)


def wait_time(wait: timedelta) -> Msg:
    """A configured wait as people say it: minutes under an hour, else hours to one decimal."""
    minutes = max(1, round(wait.total_seconds() / 60))
    if minutes < 60:
        return Msg("request.wait.minutes", minutes=minutes)
    return Msg("request.wait.hours", hours=f"{minutes / 60:.1f}".removesuffix(".0"))


def who(worker: Person | None, request: HelpRequest, viewer: Role | None) -> Msg:
    """Who asked, as this reader may know it."""
    if not shows_identity(viewer, request):
        return Msg("request.who_withheld")
    if worker is None or worker.erased_at is not None:
        return Msg("request.who_erased")
    return Msg(
        "request.who",
        name=worker.full_name or "-",
        phone=phone_for(worker.phone, viewer) or "-",
    )


def route_line(request: HelpRequest) -> Msg:
    """Who handles the request."""
    if request.about_wages:
        if request.forwarded_at is not None:
            return Msg("request.route.forwarded", at=request.forwarded_at)
        return Msg("request.route.inspection")
    if request.route is Route.STAFF:
        return Msg("request.route.staff")
    if request.escalated_at is not None:
        return Msg("request.route.escalated", at=request.escalated_at)
    return Msg("request.route.contact")


async def card(
    session: AsyncSession, request: HelpRequest, viewer: Role | None, now: datetime
) -> Lines:
    """The whole request as someone who handles it reads it."""
    worker = await session.get(Person, request.person_id)
    enterprise, town = await requests.names(session, request)
    lines: list[Param] = [
        Msg(
            "request.card.head",
            number=request.id,
            category=Msg(CATEGORY_LABELS[request.category]),
            status=Msg(STATUS_LABELS[request.status]),
        ),
        Msg("request.card.from", who=who(worker, request, viewer)),
        Msg("request.card.employer", enterprise=enterprise, town=town or "-")
        if enterprise
        else Msg("request.card.no_employer"),
        Msg("request.card.made", at=request.created_at, age=age(request.waiting_since, now)),
        route_line(request),
    ]
    if request.anonymous:
        lines.append(Msg("request.card.anonymous"))
    if request.description and shows_description(viewer, request):
        lines.append(Msg("request.card.description", text=request.description))
    elif request.source is Source.CHECKIN:
        lines.append(Msg("request.card.from_checkin"))
    # A photo can show who took it: a reader who may not know who asked does not get it.
    if request.photo_file_id and shows_identity(viewer, request):
        lines.append(Msg("request.card.photo"))
    thread = await requests.thread(session, request.id)
    authors = await requests.people_by_id(
        session, [m.author_id for m in thread if m.author_id is not None]
    )
    for message in thread:
        text: Param = message.text if message.text is not None else Msg("request.card.erased")
        if message.side is Side.WORKER:
            lines.append(Msg("request.card.reply", at=message.created_at, text=text))
            continue
        author = authors.get(message.author_id) if message.author_id is not None else None
        role = Msg(ROLE_NAMES[author.role]) if author is not None else Msg("request.card.someone")
        lines.append(Msg("request.card.answer", at=message.created_at, by=role, text=text))
    return Lines(tuple(lines))


def answer_markup(request_id: int) -> Inline:
    """The Answer button under a notification to whoever handles the request."""
    return Inline.of([[Button(Msg("request.answer_button"), global_data("rqa", request_id))]])


def worker_markup(request_id: int) -> Inline:
    """Reply and Solved under an answer the worker gets."""
    return Inline.of(
        [
            [
                Button(Msg("request.reply_button"), global_data("rqr", request_id)),
                Button(Msg("request.solved_button"), global_data("rqs", request_id)),
            ]
        ]
    )


# Routing and notifying ----------------------------------------------------------------------


async def _town_of(session: AsyncSession, request: HelpRequest) -> int | None:
    if request.enterprise_id is None:
        return None
    enterprise = await organisation.get_enterprise(session, request.enterprise_id)
    return enterprise.town_id if enterprise is not None else None


async def _staff_targets(
    session: AsyncSession, request: HelpRequest
) -> list[tuple[int, str, Role]]:
    """Labour inspection for wages (all district staff while none can be reached, so that
    nothing is lost); staff and the town's officers else."""
    if request.about_wages:
        chats = await people.labour_inspection_chats(session) or await people.staff_chats(session)
        return [(chat, language, Role.STAFF) for chat, language in chats]
    town = await _town_of(session, request)
    found = await people.staff_chats(session, town)
    return [(chat, language, Role.STAFF) for chat, language in found]


async def _contact_targets(
    session: AsyncSession, request: HelpRequest
) -> list[tuple[int, str, Role]]:
    if request.enterprise_id is None:
        return []
    contacts = await requests.contacts_of(session, request.enterprise_id)
    return [(p.chat_id, p.language, Role.CONTACT) for p in contacts if p.chat_id is not None]


async def tell_worker(session: AsyncSession, request: HelpRequest, key: str) -> list[SendText]:
    """The news `key` (marked N_ by the caller) about the request, with its number and
    category, to the worker in their language; nothing if the bot cannot reach them."""
    worker = await session.get(Person, request.person_id)
    if worker is None or worker.chat_id is None or not worker.active:
        return []
    text = Msg(key, number=request.id, category=Msg(CATEGORY_LABELS[request.category]))
    return [SendText(text, chat_id=worker.chat_id, language=worker.language)]


async def notify(
    session: AsyncSession,
    request: HelpRequest,
    targets: Sequence[tuple[int, str, Role]],
    key: str,
    now: datetime,
    **params: Param,
) -> list[SendText]:
    """The request's card, introduced by `key` (marked N_ by the caller), to each target in
    their language, with the Answer button; each reader sees only what their role may."""
    cards: dict[Role, Lines] = {}
    sent: list[SendText] = []
    seen: set[int] = set()
    for chat_id, language, role in targets:
        if chat_id in seen:
            continue
        seen.add(chat_id)
        if role not in cards:
            cards[role] = await card(session, request, role, now)
        sent.append(
            SendText(
                Msg(key, card=cards[role], **params),
                answer_markup(request.id),
                chat_id=chat_id,
                language=language,
            )
        )
    return sent


async def _route_new(
    session: AsyncSession, request: HelpRequest, now: datetime
) -> list[tuple[int, str, Role]]:
    """Decide who handles a new request (stored on it) and return who to tell."""
    if request.about_wages:
        request.route = Route.STAFF
        return await _staff_targets(session, request)
    contacts = await _contact_targets(session, request)
    if contacts:
        request.route = Route.CONTACT
        return contacts
    # No contact to ask: staff handle it from the start.
    request.route = Route.STAFF
    return await _staff_targets(session, request)


async def open_request(
    session: AsyncSession,
    worker: Person,
    category: Category,
    *,
    description: str | None,
    photo: str | None,
    anonymous: bool,
    source: Source,
    now: datetime,
) -> tuple[HelpRequest, list[SendText]]:
    """Store a new request, routed, and the notifications to whoever handles it."""
    request = HelpRequest(
        person_id=worker.id,
        enterprise_id=worker.enterprise_id,
        category=category,
        description=description,
        photo_file_id=photo,
        anonymous=anonymous and category in requests.WAGE_CATEGORIES,
        source=source,
        route=Route.CONTACT,
        status=Status.OPEN,
        created_at=now,
        waiting_since=now,
    )
    targets = await _route_new(session, request, now)
    await requests.add(session, request)
    log.info("request %s (%s) opened, route %s", request.id, category.value, request.route.value)
    return request, await notify(session, request, targets, N_("request.notify_new"), now)


async def from_checkin(ctx: Context, checkin: CheckIn) -> list[Action]:
    """Open a request for every need ticked in a confirmed check-in that has none open."""
    worker = ctx.person
    if worker is None or not checkin.needs:
        return []
    already = await requests.open_categories(ctx.session, worker.id)
    opened: list[Category] = []
    actions: list[Action] = []
    for need in checkin.needs:
        category = Category(need)
        if category in already:
            continue
        # The worker was asked neither who may know nor what to tell whom: a wage matter goes
        # to staff alone and keeps their name from the employer, and only such a request
        # carries the note (about all their needs, wages perhaps among them).
        staff_only = category in requests.WAGE_CATEGORIES
        _, sent = await open_request(
            ctx.session,
            worker,
            category,
            description=checkin.note if staff_only else None,
            photo=None,
            anonymous=staff_only,
            source=Source.CHECKIN,
            now=ctx.now,
        )
        opened.append(category)
        actions.extend(sent)
    if opened:
        labels = tuple(Msg(CATEGORY_LABELS[c]) for c in opened)
        wages = any(c in requests.WAGE_CATEGORIES for c in opened)
        actions.insert(
            0,
            say(
                "request.opened_from_checkin",
                categories=Lines(labels, sep=Msg("ui.list_separator")),
                wages=Msg("request.opened_wages_note") if wages else "",
            ),
        )
    return actions


async def escalate_due(
    session: AsyncSession, now: datetime, settings: FlowSettings
) -> list[SendText]:
    """Pass every request its contact left unanswered too long on to staff; the messages."""
    due = await requests.due_for_escalation(session, now - settings.request_escalate_after)
    wait = wait_time(settings.request_escalate_after)
    sent: list[SendText] = []
    for request in due:
        request.escalated_at = now
        targets = await _staff_targets(session, request)
        sent.extend(
            await notify(session, request, targets, N_("request.notify_escalated"), now, wait=wait)
        )
        sent.extend(await tell_worker(session, request, N_("request.escalated_to_worker")))
        log.info("request %s escalated to staff", request.id)
    await session.flush()
    return sent


# /request: the worker's request ---------------------------------------------------------


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
    """What happened, in the worker's words."""
    category = Msg(CATEGORY_LABELS[Category(state.data["category"])])
    return [
        say(
            "request.ask_description",
            category=category,
            min=DESCRIPTION_MIN,
            max=ctx.settings.description_max_length,
        )
    ]


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
    """Everything in one message (the photo above it); only Confirm sends it."""
    data = state.data
    category = Category(data["category"])
    anonymous = bool(data.get("anonymous")) and category in requests.WAGE_CATEGORIES
    actions: list[Action] = []
    if data.get("photo"):
        actions.append(SendPhoto(data["photo"]))
    actions.append(
        SendText(
            Msg(
                "request.summary",
                category=Msg(CATEGORY_LABELS[category]),
                description=data["description"],
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
        description=data["description"],
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
             on_text=on_description, goes_to=("photo",)),
        Step("photo", ask_photo, N_("request.hint_photo"), on_media=on_photo,
             on_button=on_no_photo, goes_to=("anonymity", "confirm")),
        Step("anonymity", ask_anonymity, N_("hint.press_button"), on_button=on_anonymity,
             goes_to=("confirm",)),
        Step("confirm", ask_confirm, N_("hint.press_button"), on_button=on_confirm,
             goes_to=("category",), ends=True),
    ),
)  # fmt: skip


# Answering (whoever handles it) and replying (the worker) ----------------------------------


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
    targets = await _contact_targets(session, request) if for_contact else []
    if for_staff:
        targets.extend(await _staff_targets(session, request))
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
    roles=EVERYONE_ENROLLED,
    steps=(
        Step("answer_text", ask_answer, N_("request.hint_answer"), on_text=on_answer,
             goes_to=("answer_confirm",)),
        Step("answer_confirm", ask_answer_confirm, N_("hint.press_button"),
             on_button=on_answer_confirm, ends=True),
    ),
)  # fmt: skip


async def _card_actions(ctx: Context, request: HelpRequest) -> list[Action]:
    """The request's photo (if this reader may see it) and card, to the current chat."""
    role = ctx.person.role if ctx.person else None
    actions: list[Action] = []
    if request.photo_file_id and shows_identity(role, request):
        actions.append(SendPhoto(request.photo_file_id))
    lines = await card(ctx.session, request, role, ctx.now)
    actions.append(SendText(Msg("request.card", card=lines)))
    return actions


async def on_answer_button(ctx: Context, args: str) -> list[Action] | Switch:
    """Answer: the request, then the answer flow (staff and the employer's contact)."""
    number = _number(args)
    request = await handled_by(ctx, number) if number is not None else None
    if request is None:
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if not request.is_open:
        return [AnswerButton(Msg("request.already_finished", number=request.id), alert=True)]
    data = {"request_id": request.id, "side": Side.HANDLER.value}
    return Switch(ANSWER.name, data, say=tuple(await _card_actions(ctx, request)))


async def on_reply_button(ctx: Context, args: str) -> list[Action] | Switch:
    """Reply: the worker answers back."""
    number = _number(args)
    request = await requests.get(ctx.session, number) if number is not None else None
    if request is None or not _is_worker_of(ctx.person, request):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    if not request.is_open:
        return [AnswerButton(Msg("request.already_finished", number=request.id), alert=True)]
    return Switch(ANSWER.name, {"request_id": request.id, "side": Side.WORKER.value})


async def on_solved_button(ctx: Context, args: str) -> list[Action]:
    """Solved: the worker closes the request; whoever answered last is told."""
    number = _number(args)
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


async def _forward(ctx: Context, request: HelpRequest) -> list[Action] | Msg:
    """Pass a wage request on to the employer's contact (who asked stays hidden if asked);
    the worker is told, so that an answer from their employer comes as no surprise."""
    if not request.about_wages or request.forwarded_at is not None or not request.is_open:
        return Msg("error.stale_button")
    contacts = await _contact_targets(ctx.session, request)
    if not contacts:
        return Msg("request.no_contact")
    request.forwarded_at = ctx.now
    await ctx.session.flush()
    log.info("wage request %s passed on to the employer's contact", request.id)
    sent = await notify(ctx.session, request, contacts, N_("request.notify_forwarded"), ctx.now)
    news = (
        N_("request.forwarded_to_worker_anonymous")
        if request.anonymous
        else N_("request.forwarded_to_worker_named")
    )
    told = await tell_worker(ctx.session, request, news)
    return [say("request.forwarded", number=request.id), *sent, *told]


async def _close(ctx: Context, request: HelpRequest) -> list[Action] | Msg:
    """Staff close an open request; the worker is told."""
    if not request.is_open:
        return Msg("request.already_finished", number=request.id)
    closer = ctx.person.id if ctx.person is not None else None
    await requests.finish(ctx.session, request, Status.CLOSED, ctx.now, closer)
    told = await tell_worker(ctx.session, request, N_("request.closed_notice"))
    return [say("request.closed", number=request.id), *told]


# /requests: the open requests ---------------------------------------------------------------


def _is_staff(ctx: Context) -> bool:
    return ctx.person is not None and ctx.person.role in STAFF


def _is_district_staff(ctx: Context) -> bool:
    return ctx.person is not None and ctx.person.role in DISTRICT_STAFF


async def requests_command(ctx: Context, arg: str) -> CommandResult:
    """The open requests this person handles."""
    if scope_of(ctx.person) is None:
        return [say("requests.no_scope")]
    return Switch("requests")


def _filter(data: dict[str, Any]) -> Filter:
    category = data.get("category")
    return Filter(
        category=Category(category) if category else None,
        town_id=data.get("town_id"),
        enterprise_id=data.get("enterprise_id"),
    )


def _describe_filter(data: dict[str, Any]) -> Msg:
    parts: list[Param] = []
    if data.get("category"):
        parts.append(Msg(CATEGORY_LABELS[Category(data["category"])]))
    if data.get("town_name"):
        parts.append(Msg("requests.filter.town", town=data["town_name"]))
    if data.get("enterprise_name"):
        parts.append(Msg("requests.filter.enterprise", enterprise=data["enterprise_name"]))
    if not parts:
        return Msg("requests.filter.all")
    return Msg("requests.filter.some", parts=Lines(tuple(parts), sep=" · "))


async def ask_list(state: State, ctx: Context) -> list[Action]:
    """The oldest open requests first, with ways to narrow the list down."""
    scope = scope_of(ctx.person) or Scope(enterprise_id=-1)
    listed, total = await requests.list_open(ctx.session, scope, _filter(state.data), SHOWN)
    lines = tuple(
        Msg(
            "requests.line",
            number=item.request.id,
            category=Msg(CATEGORY_LABELS[item.request.category]),
            enterprise=item.enterprise or "-",
            town=item.town or "-",
            age=age(item.request.waiting_since, ctx.now),
            status=Msg(STATUS_LABELS[item.request.status]),
        )
        for item in listed
    )
    rows: list[list[Button]] = [
        [
            Button(
                Msg(
                    "requests.open_button",
                    number=item.request.id,
                    category=Msg(CATEGORY_LABELS[item.request.category]),
                    age=age(item.request.waiting_since, ctx.now),
                ),
                f"r:{item.request.id}",
            )
        ]
        for item in listed
    ]
    if _is_staff(ctx):
        filters = [Button(Msg("requests.by_category"), "cat")]
        if _is_district_staff(ctx):
            filters.append(Button(Msg("requests.by_town"), "town"))
        filters.append(Button(Msg("requests.by_enterprise"), "ent"))
        rows.append(filters)
        if _filter(state.data) != Filter():
            rows.append([Button(Msg("requests.all"), "all")])
    text = (
        Msg(
            "requests.list",
            filter=_describe_filter(state.data),
            total=total,
            shown=len(listed),
            lines=Lines(lines),
        )
        if listed
        else Msg("requests.none", filter=_describe_filter(state.data))
    )
    return [SendText(text, Inline.of(rows))]


async def on_list(state: State, value: str, ctx: Context) -> Outcome:
    """Open a request, or narrow the list down."""
    if value.startswith("r:"):
        number = _number(value[2:])
        request = await handled_by(ctx, number) if number is not None else None
        if request is None:
            return Reject(Msg("error.stale_button"))
        state.data["request_id"] = request.id
        return Goto("request_card")
    staff = _is_staff(ctx)
    if value == "cat" and staff:
        return Goto("by_category")
    if value == "town" and _is_district_staff(ctx):
        return Goto("by_town")
    if value == "ent" and staff:
        return Goto("by_enterprise")
    if value == "all" and staff:
        for key in ("category", "town_id", "town_name", "enterprise_id", "enterprise_name"):
            state.data.pop(key, None)
        return Stay()
    return Reject(Msg("error.stale_button"))


async def ask_by_category(state: State, ctx: Context) -> list[Action]:
    """Categories with how many open requests each has."""
    scope = scope_of(ctx.person) or Scope(enterprise_id=-1)
    counts = await requests.open_by_category(ctx.session, scope)
    buttons = [
        Button(Msg("requests.count_label", label=Msg(label), count=counts.get(c, 0)), f"c:{c}")
        for c, label in CATEGORY_LABELS.items()
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [SendText(Msg("requests.ask_category"), Inline.of(rows))]


async def on_by_category(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a category."""
    category = value.removeprefix("c:")
    if not value.startswith("c:") or category not in set(Category):
        return Reject(Msg("error.stale_button"))
    state.data["category"] = category
    return Goto("open_list")


async def ask_by_town(state: State, ctx: Context) -> list[Action]:
    """Towns with open requests, and how many."""
    scope = scope_of(ctx.person) or Scope(enterprise_id=-1)
    towns = await requests.open_by_town(ctx.session, scope)
    if not towns:
        return [say("requests.no_towns")]
    buttons = [
        Button(Msg("requests.count_label", label=Raw(name), count=count), f"t:{town_id}")
        for town_id, name, count in towns
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return [SendText(Msg("requests.ask_town"), Inline.of(rows))]


async def on_by_town(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a town (district staff only)."""
    number = _number(value.removeprefix("t:")) if value.startswith("t:") else None
    town = await organisation.get_town(ctx.session, number) if number is not None else None
    if town is None or not _is_district_staff(ctx):
        return Reject(Msg("error.stale_button"))
    state.data.update(town_id=town.id, town_name=town.name)
    return Goto("open_list")


async def ask_by_enterprise(state: State, ctx: Context) -> list[Action]:
    """Which enterprise: typed, as there may be hundreds."""
    return [say("requests.ask_enterprise")]


def _own_town(ctx: Context) -> int | None:
    person = ctx.person
    return person.town_id if person is not None and person.role is Role.TOWN_OFFICER else None


async def on_enterprise_search(state: State, text: str, ctx: Context) -> Outcome:
    """Find enterprises by part of the name; one match is taken, several are offered."""
    query = validation.parse_org_search(text, max_len=64)
    if isinstance(query, validation.Invalid):
        return refuse(query)
    matches, total = await organisation.search_enterprises(
        ctx.session, town_id=_own_town(ctx), query=query, limit=MATCHES_SHOWN
    )
    if not matches:
        return Reject(Msg("requests.no_matches", text=query))
    if len(matches) == 1:
        enterprise = matches[0][0]
        state.data.update(enterprise_id=enterprise.id, enterprise_name=enterprise.name)
        return Goto("open_list")
    if total > MATCHES_SHOWN:
        return Reject(Msg("requests.too_many_matches", count=total))
    rows = [[Button(Raw(e.name), f"e:{e.id}")] for e, _town in matches]
    return Stay((SendText(Msg("requests.pick_enterprise"), Inline.of(rows)),))


async def on_enterprise_pick(state: State, value: str, ctx: Context) -> Outcome:
    """Keep an offered enterprise (in the officer's own town)."""
    number = _number(value.removeprefix("e:")) if value.startswith("e:") else None
    enterprise = (
        await organisation.get_enterprise(ctx.session, number) if number is not None else None
    )
    town = _own_town(ctx)
    if enterprise is None or (town is not None and enterprise.town_id != town):
        return Reject(Msg("error.stale_button"))
    state.data.update(enterprise_id=enterprise.id, enterprise_name=enterprise.name)
    return Goto("open_list")


async def ask_card(state: State, ctx: Context) -> list[Action]:
    """The whole request, with what this person may do with it."""
    request = await handled_by(ctx, int(state.data["request_id"]))
    if request is None:
        return [say("error.not_allowed")]
    actions = await _card_actions(ctx, request)
    rows: list[list[Button]] = []
    if request.is_open:
        rows.append([Button(Msg("request.answer_button"), "answer")])
        if _is_district_staff(ctx) and request.about_wages and request.forwarded_at is None:
            rows.append([Button(Msg("request.forward_button"), "forward")])
        if _is_staff(ctx):
            rows.append([Button(Msg("request.close_button"), "close")])
    last = actions[-1]
    assert isinstance(last, SendText)
    actions[-1] = replace(last, markup=Inline.of(rows))
    return actions


async def on_card(state: State, value: str, ctx: Context) -> Outcome:
    """Answer, pass a wage request on to the employer, or close the request."""
    request = await handled_by(ctx, int(state.data["request_id"]))
    if request is None:
        return Reject(Msg("error.not_allowed"))
    if value == "answer":
        if not request.is_open:
            return Reject(Msg("request.already_finished", number=request.id))
        return Switch("request_answer", {"request_id": request.id, "side": Side.HANDLER.value})
    if value == "forward" and _is_district_staff(ctx):
        forwarded = await _forward(ctx, request)
        if isinstance(forwarded, Msg):
            return Reject(forwarded)
        return Goto("open_list", say=tuple(forwarded))
    if value == "close" and _is_staff(ctx):
        closed = await _close(ctx, request)
        if isinstance(closed, Msg):
            return Reject(closed)
        return Goto("open_list", say=tuple(closed))
    return Reject(Msg("error.stale_button"))


BROWSE = Flow(
    name="requests",
    roles=HANDLERS,
    switches_to=("request_answer",),
    steps=(
        Step("open_list", ask_list, N_("hint.press_button"), on_button=on_list,
             goes_to=("by_category", "by_town", "by_enterprise", "request_card")),
        Step("by_category", ask_by_category, N_("hint.press_button"), on_button=on_by_category,
             goes_to=("open_list",)),
        Step("by_town", ask_by_town, N_("hint.press_button"), on_button=on_by_town,
             goes_to=("open_list",)),
        Step("by_enterprise", ask_by_enterprise, N_("requests.hint_enterprise"),
             on_text=on_enterprise_search, on_button=on_enterprise_pick, goes_to=("open_list",)),
        Step("request_card", ask_card, N_("hint.press_button"), on_button=on_card,
             goes_to=("open_list",), ends=True),
    ),
)  # fmt: skip


async def on_forward_button(ctx: Context, args: str) -> list[Action]:
    """Pass a wage request on to the employer's contact (district staff)."""
    number = _number(args)
    request = await handled_by(ctx, number) if number is not None else None
    if request is None or not _is_district_staff(ctx):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    forwarded = await _forward(ctx, request)
    if isinstance(forwarded, Msg):
        return [AnswerButton(forwarded, alert=True)]
    return [AnswerButton(), *forwarded]


FLOWS: tuple[Flow, ...] = (REQUEST, ANSWER, BROWSE)
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("request", N_("command.request"), request_command, WORKERS),
    CommandSpec("requests", N_("command.requests"), requests_command, HANDLERS),
)
BUTTONS: tuple[GlobalButton, ...] = (
    GlobalButton("rqa", on_answer_button, HANDLERS),
    GlobalButton("rqr", on_reply_button, WORKERS),
    GlobalButton("rqs", on_solved_button, WORKERS),
    GlobalButton("rqf", on_forward_button, DISTRICT_STAFF),
)
