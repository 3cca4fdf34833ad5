"""Personal data: /forget, the retention purge, the audit log, and what the logs hold."""

from __future__ import annotations

import itertools
import sqlite3
from contextlib import redirect_stdout
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
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
        assert erased.checkins == preview.checkins, "the dry run said what the purge did"
    assert await mentions(kit, NAME, PHONE, "三号楼") == []
    assert await day_totals(kit) == before
    [entry] = [e for e in await kit.rows(AuditEntry) if e.action is Action.PURGE]
    assert entry.via == "scheduler" and entry.rows == 2
    assert entry.scope["checkins"] == 2


async def test_the_purges_dry_run_and_its_report_count_each_checkin_once(
    db: AsyncEngine,
) -> None:
    """A worker who went home (a destination), one who stayed with a note and changed their
    mind twice, one erased before (nothing left to blank) and one who never checked in."""
    kit = Kit(db)
    await stay_with_note(kit, 100)
    again = kit.user(100)
    await again.command("checkin")
    await again.press("plan.undecided")
    await again.press("checkin.again_in_days", days=3)
    await again.press("ui.confirm")
    await stay_with_note(kit, 101)
    gone = kit.user(101)
    await gone.command("forget")
    await gone.press("forget.yes")
    await enrolled(kit, 102)
    async with kit.sessions() as session, session.begin():
        preview = await privacy.purge_preview(session)
        erased = await privacy.purge_workers(session, kit.clock())
        again_preview = await privacy.purge_preview(session)
    # 100's note (its undecided check-in has nothing to blank); 101 is blanked already.
    assert (preview.people, preview.checkins) == (2, 1)
    assert (erased.people, erased.checkins) == (preview.people, preview.checkins)
    assert (again_preview.people, again_preview.checkins) == (0, 0)


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


# The figures after erasure --------------------------------------------------------------------


async def test_erased_workers_still_count_in_the_days_figures(db: AsyncEngine) -> None:
    """/stats' workers' own word and the reconciliation's "said" keep an erased worker's
    check-in, anonymised, after /forget and after the retention purge; a worker who erased
    their data without ever checking in is no longer counted."""
    from models import stats

    kit = Kit(db)
    await stay_with_note(kit, 100)
    await stay_with_note(kit, 101)
    await enrolled(kit, 102)  # never checks in
    day = date(2027, 1, 20)

    async def said() -> tuple[int, dict[Plan | None, int]]:
        async with kit.sessions() as session:
            picture = await stats.picture(session, day, zone=ZONE)
        by_enterprise: dict[Plan | None, int] = {}
        for gap in picture.gaps:
            for plan, count in gap.said.items():
                by_enterprise[plan] = by_enterprise.get(plan, 0) + count
        assert by_enterprise == picture.plans, "the reconciliation says what /stats says"
        return picture.workers, picture.plans

    assert await said() == (3, {Plan.STAY: 2, None: 1})
    for user_id in (100, 102):
        user = kit.user(user_id)
        await user.command("forget")
        await user.press("forget.yes")
    assert await said() == (2, {Plan.STAY: 2})
    async with kit.sessions() as session, session.begin():
        await privacy.purge_workers(session, kit.clock())
    assert await said() == (2, {Plan.STAY: 2})


async def test_erased_for_good_on_disk_too(db: AsyncEngine, tmp_path: Path) -> None:
    """After /forget, the name, phone and note are in neither the SQLite file nor its
    write-ahead log: deleted content is zeroed and the log truncated at commit."""
    if db.dialect.name != "sqlite":
        pytest.skip("the write-ahead log and secure_delete are SQLite's")
    kit = Kit(db)
    await stay_with_note(kit, 100)
    database = Path(str(db.url.database))
    traces = [text.encode() for text in (NAME, PHONE, "三号楼")]

    def on_disk() -> list[bytes]:
        files = [database, database.with_name(database.name + "-wal")]
        data = b"".join(path.read_bytes() for path in files if path.exists())
        return [trace for trace in traces if trace in data]

    assert on_disk() == traces, "written, so the test can see them go"
    # Into the database file itself, as a busy bot's checkpoints put them.
    checkpoint = sqlite3.connect(database)
    try:
        assert checkpoint.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0
    finally:
        checkpoint.close()
    assert on_disk() == traces
    user = kit.user(100)
    await user.command("forget")
    await user.press("forget.yes")
    assert on_disk() == []
    async with db.connect() as connection:
        secure = await connection.exec_driver_sql("PRAGMA secure_delete")
        assert secure.scalar() == 1, "deleted content is zeroed, not left in free space"


async def test_a_former_contact_leaves_no_name_on_the_enterprise(db: AsyncEngine) -> None:
    """A primary contact who becomes staff takes their name and phone off the enterprise
    (/missing, its card, the export show them); a person who moved on with their name left
    there (written before this rule) and then erases their data takes it off too."""
    from models import organisation, stats
    from models.invites import InviteKind
    from tests.test_flow_roles import role_invite

    kit = Kit(db)
    enterprise_id, _ = await kit.add_enterprise("城建二公司")
    contact = await member(kit, 800, Role.CONTACT)

    async def stand_as_contact(user_id: int) -> None:
        async with kit.sessions() as session, session.begin():
            row = await session.scalar(select(Person).where(Person.telegram_user_id == user_id))
            assert row is not None
            row.enterprise_id = enterprise_id if row.role is Role.CONTACT else None
            row.phone = "13600003333"
            await organisation.set_contact_details(session, enterprise_id, row.full_name, row.phone)

    async def shown() -> tuple[str | None, str | None]:
        async with kit.sessions() as session:
            [missing] = await stats.missing(session, date(2027, 1, 20))
        return missing.contact_name, missing.contact_phone

    await stand_as_contact(800)
    assert await shown() == ("工作人员", "13600003333")
    code = await role_invite(kit, InviteKind.STAFF)
    assert keys(await contact.command("start", code)) == ["role.confirm_change"]
    assert keys(await contact.press("ui.yes")) == ["role.changed"]
    assert await shown() == (None, None)
    # Left there by an older version: erasure takes it off wherever the phone stands.
    await stand_as_contact(800)
    assert await shown() == ("工作人员", "13600003333")
    await contact.command("forget")
    await contact.press("forget.yes")
    assert await shown() == (None, None)


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
