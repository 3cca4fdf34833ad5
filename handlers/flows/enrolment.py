"""A worker's enrolment: consent, then the real-name profile, then on to the first check-in.

Nothing about the person is stored until the profile is complete; declining consent
forgets the conversation entirely.

```mermaid
stateDiagram-v2
    [*] --> consent
    consent --> name
    consent --> [*]
    name --> phone
    phone --> province
    province --> city
    city --> [*]
```
"""

from __future__ import annotations

from datetime import datetime

from handlers import phone, validation
from handlers.access import NEWCOMERS
from handlers.actions import (
    N_,
    Action,
    Msg,
    Raw,
    SendText,
    say,
)
from handlers.consent import AGREE_OR_DECLINE, worker_notice
from handlers.content import letter_for
from handlers.events import ContactShared
from handlers.flow import (
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
from handlers.geography import (
    PROVINCES,
    prefecture_keyboard,
    prefecture_of,
    province_keyboard,
    province_name,
)
from handlers.menus import home_markup, menu_for
from models import invites, organisation, people
from models.people import Person, Role


async def ask_consent(state: State, ctx: Context) -> list[Action]:
    """What is kept, why, for how long and who sees it; Agree or Decline."""
    notice = worker_notice(Raw(state.data["enterprise_name"]), ctx.settings)
    return [SendText(notice, AGREE_OR_DECLINE)]


async def on_consent(state: State, value: str, ctx: Context) -> Outcome:
    """Agree goes on to the profile; Decline forgets everything."""
    if value == "yes":
        state.data["consent_at"] = ctx.now.isoformat()
        return Goto("name")
    if value == "no":
        return Finish((say("enrol.declined"),), forget=True)
    return Reject(Msg("error.stale_button"))


async def ask_name(state: State, ctx: Context) -> list[Action]:
    """Full name as on the ID card."""
    return [say("enrol.ask_name")]


async def on_name(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a valid name."""
    name = validation.parse_name(text)
    if isinstance(name, validation.Invalid):
        return refuse(name)
    state.data["name"] = name
    return Goto("phone")


async def on_phone_typed(state: State, text: str, ctx: Context) -> Outcome:
    """Keep a valid typed mobile number."""
    return _keep_phone(state, phone.typed_phone(text))


async def on_phone_shared(state: State, event: ContactShared, ctx: Context) -> Outcome:
    """Keep the shared number, but only the person's own."""
    return _keep_phone(state, phone.shared_phone(event))


def _keep_phone(state: State, number: str | Reject) -> Outcome:
    if isinstance(number, Reject):
        return number
    state.data["phone"] = number
    return Goto("province", say=(say("enrol.phone_saved"),))


async def ask_province(state: State, ctx: Context) -> list[Action]:
    """The province of household registration."""
    return [SendText(Msg("enrol.ask_province"), province_keyboard())]


async def on_province(state: State, value: str, ctx: Context) -> Outcome:
    """Keep a province from the keyboard."""
    if value not in PROVINCES:
        return Reject(Msg("error.stale_button"))
    state.data["province"] = value
    return Goto("city")


async def ask_city(state: State, ctx: Context) -> list[Action]:
    """The city within the province: picked from its prefectures where known, or typed."""
    province = state.data.get("province")
    keyboard = prefecture_keyboard(province)
    if keyboard is None:
        return [say("enrol.ask_city", province=province_name(province))]
    return [SendText(Msg("enrol.pick_city", province=province_name(province)), keyboard)]


async def on_city(state: State, text: str, ctx: Context) -> Outcome:
    """Store the completed profile with a typed city, and go on to the first check-in."""
    city = validation.parse_place(text)
    if isinstance(city, validation.Invalid):
        return refuse(city)
    return await _enrol(state, city, ctx)


async def on_city_button(state: State, value: str, ctx: Context) -> Outcome:
    """Store the completed profile with a prefecture from the buttons."""
    city = prefecture_of(state.data.get("province"), value)
    if city is None:
        return Reject(Msg("error.stale_button"))
    return await _enrol(state, city, ctx)


async def _enrol(state: State, city: str, ctx: Context) -> Outcome:
    invite = await invites.get(ctx.session, state.data["invite"])
    enterprise = await organisation.get_enterprise(ctx.session, state.data["enterprise_id"])
    if (
        invite is None
        or enterprise is None
        or not enterprise.active
        or not await invites.claim(ctx.session, invite, ctx.now)
    ):
        return Finish((say("start.invite_unusable"),))
    person = await people.add(
        ctx.session,
        Person(
            channel=ctx.event.channel,
            telegram_user_id=ctx.event.user_id,
            chat_id=ctx.event.chat_id,
            role=Role.WORKER,
            language=ctx.language,
            enterprise_id=enterprise.id,
            full_name=state.data["name"],
            phone=state.data["phone"],
            hukou_province=state.data["province"],
            hukou_city=city,
            consent_version=ctx.settings.consent_version,
            consent_at=datetime.fromisoformat(state.data["consent_at"]),
            enrolled_at=ctx.now,
            active=True,
        ),
    )
    ctx.person = person
    # The worker's own keyboard and menu come with the welcome, before the first check-in.
    done = SendText(
        Msg("enrol.done", name=person.full_name or "", enterprise=Raw(enterprise.name)),
        home_markup(Role.WORKER),
    )
    menu = menu_for(ctx.commands, Role.WORKER)
    return Switch("checkin", say=(menu, done, *await letter_for(ctx)))


ENROLMENT = Flow(
    name="enrolment",
    roles=NEWCOMERS,
    switches_to=("checkin",),
    steps=(
        Step("consent", ask_consent, N_("hint.press_button"), on_button=on_consent,
             goes_to=("name",), ends=True),
        Step("name", ask_name, N_("enrol.hint_name"), on_text=on_name, goes_to=("phone",)),
        Step("phone", phone.ask_phone, N_("enrol.hint_phone"), on_text=on_phone_typed,
             on_contact=on_phone_shared, goes_to=("province",)),
        Step("province", ask_province, N_("hint.press_button"), on_button=on_province,
             goes_to=("city",)),
        Step("city", ask_city, N_("enrol.hint_city"), on_text=on_city, on_button=on_city_button,
             ends=True),
    ),
)  # fmt: skip
