"""The hot queries' plans: nothing on the per-update path or in a recurring job scans a table
that grows with the campaign (people, checkins, deliveries, processed_updates).

The statements are not written out here: they are recorded as the real code runs them (a
worker enrols and checks in with needs that open requests, which finds staff, labour
inspection and the town's officers; an update is redelivered; the sender looks for due
deliveries; the escalation job for unanswered requests; the prune of old update ids), then
each is explained on the database it ran on: EXPLAIN QUERY PLAN on SQLite, EXPLAIN on
PostgreSQL with sequential scans priced out, so that a scan shows only where no index serves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.events import Text
from models import broadcasts, conversations, people, requests
from models.organisation import get_enterprise
from models.people import Person, Role
from tests.harness import CAMPAIGN_NOW, Kit

GROWING = ("people", "checkins", "deliveries", "processed_updates")
# SQLite: "SCAN people", a whole table or a whole index ("SCAN people USING COVERING INDEX");
# a search reads "SEARCH people USING INDEX ... (role=?)".
SQLITE_SCAN = re.compile(rf"\bSCAN ({'|'.join(GROWING)})\b")
# Statements that read or change rows found by a condition (plain INSERT ... VALUES finds none;
# INSERT ... SELECT does).
SEARCHING = re.compile(
    r"^\s*(SELECT|UPDATE|DELETE|WITH)\b|^\s*INSERT\b.*\bSELECT\b", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Ran:
    """One statement as it went to the driver, with its parameters."""

    sql: str
    parameters: Any


@contextmanager
def recording(engine: AsyncEngine) -> Iterator[list[Ran]]:
    """Every statement the engine sends to its driver inside the block."""
    ran: list[Ran] = []

    def record(
        _conn: Connection, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if not many and SEARCHING.match(sql):
            ran.append(Ran(sql, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield ran
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def plans(engine: AsyncEngine, ran: list[Ran]) -> list[tuple[str, str]]:
    """(statement, its plan as text) for each distinct statement."""
    seen: dict[str, Ran] = {}
    for statement in ran:
        seen.setdefault(statement.sql, statement)
    explained: list[tuple[str, str]] = []
    async with engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        assert raw is not None
        if engine.dialect.name == "postgresql":
            await raw.execute("SET enable_seqscan = off")
            for statement in seen.values():
                sql = f"EXPLAIN (FORMAT JSON) {statement.sql}"
                found = await raw.fetchval(sql, *statement.parameters)
                # The engine's connections decode JSON already.
                [tree] = json.loads(found) if isinstance(found, str) else found
                explained.append((statement.sql, "\n".join(_postgres_nodes(tree["Plan"]))))
        else:
            for statement in seen.values():
                cursor = await raw.execute(
                    f"EXPLAIN QUERY PLAN {statement.sql}", statement.parameters
                )
                rows = await cursor.fetchall()
                explained.append((statement.sql, "\n".join(str(r[3]) for r in rows)))
    return explained


def _postgres_nodes(node: dict[str, Any], depth: int = 0) -> Iterator[str]:
    """The plan's nodes, one line each; a scan of a growing table that no condition on an
    index narrows (a sequential scan, or an index read from end to end) is marked FULL."""
    kind, table = node["Node Type"], node.get("Relation Name")
    line = f"{'  ' * depth}{kind}"
    if table:
        line += f" on {table}"
    if "Index Name" in node:
        line += f" using {node['Index Name']}"
    if "Index Cond" in node:
        line += f" ({node['Index Cond']})"
    unnarrowed = kind == "Seq Scan" or (
        kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in node
    )
    if table in GROWING and unnarrowed:
        line += " FULL"
    yield line
    for child in node.get("Plans", []):
        yield from _postgres_nodes(child, depth + 1)


def full_scans(explained: list[tuple[str, str]]) -> list[str]:
    """The statements whose plan scans a growing table whole, each with its plan."""
    return [
        f"{sql}\n  -> {plan}"
        for sql, plan in explained
        if SQLITE_SCAN.search(plan) or plan.endswith(" FULL") or " FULL\n" in plan
    ]


async def district(kit: Kit) -> str:
    """Staff, an administrator, labour inspection, a town officer, an enterprise with its
    contact; returns the enterprise's worker invite code."""
    enterprise_id, code = await kit.add_enterprise("城建一公司", "开发区")
    async with kit.sessions() as session, session.begin():
        enterprise = await get_enterprise(session, enterprise_id)
        assert enterprise is not None
        for user_id, role, extra in (
            (900, Role.STAFF, {}),
            (901, Role.STAFF, {"labour_inspection": True}),
            (902, Role.ADMIN, {}),
            (903, Role.TOWN_OFFICER, {"town_id": enterprise.town_id}),
            (904, Role.CONTACT, {"enterprise_id": enterprise_id}),
        ):
            await people.add(
                session,
                Person(
                    telegram_user_id=user_id,
                    chat_id=user_id,
                    role=role,
                    language="zh_Hans",
                    enrolled_at=CAMPAIGN_NOW,
                    active=True,
                    **extra,
                ),
            )
    return code


async def test_no_hot_query_scans_a_growing_table(db: AsyncEngine) -> None:
    kit = Kit(db)
    code = await district(kit)
    worker = kit.user(100)
    with recording(db) as ran:
        await worker.command("start", code)
        await worker.press("enrol.agree")
        await worker.send("张三")
        await worker.send("13812345678")
        await worker.press("province.41")
        await worker.send("信阳市")
        await worker.press("plan.stay")
        await worker.press("need.heating")
        await worker.press("need.wages")
        await worker.press("ui.done")
        await worker.press("ui.skip")
        await worker.press("ui.confirm")
        # Telegram delivers the last update again: recognised, not handled twice.
        again = Text(update_id=1, user_id=100, chat_id=100, language_code="zh-hans", text="1")
        assert (await kit.engine.handle(again)).actions == ()
        async with kit.sessions() as session, session.begin():
            # What the recurring work asks: the sender, the escalation job, the prune.
            await broadcasts.due_deliveries(session, CAMPAIGN_NOW, 0, 100)
            await broadcasts.next_due_at(session)
            # The sender's progress figures, and the letter read on a web page: when the
            # page says what it showed, and when the sender writes web outcomes.
            await broadcasts.run_figures(session, 1)
            await broadcasts.read_when_shown(session, CAMPAIGN_NOW, web_chat=1)
            await broadcasts.read_when_shown(session, CAMPAIGN_NOW, deliveries=[1, 2])
            await requests.due_for_escalation(session, CAMPAIGN_NOW - timedelta(hours=24))
            await conversations.forget_processed_before(
                session, CAMPAIGN_NOW - conversations.REDELIVERY_WINDOW
            )
            # Every way staff are found, with and without a town.
            await people.staff_ids(session)
            await people.staff_ids(session, 1)
            await people.labour_inspection_ids(session)
            await people.staff_readers(session)
            await people.contacts(session, 1)
    dialect = db.dialect.name
    explained = await plans(db, ran)
    listing = "\n\n".join(f"{sql}\n  -> {plan}" for sql, plan in explained)
    print(f"\n[{dialect}] {len(explained)} hot queries and their plans:\n{listing}")
    assert len(explained) >= 10, listing
    assert any("people" in sql and "role" in sql for sql, _ in explained), "staff were found"
    assert any("letter_reads" in sql for sql, _ in explained), "web reads were looked for"
    assert full_scans(explained) == []


async def test_a_missing_index_is_caught(db: AsyncEngine) -> None:
    """The check can fail: without the role index, finding staff scans every person."""
    async with db.begin() as connection:
        await connection.exec_driver_sql("DROP INDEX ix_people_role_town_id")
    try:
        async with Kit(db).sessions() as session:
            with recording(db) as ran:
                await people.staff_readers(session)
        scans = full_scans(await plans(db, ran))
        assert len(scans) == 1 and "people" in scans[0]
    finally:
        async with db.begin() as connection:
            await connection.exec_driver_sql(
                "CREATE INDEX ix_people_role_town_id ON people (role, town_id)"
            )
