"""The open requests (/requests), oldest first, for whoever handles them.

Staff narrow the list down by category, town and enterprise; anyone who handles a request
opens it to answer it, district staff pass a wage matter on to the employer's contact, and
staff close it.

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
from dataclasses import replace
from typing import Any

from handlers import validation
from handlers.access import DISTRICT_STAFF, REQUEST_HANDLERS, is_district_staff, is_staff, own_town
from handlers.actions import (
    N_,
    Action,
    AnswerButton,
    Button,
    Inline,
    Lines,
    Msg,
    Param,
    Raw,
    SendText,
    say,
)
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Flow,
    GlobalButton,
    Goto,
    Outcome,
    Reject,
    State,
    Stay,
    Step,
    Switch,
    refuse,
)
from handlers.helpdesk import (
    age,
    card_actions,
    contact_targets,
    handled_by,
    notify,
    parse_number,
    scope_of,
    tell_worker,
)
from handlers.labels import CATEGORY_LABELS, REQUEST_STATUS_LABELS
from models import organisation, requests
from models.requests import Category, Filter, HelpRequest, Scope, Side, Status

log = logging.getLogger(__name__)

SHOWN = 10
MATCHES_SHOWN = 20


async def _forward(ctx: Context, request: HelpRequest) -> list[Action] | Msg:
    """Pass a wage request on to the employer's contact (who asked stays hidden if asked);
    the worker is told, so that an answer from their employer comes as no surprise."""
    if not request.about_wages or request.forwarded_at is not None or not request.is_open:
        return Msg("error.stale_button")
    contacts = await contact_targets(ctx.session, request)
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
            status=Msg(REQUEST_STATUS_LABELS[item.request.status]),
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
    if is_staff(ctx):
        filters = [Button(Msg("requests.by_category"), "cat")]
        if is_district_staff(ctx):
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
        number = parse_number(value[2:])
        request = await handled_by(ctx, number) if number is not None else None
        if request is None:
            return Reject(Msg("error.stale_button"))
        state.data["request_id"] = request.id
        return Goto("request_card")
    staff = is_staff(ctx)
    if value == "cat" and staff:
        return Goto("by_category")
    if value == "town" and is_district_staff(ctx):
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
    number = parse_number(value.removeprefix("t:")) if value.startswith("t:") else None
    town = await organisation.get_town(ctx.session, number) if number is not None else None
    if town is None or not is_district_staff(ctx):
        return Reject(Msg("error.stale_button"))
    state.data.update(town_id=town.id, town_name=town.name)
    return Goto("open_list")


async def ask_by_enterprise(state: State, ctx: Context) -> list[Action]:
    """Which enterprise: typed, as there may be hundreds."""
    return [say("requests.ask_enterprise")]


async def on_enterprise_search(state: State, text: str, ctx: Context) -> Outcome:
    """Find enterprises by part of the name; one match is taken, several are offered."""
    query = validation.parse_org_search(text, max_len=64)
    if isinstance(query, validation.Invalid):
        return refuse(query)
    matches, total = await organisation.search_enterprises(
        ctx.session, town_id=own_town(ctx), query=query, limit=MATCHES_SHOWN
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
    number = parse_number(value.removeprefix("e:")) if value.startswith("e:") else None
    enterprise = (
        await organisation.get_enterprise(ctx.session, number) if number is not None else None
    )
    town = own_town(ctx)
    if enterprise is None or (town is not None and enterprise.town_id != town):
        return Reject(Msg("error.stale_button"))
    state.data.update(enterprise_id=enterprise.id, enterprise_name=enterprise.name)
    return Goto("open_list")


async def ask_card(state: State, ctx: Context) -> list[Action]:
    """The whole request, with what this person may do with it."""
    request = await handled_by(ctx, int(state.data["request_id"]))
    if request is None:
        return [say("error.not_allowed")]
    actions = await card_actions(ctx, request)
    rows: list[list[Button]] = []
    if request.is_open:
        rows.append([Button(Msg("request.answer_button"), "answer")])
        if is_district_staff(ctx) and request.about_wages and request.forwarded_at is None:
            rows.append([Button(Msg("request.forward_button"), "forward")])
        if is_staff(ctx):
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
    if value == "forward" and is_district_staff(ctx):
        forwarded = await _forward(ctx, request)
        if isinstance(forwarded, Msg):
            return Reject(forwarded)
        return Goto("open_list", say=tuple(forwarded))
    if value == "close" and is_staff(ctx):
        closed = await _close(ctx, request)
        if isinstance(closed, Msg):
            return Reject(closed)
        return Goto("open_list", say=tuple(closed))
    return Reject(Msg("error.stale_button"))


BROWSE = Flow(
    name="requests",
    roles=REQUEST_HANDLERS,
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
    number = parse_number(args)
    request = await handled_by(ctx, number) if number is not None else None
    if request is None or not is_district_staff(ctx):
        return [AnswerButton(Msg("error.not_allowed"), alert=True)]
    forwarded = await _forward(ctx, request)
    if isinstance(forwarded, Msg):
        return [AnswerButton(forwarded, alert=True)]
    return [AnswerButton(), *forwarded]


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("requests", N_("command.requests"), requests_command, REQUEST_HANDLERS),
)
BUTTONS: tuple[GlobalButton, ...] = (GlobalButton("rqf", on_forward_button, DISTRICT_STAFF),)
