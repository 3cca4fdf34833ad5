"""How a conversation is declared: a table of steps, each with its question and its answers.

A step's handler gets the conversation state, the inbound event and the context, and returns
an outcome (go to a step, refuse the input, stay, finish, or switch to another flow). Handlers
may change `state.data`; the engine keeps those changes only when the outcome is not a
refusal, and rolls back any database write made by a refused step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias
from zoneinfo import ZoneInfo

from handlers.actions import Action, Msg
from handlers.events import Inbound
from handlers.validation import Invalid

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from models.people import Person, Role

STATE_VERSION = 1


@dataclass
class State:
    """Where a person is in a flow; stored as JSON in the conversation row."""

    flow: str
    step: str
    token: str
    data: dict[str, Any] = field(default_factory=dict)
    history: list[str] = field(default_factory=list)
    reply_keyboard: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the database."""
        return {
            "v": STATE_VERSION,
            "flow": self.flow,
            "step": self.step,
            "token": self.token,
            "data": self.data,
            "history": self.history,
            "reply_keyboard": self.reply_keyboard,
        }

    @staticmethod
    def from_json(raw: Mapping[str, Any]) -> State | None:
        """Read a stored state; None when it was written by an incompatible version."""
        if raw.get("v") != STATE_VERSION:
            return None
        return State(
            flow=str(raw["flow"]),
            step=str(raw["step"]),
            token=str(raw["token"]),
            data=dict(raw.get("data") or {}),
            history=[str(s) for s in raw.get("history") or []],
            reply_keyboard=bool(raw.get("reply_keyboard", False)),
        )


@dataclass(frozen=True)
class FlowSettings:
    """The parts of the configuration that conversations need."""

    timezone: ZoneInfo
    default_language: str
    languages: tuple[str, ...]
    conversation_timeout: timedelta
    consent_version: int
    retention_until: date
    help_phones: tuple[str, ...]
    ask_again_days: tuple[int, ...] = (3, 7, 14)
    note_max_length: int = 500
    campaign_name: str = ""
    # For invite links made in the bot (t.me/<bot_username>?start=<code>).
    bot_username: str = ""
    # How long a single-use staff, town-officer or contact invite stays valid.
    invite_days: int = 7
    # The daily headcount report: its deadline (local), the largest figure it accepts, and
    # after how many days a worker's check-in counts as stale in the contact's roster.
    report_deadline: time = time(16, 0)
    report_max_count: int = 100_000
    stale_days: int = 7
    # A request to an employer's contact unanswered this long goes to staff too.
    request_escalate_after: timedelta = timedelta(hours=24)
    # Longest description of a request or of a nomination's measure.
    description_max_length: int = 1000
    # The last local day contacts may submit or change a nomination; models to select.
    nomination_deadline: date = date(2027, 2, 14)
    nomination_target: int = 3
    # /stats lists the enterprises whose report and whose workers' check-ins differ by this
    # many people or more; the trend starts on the first day of the service phase.
    gap_threshold: int = 5
    campaign_start: date = date(2027, 1, 10)
    # The Spring Festival (正月初一) the campaign is for: date buttons are offered around it.
    holiday: date = date(2027, 2, 6)


@dataclass
class Context:
    """What a step may use: the session (one transaction per event), the person, the clock."""

    session: AsyncSession
    event: Inbound
    person: Person | None
    language: str
    now: datetime
    settings: FlowSettings
    new_token: Callable[[], str]
    commands: Sequence[CommandSpec] = ()
    language_chosen: str | None = None

    def choose_language(self, language: str) -> None:
        """Switch the person's language; the answer to this event is already in it."""
        self.language = language
        self.language_chosen = language

    @property
    def today(self) -> date:
        """Today's local date in the campaign's time zone."""
        return self.now.astimezone(self.settings.timezone).date()


# Outcomes of a step ---------------------------------------------------------------------


@dataclass(frozen=True)
class Goto:
    """Move to `step` and ask its question, after saying `say`."""

    step: str
    say: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Reject:
    """Refuse the input: explain, ask again; nothing the step did is kept."""

    problem: Msg


@dataclass(frozen=True)
class Stay:
    """Remain on the step (its data may have changed), answering with `actions`, or by
    asking the step's question again (in place, for a button) when there are none."""

    actions: tuple[Action, ...] = ()


@dataclass(frozen=True)
class Finish:
    """End the conversation with `actions`; `forget` also drops the remembered language."""

    actions: tuple[Action, ...] = ()
    forget: bool = False


@dataclass(frozen=True)
class Switch:
    """End this flow and start `flow` with `data`, after saying `say`."""

    flow: str
    data: Mapping[str, Any] = field(default_factory=dict)
    say: tuple[Action, ...] = ()


Outcome: TypeAlias = Goto | Reject | Stay | Finish | Switch


def refuse(invalid: Invalid) -> Reject:
    """Refuse typed input with the validator's own explanation."""
    params = {k: v if isinstance(v, int) else str(v) for k, v in invalid.params.items()}
    return Reject(Msg(invalid.key, **params))


Prompt = Callable[[State, Context], Awaitable[Sequence[Action]]]
Handler = Callable[[State, Any, Context], Awaitable[Outcome]]


@dataclass(frozen=True)
class Step:
    """One question of a flow and the inputs it accepts.

    `on_text` gets the text, `on_button` the button's value, `on_contact` the shared phone,
    `on_media` the media event. `goes_to` names every step a handler may move to (the flow
    checks them when it is declared); `ends` says a handler may finish or switch flows.
    `hint` is said when the input is of the wrong kind.
    """

    name: str
    prompt: Prompt
    hint: str
    on_text: Handler | None = None
    on_button: Handler | None = None
    on_contact: Handler | None = None
    on_media: Handler | None = None
    goes_to: tuple[str, ...] = ()
    ends: bool = False


@dataclass(frozen=True)
class Flow:
    """A whole conversation: its steps, where it starts, and who may run it."""

    name: str
    steps: tuple[Step, ...]
    roles: frozenset[Role | None]
    switches_to: tuple[str, ...] = ()
    by_name: Mapping[str, Step] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        by_name = {step.name: step for step in self.steps}
        if len(by_name) != len(self.steps):
            raise ValueError(f"flow {self.name}: duplicate step names")
        for step in self.steps:
            if "|" in step.name:
                raise ValueError(f"flow {self.name}: '|' not allowed in step {step.name}")
            for target in step.goes_to:
                if target not in by_name:
                    raise ValueError(f"flow {self.name}: step {step.name} goes to unknown {target}")
        object.__setattr__(self, "by_name", by_name)

    @property
    def first(self) -> str:
        """The step a new conversation starts on."""
        return self.steps[0].name

    def step(self, name: str) -> Step | None:
        """The step by name, if the flow (still) has it."""
        return self.by_name.get(name)

    def mermaid(self) -> str:
        """The flow as a Mermaid state diagram, generated from the table itself."""
        lines = ["stateDiagram-v2", f"    [*] --> {self.first}"]
        for step in self.steps:
            lines.extend(f"    {step.name} --> {target}" for target in step.goes_to)
            if step.ends:
                lines.append(f"    {step.name} --> [*]")
        return "\n".join(lines)


def check_switches(flows: Iterable[Flow]) -> dict[str, Flow]:
    """Index flows by name, refusing any switch to a flow that is not registered."""
    index = {flow.name: flow for flow in flows}
    for flow in index.values():
        for target in flow.switches_to:
            if target not in index:
                raise ValueError(f"flow {flow.name} switches to unknown flow {target}")
    return index


CommandResult: TypeAlias = "Sequence[Action] | Switch"


@dataclass(frozen=True)
class CommandSpec:
    """A /command: who may use it, what it does, and its line in the command menu.

    `keeps_conversation` commands (help, status...) answer without ending an open flow;
    the others replace it. A command without `run` is built into the engine (/cancel).
    """

    name: str
    description: str
    run: Callable[[Context, str], Awaitable[CommandResult]] | None
    roles: frozenset[Role | None]
    keeps_conversation: bool = False
    in_menu: bool = True


@dataclass(frozen=True)
class GlobalButton:
    """A button that works outside any conversation; its data is "!<kind>|<args>".

    It answers with actions, or starts a flow (a Switch) the way a command does.
    """

    kind: str
    run: Callable[[Context, str], Awaitable[Sequence[Action] | Switch]]
    roles: frozenset[Role | None]


@dataclass(frozen=True)
class Gate:
    """A flow a person must go through before the bot does anything else for them (consent
    to a changed text, say). `exempt` commands pass, so that nobody is kept from seeing or
    erasing what is stored about them; events the bot makes itself (triggers) pass too."""

    flow: str
    needed: Callable[[Context], bool]
    exempt: frozenset[str] = frozenset()


def global_data(kind: str, *args: object) -> str:
    """The callback data of a global button."""
    data = "!" + "|".join([kind, *(str(a) for a in args)])
    if len(data.encode()) > 64:
        raise ValueError(f"callback data too long: {data!r}")
    return data
