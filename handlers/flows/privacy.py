"""A person's /forget, consent asked again when its text changes, and /audit for admins.

/forget asks once more, then blanks the person's name, phone, home town, travel plans,
notes and conversation; their check-ins and deliveries still count in the figures. Their
next message starts from enrolment. A contact who forgets leaves the enterprise without
a contact, and staff are told.

```mermaid
stateDiagram-v2
    [*] --> confirm_forget
    confirm_forget --> [*]
```

When `privacy.consent_version` is raised, everyone who agreed to an older text is shown the
new one at their next message, before anything else (the engine's gate); /mydata, /forget,
/help and /language still work meanwhile. Agreeing records the version and the time;
declining keeps what was stored under the old text and asks again next time.

```mermaid
stateDiagram-v2
    [*] --> consent_again
    consent_again --> [*]
```
"""

from __future__ import annotations

from handlers.access import ADMINS, ENROLLED, person_title
from handlers.actions import N_, Action, Button, Inline, Lines, Msg, Raw, SendText, say
from handlers.consent import AGREE_OR_DECLINE, worker_notice
from handlers.flow import (
    CommandResult,
    CommandSpec,
    Context,
    Finish,
    Flow,
    Gate,
    Outcome,
    Reject,
    State,
    Step,
    Switch,
)
from models import audit, organisation, people, privacy
from models.people import Role

AUDIT_SHOWN = 20
ACTION_LABELS: dict[audit.Action, str] = {
    audit.Action.EXPORT: N_("audit.action.export"),
    audit.Action.BROADCAST: N_("audit.action.broadcast"),
    audit.Action.ROLE_CHANGE: N_("audit.action.role_change"),
    audit.Action.INVITE: N_("audit.action.invite"),
    audit.Action.ERASURE: N_("audit.action.erasure"),
    audit.Action.PURGE: N_("audit.action.purge"),
}


async def forget_command(ctx: Context, arg: str) -> CommandResult:
    """Ask before erasing anything."""
    return Switch("forget")


async def ask_forget(state: State, ctx: Context) -> list[Action]:
    """What will go, what stays, and a last chance to keep it."""
    return [
        SendText(
            Msg("forget.confirm"),
            Inline.of([[Button(Msg("forget.yes"), "erase")], [Button(Msg("forget.no"), "keep")]]),
        )
    ]


async def on_forget(state: State, value: str, ctx: Context) -> Outcome:
    """Erase, or keep everything."""
    if value == "keep":
        return Finish((say("forget.kept"),))
    if value != "erase":
        return Reject(Msg("error.stale_button"))
    person = ctx.person
    if person is None:
        return Finish((say("mydata.nothing"),), forget=True)
    # Only the primary contact's leaving leaves the enterprise without one.
    was_contact = (
        person.role is Role.CONTACT and not person.deputy and person.enterprise_id is not None
    )
    enterprise = (
        await organisation.get_enterprise(ctx.session, person.enterprise_id)
        if was_contact and person.enterprise_id is not None
        else None
    )
    erased = await privacy.erase_person(ctx.session, person, ctx.now)
    await audit.record(
        ctx.session,
        audit.Action.ERASURE,
        ctx.now,
        actor_id=person.id,
        scope={"person_id": person.id, "role": person.role.value},
        rows=erased.people + erased.checkins,
    )
    actions: list[Action] = [say("forget.done")]
    if enterprise is not None:
        for chat_id, language in await people.staff_chats(ctx.session, enterprise.town_id):
            actions.append(
                SendText(
                    Msg("forget.contact_left", enterprise=Raw(enterprise.name)),
                    chat_id=chat_id,
                    language=language,
                )
            )
    ctx.person = None
    return Finish(tuple(actions), forget=True)


FORGET = Flow(
    name="forget",
    roles=ENROLLED,
    steps=(
        Step("confirm_forget", ask_forget, N_("hint.press_button"), on_button=on_forget,
             ends=True),
    ),
)  # fmt: skip


# Consent to a changed text ------------------------------------------------------------------


def needs_consent_again(ctx: Context) -> bool:
    """Whether the person agreed to an older consent text than the current one."""
    person = ctx.person
    return (
        person is not None
        and person.erased_at is None
        and person.consent_version is not None
        and person.consent_version < ctx.settings.consent_version
    )


async def ask_consent_again(state: State, ctx: Context) -> list[Action]:
    """The current consent text for the person's role, with Agree and Decline."""
    person = ctx.person
    text: Msg
    if person is not None and person.role is Role.WORKER:
        enterprise = (
            await organisation.get_enterprise(ctx.session, person.enterprise_id)
            if person.enterprise_id is not None
            else None
        )
        name = Raw(enterprise.name) if enterprise else Msg("common.not_given")
        text = worker_notice(name, ctx.settings)
    else:
        title = await person_title(ctx.session, person) if person else Msg("role.worker")
        text = Msg("role.consent", role=title)
    return [say("consent.changed"), SendText(text, AGREE_OR_DECLINE)]


async def on_consent_again(state: State, value: str, ctx: Context) -> Outcome:
    """Record agreement to the current text, or leave things as they were."""
    person = ctx.person
    if value not in ("yes", "no"):
        return Reject(Msg("error.stale_button"))
    if person is None or value == "no":
        return Finish((say("consent.declined_again"),))
    person.consent_version = ctx.settings.consent_version
    person.consent_at = ctx.now
    return Finish((say("consent.agreed_again"),))


CONSENT_AGAIN = Flow(
    name="consent_again",
    roles=ENROLLED,
    steps=(
        Step("consent_again", ask_consent_again, N_("hint.press_button"),
             on_button=on_consent_again, ends=True),
    ),
)  # fmt: skip
CONSENT_GATE = Gate(
    flow=CONSENT_AGAIN.name,
    needed=needs_consent_again,
    exempt=frozenset({"mydata", "forget", "help", "language"}),
)


async def audit_command(ctx: Context, arg: str) -> CommandResult:
    """The newest audited actions (administrators only)."""
    entries = await audit.recent(ctx.session, AUDIT_SHOWN)
    if not entries:
        return [say("audit.none")]
    lines = Lines(
        tuple(
            Msg(
                "audit.line",
                number=entry.id,
                at=entry.at,
                action=Msg(ACTION_LABELS[entry.action]),
                actor=Msg("audit.by_person", id=entry.actor_id)
                if entry.actor_id is not None
                else Msg("audit.by_system", via=entry.via),
                rows=entry.rows,
                scope=Raw(describe_scope(entry.scope)),
            )
            for entry in entries
        ),
        sep="\n\n",
    )
    return [say("audit.list", lines=lines)]


def describe_scope(scope: dict[str, object]) -> str:
    """The scope as short key=value pairs (ids and values, never names or phones)."""
    parts: list[str] = []
    for key, value in scope.items():
        if value is None or value == {}:
            continue
        if isinstance(value, dict):
            inner = ", ".join(f"{k}={v}" for k, v in value.items() if v is not None)
            parts.append(f"{key}({inner})")
        else:
            parts.append(f"{key}={value}")
    return "; ".join(parts)


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("forget", N_("command.forget"), forget_command, ENROLLED),
    CommandSpec("audit", N_("command.audit"), audit_command, ADMINS, keeps_conversation=True),
)
