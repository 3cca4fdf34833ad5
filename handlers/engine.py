"""The small engine that runs flows: one inbound event in, one transaction, actions out.

For each event it records the update id (a redelivered update is ignored), loads the person
and their conversation row, closes a stale conversation, stops at the gate (a flow such as
consent to a changed text, which comes before anything else), routes the event (/cancel and
other commands, Back and Cancel, the current step's handler, global buttons), keeps or rolls back
what the step did, stores the new state, and decorates the answer: button data tied to the
conversation and step, Back/Cancel on every question, a reply keyboard taken away when it is
no longer needed, and a pressed button answered in place.

Everything about who sent the event is looked up by its channel and ids (`Event.channel`):
the same engine serves the Telegram runtimes and the web runtime, and no flow sees which.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import outbox
from handlers.actions import (
    Action,
    AnswerButton,
    Button,
    EditText,
    Inline,
    Msg,
    RemoveReply,
    Reply,
    ReplyButton,
    SendText,
    Tell,
)
from handlers.events import (
    ButtonPress,
    ChatStatus,
    Command,
    ContactShared,
    Inbound,
    Media,
    Text,
)
from handlers.flow import (
    CommandSpec,
    Context,
    Finish,
    Flow,
    FlowSettings,
    Gate,
    GlobalButton,
    Goto,
    Outcome,
    Reject,
    State,
    Stay,
    Step,
    Switch,
    check_switches,
)
from handlers.ports import Clock, Texts
from models import conversations, people
from models.conversations import StoredConversation
from models.people import Person, Role

log = logging.getLogger(__name__)

BACK = "<"
CANCEL = "x"
# An update whose database connection was lost is tried once more, on a fresh connection.
ATTEMPTS = 2

Fallback = Callable[[Context], "Any"]


@dataclass(frozen=True)
class Answer:
    """The engine's answer to one event: actions to render, in the reader's language; and
    what it told other people, already written to the outbox (not for the renderer)."""

    language: str
    actions: tuple[Action, ...] = ()
    told: tuple[Tell, ...] = ()


class _Refused(Exception):
    """Carries a refused step's answer out of the transaction it rolls back."""

    def __init__(self, answer: Answer) -> None:
        super().__init__("step refused the input")
        self.answer = answer


@dataclass
class _Turn:
    """What one event changed, gathered while it is handled."""

    state: State | None
    changed: bool = False
    forget: bool = False
    # A step refused the input: whatever it wrote is rolled back with the transaction.
    rejected: bool = False
    actions: list[Action] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keyboard_was_showing = self.state is not None and self.state.reply_keyboard


class KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: object) -> AsyncIterator[None]:
        """Hold the key's lock for the duration of the block."""
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


def _is_global(event: Inbound) -> bool:
    return isinstance(event, ButtonPress) and event.data.startswith("!")


def pick_language(code: str | None, languages: Sequence[str], default: str) -> str:
    """Map Telegram's language code (zh-hans, zh-TW, en-GB...) to one of our catalogs."""
    if not code:
        return default
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        traditional = any(tag in code for tag in ("hant", "tw", "hk", "mo"))
        wanted = "zh_Hant" if traditional else "zh_Hans"
        return wanted if wanted in languages else default
    base = code.split("-")[0]
    for language in languages:
        if language.lower() == base:
            return language
    return default


class Engine:
    """Runs the declared flows and commands for one inbound event at a time per chat."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        flows: Iterable[Flow],
        commands: Iterable[CommandSpec],
        buttons: Iterable[GlobalButton],
        idle: Callable[[Context], Any],
        settings: FlowSettings,
        texts: Texts,
        clock: Clock,
        new_token: Callable[[], str] | None = None,
        gate: Gate | None = None,
        home_keyboards: Mapping[Role, Reply] | None = None,
        shortcuts: Mapping[Role, Mapping[str, str]] | None = None,
    ) -> None:
        self.sessions = sessions
        self.flows = check_switches(flows)
        self.commands = {c.name: c for c in commands}
        self.buttons = {b.kind: b for b in buttons}
        self.idle = idle
        self.settings = settings
        self.texts = texts
        self.clock = clock
        self.new_token = new_token or (lambda: secrets.token_urlsafe(4))
        self._locks = KeyedLocks()
        self.gate = gate
        # A role's own keyboard stays under the chat; pressing one of its buttons (label key
        # -> command) runs the command, whatever conversation is open.
        self.home_keyboards = dict(home_keyboards or {})
        self.shortcuts = dict(shortcuts or {})
        if gate is not None and gate.flow not in self.flows:
            raise ValueError(f"the gate's flow {gate.flow!r} is not declared")

    # The transaction around one event ------------------------------------------------

    async def handle(self, event: Inbound) -> Answer:
        """Handle one event; never raises for anything a person can send."""
        async with self._locks.hold((event.channel, event.chat_id, event.user_id)):
            for attempt in range(1, 1 + ATTEMPTS):
                try:
                    return await self._handle_in_transaction(event)
                except _Refused as refused:
                    await self._mark_processed(event)
                    return refused.answer
                except Exception as error:
                    # The server dropped the connection (a restart, an idle limit): the pool
                    # is invalidated and the rolled-back update runs again on a new one.
                    lost = isinstance(error, DBAPIError) and error.connection_invalidated
                    if lost and attempt < ATTEMPTS:
                        log.warning("database connection lost; update %s again", event.update_id)
                        continue
                    log.exception(
                        "event failed: update=%s kind=%s", event.update_id, type(event).__name__
                    )
                    return await self._after_failure(event)
            raise AssertionError("unreachable: the last attempt returns")

    async def _handle_in_transaction(self, event: Inbound) -> Answer:
        now = self.clock()
        async with self.sessions() as session, session.begin():
            opened = await conversations.open_turn(
                session, event.update_id, event.chat_id, event.user_id, now, event.channel
            )
            if not opened.fresh:
                log.info("update %s already processed; ignored", event.update_id)
                return Answer(self.settings.default_language)
            person, conversation = opened.person, opened.conversation
            if isinstance(event, ChatStatus):
                await people.set_active(session, event.user_id, not event.blocked, event.channel)
                return Answer(self.settings.default_language)
            language = self._language(event, person, conversation)
            ctx = Context(
                session=session,
                event=event,
                person=person,
                language=language,
                now=now,
                settings=self.settings,
                new_token=self.new_token,
                commands=tuple(self.commands.values()),
            )
            if not event.private:
                return Answer(language)
            turn = _Turn(state=self._live_state(conversation))
            self._close_if_stale(turn, conversation, ctx)
            self._close_if_forbidden(turn, ctx)
            if not await self._stopped_at_gate(turn, ctx):
                await self._route(turn, ctx)
            actions = self._decorate(turn, ctx)
            if turn.rejected:
                # Leaving the block by an exception rolls the whole transaction back, so a
                # refused step leaves nothing half-written (cheaper than a savepoint per step).
                raise _Refused(Answer(ctx.language, tuple(actions)))
            await self._store(turn, conversation, ctx)
            told = tuple(a for a in actions if isinstance(a, Tell))
            await self._tell_others(told, ctx)
            mine = tuple(a for a in actions if not isinstance(a, Tell))
            return Answer(ctx.language, mine, told)

    async def _after_failure(self, event: Inbound) -> Answer:
        # Record the update as handled so a redelivery cannot fail the same way forever.
        language = pick_language(
            event.language_code, self.settings.languages, self.settings.default_language
        )
        try:
            await self._mark_processed(event)
        except Exception:
            log.exception("could not record failed update %s", event.update_id)
        actions: list[Action] = [SendText(Msg("error.internal"))]
        if isinstance(event, ButtonPress):
            actions.insert(0, AnswerButton())
        return Answer(language, tuple(actions))

    async def _mark_processed(self, event: Inbound) -> None:
        if event.update_id is None:
            return
        async with self.sessions() as session, session.begin():
            await conversations.mark_processed(
                session, event.update_id, self.clock(), event.channel
            )

    def _language(
        self, event: Inbound, person: Person | None, conversation: StoredConversation | None
    ) -> str:
        if person is not None and person.language in self.settings.languages:
            return person.language
        if conversation is not None and conversation.language in self.settings.languages:
            return conversation.language
        return pick_language(
            event.language_code, self.settings.languages, self.settings.default_language
        )

    def _live_state(self, conversation: StoredConversation | None) -> State | None:
        if conversation is None or not conversation.state:
            return None
        state = State.from_json(conversation.state)
        if state is None or state.flow not in self.flows:
            return None
        if self.flows[state.flow].step(state.step) is None:
            return None
        return state

    def _close_if_stale(
        self, turn: _Turn, conversation: StoredConversation | None, ctx: Context
    ) -> None:
        if turn.state is None or conversation is None:
            return
        if ctx.now - conversation.updated_at <= self.settings.conversation_timeout:
            return
        self._end(turn, Msg("conversation.expired"))

    def _close_if_forbidden(self, turn: _Turn, ctx: Context) -> None:
        if turn.state is None:
            return
        role = ctx.person.role if ctx.person else None
        if role not in self.flows[turn.state.flow].roles:
            self._end(turn, Msg("conversation.no_longer_allowed"))

    async def _stopped_at_gate(self, turn: _Turn, ctx: Context) -> bool:
        """Start the gate's flow instead of handling the event, when the person must pass it."""
        gate, event = self.gate, ctx.event
        if gate is None or not gate.needed(ctx):
            return False
        if isinstance(event, Command):
            if event.name in gate.exempt | {"cancel"}:
                return False
        elif turn.state is not None and turn.state.flow == gate.flow and not _is_global(event):
            return False  # an answer to the gate's own question
        if isinstance(event, ButtonPress):
            turn.actions.append(AnswerButton())
        await self._switch(turn, ctx, Switch(gate.flow))
        return True

    def _end(self, turn: _Turn, message: Msg | None) -> None:
        turn.state = None
        turn.changed = True
        if message is not None:
            turn.actions.append(SendText(message))

    # Routing -----------------------------------------------------------------------

    async def _route(self, turn: _Turn, ctx: Context) -> None:
        event = ctx.event
        if isinstance(event, Command):
            await self._on_command(turn, ctx, event)
        elif isinstance(event, ButtonPress):
            await self._on_button(turn, ctx, event)
        elif isinstance(event, Text):
            await self._on_text(turn, ctx, event)
        elif isinstance(event, ContactShared):
            await self._on_input(turn, ctx, "on_contact", event)
        elif isinstance(event, Media):
            await self._on_input(turn, ctx, "on_media", event)

    async def _on_command(self, turn: _Turn, ctx: Context, event: Command) -> None:
        if event.name == "cancel":
            if turn.state is None:
                turn.actions.append(SendText(Msg("conversation.nothing_to_cancel")))
            else:
                self._end(turn, Msg("conversation.cancelled"))
            return
        spec = self.commands.get(event.name)
        role = ctx.person.role if ctx.person else None
        if spec is None or spec.run is None:
            turn.actions.append(SendText(Msg("error.unknown_command")))
            return
        if role not in spec.roles:
            turn.actions.append(SendText(Msg("error.not_allowed")))
            return
        result = await spec.run(ctx, event.arg)
        if isinstance(result, Switch):
            await self._switch(turn, ctx, result)
            return
        if not spec.keeps_conversation and turn.state is not None:
            self._end(turn, None)
        turn.actions.extend(result)

    async def _on_button(self, turn: _Turn, ctx: Context, event: ButtonPress) -> None:
        if _is_global(event):
            kind, _, args = event.data[1:].partition("|")
            button = self.buttons.get(kind)
            role = ctx.person.role if ctx.person else None
            if button is None:
                turn.actions.append(AnswerButton(Msg("error.stale_button"), alert=True))
            elif role not in button.roles:
                turn.actions.append(AnswerButton(Msg("error.not_allowed"), alert=True))
            else:
                result = await button.run(ctx, args)
                if isinstance(result, Switch):
                    turn.actions.append(AnswerButton())
                    await self._switch(turn, ctx, result)
                else:
                    turn.actions.extend(result)
            return
        token, step_name, value = _split_data(event.data)
        state = turn.state
        if state is None or token != state.token or step_name != state.step:
            turn.actions.append(AnswerButton(Msg("error.stale_button"), alert=True))
            return
        if value == CANCEL:
            self._end(turn, Msg("conversation.cancelled"))
        elif value == BACK:
            await self._back(turn, ctx)
        else:
            await self._on_input(turn, ctx, "on_button", value)

    async def _on_text(self, turn: _Turn, ctx: Context, event: Text) -> None:
        shortcut = self._shortcut(ctx, event.text)
        if shortcut is not None:
            await self._on_command(turn, ctx, shortcut)
            return
        if turn.state is not None:
            typed = event.text.strip()
            if typed == self.texts.plain(ctx.language, "nav.cancel"):
                self._end(turn, Msg("conversation.cancelled"))
                return
            if typed == self.texts.plain(ctx.language, "nav.back") and turn.state.history:
                await self._back(turn, ctx)
                return
        await self._on_input(turn, ctx, "on_text", event.text)

    def _shortcut(self, ctx: Context, typed: str) -> Command | None:
        """The command a press of the person's own keyboard stands for, if the text is one."""
        role = ctx.person.role if ctx.person else None
        if role is None:
            return None
        typed = typed.strip()
        for key, name in self.shortcuts.get(role, {}).items():
            if typed == self.texts.plain(ctx.language, key):
                event = ctx.event
                return Command(
                    update_id=event.update_id,
                    user_id=event.user_id,
                    chat_id=event.chat_id,
                    language_code=event.language_code,
                    private=event.private,
                    name=name,
                )
        return None

    async def _on_input(self, turn: _Turn, ctx: Context, kind: str, value: Any) -> None:
        state = turn.state
        if state is None:
            # Outside any conversation: an answer, or a flow offered (a request, prefilled).
            idle = await self.idle(ctx)
            if isinstance(idle, Switch):
                await self._switch(turn, ctx, idle)
            else:
                turn.actions.extend(idle)
            return
        step = self._step(state)
        handler = getattr(step, kind, None)
        if handler is None:
            if isinstance(ctx.event, ButtonPress):
                turn.actions.append(AnswerButton(Msg("error.stale_button"), alert=True))
            else:
                turn.actions.append(SendText(Msg(step.hint)))
            return
        snapshot = copy.deepcopy(state.data)
        outcome: Outcome = await handler(state, value, ctx)
        if isinstance(outcome, Reject):
            state.data = snapshot
            turn.rejected = True
            await self._reject(turn, ctx, step, outcome)
            return
        await self._apply(turn, ctx, step, outcome)

    async def _reject(self, turn: _Turn, ctx: Context, step: Step, outcome: Reject) -> None:
        if isinstance(ctx.event, ButtonPress):
            turn.actions.append(AnswerButton(outcome.problem, alert=True))
            return
        turn.actions.append(SendText(outcome.problem))
        await self._prompt(turn, ctx)

    async def _apply(self, turn: _Turn, ctx: Context, step: Step, outcome: Outcome) -> None:
        assert turn.state is not None
        turn.changed = True
        if isinstance(outcome, Goto):
            if outcome.step not in step.goes_to:
                raise RuntimeError(f"{turn.state.flow}.{step.name} may not go to {outcome.step}")
            turn.state.history.append(turn.state.step)
            turn.state.step = outcome.step
            turn.actions.extend(outcome.say)
            await self._prompt(turn, ctx)
        elif isinstance(outcome, Stay):
            if outcome.actions:
                turn.actions.extend(self._encode_all(outcome.actions, turn.state))
            else:
                await self._prompt(turn, ctx)
        elif isinstance(outcome, Finish):
            if not step.ends:
                raise RuntimeError(f"{turn.state.flow}.{step.name} may not finish")
            self._end(turn, None)
            turn.forget = outcome.forget
            turn.actions.extend(outcome.actions)
        elif isinstance(outcome, Switch):
            if not step.ends or outcome.flow not in self.flows[turn.state.flow].switches_to:
                raise RuntimeError(
                    f"{turn.state.flow}.{step.name} may not switch to {outcome.flow}"
                )
            await self._switch(turn, ctx, outcome)

    async def _switch(self, turn: _Turn, ctx: Context, switch: Switch) -> None:
        flow = self.flows[switch.flow]
        turn.state = State(
            flow=flow.name, step=flow.first, token=ctx.new_token(), data=dict(switch.data)
        )
        turn.changed = True
        turn.actions.extend(switch.say)
        await self._prompt(turn, ctx)

    async def _back(self, turn: _Turn, ctx: Context) -> None:
        state = turn.state
        assert state is not None
        if not state.history:
            turn.actions.append(AnswerButton(Msg("error.stale_button"), alert=True))
            return
        state.step = state.history.pop()
        turn.changed = True
        await self._prompt(turn, ctx)

    def _step(self, state: State) -> Step:
        step = self.flows[state.flow].step(state.step)
        assert step is not None
        return step

    async def _prompt(self, turn: _Turn, ctx: Context) -> None:
        state = turn.state
        assert state is not None
        actions = list(await self._step(state).prompt(state, ctx))
        turn.actions.extend(self._with_nav(actions, state))

    # Storing -----------------------------------------------------------------------

    async def _store(
        self, turn: _Turn, conversation: StoredConversation | None, ctx: Context
    ) -> None:
        chosen = ctx.language_chosen
        if chosen is not None and ctx.person is not None:
            ctx.person.language = chosen
        stored = conversation.language if conversation is not None else None
        remembered = chosen if chosen is not None and ctx.person is None else stored
        if turn.forget:
            remembered = None
        if not turn.changed and remembered == stored:
            return
        state_json = turn.state.to_json() if turn.state is not None else None
        chat_id, user_id, channel = ctx.event.chat_id, ctx.event.user_id, ctx.event.channel
        if state_json is None and remembered is None:
            if conversation is not None:
                await conversations.remove(ctx.session, chat_id, user_id, channel)
            return
        await conversations.save(
            ctx.session,
            chat_id,
            user_id,
            language=remembered,
            state=state_json,
            now=ctx.now,
            channel=channel,
        )

    async def _tell_others(self, told: Iterable[Tell], ctx: Context) -> None:
        """Write what is said to other people to the outbox, in this transaction."""
        by = ctx.person.id if ctx.person is not None else None
        for message in told:
            await outbox.tell(ctx.session, message, ctx.now, by)

    # Decorating the answer ----------------------------------------------------------

    def _encode_all(self, actions: Iterable[Action], state: State) -> list[Action]:
        return [_encode_action(a, state) for a in actions]

    def _with_nav(self, actions: list[Action], state: State) -> list[Action]:
        actions = self._encode_all(actions, state)
        for index in range(len(actions) - 1, -1, -1):
            action = actions[index]
            if isinstance(action, SendText | EditText):
                actions[index] = self._add_nav(action, state)
                break
        return actions

    def _add_nav(self, action: SendText | EditText, state: State) -> SendText | EditText:
        back = bool(state.history)
        if isinstance(action, SendText) and isinstance(action.markup, Reply):
            nav_row = tuple(
                ReplyButton(Msg(key))
                for key, wanted in (("nav.back", back), ("nav.cancel", True))
                if wanted
            )
            rows = (*action.markup.rows, nav_row)
            return replace(action, markup=Reply(rows, action.markup.placeholder))
        nav = [Button(Msg("nav.back"), _data(state, BACK))] if back else []
        nav.append(Button(Msg("nav.cancel"), _data(state, CANCEL)))
        inline = action.markup if isinstance(action.markup, Inline) else Inline(())
        return replace(action, markup=Inline((*inline.rows, tuple(nav))))

    def _decorate(self, turn: _Turn, ctx: Context) -> list[Action]:
        actions = list(turn.actions)
        shows_keyboard = any(
            isinstance(a, SendText) and isinstance(a.markup, Reply) and not a.markup.persistent
            for a in actions
        )
        if turn.keyboard_was_showing and turn.changed and not shows_keyboard:
            role = ctx.person.role if ctx.person else None
            home = self.home_keyboards.get(role) if role is not None else None
            actions = _remove_reply_keyboard(actions, home)
        if turn.state is not None and turn.changed:
            turn.state.reply_keyboard = shows_keyboard
        event = ctx.event
        if isinstance(event, ButtonPress):
            if not any(isinstance(a, AnswerButton) for a in actions):
                actions.insert(0, AnswerButton())
            if event.message_id is not None and not event.data.startswith("!"):
                actions = _answer_in_place(actions, event.message_id)
        return actions


def _split_data(data: str) -> tuple[str, str, str]:
    parts = data.split("|", 2)
    if len(parts) != 3:
        return "", "", ""
    return parts[0], parts[1], parts[2]


def _data(state: State, value: str) -> str:
    data = f"{state.token}|{state.step}|{value}"
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {data!r}")
    return data


def _encode_markup(markup: Inline, state: State) -> Inline:
    return Inline(
        tuple(
            tuple(
                b if b.url or b.data.startswith("!") else replace(b, data=_data(state, b.data))
                for b in row
            )
            for row in markup.rows
        )
    )


def _encode_action(action: Action, state: State) -> Action:
    if isinstance(action, SendText | EditText) and isinstance(action.markup, Inline):
        return replace(action, markup=_encode_markup(action.markup, state))
    return action


def _remove_reply_keyboard(actions: list[Action], home: Reply | None) -> list[Action]:
    """Take a question's keyboard away, putting the person's own one (if any) back instead."""
    markup: Reply | RemoveReply = home if home is not None else RemoveReply()
    for index, action in enumerate(actions):
        if isinstance(action, SendText) and action.markup is None:
            actions[index] = replace(action, markup=markup)
            return actions
    return [SendText(Msg("ui.keyboard_closed"), markup), *actions]


def _answer_in_place(actions: list[Action], message_id: int) -> list[Action]:
    for index, action in enumerate(actions):
        if isinstance(action, SendText):
            if action.markup is None or isinstance(action.markup, Inline):
                actions[index] = EditText(message_id, action.text, action.markup)
            return actions
    return actions
