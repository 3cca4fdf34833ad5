"""Advanced-model nominations: a contact's /nominate and staff's /nominations.

A contact writes their enterprise's nomination: for each measure the notice names, what
the enterprise did and photos as evidence, then a summary; every change is kept at once (a
draft), and Submit hands it to staff. It may be changed until the end of
`nomination_deadline`, after submitting too: staff then read the changed nomination, which
stays complete (its last measure cannot be removed), are told of the change, and a decision
taken on a card the contact changed meanwhile is refused. After the deadline the contact gets
a clear refusal, unless staff asked for more; a complete draft is submitted at the deadline
by a scheduled job (bot/jobs.py). Staff see each submitted candidate with its evidence and
the bot's own figures on the enterprise, comment (for staff only), ask for more, accept or
reject, and select the district's models, accepting and selecting only after a Yes; the list
shows how far selection is from `nomination_target`. The contacts hear of every decision.

```mermaid
stateDiagram-v2
    [*] --> overview
    overview --> measure_text
    overview --> summary_text
    overview --> submit
    overview --> [*]
    measure_text --> measure_photos
    measure_text --> overview
    measure_text --> [*]
    measure_photos --> overview
    measure_photos --> [*]
    summary_text --> overview
    summary_text --> [*]
    submit --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> candidates
    candidates --> candidate
    candidate --> candidate
    candidate --> candidate_photos
    candidate --> review_text
    candidate --> candidates
    candidate --> confirm
    candidate_photos --> candidate
    review_text --> candidate
    review_text --> candidates
    confirm --> candidate
    confirm --> candidates
```
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import validation
from handlers.access import CONTACTS, DISTRICT_STAFF
from handlers.actions import (
    N_,
    Action,
    Button,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    SendPhoto,
    SendText,
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
    Stay,
    Step,
    Switch,
    refuse,
)
from handlers.labels import TICK
from models import nominations, organisation, people, requests
from models.nominations import (
    Measure,
    Nomination,
    NominationMeasure,
    NominationStatus,
    ReviewKind,
)
from models.people import Role

log = logging.getLogger(__name__)

PHOTOS_PER_MEASURE = 5
MEASURE_MIN = 5
SUMMARY_MIN = 10
# How much of a measure's description the contact's overview shows.
PREVIEW_LENGTH = 60

MEASURE_LABELS: dict[Measure, str] = {
    Measure.WAGES: N_("nomination.measure.wages"),
    Measure.OVERTIME: N_("nomination.measure.overtime"),
    Measure.LIVING: N_("nomination.measure.living"),
    Measure.SAFETY: N_("nomination.measure.safety"),
    Measure.CULTURE: N_("nomination.measure.culture"),
    Measure.CLUB: N_("nomination.measure.club"),
    Measure.WARMTH: N_("nomination.measure.warmth"),
}
STATUS_LABELS: dict[NominationStatus, str] = {
    NominationStatus.DRAFT: N_("nomination.status.draft"),
    NominationStatus.SUBMITTED: N_("nomination.status.submitted"),
    NominationStatus.MORE_REQUESTED: N_("nomination.status.more"),
    NominationStatus.ACCEPTED: N_("nomination.status.accepted"),
    NominationStatus.REJECTED: N_("nomination.status.rejected"),
    NominationStatus.SELECTED: N_("nomination.status.selected"),
}
REVIEW_LABELS: dict[ReviewKind, str] = {
    ReviewKind.COMMENT: N_("nominations.review.comment"),
    ReviewKind.MORE: N_("nominations.review.more"),
    ReviewKind.ACCEPT: N_("nominations.review.accept"),
    ReviewKind.REJECT: N_("nominations.review.reject"),
    ReviewKind.SELECT: N_("nominations.review.select"),
}
DECIDED = frozenset(
    {NominationStatus.ACCEPTED, NominationStatus.REJECTED, NominationStatus.SELECTED}
)


def _number(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 12 else None


# The contact's side: may the nomination change now? ----------------------------------------


def deadline_passed(ctx: Context) -> bool:
    """Whether the nomination deadline (a local date, inclusive) is behind us."""
    return ctx.today > ctx.settings.nomination_deadline


def why_not_editable(nomination: Nomination | None, ctx: Context) -> Msg | None:
    """None if the contact may change the nomination now; else the clear answer why not."""
    deadline = ctx.settings.nomination_deadline
    if nomination is not None and nomination.status in DECIDED:
        return Msg("nominate.decided", status=Msg(STATUS_LABELS[nomination.status]))
    reopened = nomination is not None and nomination.status is NominationStatus.MORE_REQUESTED
    if deadline_passed(ctx) and not reopened:
        if nomination is None:
            where: Msg = Msg("nominate.closed_none")
        elif nomination.status is NominationStatus.DRAFT:
            where = Msg("nominate.closed_draft")
        else:
            where = Msg("nominate.closed_submitted")
        return Msg("nominate.closed", deadline=deadline, where=where)
    return None


async def _own(ctx: Context, state: State, *, create: bool) -> Nomination | Msg | None:
    """The contact's nomination if they may change it (begun if `create`), else why not."""
    person = ctx.person
    enterprise_id = state.data["enterprise_id"]
    if person is None or person.role is not Role.CONTACT or person.enterprise_id != enterprise_id:
        return Msg("error.not_allowed")
    nomination = await nominations.for_enterprise(ctx.session, enterprise_id)
    why = why_not_editable(nomination, ctx)
    if why is not None:
        return why
    if nomination is None and create:
        nomination = await nominations.start(ctx.session, enterprise_id, person.id, ctx.now)
    return nomination


async def nominate_command(ctx: Context, arg: str) -> CommandResult:
    """Open the enterprise's nomination, or say clearly why it cannot change any more."""
    person = ctx.person
    enterprise = (
        await organisation.get_enterprise(ctx.session, person.enterprise_id)
        if person is not None and person.enterprise_id is not None
        else None
    )
    if enterprise is None or not enterprise.active:
        return [say("nominate.no_enterprise")]
    nomination = await nominations.for_enterprise(ctx.session, enterprise.id)
    why = why_not_editable(nomination, ctx)
    if why is not None:
        return [SendText(why)]
    return Switch("nominate", {"enterprise_id": enterprise.id, "enterprise_name": enterprise.name})


def _short(text: str) -> str:
    return text if len(text) <= PREVIEW_LENGTH else text[:PREVIEW_LENGTH] + "…"


def _measure_line(measure: Measure, item: NominationMeasure | None, *, full: bool) -> Msg:
    label = Msg(MEASURE_LABELS[measure])
    if item is None:
        return Msg("nomination.line.empty", measure=label)
    text = item.description if full else _short(item.description)
    return Msg("nomination.line.done", measure=label, text=text, photos=len(item.photos))


def describe(nomination: Nomination | None, items: dict[Measure, NominationMeasure]) -> Lines:
    """Every measure, filled or not, and the summary: the nomination as staff read it."""
    lines: list[Param] = [_measure_line(m, items.get(m), full=True) for m in Measure]
    summary = nomination.summary if nomination is not None else None
    lines.append(
        Msg("nomination.summary_line", text=summary) if summary else Msg("nomination.no_summary")
    )
    return Lines(tuple(lines), sep="\n\n")


async def _items(
    session: AsyncSession, nomination: Nomination | None
) -> dict[Measure, NominationMeasure]:
    if nomination is None:
        return {}
    return dict(await nominations.measures(session, nomination.id))


async def ask_overview(state: State, ctx: Context) -> list[Action]:
    """Where the nomination stands; each measure, the summary, Submit."""
    nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
    items = await _items(ctx.session, nomination)
    status = nomination.status if nomination is not None else NominationStatus.DRAFT
    lines = tuple(_measure_line(m, items.get(m), full=False) for m in Measure)
    summary = nomination.summary if nomination is not None else None
    rows = [
        [Button(Msg(TICK[m in items], label=Msg(label)), f"m:{m.value}")]
        for m, label in MEASURE_LABELS.items()
    ]
    rows.append([Button(Msg(TICK[bool(summary)], label=Msg("nominate.summary_button")), "sum")])
    rows.append(
        [Button(Msg("nominate.submit_button"), "submit"), Button(Msg("nominate.leave"), "leave")]
    )
    return [
        SendText(
            Msg(
                "nominate.overview",
                enterprise=state.data["enterprise_name"],
                status=Msg(STATUS_LABELS[status]),
                deadline=ctx.settings.nomination_deadline,
                measures=Lines(lines),
                summary=Msg("nomination.summary_line", text=_short(summary))
                if summary
                else Msg("nomination.no_summary"),
            ),
            Inline.of(rows),
        )
    ]


async def on_overview(state: State, value: str, ctx: Context) -> Outcome:
    """Edit a measure or the summary, submit, or leave (everything is kept already)."""
    if value.startswith("m:") and value[2:] in set(Measure):
        state.data["measure"] = value[2:]
        return Goto("measure_text")
    if value == "sum":
        return Goto("summary_text")
    if value == "leave":
        return Finish(await _leave(state, ctx))
    if value == "submit":
        nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
        if await nominations.gaps_of(ctx.session, nomination):
            return Reject(Msg("nominate.incomplete"))
        return Goto("submit")
    return Reject(Msg("error.stale_button"))


def _changed_since_submitted(nomination: Nomination) -> bool:
    """Whether a submitted nomination was changed after staff were last told of it."""
    submitted_at = nomination.submitted_at
    return submitted_at is not None and nomination.updated_at > submitted_at


async def _tell_staff(ctx: Context, state: State, key: str) -> list[Action]:
    enterprise = Raw(state.data["enterprise_name"])
    return [
        SendText(Msg(key, enterprise=enterprise), chat_id=chat_id, language=language)
        for chat_id, language in await people.staff_chats(ctx.session)
    ]


async def _leave(state: State, ctx: Context) -> tuple[Action, ...]:
    """Everything is kept already; a submitted nomination changed here is handed over again
    (staff read it live anyway, and hear that it changed)."""
    deadline = ctx.settings.nomination_deadline
    nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
    if nomination is None or nomination.status is NominationStatus.DRAFT:
        return (say("nominate.left", deadline=deadline),)
    if nomination.status is NominationStatus.MORE_REQUESTED:
        return (say("nominate.left_more"),)
    staff: list[Action] = []
    if _changed_since_submitted(nomination) and await nominations.submit(
        ctx.session, nomination, ctx.now
    ):
        staff = await _tell_staff(ctx, state, N_("nominations.notify_updated"))
        log.info("nomination %s changed after it was submitted", nomination.id)
    return (say("nominate.left_submitted", deadline=deadline), *staff)


async def _current(ctx: Context, state: State) -> NominationMeasure | None:
    nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
    items = await _items(ctx.session, nomination)
    found: NominationMeasure | None = items.get(Measure(state.data["measure"]))
    return found


async def ask_measure(state: State, ctx: Context) -> list[Action]:
    """What the enterprise did for this measure."""
    item = await _current(ctx, state)
    label = Msg(MEASURE_LABELS[Measure(state.data["measure"])])
    limit = ctx.settings.description_max_length
    if item is None:
        return [say("nominate.ask_measure", measure=label, max=limit)]
    return [
        SendText(
            Msg("nominate.ask_measure_again", measure=label, max=limit, text=item.description),
            Inline.of(
                [
                    [Button(Msg("nominate.keep_text"), "keep")],
                    [Button(Msg("nominate.remove_measure"), "remove")],
                ]
            ),
        )
    ]


def _text(text: str, ctx: Context, minimum: int) -> str | Reject:
    parsed = validation.parse_note(text, max_len=ctx.settings.description_max_length)
    if isinstance(parsed, validation.Invalid):
        return refuse(parsed)
    if len(parsed) < minimum:
        return Reject(Msg("nominate.too_short", min=minimum))
    return parsed


async def on_measure_text(state: State, text: str, ctx: Context) -> Outcome:
    """Keep the description at once, then ask for photos."""
    parsed = _text(text, ctx, MEASURE_MIN)
    if isinstance(parsed, Reject):
        return parsed
    nomination = await _own(ctx, state, create=True)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    await nominations.set_measure(
        ctx.session, nomination, Measure(state.data["measure"]), parsed, ctx.now
    )
    return Goto("measure_photos")


async def on_measure_button(state: State, value: str, ctx: Context) -> Outcome:
    """Keep the text as it is (on to the photos), or take the measure out."""
    if await _current(ctx, state) is None or value not in ("keep", "remove"):
        return Reject(Msg("error.stale_button"))
    if value == "keep":
        return Goto("measure_photos")
    nomination = await _own(ctx, state, create=False)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    if not await nominations.remove_measure(
        ctx.session, nomination, Measure(state.data["measure"]), ctx.now
    ):
        # Staff already read it: it keeps at least one measure.
        return Reject(Msg("nominate.last_measure"))
    return Goto("overview")


async def ask_photos(state: State, ctx: Context) -> list[Action]:
    """Photos as evidence, one message each; Done when there are enough."""
    item = await _current(ctx, state)
    count = len(item.photos) if item is not None else 0
    rows = [[Button(Msg("ui.done"), "done")]]
    if count:
        rows.append([Button(Msg("nominate.clear_photos"), "clear")])
    return [
        SendText(
            Msg(
                "nominate.ask_photos",
                measure=Msg(MEASURE_LABELS[Measure(state.data["measure"])]),
                count=count,
                max=PHOTOS_PER_MEASURE,
            ),
            Inline.of(rows),
        )
    ]


def _short_reply(message: Msg, *, clear: bool = False) -> Stay:
    """One line and Done, not the whole question: the photos of an album arrive one by one,
    and each is answered."""
    rows = [[Button(Msg("ui.done"), "done")]]
    if clear:
        rows.append([Button(Msg("nominate.clear_photos"), "clear")])
    return Stay((SendText(message, Inline.of(rows)),))


async def on_photo(state: State, event: Media, ctx: Context) -> Outcome:
    """Add a photo (up to the limit)."""
    if event.is_image_file:
        return Reject(Msg("photo.as_file"))
    if event.kind != "photo" or not event.file_id:
        return Reject(Msg("nominate.photo_only"))
    item = await _current(ctx, state)
    if item is None:
        return Reject(Msg("error.stale_button"))
    if len(item.photos) >= PHOTOS_PER_MEASURE:
        return _short_reply(Msg("nominate.too_many_photos", max=PHOTOS_PER_MEASURE), clear=True)
    nomination = await _own(ctx, state, create=False)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    photos = [*item.photos, event.file_id]
    await nominations.set_photos(
        ctx.session, nomination, Measure(state.data["measure"]), photos, ctx.now
    )
    return _short_reply(Msg("nominate.photo_kept", count=len(photos), max=PHOTOS_PER_MEASURE))


async def on_photos_button(state: State, value: str, ctx: Context) -> Outcome:
    """Done, or remove this measure's photos."""
    if value == "done":
        return Goto("overview")
    if value != "clear":
        return Reject(Msg("error.stale_button"))
    nomination = await _own(ctx, state, create=False)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    await nominations.set_photos(
        ctx.session, nomination, Measure(state.data["measure"]), [], ctx.now
    )
    return Stay()


async def ask_summary(state: State, ctx: Context) -> list[Action]:
    """The nomination in a few sentences."""
    nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
    limit = ctx.settings.description_max_length
    if nomination is None or not nomination.summary:
        return [say("nominate.ask_summary", max=limit)]
    return [
        SendText(
            Msg("nominate.ask_summary_again", max=limit, text=nomination.summary),
            Inline.of([[Button(Msg("nominate.keep_text"), "keep")]]),
        )
    ]


async def on_summary(state: State, text: str, ctx: Context) -> Outcome:
    """Keep the summary at once."""
    parsed = _text(text, ctx, SUMMARY_MIN)
    if isinstance(parsed, Reject):
        return parsed
    nomination = await _own(ctx, state, create=True)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    await nominations.set_summary(ctx.session, nomination, parsed, ctx.now)
    return Goto("overview")


async def on_summary_kept(state: State, value: str, ctx: Context) -> Outcome:
    """Keep the summary as it is."""
    if value != "keep":
        return Reject(Msg("error.stale_button"))
    return Goto("overview")


async def ask_submit(state: State, ctx: Context) -> list[Action]:
    """The nomination as staff will read it; Submit hands it over."""
    nomination = await nominations.for_enterprise(ctx.session, state.data["enterprise_id"])
    items = await _items(ctx.session, nomination)
    return [
        SendText(
            Msg(
                "nominate.preview",
                enterprise=state.data["enterprise_name"],
                details=describe(nomination, items),
                deadline=ctx.settings.nomination_deadline,
            ),
            Inline.of([[Button(Msg("nominate.submit_button"), "ok")]]),
        )
    ]


async def on_submit(state: State, value: str, ctx: Context) -> Outcome:
    """Hand the nomination to staff, who hear of it."""
    if value != "ok":
        return Reject(Msg("error.stale_button"))
    nomination = await _own(ctx, state, create=False)
    if not isinstance(nomination, Nomination):
        return Finish((SendText(nomination or Msg("error.not_allowed")),))
    before = nomination.status
    changed = _changed_since_submitted(nomination)
    if not await nominations.submit(ctx.session, nomination, ctx.now):
        return Reject(Msg("nominate.incomplete"))
    if before is NominationStatus.SUBMITTED:
        # Staff need not hear of a nomination handed over again unchanged.
        key = N_("nominations.notify_updated") if changed else None
    elif before is NominationStatus.MORE_REQUESTED:
        key = N_("nominations.notify_resubmitted")
    else:
        key = N_("nominations.notify_submitted")
    staff = await _tell_staff(ctx, state, key) if key else []
    log.info("nomination %s submitted (was %s)", nomination.id, before.value)
    done = say("nominate.submitted", deadline=ctx.settings.nomination_deadline)
    return Finish((done, *staff))


NOMINATE = Flow(
    name="nominate",
    roles=CONTACTS,
    steps=(
        Step("overview", ask_overview, N_("hint.press_button"), on_button=on_overview,
             goes_to=("measure_text", "summary_text", "submit"), ends=True),
        Step("measure_text", ask_measure, N_("nominate.hint_text"), on_text=on_measure_text,
             on_button=on_measure_button, goes_to=("measure_photos", "overview"), ends=True),
        Step("measure_photos", ask_photos, N_("nominate.hint_photos"), on_media=on_photo,
             on_button=on_photos_button, goes_to=("overview",), ends=True),
        Step("summary_text", ask_summary, N_("nominate.hint_text"), on_text=on_summary,
             on_button=on_summary_kept, goes_to=("overview",), ends=True),
        Step("submit", ask_submit, N_("hint.press_button"), on_button=on_submit, ends=True),
    ),
)  # fmt: skip


# Staff's review -----------------------------------------------------------------------------


def progress(selected: int, target: int) -> Msg:
    """How far selection is from the target."""
    if selected >= target:
        return Msg("nominations.progress_reached", selected=selected, target=target)
    return Msg("nominations.progress", selected=selected, target=target, left=target - selected)


async def nominations_command(ctx: Context, arg: str) -> CommandResult:
    """The candidates and the progress of selection."""
    return Switch("nominations")


async def ask_candidates(state: State, ctx: Context) -> list[Action]:
    """Every submitted nomination, those waiting for review first."""
    counts = await nominations.status_counts(ctx.session)
    found = await nominations.candidates(ctx.session)
    target = ctx.settings.nomination_target
    figures = Msg(
        "nominations.counts",
        submitted=counts[NominationStatus.SUBMITTED],
        more=counts[NominationStatus.MORE_REQUESTED],
        accepted=counts[NominationStatus.ACCEPTED],
        rejected=counts[NominationStatus.REJECTED],
        drafts=counts[NominationStatus.DRAFT],
    )
    head = progress(counts[NominationStatus.SELECTED], target)
    deadline = ctx.settings.nomination_deadline
    if not found:
        return [say("nominations.none", progress=head, counts=figures, deadline=deadline)]
    rows = [
        [
            Button(
                Msg(
                    "nominations.candidate_button",
                    enterprise=Raw(c.enterprise),
                    status=Msg(STATUS_LABELS[c.nomination.status]),
                ),
                f"n:{c.nomination.id}",
            )
        ]
        for c in found
    ]
    text = Msg("nominations.list", progress=head, counts=figures, deadline=deadline)
    return [SendText(text, Inline.of(rows))]


async def _candidate(ctx: Context, state: State) -> Nomination | None:
    nomination = await nominations.get(ctx.session, int(state.data["nomination_id"]))
    if nomination is None or nomination.status is NominationStatus.DRAFT:
        return None
    return nomination


async def on_candidates(state: State, value: str, ctx: Context) -> Outcome:
    """Open a candidate."""
    number = _number(value.removeprefix("n:")) if value.startswith("n:") else None
    nomination = await nominations.get(ctx.session, number) if number is not None else None
    if nomination is None or nomination.status is NominationStatus.DRAFT:
        return Reject(Msg("error.stale_button"))
    state.data["nomination_id"] = nomination.id
    return Goto("candidate")


async def _card(ctx: Context, nomination: Nomination) -> Msg:
    enterprise = await organisation.get_enterprise(ctx.session, nomination.enterprise_id)
    town = (
        await organisation.get_town(ctx.session, enterprise.town_id)
        if enterprise is not None
        else None
    )
    figures = await nominations.figures(ctx.session, nomination.enterprise_id)
    items = await _items(ctx.session, nomination)
    reviews = await nominations.reviews(ctx.session, nomination.id)
    review_lines = tuple(
        Msg(
            "nominations.review_line",
            at=r.created_at,
            kind=Msg(REVIEW_LABELS[r.kind]),
            text=r.text or "",
        )
        for r in reviews
    )
    counts = await nominations.status_counts(ctx.session)
    submitted: Param = nomination.submitted_at or Msg("common.not_given")
    if _changed_since_submitted(nomination):
        # Edits after submitting are live: say so, beside what staff already read.
        submitted = Msg("nominations.changed_since", submitted=submitted, at=nomination.updated_at)
    return Msg(
        "nominations.card",
        enterprise=enterprise.name if enterprise else "-",
        town=town.name if town else "-",
        status=Msg(STATUS_LABELS[nomination.status]),
        submitted=submitted,
        figures=Lines(
            (
                Msg(
                    "nominations.figures",
                    workers=figures.workers,
                    checked_in=figures.checked_in,
                    staying=figures.staying,
                    read=figures.letter_read,
                    percent=figures.letter_percent,
                    open=figures.open_requests,
                    solved=figures.solved_requests,
                ),
                Msg(
                    "nominations.figures_reports",
                    reported=figures.reported_days,
                    on_time=figures.on_time_days,
                ),
            )
        ),
        details=describe(nomination, items),
        reviews=Lines(review_lines) if review_lines else Msg("nominations.no_reviews"),
        progress=progress(counts[NominationStatus.SELECTED], ctx.settings.nomination_target),
    )


async def ask_candidate(state: State, ctx: Context) -> list[Action]:
    """The candidate with its evidence, the bot's figures and staff's review so far."""
    nomination = await _candidate(ctx, state)
    if nomination is None:
        return [say("error.stale_button")]
    items = await _items(ctx.session, nomination)
    # A decision applies to the nomination as this card shows it (see _unchanged).
    state.data["seen"] = nominations.fingerprint(nomination, items)
    photos = sum(len(item.photos) for item in items.values())
    rows: list[list[Button]] = []
    if photos:
        rows.append([Button(Msg("nominations.photos_button", count=photos), "photos")])
    status = nomination.status
    decisions = [
        Button(Msg(REVIEW_LABELS[kind]), kind.value)
        for kind in (ReviewKind.MORE, ReviewKind.ACCEPT, ReviewKind.REJECT)
        if nominations.may(kind, status)
    ]
    rows.append([Button(Msg(REVIEW_LABELS[ReviewKind.COMMENT]), ReviewKind.COMMENT.value)])
    rows.append(decisions)
    if nominations.may(ReviewKind.SELECT, status):
        rows.append([Button(Msg("nominations.select_button"), ReviewKind.SELECT.value)])
    return [SendText(await _card(ctx, nomination), Inline.of(rows))]


async def _tell_contacts(ctx: Context, nomination: Nomination, message: Msg) -> list[Action]:
    contacts = await requests.contacts_of(ctx.session, nomination.enterprise_id)
    return [
        SendText(message, chat_id=p.chat_id, language=p.language)
        for p in contacts
        if p.chat_id is not None
    ]


async def _unchanged(ctx: Context, state: State, nomination: Nomination) -> bool:
    """Whether the nomination is still as staff's last card showed it (the contact may
    change a submitted one until the deadline)."""
    items = await _items(ctx.session, nomination)
    return state.data.get("seen") == nominations.fingerprint(nomination, items)


def _shown_again() -> Goto:
    return Goto("candidate", say=(say("nominations.changed_shown"),))


async def on_candidate(state: State, value: str, ctx: Context) -> Outcome:
    """Photos, a comment, ask for more, accept, reject, select."""
    nomination = await _candidate(ctx, state)
    if nomination is None:
        return Reject(Msg("error.stale_button"))
    if value == "photos":
        return Goto("candidate_photos")
    if value not in set(ReviewKind) or not nominations.may(ReviewKind(value), nomination.status):
        return Reject(Msg("error.stale_button"))
    kind = ReviewKind(value)
    if kind is not ReviewKind.COMMENT and not await _unchanged(ctx, state, nomination):
        return _shown_again()
    state.data["review"] = kind.value
    if kind in (ReviewKind.COMMENT, ReviewKind.MORE, ReviewKind.REJECT):
        return Goto("review_text")
    # Accepting and selecting tell the contacts at once: only after a Yes.
    return Goto("confirm")


async def ask_confirm(state: State, ctx: Context) -> list[Action]:
    """Accept or select this enterprise? The contacts hear of it at once."""
    nomination = await _candidate(ctx, state)
    if nomination is None:
        return [say("error.stale_button")]
    enterprise = await organisation.get_enterprise(ctx.session, nomination.enterprise_id)
    name = Raw(enterprise.name if enterprise else "-")
    if ReviewKind(state.data["review"]) is ReviewKind.SELECT:
        counts = await nominations.status_counts(ctx.session)
        target = ctx.settings.nomination_target
        question = Msg(
            "nominations.confirm_select",
            enterprise=name,
            progress=progress(counts[NominationStatus.SELECTED], target),
        )
    else:
        question = Msg("nominations.confirm_accept", enterprise=name)
    buttons = [[Button(Msg("ui.yes"), "yes"), Button(Msg("ui.no"), "no")]]
    return [SendText(question, Inline.of(buttons))]


async def on_confirm(state: State, value: str, ctx: Context) -> Outcome:
    """Yes: record the decision and tell the contacts; No: back to the card."""
    nomination = await _candidate(ctx, state)
    if nomination is None or value not in ("yes", "no"):
        return Reject(Msg("error.stale_button"))
    if value == "no":
        return Goto("candidate")
    kind = ReviewKind(state.data["review"])
    if not await _unchanged(ctx, state, nomination):
        return _shown_again()
    person = ctx.person
    if not await nominations.review(
        ctx.session, nomination, kind, person.id if person else None, None, ctx.now
    ):
        return Reject(Msg("nominations.changed_meanwhile"))
    enterprise = await organisation.get_enterprise(ctx.session, nomination.enterprise_id)
    name = Raw(enterprise.name if enterprise else "-")
    log.info("nomination %s: %s", nomination.id, kind.value)
    if kind is ReviewKind.SELECT:
        # Back to the list, which shows how far selection has come.
        told = await _tell_contacts(
            ctx, nomination, Msg("nominate.selected_notice", enterprise=name)
        )
        return Goto("candidates", say=(say("nominations.selected", enterprise=name), *told))
    # The card again, where Select is now offered.
    told = await _tell_contacts(ctx, nomination, Msg("nominate.accepted_notice", enterprise=name))
    return Goto("candidate", say=(say("nominations.accepted", enterprise=name), *told))


async def ask_candidate_photos(state: State, ctx: Context) -> list[Action]:
    """Every photo of the candidate, each captioned with its measure."""
    nomination = await _candidate(ctx, state)
    items = await _items(ctx.session, nomination)
    actions: list[Action] = [
        SendPhoto(photo, Msg(MEASURE_LABELS[measure]))
        for measure in Measure
        if measure in items
        for photo in items[measure].photos
    ]
    done = Inline.of([[Button(Msg("ui.done"), "done")]])
    actions.append(SendText(Msg("nominations.photos_shown"), done))
    return actions


async def on_photos_seen(state: State, value: str, ctx: Context) -> Outcome:
    """Back to the candidate's card."""
    if value != "done":
        return Reject(Msg("error.stale_button"))
    return Goto("candidate")


async def ask_review(state: State, ctx: Context) -> list[Action]:
    """The comment, or what is missing, or why not (the last two go to the contact)."""
    kind = ReviewKind(state.data["review"])
    limit = ctx.settings.description_max_length
    if kind is ReviewKind.MORE:
        return [say("nominations.ask_more", max=limit)]
    if kind is ReviewKind.REJECT:
        return [say("nominations.ask_reject", max=limit)]
    return [say("nominations.ask_comment", max=limit)]


async def on_review(state: State, text: str, ctx: Context) -> Outcome:
    """Record the step; the contact hears of a request for more and of a rejection."""
    parsed = validation.parse_note(text, max_len=ctx.settings.description_max_length)
    if isinstance(parsed, validation.Invalid):
        return refuse(parsed)
    nomination = await _candidate(ctx, state)
    kind = ReviewKind(state.data["review"])
    person = ctx.person
    if nomination is None or not await nominations.review(
        ctx.session, nomination, kind, person.id if person else None, parsed, ctx.now
    ):
        return Reject(Msg("nominations.changed_meanwhile"))
    enterprise = await organisation.get_enterprise(ctx.session, nomination.enterprise_id)
    name = Raw(enterprise.name if enterprise else "-")
    if kind is ReviewKind.COMMENT:
        return Goto("candidate", say=(say("nominations.commented"),))
    if kind is ReviewKind.MORE:
        message = Msg("nominate.more_notice", enterprise=name, text=parsed)
        done = say("nominations.more_sent", enterprise=name)
    else:
        message = Msg("nominate.rejected_notice", enterprise=name, text=parsed)
        done = say("nominations.rejected", enterprise=name)
    log.info("nomination %s: %s", nomination.id, kind.value)
    return Goto("candidates", say=(done, *await _tell_contacts(ctx, nomination, message)))


REVIEW = Flow(
    name="nominations",
    # The labour inspection brigade screens the candidates: district staff.
    roles=DISTRICT_STAFF,
    steps=(
        Step("candidates", ask_candidates, N_("hint.press_button"), on_button=on_candidates,
             goes_to=("candidate",)),
        Step("candidate", ask_candidate, N_("hint.press_button"), on_button=on_candidate,
             goes_to=("candidate", "candidate_photos", "review_text", "candidates", "confirm")),
        Step("candidate_photos", ask_candidate_photos, N_("hint.press_button"),
             on_button=on_photos_seen, goes_to=("candidate",)),
        Step("review_text", ask_review, N_("nominations.hint_review"), on_text=on_review,
             goes_to=("candidate", "candidates")),
        Step("confirm", ask_confirm, N_("hint.press_button"), on_button=on_confirm,
             goes_to=("candidate", "candidates")),
    ),
)  # fmt: skip

FLOWS: tuple[Flow, ...] = (NOMINATE, REVIEW)
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("nominate", N_("command.nominate"), nominate_command, CONTACTS),
    CommandSpec("nominations", N_("command.nominations"), nominations_command, DISTRICT_STAFF),
)
