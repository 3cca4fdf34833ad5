"""What /broadcast and /event share: choosing the audience, and auditing what staff send.

The audience steps (one table both flows include), the audience in words, how far ahead a
broadcast may be set, and the audit entry of every broadcast staff start.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from handlers import validation
from handlers.access import is_town_officer, own_town
from handlers.actions import N_, Action, Button, Inline, Lines, Msg, Param, Raw, SendText, say
from handlers.flow import Context, Goto, Outcome, Reject, State, Stay, Step, refuse
from handlers.labels import LANGUAGE_NAMES, PLAN_LABELS
from models import audit, broadcasts, organisation
from models.broadcasts import NO_CHECKIN, Audience, Broadcast
from models.checkins import Plan
from models.people import Role

# A broadcast set further ahead than this is a typing mistake.
FURTHEST_SCHEDULE = timedelta(days=180)
MATCHES_SHOWN = 20
AUDIENCES: dict[str, str] = {
    "workers": N_("broadcast.audience.workers"),
    "contacts": N_("broadcast.audience.contacts"),
    "town": N_("broadcast.audience.by_town"),
    "enterprise": N_("broadcast.audience.by_enterprise"),
    "plan": N_("broadcast.audience.by_plan"),
    "language": N_("broadcast.audience.by_language"),
}
NO_CHECKIN_LABEL = N_("broadcast.plan.none")


def audience_of(data: dict[str, Any]) -> Audience:
    """The audience the answers so far describe."""
    role = Role.CONTACT if data.get("role") == Role.CONTACT.value else Role.WORKER
    return Audience(
        role=role,
        town_id=data.get("town_id"),
        enterprise_id=data.get("enterprise_id"),
        plan=data.get("plan"),
        language=data.get("language"),
    )


def describe_audience(data: dict[str, Any]) -> Msg:
    """The audience in words, for the summary and /notices."""
    contacts = data.get("role") == Role.CONTACT.value
    role = Msg("broadcast.audience.contacts") if contacts else Msg("broadcast.audience.workers")
    parts: list[Param] = [role]
    if data.get("town_name"):
        parts.append(Msg("broadcast.filter.town", town=data["town_name"]))
    if data.get("enterprise_name"):
        parts.append(Msg("broadcast.filter.enterprise", enterprise=data["enterprise_name"]))
    plan = data.get("plan")
    if plan == NO_CHECKIN:
        parts.append(Msg(NO_CHECKIN_LABEL))
    elif plan:
        parts.append(Msg(PLAN_LABELS[Plan(plan)]))
    if data.get("language") in LANGUAGE_NAMES:
        parts.append(Msg(LANGUAGE_NAMES[data["language"]]))
    return Msg("broadcast.audience_line", parts=Lines(tuple(parts), sep=" · "))


async def ask_audience(state: State, ctx: Context) -> list[Action]:
    """All workers, all contacts, or workers narrowed down."""
    choices = [key for key in AUDIENCES if not (key == "town" and is_town_officer(ctx))]
    rows = [
        [Button(Msg(AUDIENCES[a]), a) for a in choices[i : i + 2]]
        for i in range(0, len(choices), 2)
    ]
    town = state.data.get("town_name")
    intro = (
        Msg("broadcast.ask_audience_in_town", town=town) if town else Msg("broadcast.ask_audience")
    )
    return [SendText(intro, Inline.of(rows))]


async def on_audience(state: State, value: str, ctx: Context) -> Outcome:
    """Narrow down, or go straight to the content."""
    if value not in AUDIENCES or (value == "town" and is_town_officer(ctx)):
        return Reject(Msg("error.stale_button"))
    for key in ("enterprise_id", "enterprise_name", "plan", "language"):
        state.data.pop(key, None)
    if not is_town_officer(ctx):
        state.data.pop("town_id", None)
        state.data.pop("town_name", None)
    state.data["role"] = Role.CONTACT.value if value == "contacts" else Role.WORKER.value
    if value in ("workers", "contacts"):
        return Goto("content")
    return Goto(value)


async def ask_town(state: State, ctx: Context) -> list[Action]:
    """Which town."""
    towns = await organisation.list_towns(ctx.session, active_only=True)
    if not towns:
        return [say("broadcast.no_towns")]
    rows = [
        [Button(Raw(t.name), str(t.id)) for t in towns[i : i + 3]] for i in range(0, len(towns), 3)
    ]
    return [SendText(Msg("broadcast.ask_town"), Inline.of(rows))]


async def on_town(state: State, value: str, ctx: Context) -> Outcome:
    """Keep an active town."""
    town = await organisation.get_town(ctx.session, int(value)) if value.isdigit() else None
    if town is None or not town.active:
        return Reject(Msg("error.stale_button"))
    state.data.update(town_id=town.id, town_name=town.name)
    return Goto("content")


async def ask_enterprise(state: State, ctx: Context) -> list[Action]:
    """Which enterprise: typed, as there may be hundreds."""
    return [say("broadcast.ask_enterprise")]


async def on_enterprise_search(state: State, text: str, ctx: Context) -> Outcome:
    """Find enterprises by part of the name; one match is taken, several are offered."""
    query = validation.parse_org_search(text, max_len=64)
    if isinstance(query, validation.Invalid):
        return refuse(query)
    matches, total = await organisation.search_enterprises(
        ctx.session, town_id=own_town(ctx), query=query, limit=MATCHES_SHOWN
    )
    found = [enterprise for enterprise, _town in matches if enterprise.active]
    if not found:
        return Reject(Msg("broadcast.no_enterprise_matches", text=query))
    if len(found) == 1:
        state.data.update(enterprise_id=found[0].id, enterprise_name=found[0].name)
        return Goto("content")
    if total > MATCHES_SHOWN:
        return Reject(Msg("broadcast.too_many_matches", count=total))
    rows = [[Button(Raw(e.name), f"e:{e.id}")] for e in found]
    return Stay((SendText(Msg("broadcast.pick_enterprise"), Inline.of(rows)),))


async def on_enterprise_pick(state: State, value: str, ctx: Context) -> Outcome:
    """Keep an offered enterprise (in the officer's town)."""
    number = value.removeprefix("e:")
    enterprise = (
        await organisation.get_enterprise(ctx.session, int(number)) if number.isdigit() else None
    )
    town = own_town(ctx)
    if (
        enterprise is None
        or not enterprise.active
        or (town is not None and enterprise.town_id != town)
    ):
        return Reject(Msg("error.stale_button"))
    state.data.update(enterprise_id=enterprise.id, enterprise_name=enterprise.name)
    return Goto("content")


async def ask_plan(state: State, ctx: Context) -> list[Action]:
    """Which current plan."""
    rows = [[Button(Msg(label), plan.value)] for plan, label in PLAN_LABELS.items()]
    rows.append([Button(Msg(NO_CHECKIN_LABEL), NO_CHECKIN)])
    return [SendText(Msg("broadcast.ask_plan"), Inline.of(rows))]


async def on_plan(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a plan, or "no check-in yet"."""
    if value != NO_CHECKIN and value not in {p.value for p in PLAN_LABELS}:
        return Reject(Msg("error.stale_button"))
    state.data["plan"] = value
    return Goto("content")


async def ask_language(state: State, ctx: Context) -> list[Action]:
    """Which language the recipients read."""
    rows = [[Button(Msg(label), code)] for code, label in LANGUAGE_NAMES.items()]
    return [SendText(Msg("broadcast.ask_language"), Inline.of(rows))]


async def on_language(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a language."""
    if value not in LANGUAGE_NAMES:
        return Reject(Msg("error.stale_button"))
    state.data["language"] = value
    return Goto("content")


async def audit_broadcast(ctx: Context, broadcast: Broadcast) -> None:
    """Every broadcast staff start goes into the audit log, with its audience and size."""
    audience = Audience.from_json(broadcast.audience)
    count = await broadcasts.count_audience(ctx.session, audience)
    scope = {
        "broadcast": broadcast.id,
        "kind": broadcast.content_kind.value,
        "audience": audience.to_json(),
        "send_at": broadcast.send_at.isoformat(),
        "daily_until": broadcast.daily_until.isoformat() if broadcast.daily_until else None,
    }
    actor = ctx.person.id if ctx.person else None
    await audit.record(
        ctx.session, audit.Action.BROADCAST, ctx.now, actor_id=actor, scope=scope, rows=count
    )


# The audience steps, in this order at the start of /broadcast and of /event after its own;
# each leads to the flow's "content" step.
AUDIENCE_STEPS: tuple[Step, ...] = (
    Step("audience", ask_audience, N_("hint.press_button"), on_button=on_audience,
         goes_to=("town", "enterprise", "plan", "language", "content")),
    Step("town", ask_town, N_("hint.press_button"), on_button=on_town, goes_to=("content",)),
    Step("enterprise", ask_enterprise, N_("broadcast.hint_enterprise"),
         on_text=on_enterprise_search, on_button=on_enterprise_pick, goes_to=("content",)),
    Step("plan", ask_plan, N_("hint.press_button"), on_button=on_plan, goes_to=("content",)),
    Step("language", ask_language, N_("hint.press_button"), on_button=on_language,
         goes_to=("content",)),
)  # fmt: skip


async def audience_start(ctx: Context) -> dict[str, Any] | None:
    """What composing a broadcast or an event starts with: a town officer's own town, kept;
    None for a town officer bound to no town, who may reach nobody."""
    if is_town_officer(ctx) and own_town(ctx) is None:
        return None
    data: dict[str, Any] = {}
    town_id = own_town(ctx)
    if town_id is not None:
        town = await organisation.get_town(ctx.session, town_id)
        data.update(town_id=town_id, town_name=town.name if town else "")
    return data
