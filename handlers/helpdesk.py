"""Workers' requests for help: the rules /request, answering and /requests share.

Who handles each request and who may see what of it, how it reads (the card), and the
messages that carry it: notifications, news to the worker, escalation.

Wage matters (wages unpaid or late, the holiday overtime subsidy) go to the district's labour
inspection staff (to all district staff while none can be reached), and the worker may ask
that their employer not be told who asked: the employer's contact then never sees who it
was, not even if staff pass the request on (the worker is told when they do). Everything
else goes to the employer's contact, and to staff as well when the contact has not answered
within `request_escalate_after` (`escalate_due`, run by the scheduler). A need ticked in a
check-in opens a request on its own (`from_checkin`), never a second open one for the same
need; the check-in's note goes only with a wage request, and the employer's contact never
reads it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.access import DISTRICT_STAFF
from handlers.actions import (
    N_,
    Action,
    Button,
    Inline,
    Lines,
    Msg,
    Param,
    SendPhoto,
    SendText,
    SendVoice,
    Tell,
    say,
)
from handlers.events import Media
from handlers.flow import Context, FlowSettings, global_data
from handlers.labels import CATEGORY_LABELS, REQUEST_STATUS_LABELS, ROLE_NAMES, VOICE_LABEL
from handlers.phone import phone_for
from models import organisation, people, requests
from models.broadcasts import Purpose
from models.checkins import CheckIn
from models.people import Person, Role
from models.requests import Category, HelpRequest, Route, Scope, Side, Source, Status

log = logging.getLogger(__name__)

# A voice message longer than this is a speech, not a request: three minutes say it all.
VOICE_MAX_SECONDS = 180
# What three minutes of a voice message take at the most (Telegram's Opus is far smaller).
VOICE_MAX_BYTES = 5_000_000


# Who may see and handle what (asked again on every button) ------------------------------


def scope_of(person: Person | None) -> Scope | None:
    """The requests this person handles; None for someone who handles none."""
    if person is None:
        return None
    if person.role in DISTRICT_STAFF:
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


def voice_problem(event: Media) -> Msg | None:
    """Why a voice message cannot be a request's description (too long, too large), or None.

    The channel says how long and how large it is when it knows (Telegram does; a web
    upload tells only its size, within the page's own limit)."""
    if event.kind != "voice" or not event.file_id:
        return Msg("request.voice_or_text")
    too_long = event.duration is not None and event.duration > VOICE_MAX_SECONDS
    if too_long or (event.file_size is not None and event.file_size > VOICE_MAX_BYTES):
        return Msg("request.voice_too_long", minutes=VOICE_MAX_SECONDS // 60)
    return None


def description_of(request: HelpRequest) -> Param | None:
    """What the worker said, where text is needed: their words, or the voice's label."""
    if request.description:
        return request.description
    return Msg(VOICE_LABEL) if request.voice_file_id else None


def hears_voice(viewer: Role | None, request: HelpRequest) -> bool:
    """Whether this reader gets the worker's voice: a voice tells who speaks, so a reader
    who may not know who asked gets its label only."""
    return bool(request.voice_file_id) and shows_identity(viewer, request)


def parse_number(text: str) -> int | None:
    """A request, town or enterprise number from button data; None for anything else."""
    return int(text) if text.isdigit() and len(text) < 12 else None


# Describing a request ------------------------------------------------------------------------


def age(since: datetime, now: datetime) -> Msg:
    """How long something has waited: minutes (at least one) under an hour, else hours or days."""
    seconds = max(0, (now - since).total_seconds())
    if seconds < 3600:
        return Msg("requests.age_minutes", minutes=max(1, math.ceil(seconds / 60)))
    hours = int(seconds // 3600)
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
            status=Msg(REQUEST_STATUS_LABELS[request.status]),
        ),
        Msg("request.card.from", who=who(worker, request, viewer)),
        Msg("request.card.employer", enterprise=enterprise, town=town or "-")
        if enterprise
        else Msg("request.card.no_employer"),
        Msg("request.card.made", at=request.created_at, age=age(request.waiting_since, now)),
        route_line(request),
    ]
    if request.anonymous:
        # From a check-in the worker chose nothing: a wage matter is kept from the employer by rule.
        by_rule = request.source is Source.CHECKIN
        withheld = N_("request.card.anonymous_by_rule") if by_rule else N_("request.card.anonymous")
        lines.append(Msg(withheld))
    described = description_of(request)
    if described is not None and shows_description(viewer, request):
        lines.append(Msg("request.card.description", text=described))
        if request.voice_file_id and not hears_voice(viewer, request):
            lines.append(Msg("request.card.voice_withheld"))
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


async def card_actions(ctx: Context, request: HelpRequest) -> list[Action]:
    """The request's photo and voice (if this reader may have them) and card, to the
    current chat."""
    role = ctx.person.role if ctx.person else None
    actions: list[Action] = []
    if request.photo_file_id and shows_identity(role, request):
        actions.append(SendPhoto(request.photo_file_id))
    if request.voice_file_id and hears_voice(role, request):
        actions.append(SendVoice(request.voice_file_id, Msg("request.voice_of", number=request.id)))
    lines = await card(ctx.session, request, role, ctx.now)
    actions.append(SendText(Msg("request.card", card=lines)))
    return actions


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


Target = tuple[int, Role]  # a person to tell, and the role they read the request as


async def staff_targets(session: AsyncSession, request: HelpRequest) -> list[Target]:
    """Labour inspection for wages (all district staff while none can be reached, so that
    nothing is lost); staff and the town's officers else."""
    if request.about_wages:
        found = await people.labour_inspection_ids(session) or await people.staff_ids(session)
    else:
        found = await people.staff_ids(session, await _town_of(session, request))
    return [(person_id, Role.STAFF) for person_id in found]


async def contact_targets(session: AsyncSession, request: HelpRequest) -> list[Target]:
    if request.enterprise_id is None:
        return []
    contacts = await requests.contacts_of(session, request.enterprise_id)
    return [(p.id, Role.CONTACT) for p in contacts if p.chat_id is not None]


async def tell_worker(session: AsyncSession, request: HelpRequest, key: str) -> list[Tell]:
    """The news `key` (marked N_ by the caller) about the request, with its number and
    category, to the worker in their language; nothing if the bot cannot reach them."""
    worker = await session.get(Person, request.person_id)
    if worker is None or worker.chat_id is None or not worker.active:
        return []
    text = Msg(key, number=request.id, category=Msg(CATEGORY_LABELS[request.category]))
    return [Tell((worker.id,), text, Purpose.REQUEST_NEWS)]


async def notify(
    session: AsyncSession,
    request: HelpRequest,
    targets: Sequence[Target],
    key: str,
    now: datetime,
    **params: Param,
) -> list[Tell]:
    """The request's card, introduced by `key` (marked N_ by the caller), to each target in
    their language, with the Answer button; each reader sees only what their role may."""
    by_role: dict[Role, list[int]] = {}
    for person_id, role in targets:
        if all(person_id not in ids for ids in by_role.values()):
            by_role.setdefault(role, []).append(person_id)
    return [
        Tell(
            tuple(ids),
            Msg(key, card=await card(session, request, role, now), **params),
            Purpose.REQUEST_NOTICE,
            answer_markup(request.id),
        )
        for role, ids in by_role.items()
    ]


async def _route_new(session: AsyncSession, request: HelpRequest, now: datetime) -> list[Target]:
    """Decide who handles a new request (stored on it) and return who to tell."""
    if request.about_wages:
        request.route = Route.STAFF
        return await staff_targets(session, request)
    contacts = await contact_targets(session, request)
    if contacts:
        request.route = Route.CONTACT
        return contacts
    # No contact to ask: staff handle it from the start.
    request.route = Route.STAFF
    return await staff_targets(session, request)


async def open_request(
    session: AsyncSession,
    worker: Person,
    category: Category,
    *,
    description: str | None,
    photo: str | None,
    anonymous: bool,
    voice: str | None = None,
    source: Source,
    now: datetime,
) -> tuple[HelpRequest, list[Tell]]:
    """Store a new request, routed, and the notifications to whoever handles it."""
    request = HelpRequest(
        person_id=worker.id,
        enterprise_id=worker.enterprise_id,
        category=category,
        description=description,
        photo_file_id=photo,
        voice_file_id=voice,
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
) -> tuple[int, list[Tell]]:
    """Pass every request its contact left unanswered too long on to staff; how many, and
    the messages."""
    due = await requests.due_for_escalation(session, now - settings.request_escalate_after)
    wait = wait_time(settings.request_escalate_after)
    sent: list[Tell] = []
    for request in due:
        request.escalated_at = now
        targets = await staff_targets(session, request)
        sent.extend(
            await notify(session, request, targets, N_("request.notify_escalated"), now, wait=wait)
        )
        sent.extend(await tell_worker(session, request, N_("request.escalated_to_worker")))
        log.info("request %s escalated to staff", request.id)
    await session.flush()
    return len(due), sent
