"""Staff manage towns and enterprises (/towns, /enterprises) and make role invites (/invite).

Staff and administrators see every town; a town officer sees only their own town and its
enterprises. Every button is checked again on the server: a town officer's forged button
for another town's enterprise, or a staff member's for an administrator's invite, is
refused and changes nothing. A finished change starts the card afresh, so Back never leads
into a question already answered.

```mermaid
stateDiagram-v2
    [*] --> town_list
    town_list --> town_add
    town_list --> [*]
    town_add --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> town
    town --> town_rename
    town --> town_deactivate
    town --> [*]
    town_rename --> [*]
    town_deactivate --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> enterprise_list
    enterprise_list --> enterprise_add
    enterprise_list --> [*]
    enterprise_add --> enterprise_town
    enterprise_add --> [*]
    enterprise_town --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> enterprise
    enterprise --> enterprise_rename
    enterprise --> enterprise_deactivate
    enterprise --> enterprise_relieve
    enterprise --> [*]
    enterprise_rename --> [*]
    enterprise_deactivate --> [*]
    enterprise_relieve --> [*]
```

```mermaid
stateDiagram-v2
    [*] --> invite_kind
    invite_kind --> invite_town
    invite_kind --> [*]
    invite_town --> [*]
```
"""

from __future__ import annotations

from typing import Any

from handlers import validation
from handlers.access import ADMINS, DISTRICT_STAFF, STAFF_ROLES, own_town
from handlers.actions import N_, Action, Button, Inline, Label, Lines, Msg, Raw, SendText, say
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
from handlers.role_invites import issue_invite, relieve
from models import invites, organisation, people
from models.invites import InviteKind
from models.organisation import ENTERPRISE_NAME_LENGTH, TOWN_NAME_LENGTH, Enterprise, Town
from models.people import Person, Role

PAGE_SIZE = 8
NOT_ALLOWED = Msg("error.not_allowed")
STALE = Msg("error.stale_button")


# Who may do what (asked again on every button, never trusted from the keyboard) ----------


def _role(ctx: Context) -> Role | None:
    return ctx.person.role if ctx.person is not None else None


def manages_towns(ctx: Context) -> bool:
    """Staff and administrators manage towns; town officers only look at their own."""
    return _role(ctx) in DISTRICT_STAFF


def may_see_town(ctx: Context, town_id: int) -> bool:
    """Whether the person may look at (and manage the enterprises of) this town."""
    if manages_towns(ctx):
        return True
    return _role(ctx) is Role.TOWN_OFFICER and own_town(ctx) == town_id


async def load_town(ctx: Context, town_id: Any) -> Town | Msg:
    """The town, or why it cannot be shown to this person."""
    if not isinstance(town_id, int):
        return STALE
    town = await organisation.get_town(ctx.session, town_id)
    if town is None:
        return STALE
    return town if may_see_town(ctx, town.id) else NOT_ALLOWED


async def load_enterprise(ctx: Context, enterprise_id: Any) -> tuple[Enterprise, Town] | Msg:
    """The enterprise and its town, or why it cannot be shown to this person."""
    if not isinstance(enterprise_id, int):
        return STALE
    enterprise = await organisation.get_enterprise(ctx.session, enterprise_id)
    if enterprise is None:
        return STALE
    town = await organisation.get_town(ctx.session, enterprise.town_id)
    if town is None or _role(ctx) not in STAFF_ROLES or not may_see_town(ctx, town.id):
        return NOT_ALLOWED
    return enterprise, town


# Small pieces of the keyboards -------------------------------------------------------------


def number(value: str, prefix: str) -> int | None:
    """The number in button data such as "t:12", if the data has that prefix."""
    if not value.startswith(prefix):
        return None
    digits = value[len(prefix) :]
    return int(digits) if digits.isdigit() and len(digits) < 12 else None


def item_label(name: str, active: bool) -> Label:
    """A town or enterprise on a button, marked when it is deactivated."""
    return Raw(name) if active else Msg("org.inactive_item", name=Raw(name))


def status(active: bool) -> Msg:
    """Active or deactivated, in words."""
    return Msg("org.active") if active else Msg("org.inactive")


def pager(page: int, total: int) -> list[Button]:
    """Previous / page n of m / next, when there is more than one page."""
    pages = max(1, -(-total // PAGE_SIZE))
    if pages == 1:
        return []
    row = [Button(Msg("org.page_prev"), f"p:{page - 1}")] if page > 0 else []
    row.append(Button(Msg("org.page", page=page + 1, pages=pages), f"p:{page}"))
    if page + 1 < pages:
        row.append(Button(Msg("org.page_next"), f"p:{page + 1}"))
    return row


def page_of(state: State) -> int:
    """The page of the list the person is looking at."""
    page = state.data.get("page", 0)
    return page if isinstance(page, int) and page >= 0 else 0


def yes_no() -> Inline:
    """Yes and No."""
    return Inline.of([[Button(Msg("ui.yes"), "yes"), Button(Msg("ui.no"), "no")]])


def typed_name(text: str) -> str:
    """What a person typed to find a town or enterprise, cleaned and cut to a name's length."""
    return validation.clean(text)[:ENTERPRISE_NAME_LENGTH]


async def town_choice(ctx: Context, state: State) -> list[list[Button]]:
    """Buttons of the active towns (a page of them), for choosing one."""
    towns = await organisation.list_towns(ctx.session, active_only=True)
    page = page_of(state)
    shown = towns[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return [*([Button(Raw(t.name), f"t:{t.id}")] for t in shown), pager(page, len(towns))]


async def chosen_town(ctx: Context, state: State, value: str) -> Town | Outcome:
    """The active town a button or typed name chose; Stay to turn a page; or a refusal."""
    page = number(value, "p:")
    if page is not None:
        state.data["page"] = page
        return Stay()
    town_id = number(value, "t:")
    town = await organisation.get_town(ctx.session, town_id) if town_id is not None else None
    if town is None or not town.active:
        return Reject(STALE)
    return town


async def typed_town(ctx: Context, text: str) -> Town | Reject:
    """The active town whose name was typed, or a refusal naming what was typed."""
    name = typed_name(text)
    if not name:
        return Reject(Msg("error.text.empty"))
    town = await organisation.find_town(ctx.session, name)
    if town is None or not town.active:
        return Reject(Msg("org.no_such_town", name=Raw(name)))
    return town


# /towns: the list, and adding a town ----------------------------------------------------------


async def towns_command(ctx: Context, arg: str) -> CommandResult:
    """Staff see every town; a town officer goes straight to their own."""
    if _role(ctx) not in STAFF_ROLES:
        return [say("error.not_allowed")]
    if manages_towns(ctx):
        return Switch("towns")
    town_id = own_town(ctx)
    if town_id is None:
        return [say("org.no_own_town")]
    return Switch("town", {"town_id": town_id})


async def ask_town_list(state: State, ctx: Context) -> list[Action]:
    """Every town, with how many active enterprises it has."""
    summaries = await organisation.town_summaries(ctx.session)
    page = page_of(state)
    shown = summaries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = [[Button(item_label(s.town.name, s.town.active), f"t:{s.town.id}")] for s in shown]
    rows.append(pager(page, len(summaries)))
    rows.append([Button(Msg("org.add_town"), "add")])
    text = Msg("org.towns", count=len(summaries)) if summaries else Msg("org.no_towns")
    return [SendText(text, Inline.of(rows))]


async def on_town_list(state: State, value: str, ctx: Context) -> Outcome:
    """Open a town, turn the page, or add a town."""
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    if value == "add":
        return Goto("town_add")
    page = number(value, "p:")
    if page is not None:
        state.data["page"] = page
        return Stay()
    town = await load_town(ctx, number(value, "t:"))
    if isinstance(town, Msg):
        return Reject(town)
    return Switch("town", {"town_id": town.id})


async def on_town_typed(state: State, text: str, ctx: Context) -> Outcome:
    """Open the town whose name was typed."""
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    name = typed_name(text)
    town = await organisation.find_town(ctx.session, name) if name else None
    if town is None:
        return Reject(Msg("org.no_such_town", name=Raw(name)))
    return Switch("town", {"town_id": town.id})


async def ask_town_name(state: State, ctx: Context) -> list[Action]:
    """The new town's name."""
    return [say("org.ask_town_name")]


async def on_town_name(state: State, text: str, ctx: Context) -> Outcome:
    """Add the town and show its card."""
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    name = validation.parse_org_name(text, max_len=TOWN_NAME_LENGTH)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    if await organisation.find_town(ctx.session, name) is not None:
        return Reject(Msg("org.town_exists", name=Raw(name)))
    town = await organisation.add_town(ctx.session, name)
    return Switch("town", {"town_id": town.id}, say=(say("org.town_added", name=Raw(name)),))


TOWNS = Flow(
    name="towns",
    roles=DISTRICT_STAFF,
    switches_to=("town",),
    steps=(
        Step("town_list", ask_town_list, N_("org.hint_list"), on_button=on_town_list,
             on_text=on_town_typed, goes_to=("town_add",), ends=True),
        Step("town_add", ask_town_name, N_("org.hint_name"), on_text=on_town_name, ends=True),
    ),
)  # fmt: skip


# One town: rename, deactivate, reactivate --------------------------------------------------


async def ask_town(state: State, ctx: Context) -> list[Action]:
    """The town's card and what may be done with it."""
    town = await load_town(ctx, state.data.get("town_id"))
    if isinstance(town, Msg):
        return [SendText(Msg("org.gone"))]
    [summary] = await organisation.town_summaries(ctx.session, town_id=town.id)
    rows: list[list[Button]] = []
    if manages_towns(ctx):
        toggle = (
            Button(Msg("org.deactivate"), "off")
            if town.active
            else Button(Msg("org.reactivate"), "on")
        )
        rows.append([Button(Msg("org.rename"), "ren"), toggle])
    rows.append([Button(Msg("org.town_enterprises"), "ents")])
    if manages_towns(ctx):
        rows.append([Button(Msg("org.all_towns"), "list")])
    card = Msg(
        "org.town_card",
        name=Raw(town.name),
        status=status(town.active),
        enterprises=summary.active_enterprises,
    )
    return [SendText(card, Inline.of(rows))]


async def on_town(state: State, value: str, ctx: Context) -> Outcome:
    """Act on the town, or go to its enterprises or back to all towns."""
    town = await load_town(ctx, state.data.get("town_id"))
    if isinstance(town, Msg):
        return Reject(town)
    if value == "ents":
        return Switch("enterprises", {"town_id": town.id})
    if value not in ("list", "ren", "off", "on"):
        return Reject(STALE)
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    if value == "list":
        return Switch("towns")
    if value == "ren":
        return Goto("town_rename")
    if value == "off":
        return Goto("town_deactivate") if town.active else Stay()
    await organisation.activate_town(ctx.session, town)
    return Stay()


async def ask_town_rename(state: State, ctx: Context) -> list[Action]:
    """The town's new name."""
    town = await load_town(ctx, state.data.get("town_id"))
    name = town.name if isinstance(town, Town) else ""
    return [say("org.ask_new_name", name=Raw(name))]


async def on_town_rename(state: State, text: str, ctx: Context) -> Outcome:
    """Rename the town, unless another town has the name."""
    town = await load_town(ctx, state.data.get("town_id"))
    if isinstance(town, Msg) or not manages_towns(ctx):
        return Reject(town if isinstance(town, Msg) else NOT_ALLOWED)
    name = validation.parse_org_name(text, max_len=TOWN_NAME_LENGTH)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    old = town.name
    if not await organisation.rename_town(ctx.session, town, name):
        return Reject(Msg("org.town_exists", name=Raw(name)))
    done = say("org.renamed", old=Raw(old), new=Raw(name))
    return Switch("town", {"town_id": town.id}, say=(done,))


async def ask_town_deactivate(state: State, ctx: Context) -> list[Action]:
    """Deactivating a town deactivates its enterprises too: confirm."""
    town = await load_town(ctx, state.data.get("town_id"))
    if isinstance(town, Msg):
        return [SendText(Msg("org.gone"))]
    [summary] = await organisation.town_summaries(ctx.session, town_id=town.id)
    text = Msg("org.confirm_town_off", name=Raw(town.name), enterprises=summary.active_enterprises)
    return [SendText(text, yes_no())]


async def on_town_deactivate(state: State, value: str, ctx: Context) -> Outcome:
    """Deactivate the town and its enterprises, or leave it be."""
    town = await load_town(ctx, state.data.get("town_id"))
    if isinstance(town, Msg) or not manages_towns(ctx):
        return Reject(town if isinstance(town, Msg) else NOT_ALLOWED)
    if value == "no":
        return Switch("town", {"town_id": town.id})
    if value != "yes":
        return Reject(STALE)
    count = await organisation.deactivate_town(ctx.session, town)
    done = say("org.town_off", name=Raw(town.name), enterprises=count)
    return Switch("town", {"town_id": town.id}, say=(done,))


TOWN = Flow(
    name="town",
    roles=STAFF_ROLES,
    switches_to=("town", "towns", "enterprises"),
    steps=(
        Step("town", ask_town, N_("hint.press_button"), on_button=on_town,
             goes_to=("town_rename", "town_deactivate"), ends=True),
        Step("town_rename", ask_town_rename, N_("org.hint_name"), on_text=on_town_rename,
             ends=True),
        Step("town_deactivate", ask_town_deactivate, N_("hint.press_button"),
             on_button=on_town_deactivate, ends=True),
    ),
)  # fmt: skip


# /enterprises: the list, searching, adding -------------------------------------------------


async def enterprises_command(ctx: Context, arg: str) -> CommandResult:
    """The enterprises this person may manage; `/enterprises NAME` searches at once."""
    if _role(ctx) not in STAFF_ROLES:
        return [say("error.not_allowed")]
    data: dict[str, Any] = {}
    if not manages_towns(ctx):
        town_id = own_town(ctx)
        if town_id is None:
            return [say("org.no_own_town")]
        data["town_id"] = town_id
    query = typed_name(arg)
    if query and not validation.has_control_chars(query):
        data["query"] = query
    return Switch("enterprises", data)


def list_town(ctx: Context, state: State) -> int | None:
    """The town the list is limited to: a town officer's own, or the one staff chose."""
    if not manages_towns(ctx):
        return own_town(ctx)
    town_id = state.data.get("town_id")
    return town_id if isinstance(town_id, int) else None


async def ask_enterprise_list(state: State, ctx: Context) -> list[Action]:
    """A page of enterprises, with search, paging and Add."""
    town_id = list_town(ctx, state)
    query = str(state.data.get("query", ""))
    page = page_of(state)
    found, total = await organisation.search_enterprises(
        ctx.session, town_id=town_id, query=query, offset=page * PAGE_SIZE, limit=PAGE_SIZE
    )
    rows = [[Button(item_label(e.name, e.active), f"e:{e.id}")] for e, _ in found]
    rows.append(pager(page, total))
    extra = [Button(Msg("org.add_enterprise"), "add")]
    if query:
        extra.append(Button(Msg("org.clear_search"), "all"))
    rows.append(extra)
    town = await organisation.get_town(ctx.session, town_id) if town_id is not None else None
    if query:
        text = Msg("org.enterprises_found", query=Raw(query), count=total)
    elif town is not None:
        text = Msg("org.enterprises_in_town", town=Raw(town.name), count=total)
    else:
        text = Msg("org.enterprises", count=total)
    return [SendText(text, Inline.of(rows))]


async def on_enterprise_list(state: State, value: str, ctx: Context) -> Outcome:
    """Open an enterprise, turn the page, clear the search, or add one."""
    if _role(ctx) not in STAFF_ROLES:
        return Reject(NOT_ALLOWED)
    if value == "add":
        return Goto("enterprise_add")
    if value == "all":
        state.data.pop("query", None)
        state.data["page"] = 0
        return Stay()
    page = number(value, "p:")
    if page is not None:
        state.data["page"] = page
        return Stay()
    found = await load_enterprise(ctx, number(value, "e:"))
    if isinstance(found, Msg):
        return Reject(found)
    return Switch("enterprise", _card_data(state, found[0].id))


def _card_data(state: State, enterprise_id: int) -> dict[str, Any]:
    # The card remembers the list's town so that "all enterprises" returns to the same list.
    data: dict[str, Any] = {"enterprise_id": enterprise_id}
    if isinstance(state.data.get("town_id"), int):
        data["town_id"] = state.data["town_id"]
    return data


async def on_enterprise_search(state: State, text: str, ctx: Context) -> Outcome:
    """Typed text: the enterprise with that name, or those whose names contain it."""
    if _role(ctx) not in STAFF_ROLES:
        return Reject(NOT_ALLOWED)
    query = typed_name(text)
    if not query:
        return Reject(Msg("error.text.empty"))
    if validation.has_control_chars(query):
        return Reject(Msg("error.text.control_chars"))
    town_id = list_town(ctx, state)
    exact = await organisation.find_enterprise(ctx.session, query)
    if exact is not None and (town_id is None or exact.town_id == town_id):
        found = await load_enterprise(ctx, exact.id)
        if not isinstance(found, Msg):
            return Switch("enterprise", _card_data(state, exact.id))
    matches, total = await organisation.search_enterprises(
        ctx.session, town_id=town_id, query=query, limit=1
    )
    if total == 0:
        return Reject(Msg("org.no_match", query=Raw(query)))
    if total == 1:
        return Switch("enterprise", _card_data(state, matches[0][0].id))
    state.data["query"] = query
    state.data["page"] = 0
    return Stay()


async def ask_enterprise_name(state: State, ctx: Context) -> list[Action]:
    """The new enterprise's name."""
    return [say("org.ask_enterprise_name")]


async def on_enterprise_name(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a free name; add the enterprise at once when its town is known."""
    if _role(ctx) not in STAFF_ROLES:
        return Reject(NOT_ALLOWED)
    name = validation.parse_org_name(text, max_len=ENTERPRISE_NAME_LENGTH)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    if await organisation.find_enterprise(ctx.session, name) is not None:
        return Reject(Msg("org.enterprise_exists", name=Raw(name)))
    state.data["new_name"] = name
    town_id = list_town(ctx, state)
    if town_id is None:
        state.data["page"] = 0
        return Goto("enterprise_town")
    town = await load_town(ctx, town_id)
    if isinstance(town, Msg):
        return Reject(town)
    return await _add_enterprise(state, ctx, town)


async def _add_enterprise(state: State, ctx: Context, town: Town) -> Outcome:
    if not town.active:
        return Reject(Msg("org.town_inactive", town=Raw(town.name)))
    name = str(state.data["new_name"])
    if await organisation.find_enterprise(ctx.session, name) is not None:
        return Reject(Msg("org.enterprise_exists", name=Raw(name)))
    enterprise, _ = await organisation.add_enterprise_with_invite(ctx.session, name, town, ctx.now)
    done = say("org.enterprise_added", name=Raw(name), town=Raw(town.name))
    return Switch("enterprise", _card_data(state, enterprise.id), say=(done,))


async def ask_enterprise_town(state: State, ctx: Context) -> list[Action]:
    """Which town the new enterprise is in."""
    text = Msg("org.ask_enterprise_town", name=Raw(str(state.data.get("new_name", ""))))
    return [SendText(text, Inline.of(await town_choice(ctx, state)))]


async def on_enterprise_town(state: State, value: str, ctx: Context) -> Outcome:
    """Add the enterprise in the chosen town."""
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    town = await chosen_town(ctx, state, value)
    if not isinstance(town, Town):
        return town
    return await _add_enterprise(state, ctx, town)


async def on_enterprise_town_typed(state: State, text: str, ctx: Context) -> Outcome:
    """Add the enterprise in the town whose name was typed."""
    if not manages_towns(ctx):
        return Reject(NOT_ALLOWED)
    town = await typed_town(ctx, text)
    if isinstance(town, Reject):
        return town
    return await _add_enterprise(state, ctx, town)


ENTERPRISES = Flow(
    name="enterprises",
    roles=STAFF_ROLES,
    switches_to=("enterprise",),
    steps=(
        Step("enterprise_list", ask_enterprise_list, N_("org.hint_list"),
             on_button=on_enterprise_list, on_text=on_enterprise_search,
             goes_to=("enterprise_add",), ends=True),
        Step("enterprise_add", ask_enterprise_name, N_("org.hint_name"),
             on_text=on_enterprise_name, goes_to=("enterprise_town",), ends=True),
        Step("enterprise_town", ask_enterprise_town, N_("org.hint_list"),
             on_button=on_enterprise_town, on_text=on_enterprise_town_typed, ends=True),
    ),
)  # fmt: skip


# One enterprise: rename, deactivate, reactivate; its contact and deputy ---------------------


async def ask_enterprise(state: State, ctx: Context) -> list[Action]:
    """The enterprise's card: town, state, contact, workers and the workers' invite link."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return [SendText(Msg("org.gone"))]
    enterprise, town = found
    invite = await invites.worker_invite(ctx.session, enterprise.id)
    link: Msg | Raw = (
        Raw(invites.deep_link(ctx.settings.bot_username, invite.code))
        if invite is not None
        else Msg("common.not_given")
    )
    primary, deputy = await primary_and_deputy(ctx, enterprise.id)
    contact: Msg | Lines = (
        Msg("org.contact", name=Raw(primary.full_name or "-"), phone=Raw(primary.phone or "-"))
        if primary is not None
        else Msg(
            "org.contact",
            name=Raw(enterprise.contact_name or "-"),
            phone=Raw(enterprise.contact_phone or "-"),
        )
        if enterprise.contact_name or enterprise.contact_phone
        else Msg("common.not_given")
    )
    if deputy is not None:
        with_deputy = Msg(
            "org.with_deputy", name=Raw(deputy.full_name or "-"), phone=Raw(deputy.phone or "-")
        )
        contact = Lines((contact, with_deputy), sep="")
    card = Msg(
        "org.enterprise_card",
        name=Raw(enterprise.name),
        town=Raw(town.name),
        status=status(enterprise.active),
        contact=contact,
        workers=await organisation.count_workers(ctx.session, enterprise.id),
        link=link,
    )
    toggle = (
        Button(Msg("org.deactivate"), "off")
        if enterprise.active
        else Button(Msg("org.reactivate"), "on")
    )
    rows = [[Button(Msg("org.rename"), "ren"), toggle]]
    if enterprise.active:
        rows.append(
            [
                Button(Msg("org.replace_contact"), "rep")
                if primary is not None
                else Button(Msg("org.contact_invite"), "inv"),
                Button(Msg("org.remove_deputy"), "undep")
                if deputy is not None
                else Button(Msg("org.deputy_invite"), "dep"),
            ]
        )
    rows.append([Button(Msg("org.all_enterprises"), "list")])
    return [SendText(card, Inline.of(rows))]


async def primary_and_deputy(
    ctx: Context, enterprise_id: int
) -> tuple[Person | None, Person | None]:
    """The enterprise's primary contact and its deputy, where it has them."""
    found = await people.contacts(ctx.session, enterprise_id)
    primary = next((p for p in found if not p.deputy), None)
    deputy = next((p for p in found if p.deputy), None)
    return primary, deputy


async def on_enterprise(state: State, value: str, ctx: Context) -> Outcome:
    """Act on the enterprise, make its contact's invite, or go back to the list."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return Reject(found)
    enterprise, town = found
    if value == "list":
        town_id = state.data.get("town_id")
        return Switch("enterprises", {"town_id": town_id} if isinstance(town_id, int) else {})
    if value == "ren":
        return Goto("enterprise_rename")
    if value == "off":
        return Goto("enterprise_deactivate") if enterprise.active else Stay()
    if value == "on":
        if not town.active:
            return Reject(Msg("org.town_inactive", town=Raw(town.name)))
        await organisation.set_enterprise_active(ctx.session, enterprise, True)
        return Stay()
    if value in ("inv", "dep", "rep", "undep") and not enterprise.active:
        return Reject(Msg("org.enterprise_inactive"))
    if value in ("inv", "dep"):
        kind = InviteKind.CONTACT if value == "inv" else InviteKind.DEPUTY
        invite = await issue_invite(ctx, kind, enterprise_id=enterprise.id, place=enterprise.name)
        return Finish((invite,))
    if value in ("rep", "undep"):
        state.data["relieve"] = "deputy" if value == "undep" else "contact"
        return Goto("enterprise_relieve")
    return Reject(STALE)


async def ask_relieve(state: State, ctx: Context) -> list[Action]:
    """Replacing the contact, or removing the deputy, takes their access at once: confirm."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return [SendText(Msg("org.gone"))]
    enterprise = found[0]
    primary, deputy = await primary_and_deputy(ctx, enterprise.id)
    removing_deputy = state.data.get("relieve") == "deputy"
    holder = deputy if removing_deputy else primary
    name = Raw(holder.full_name or "-") if holder is not None else Msg("common.not_given")
    place = Raw(enterprise.name)
    question = (
        Msg("org.confirm_remove_deputy", name=name, enterprise=place)
        if removing_deputy
        else Msg("org.confirm_replace_contact", name=name, enterprise=place)
    )
    return [SendText(question, yes_no())]


async def confirmed(state: State, value: str, ctx: Context) -> Enterprise | Outcome:
    """The enterprise a Yes was pressed for; for No, back to its card; else a refusal."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return Reject(found)
    enterprise = found[0]
    if value == "no":
        return Switch("enterprise", _card_data(state, enterprise.id))
    if value != "yes":
        return Reject(STALE)
    return enterprise


async def on_relieve(state: State, value: str, ctx: Context) -> Outcome:
    """Relieve the contact (and give a link for the next one), or the deputy; or not."""
    enterprise = await confirmed(state, value, ctx)
    if not isinstance(enterprise, Enterprise):
        return enterprise
    if not enterprise.active:
        return Reject(Msg("org.enterprise_inactive"))
    deputy = state.data.get("relieve") == "deputy"
    told = await relieve(ctx, enterprise.id, enterprise.name, deputy=deputy)
    if deputy:
        done = say("org.deputy_removed", enterprise=Raw(enterprise.name))
        return Switch("enterprise", _card_data(state, enterprise.id), say=(done, *told))
    invite = await issue_invite(
        ctx, InviteKind.CONTACT, enterprise_id=enterprise.id, place=enterprise.name
    )
    done = say("org.contact_replaced", enterprise=Raw(enterprise.name))
    return Finish((done, invite, *told))


async def ask_enterprise_rename(state: State, ctx: Context) -> list[Action]:
    """The enterprise's new name."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    name = found[0].name if not isinstance(found, Msg) else ""
    return [say("org.ask_new_name", name=Raw(name))]


async def on_enterprise_rename(state: State, text: str, ctx: Context) -> Outcome:
    """Rename the enterprise, unless another enterprise has the name."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return Reject(found)
    enterprise = found[0]
    name = validation.parse_org_name(text, max_len=ENTERPRISE_NAME_LENGTH)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    old = enterprise.name
    if not await organisation.rename_enterprise(ctx.session, enterprise, name):
        return Reject(Msg("org.enterprise_exists", name=Raw(name)))
    done = say("org.renamed", old=Raw(old), new=Raw(name))
    return Switch("enterprise", _card_data(state, enterprise.id), say=(done,))


async def ask_enterprise_deactivate(state: State, ctx: Context) -> list[Action]:
    """Deactivating stops the enterprise's invite links: confirm."""
    found = await load_enterprise(ctx, state.data.get("enterprise_id"))
    if isinstance(found, Msg):
        return [SendText(Msg("org.gone"))]
    return [SendText(Msg("org.confirm_enterprise_off", name=Raw(found[0].name)), yes_no())]


async def on_enterprise_deactivate(state: State, value: str, ctx: Context) -> Outcome:
    """Deactivate the enterprise, or leave it be."""
    enterprise = await confirmed(state, value, ctx)
    if not isinstance(enterprise, Enterprise):
        return enterprise
    await organisation.set_enterprise_active(ctx.session, enterprise, False)
    done = say("org.enterprise_off", name=Raw(enterprise.name))
    return Switch("enterprise", _card_data(state, enterprise.id), say=(done,))


ENTERPRISE = Flow(
    name="enterprise",
    roles=STAFF_ROLES,
    switches_to=("enterprise", "enterprises"),
    steps=(
        Step("enterprise", ask_enterprise, N_("hint.press_button"), on_button=on_enterprise,
             goes_to=("enterprise_rename", "enterprise_deactivate", "enterprise_relieve"),
             ends=True),
        Step("enterprise_rename", ask_enterprise_rename, N_("org.hint_name"),
             on_text=on_enterprise_rename, ends=True),
        Step("enterprise_deactivate", ask_enterprise_deactivate, N_("hint.press_button"),
             on_button=on_enterprise_deactivate, ends=True),
        Step("enterprise_relieve", ask_relieve, N_("hint.press_button"), on_button=on_relieve,
             ends=True),
    ),
)  # fmt: skip


# /invite ------------------------------------------------------------------------------------


async def invite_command(ctx: Context, arg: str) -> CommandResult:
    """Administrators choose whom to invite; staff and town officers invite a contact."""
    role = _role(ctx)
    if role not in STAFF_ROLES:
        return [say("error.not_allowed")]
    if role is Role.ADMIN:
        return Switch("invite")
    data: dict[str, Any] = {}
    if not manages_towns(ctx):
        town_id = own_town(ctx)
        if town_id is None:
            return [say("org.no_own_town")]
        data["town_id"] = town_id
    return Switch("enterprises", data, say=(say("invite.pick_enterprise"),))


async def ask_invite_kind(state: State, ctx: Context) -> list[Action]:
    """Staff member (of labour inspection or not), town officer, or an enterprise's contact."""
    rows = [
        [Button(Msg("invite.kind.staff"), "staff")],
        [Button(Msg("invite.kind.inspection"), "inspection")],
        [Button(Msg("invite.kind.town_officer"), "town_officer")],
        [Button(Msg("invite.kind.contact"), "contact")],
    ]
    return [SendText(Msg("invite.ask_kind"), Inline.of(rows))]


async def on_invite_kind(state: State, value: str, ctx: Context) -> Outcome:
    """Make a staff invite at once, or ask for the town or the enterprise."""
    role = _role(ctx)
    if value == "contact":
        if role not in STAFF_ROLES:
            return Reject(NOT_ALLOWED)
        return Switch("enterprises", say=(say("invite.pick_enterprise"),))
    if value not in ("staff", "inspection", "town_officer"):
        return Reject(STALE)
    if role is not Role.ADMIN:
        return Reject(NOT_ALLOWED)
    if value == "town_officer":
        state.data["page"] = 0
        return Goto("invite_town")
    kind = InviteKind.INSPECTION if value == "inspection" else InviteKind.STAFF
    return Finish((await issue_invite(ctx, kind),))


async def ask_invite_town(state: State, ctx: Context) -> list[Action]:
    """Which town the officer will look after."""
    return [SendText(Msg("invite.ask_town"), Inline.of(await town_choice(ctx, state)))]


async def _officer_invite(ctx: Context, town: Town) -> Outcome:
    if _role(ctx) is not Role.ADMIN:
        return Reject(NOT_ALLOWED)
    invite = await issue_invite(ctx, InviteKind.TOWN_OFFICER, town_id=town.id, place=town.name)
    return Finish((invite,))


async def on_invite_town(state: State, value: str, ctx: Context) -> Outcome:
    """Make the town officer's invite for the chosen town."""
    if _role(ctx) is not Role.ADMIN:
        return Reject(NOT_ALLOWED)
    town = await chosen_town(ctx, state, value)
    if not isinstance(town, Town):
        return town
    return await _officer_invite(ctx, town)


async def on_invite_town_typed(state: State, text: str, ctx: Context) -> Outcome:
    """Make the town officer's invite for the town whose name was typed."""
    town = await typed_town(ctx, text)
    if isinstance(town, Reject):
        return town
    return await _officer_invite(ctx, town)


INVITE = Flow(
    name="invite",
    roles=ADMINS,
    switches_to=("enterprises",),
    steps=(
        Step("invite_kind", ask_invite_kind, N_("hint.press_button"), on_button=on_invite_kind,
             goes_to=("invite_town",), ends=True),
        Step("invite_town", ask_invite_town, N_("org.hint_list"), on_button=on_invite_town,
             on_text=on_invite_town_typed, ends=True),
    ),
)  # fmt: skip


FLOWS: tuple[Flow, ...] = (TOWNS, TOWN, ENTERPRISES, ENTERPRISE, INVITE)
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("towns", N_("command.towns"), towns_command, STAFF_ROLES),
    CommandSpec("enterprises", N_("command.enterprises"), enterprises_command, STAFF_ROLES),
    CommandSpec("invite", N_("command.invite"), invite_command, STAFF_ROLES),
)
