"""Personal data: /forget, the retention purge, the audit log, and what the logs hold."""

from __future__ import annotations

import itertools
from contextlib import redirect_stdout
from datetime import date
from io import StringIO
from pathlib import Path

from sqlalchemy import JSON, String, Text, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main as outreach
from models import audit, checkins, privacy
from models.audit import Action, AuditEntry
from models.base import Base
from models.checkins import CheckIn, Plan
from models.people import Person, Role
from tests.harness import ZONE, Kit, keys, sent
from tests.test_flow_broadcast import compose_text, member
from tests.test_flow_checkin import enrolled

NAME = "张三"
PHONE = "13812345678"


async def stay_with_note(kit: Kit, user_id: int) -> None:
    user = await enrolled(kit, user_id)
    await user.press("plan.stay")
    await user.press("need.heating")
    await user.press("ui.done")
    await user.send("宿舍暖气坏了，住在三号楼")
    await user.press("ui.confirm")


async def mentions(kit: Kit, *needles: str) -> list[str]:
    """Every table.column whose text holds one of the needles."""
    found: list[str] = []
    async with kit.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text | JSON):
                    continue
                text = cast(column, Text)
                hit = or_(*(text.like(f"%{needle}%") for needle in needles))
                count = await session.scalar(select(func.count()).select_from(table).where(hit))
                if count:
                    found.append(f"{table.name}.{column.name}")
    return found


async def day_totals(kit: Kit) -> dict[Plan, int]:
    async with kit.sessions() as session:
        rows = await session.execute(
            select(CheckIn.plan, func.count())
            .where(CheckIn.local_date == date(2027, 1, 20))
            .group_by(CheckIn.plan)
        )
        return {Plan(plan): int(count) for plan, count in rows}


async def test_forget_erases_everywhere_and_keeps_the_figures(db: AsyncEngine) -> None:
    kit = Kit(db)
    await stay_with_note(kit, 100)
    await stay_with_note(kit, 101)
    before = await day_totals(kit)
    assert await mentions(kit, NAME, PHONE, "三号楼") != []
    user = kit.user(100)
    answer = await user.command("forget")
    assert keys(answer) == ["forget.confirm"]
    answer = await user.press("forget.no")
    assert keys(answer) == ["forget.kept"]
    await user.command("forget")
    answer = await user.press("forget.yes")
    assert keys(answer) == ["forget.done"]
    assert await day_totals(kit) == before, "the day's figures do not change"
    async with kit.sessions() as session:
        erased = await session.scalar(select(Person).where(Person.erased_at.is_not(None)))
        assert erased is not None
        assert (erased.full_name, erased.phone, erased.hukou_city) == (None, None, None)
        assert erased.telegram_user_id is None and erased.chat_id is None
        history = await checkins.history(session, erased.id, limit=10)
        assert [c.note for c in history] == [None]
    # The other worker, with the same made-up name, is untouched: look for the erased row only.
    assert await kit.conversation(100) is None
    [entry] = [e for e in await kit.rows(AuditEntry) if e.action is Action.ERASURE]
    assert entry.actor_id == erased.id
    # The next message starts from the beginning.
    assert keys(await user.command("start")) == ["start.no_code"]


async def test_nothing_of_a_forgotten_person_is_left_in_any_text_column(db: AsyncEngine) -> None:
    kit = Kit(db)
    await stay_with_note(kit, 100)
    user = kit.user(100)
    await user.command("forget")
    await user.press("forget.yes")
    assert await mentions(kit, NAME, PHONE, "三号楼", "信阳") == []


async def test_a_contact_who_forgets_leaves_and_staff_are_told(db: AsyncEngine) -> None:
    kit = Kit(db)
    await member(kit, 900)
    contact = await member(kit, 800, Role.CONTACT)
    enterprise_id, _code = await kit.add_enterprise("城建二公司")
    async with kit.sessions() as session, session.begin():
        row = await session.scalar(select(Person).where(Person.telegram_user_id == 800))
        assert row is not None
        row.enterprise_id = enterprise_id
    await contact.command("forget")
    answer = await contact.press("forget.yes")
    [told] = [s for s in await sent(kit, answer) if s.chat_id == 900]
    assert told.key == "forget.contact_left" and "城建二公司" in told.text


async def test_retention_purge_waits_for_its_date(db: AsyncEngine) -> None:
    kit = Kit(db)
    await stay_with_note(kit, 100)
    await stay_with_note(kit, 101)
    before = await day_totals(kit)
    until = date(2027, 3, 16)
    async with kit.sessions() as session, session.begin():
        early = kit.clock()
        assert await privacy.purge_after_retention(session, until, ZONE, early, "scheduler") is None
        preview = await privacy.purge_preview(session)
        assert (preview.people, preview.checkins) == (2, 2)
    assert await mentions(kit, NAME) != []
    kit.clock.advance(days=56)  # 2027-03-17, the day after the retention date
    async with kit.sessions() as session, session.begin():
        erased = await privacy.purge_after_retention(session, until, ZONE, kit.clock(), "scheduler")
        assert erased is not None and erased.people == 2
    assert await mentions(kit, NAME, PHONE, "三号楼") == []
    assert await day_totals(kit) == before
    [entry] = [e for e in await kit.rows(AuditEntry) if e.action is Action.PURGE]
    assert entry.via == "scheduler" and entry.rows == 2


async def test_audited_actions(db: AsyncEngine) -> None:
    kit = Kit(db)
    await enrolled(kit, 100)
    admin = await member(kit, 901, Role.ADMIN)
    staff = await member(kit, 900)
    await compose_text(staff)
    await staff.press("broadcast.send_now")
    await staff.press("ui.confirm")
    entries = await kit.rows(AuditEntry)
    [sent] = [e for e in entries if e.action is Action.BROADCAST]
    assert sent.rows == 1 and sent.scope["audience"]["role"] == "worker"
    # Workers cannot read the log; administrators can.
    assert keys(await kit.user(100).command("audit")) == ["error.not_allowed"]
    assert keys(await staff.command("audit")) == ["error.not_allowed"]
    assert keys(await admin.command("audit")) == ["audit.list"]
    async with kit.sessions() as session:
        assert [e.action for e in await audit.recent(session, 10)] == [Action.BROADCAST]


def test_purge_and_audit_from_the_command_line(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n', encoding="utf-8")
    out = StringIO()
    with redirect_stdout(out):
        assert outreach(["--config", str(config), "purge", "--dry-run"]) == 0
        assert outreach(["--config", str(config), "audit"]) == 0
    printed = out.getvalue()
    assert "would anonymise 0 worker(s)" in printed
    assert "the audit log is empty" in printed
    assert outreach(["--config", str(config), "purge"]) == 1, "not before the retention date"


# Consent to a changed text ---------------------------------------------------------------------


async def test_a_changed_consent_text_is_asked_before_anything_else(db: AsyncEngine) -> None:
    await enrolled(Kit(db), 100)
    kit = Kit(db, consent_version=2)  # the same database, the text changed since
    kit.update_ids = itertools.count(10_000)  # Telegram's ids go on rising
    user = kit.user(100)
    assert keys(await user.command("status")) == ["consent.changed", "enrol.consent"]
    state = await user.state()
    assert state is not None and state.flow == "consent_again"
    # Seeing, erasing and help never wait for consent; anything else does.
    assert keys(await user.command("mydata")) == ["mydata.text"]
    assert "consent.changed" in keys(await user.command("checkin"))
    assert "consent.changed" in keys(await user.press_data("!letter|read"))

    assert keys(await user.press("enrol.decline")) == ["consent.declined_again"]
    [person] = await kit.rows(Person)
    assert (person.consent_version, person.full_name) == (1, NAME), "kept as agreed before"
    assert keys(await user.send("你好")) == ["consent.changed", "enrol.consent"]

    kit.clock.advance(hours=1)
    assert keys(await user.press("enrol.agree")) == ["consent.agreed_again"]
    [person] = await kit.rows(Person)
    assert (person.consent_version, person.consent_at) == (2, kit.clock())
    assert keys(await user.command("status"))[0] != "consent.changed"
    assert await user.state() is None


async def test_staff_are_asked_again_in_their_role_and_the_never_asked_are_not(
    db: AsyncEngine,
) -> None:
    kit = Kit(db, consent_version=3)
    staff = await member(kit, 7)
    async with kit.sessions() as session, session.begin():
        person = await session.scalar(select(Person).where(Person.telegram_user_id == 7))
        assert person is not None
        person.consent_version = 2
    assert keys(await staff.command("stats")) == ["consent.changed", "role.consent"]
    await staff.press("enrol.agree")
    assert keys(await staff.command("help"))[0] != "consent.changed"
    # An administrator added on the command line agreed to nothing in the bot: not gated.
    admin = await member(kit, 8, Role.ADMIN)
    assert "consent.changed" not in keys(await admin.command("stats"))
