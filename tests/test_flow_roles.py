"""Staff, town officers and contacts: enrolment by invite, /towns, /enterprises and /invite,
as plain functions; forged buttons are refused and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from types import ModuleType

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers import registry
from handlers.actions import Msg, Raw, SendText
from handlers.engine import Answer
from handlers.events import ButtonPress
from handlers.flow import Context, Reject, State
from handlers.flows import organisation as organisation_flow
from handlers.flows import roles
from handlers.phone import mask_phone
from models import audit, invites, organisation, people
from models.audit import AuditEntry
from models.conversations import Conversation
from models.invites import Invite, InviteKind
from models.organisation import Enterprise, Town
from models.people import Person, Role
from tests.harness import Kit, SimUser, keys, sent

BOT = "district_bot"


def new_kit(db: AsyncEngine) -> Kit:
    return Kit(db, bot_username=BOT)


async def member(
    kit: Kit, user_id: int, role: Role, *, town: str | None = None, enterprise: int | None = None
) -> SimUser:
    """Someone the bot already knows in this role."""
    async with kit.sessions() as session, session.begin():
        town_id = None
        if town is not None:
            town_id = (await organisation.get_or_create_town(session, town)).id
        session.add(
            Person(
                telegram_user_id=user_id,
                chat_id=user_id,
                role=role,
                language="zh_Hans",
                town_id=town_id,
                enterprise_id=enterprise,
                full_name="王主任",
                enrolled_at=kit.clock(),
                active=True,
            )
        )
    return kit.user(user_id)


def invite_code(user: SimUser) -> str:
    """The code of the invite link the user was last shown."""
    for message in reversed(user.messages):
        if isinstance(message.text, Msg) and message.text.key == "invite.created":
            link = message.text.params["link"]
            assert isinstance(link, Raw)
            found = re.fullmatch(rf"https://t\.me/{BOT}\?start=([A-Za-z0-9_-]+)", link.text)
            assert found, link.text
            return found.group(1)
    raise AssertionError("no invite link was shown")


async def role_invite(
    kit: Kit,
    kind: InviteKind,
    *,
    town_id: int | None = None,
    enterprise_id: int | None = None,
    expires_in: timedelta = timedelta(days=7),
) -> str:
    async with kit.sessions() as session, session.begin():
        invite = await invites.add(
            session,
            kind,
            kit.clock(),
            town_id=town_id,
            enterprise_id=enterprise_id,
            max_uses=1,
            expires_at=kit.clock() + expires_in,
        )
        return invite.code


async def town_id(kit: Kit, name: str) -> int:
    async with kit.sessions() as session, session.begin():
        return (await organisation.get_or_create_town(session, name)).id


async def person_of(kit: Kit, user_id: int) -> Person:
    [person] = [p for p in await kit.rows(Person) if p.telegram_user_id == user_id]
    assert isinstance(person, Person)
    return person


async def enrol(kit: Kit, user_id: int, code: str, name: str = "李四") -> SimUser:
    user = kit.user(user_id)
    await user.command("start", code)
    await user.press("enrol.agree")
    if "enrol.ask_phone" in keys(await user.send(name)):
        await user.send(f"139{user_id:08d}")  # a contact also gives a phone
    return user


@pytest.mark.parametrize("module", [roles, organisation_flow])
def test_the_diagram_in_each_module_is_the_flow(module: ModuleType) -> None:
    assert module.__doc__ is not None
    diagrams = re.findall(r"```mermaid\n(.*?)```", module.__doc__, re.S)
    flows = [f for f in registry.FLOWS if f.steps[0].prompt.__module__ == module.__name__]
    assert diagrams and flows
    assert [d.strip() for d in diagrams] == [f.mermaid() for f in flows]


# Enrolment through role invites --------------------------------------------------------------


async def test_an_admin_invites_staff_and_the_link_works_once(db: AsyncEngine) -> None:
    kit = new_kit(db)
    admin = await member(kit, 1, Role.ADMIN)
    assert keys(await admin.command("invite")) == ["invite.ask_kind"]
    assert keys(await admin.press("invite.kind.staff")) == ["invite.created"]
    code = invite_code(admin)
    [invite] = await kit.rows(Invite)
    assert (invite.kind, invite.max_uses) == (InviteKind.STAFF, 1)
    assert invite.expires_at == kit.clock() + timedelta(days=7)

    newcomer = kit.user(200)
    assert keys(await newcomer.command("start", code)) == ["role.invited", "role.consent"]
    assert keys(await newcomer.press("enrol.agree")) == ["role.ask_name"]
    assert await kit.count(Person) == 1, "nothing is stored before the name"
    assert keys(await newcomer.send("赵  六")) == ["role.done"]
    person = await person_of(kit, 200)
    assert (person.role, person.full_name, person.town_id, person.enterprise_id) == (
        Role.STAFF,
        "赵 六",
        None,
        None,
    )
    assert person.consent_at == kit.clock() and person.consent_version == 1
    [invite] = await kit.rows(Invite)
    assert invite.uses == 1

    assert keys(await kit.user(201).command("start", code)) == ["role.invite_used"]
    assert keys(await newcomer.command("start", code)) == ["role.already_has"]
    assert await kit.count(Person) == 2


async def test_an_admin_invites_a_town_officer_bound_to_the_town(db: AsyncEngine) -> None:
    kit = new_kit(db)
    south = await town_id(kit, "南堡镇")
    await kit.add_enterprise("钢铁二厂", "南堡镇")
    await kit.add_enterprise("城建一公司", "开发区")
    admin = await member(kit, 1, Role.ADMIN)
    await admin.command("invite")
    assert keys(await admin.press("invite.kind.town_officer")) == ["invite.ask_town"]
    assert keys(await admin.press("南堡镇")) == ["invite.created"]
    link = admin.messages[-1].text
    assert isinstance(link, Msg) and link.params["role"] == Msg(
        "role.as_town_officer", town=Raw("南堡镇")
    )

    officer = await enrol(kit, 300, invite_code(admin))
    person = await person_of(kit, 300)
    assert (person.role, person.town_id) == (Role.TOWN_OFFICER, south)
    assert keys(await officer.command("towns")) == ["org.town_card"]
    assert keys(await officer.press("org.town_enterprises")) == ["org.enterprises_in_town"]
    assert officer.button_keys() == ["钢铁二厂", "org.add_enterprise", "nav.cancel"]


async def test_staff_invite_a_contact_from_the_enterprise_card(db: AsyncEngine) -> None:
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    staff = await member(kit, 2, Role.STAFF)
    assert keys(await staff.command("invite")) == ["invite.pick_enterprise", "org.enterprises"]
    await staff.press("城建一公司")
    assert keys(await staff.press("org.contact_invite")) == ["invite.created"]
    assert await staff.state() is None

    await enrol(kit, 400, invite_code(staff), "陈经理")
    person = await person_of(kit, 400)
    assert (person.role, person.enterprise_id, person.town_id) == (
        Role.CONTACT,
        enterprise_id,
        None,
    )


async def test_expired_and_unusable_role_links_say_why(db: AsyncEngine) -> None:
    kit = new_kit(db)
    town = await town_id(kit, "南堡镇")
    expired = await role_invite(kit, InviteKind.STAFF, expires_in=timedelta(minutes=-1))
    assert keys(await kit.user(500).command("start", expired)) == ["role.invite_expired"]
    officer = await role_invite(kit, InviteKind.TOWN_OFFICER, town_id=town)
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Town).values(active=False))
    assert keys(await kit.user(500).command("start", officer)) == ["role.invite_unusable"]
    assert await kit.count(Person) == 0
    assert await kit.user(500).state() is None


async def test_a_link_used_by_someone_else_meanwhile_stores_nothing(db: AsyncEngine) -> None:
    kit = new_kit(db)
    code = await role_invite(kit, InviteKind.STAFF)
    first, second = kit.user(600), kit.user(601)
    for user in (first, second):
        await user.command("start", code)
        await user.press("enrol.agree")
    assert keys(await first.send("李四")) == ["role.done"]
    assert keys(await second.send("王五")) == ["role.invite_used"]
    assert [p.telegram_user_id for p in await kit.rows(Person)] == [600]
    assert await second.state() is None


async def test_a_link_that_expires_mid_enrolment_stores_nothing(db: AsyncEngine) -> None:
    kit = new_kit(db)
    code = await role_invite(kit, InviteKind.STAFF, expires_in=timedelta(minutes=5))
    user = kit.user(600)
    await user.command("start", code)
    await user.press("enrol.agree")
    kit.clock.advance(minutes=10)
    assert keys(await user.send("李四")) == ["role.invite_expired"]
    assert await kit.count(Person) == 0


async def test_declining_consent_stores_nothing(db: AsyncEngine) -> None:
    kit = new_kit(db)
    code = await role_invite(kit, InviteKind.STAFF)
    user = kit.user(700)
    await user.command("start", code)
    assert keys(await user.press("enrol.decline")) == ["role.declined"]
    assert await kit.count(Person) == 0
    [invite] = await kit.rows(Invite)
    assert invite.uses == 0, "the link still works for the right person"


async def test_a_worker_becomes_a_contact_only_after_confirming(db: AsyncEngine) -> None:
    kit = new_kit(db)
    enterprise_id, worker_code = await kit.add_enterprise()
    worker = kit.user(800)
    await worker.command("start", worker_code)
    await worker.press("enrol.agree")
    await worker.send("张三")
    await worker.send("13812345678")
    await worker.press("province.41")
    await worker.send("信阳市")
    await worker.command("cancel")
    code = await role_invite(kit, InviteKind.CONTACT, enterprise_id=enterprise_id)

    assert keys(await worker.command("start", code)) == ["role.confirm_change"]
    question = worker.messages[-1].text
    assert isinstance(question, Msg)
    assert question.params["current"] == Msg("role.as_worker", enterprise=Raw("城建一公司"))
    assert keys(await worker.press("ui.no")) == ["role.kept"]
    assert (await person_of(kit, 800)).role is Role.WORKER
    [invite] = [i for i in await kit.rows(Invite) if i.code == code]
    assert invite.uses == 0

    await worker.command("start", code)
    assert keys(await worker.press("ui.yes")) == ["role.changed"]
    person = await person_of(kit, 800)
    assert (person.role, person.enterprise_id, person.full_name) == (
        Role.CONTACT,
        enterprise_id,
        "张三",
    )


async def test_an_admin_is_never_demoted_by_a_link(db: AsyncEngine) -> None:
    kit = new_kit(db)
    admin = await member(kit, 1, Role.ADMIN)
    code = await role_invite(kit, InviteKind.STAFF)
    assert keys(await admin.command("start", code)) == ["role.already_admin"]
    assert (await person_of(kit, 1)).role is Role.ADMIN
    [invite] = await kit.rows(Invite)
    assert invite.uses == 0


# Towns ---------------------------------------------------------------------------------------


async def test_staff_add_rename_and_deactivate_a_town(db: AsyncEngine) -> None:
    kit = new_kit(db)
    staff = await member(kit, 2, Role.STAFF)
    assert keys(await staff.command("towns")) == ["org.no_towns"]
    assert keys(await staff.press("org.add_town")) == ["org.ask_town_name"]
    assert keys(await staff.send("  南堡镇 ")) == ["org.town_added", "org.town_card"]
    [town] = await kit.rows(Town)
    assert (town.name, town.active) == ("南堡镇", True)
    assert "nav.back" not in staff.button_keys(), "a finished change starts the card afresh"

    assert keys(await staff.press("org.rename")) == ["org.ask_new_name"]
    assert keys(await staff.send("南堡开发区")) == ["org.renamed", "org.town_card"]
    [town] = await kit.rows(Town)
    assert town.name == "南堡开发区"

    await kit.add_enterprise("钢铁二厂", "南堡开发区")
    await kit.add_enterprise("钢铁三厂", "南堡开发区")
    assert keys(await staff.press("org.deactivate")) == ["org.confirm_town_off"]
    question = staff.messages[-1].text
    assert isinstance(question, Msg) and question.params["enterprises"] == 2
    assert keys(await staff.press("ui.yes")) == ["org.town_off", "org.town_card"]
    [town] = await kit.rows(Town)
    assert town.active is False
    assert [e.active for e in await kit.rows(Enterprise)] == [False, False]

    assert "org.reactivate" in staff.button_keys()
    await staff.press("org.reactivate")
    [town] = await kit.rows(Town)
    assert town.active is True
    assert [e.active for e in await kit.rows(Enterprise)] == [False, False]

    await staff.press("org.all_towns")
    assert staff.button_keys()[0] == "南堡开发区"


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("", "error.text.empty"),
        ("镇" * 65, "error.org_name.too_long"),
        ("12345", "error.org_name.no_letters"),
        ("南堡镇😀", "error.org_name.bad_chars"),
        ("南堡\u202e镇", "error.text.control_chars"),
        ("开发区", "org.town_exists"),
    ],
)
async def test_a_bad_town_name_is_explained_and_changes_nothing(
    db: AsyncEngine, typed: str, error: str
) -> None:
    kit = new_kit(db)
    await town_id(kit, "开发区")
    staff = await member(kit, 2, Role.STAFF)
    await staff.command("towns")
    await staff.press("org.add_town")
    before = await staff.state()
    assert keys(await staff.send(typed)) == [error, "org.ask_town_name"]
    assert await staff.state() == before
    assert [t.name for t in await kit.rows(Town)] == ["开发区"]


async def test_a_typed_town_name_opens_its_card(db: AsyncEngine) -> None:
    kit = new_kit(db)
    await town_id(kit, "开发区")
    staff = await member(kit, 2, Role.ADMIN)
    await staff.command("towns")
    assert keys(await staff.send("开发区")) == ["org.town_card"]
    await staff.press("org.all_towns")
    assert keys(await staff.send("西湖")) == ["org.no_such_town", "org.towns"]


# Enterprises ---------------------------------------------------------------------------------


async def test_staff_add_an_enterprise_in_a_chosen_town(db: AsyncEngine) -> None:
    kit = new_kit(db)
    await town_id(kit, "开发区")
    await town_id(kit, "南堡镇")
    staff = await member(kit, 2, Role.STAFF)
    assert keys(await staff.command("enterprises")) == ["org.enterprises"]
    assert keys(await staff.press("org.add_enterprise")) == ["org.ask_enterprise_name"]
    assert keys(await staff.send("唐山（第三）建筑工程有限公司")) == ["org.ask_enterprise_town"]
    # Sorted by the database's collation, which may be by code point or by pinyin.
    assert sorted(staff.button_keys()) == sorted(["南堡镇", "开发区", "nav.back", "nav.cancel"])
    assert keys(await staff.press("南堡镇")) == ["org.enterprise_added", "org.enterprise_card"]

    [enterprise] = await kit.rows(Enterprise)
    assert enterprise.name == "唐山(第三)建筑工程有限公司", "full-width brackets are normalised"
    [invite] = await kit.rows(Invite)
    assert (invite.kind, invite.enterprise_id, invite.max_uses) == (
        InviteKind.WORKER,
        enterprise.id,
        None,
    )
    card = staff.messages[-1].text
    assert isinstance(card, Msg)
    assert card.params["link"] == Raw(f"https://t.me/{BOT}?start={invite.code}")
    assert card.params["workers"] == 0


async def test_enterprises_page_and_search(db: AsyncEngine) -> None:
    kit = new_kit(db)
    for number in range(1, 13):
        await kit.add_enterprise(f"企业{number:02d}", "开发区")
    await kit.add_enterprise("企业钢铁厂", "南堡镇")
    staff = await member(kit, 2, Role.STAFF)
    await staff.command("enterprises")
    assert staff.button_keys()[:2] == ["企业01", "企业02"], "ordered by name"
    assert staff.button_keys()[8:10] == ["org.page", "org.page_next"]
    await staff.press("org.page_next")
    assert staff.button_keys()[:5] == ["企业09", "企业10", "企业11", "企业12", "企业钢铁厂"]

    assert keys(await staff.send("企业1")) == ["org.enterprises_found"]
    assert staff.button_keys()[:3] == ["企业10", "企业11", "企业12"]
    assert keys(await staff.send("钢铁")) == ["org.enterprise_card"], "one match opens it"
    await staff.press("org.all_enterprises")
    assert keys(await staff.send("水泥")) == ["org.no_match", "org.enterprises"]


async def test_rename_deactivate_and_reactivate_an_enterprise(db: AsyncEngine) -> None:
    kit = new_kit(db)
    _, code = await kit.add_enterprise()
    await kit.add_enterprise("钢铁二厂", "开发区")
    staff = await member(kit, 2, Role.STAFF)
    await staff.command("enterprises", "城建")
    assert keys(staff.answers[-1]) == ["org.enterprises_found"]
    await staff.press("城建一公司")
    await staff.press("org.rename")
    assert keys(await staff.send("钢铁二厂")) == ["org.enterprise_exists", "org.ask_new_name"]
    assert keys(await staff.send("城建第一公司")) == ["org.renamed", "org.enterprise_card"]

    await staff.press("org.deactivate")
    assert keys(await staff.press("ui.yes")) == ["org.enterprise_off", "org.enterprise_card"]
    assert "org.contact_invite" not in staff.button_keys()
    assert keys(await kit.user(900).command("start", code)) == ["start.invite_unusable"]

    await staff.press("org.reactivate")
    assert keys(await kit.user(900).command("start", code)) == ["start.welcome", "enrol.consent"]
    enterprise = next(e for e in await kit.rows(Enterprise) if e.name == "城建第一公司")
    assert enterprise.active is True


# Who may do what: refused on the server, whatever the keyboard said ---------------------------


async def test_workers_and_strangers_may_not_manage(db: AsyncEngine) -> None:
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    worker = await member(kit, 800, Role.WORKER, enterprise=enterprise_id)
    stranger = kit.user(801)
    for user in (worker, stranger):
        for command in ("towns", "enterprises", "invite"):
            assert keys(await user.command(command)) == ["error.not_allowed"]
        for forged in ("t1|town|off", "t1|enterprise|inv", "t1|invite_kind|staff"):
            assert keys(await user.press_data(forged)) == ["error.stale_button"]
    [town] = await kit.rows(Town)
    [enterprise] = await kit.rows(Enterprise)
    assert town.active and enterprise.active
    assert await kit.count(Invite) == 1


async def test_a_town_officer_is_kept_to_their_own_town(db: AsyncEngine) -> None:
    kit = new_kit(db)
    mine, _ = await kit.add_enterprise("钢铁二厂", "南堡镇")
    theirs, _ = await kit.add_enterprise("城建一公司", "开发区")
    officer = await member(kit, 300, Role.TOWN_OFFICER, town="南堡镇")

    await officer.command("enterprises")
    assert officer.button_keys() == ["钢铁二厂", "org.add_enterprise", "nav.cancel"]
    state = await officer.state()
    assert state is not None
    answer = await officer.press_data(f"{state.token}|{state.step}|e:{theirs}")
    assert keys(answer) == ["error.not_allowed"]
    assert await officer.state() == state
    assert keys(await officer.send("城建一公司")) == ["org.no_match", "org.enterprises_in_town"]

    await officer.command("towns")
    assert "org.rename" not in officer.button_keys()
    state = await officer.state()
    assert state is not None and state.flow == "town"
    for forged in ("off", "ren", "list"):
        answer = await officer.press_data(f"{state.token}|{state.step}|{forged}")
        assert keys(answer) == ["error.not_allowed"]
    assert all(t.active for t in await kit.rows(Town))

    # Their own enterprises they manage, and may invite their contacts.
    await officer.command("enterprises")
    await officer.press("钢铁二厂")
    assert keys(await officer.press("org.contact_invite")) == ["invite.created"]
    invite = next(i for i in await kit.rows(Invite) if i.kind is InviteKind.CONTACT)
    assert invite.enterprise_id == mine

    # An enterprise added by a town officer goes into their town, without asking.
    await officer.command("enterprises")
    await officer.press("org.add_enterprise")
    assert keys(await officer.send("钢铁四厂")) == ["org.enterprise_added", "org.enterprise_card"]
    added = next(e for e in await kit.rows(Enterprise) if e.name == "钢铁四厂")
    south = next(t for t in await kit.rows(Town) if t.name == "南堡镇")
    assert added.town_id == south.id


async def test_staff_may_not_make_staff_or_officer_invites(db: AsyncEngine) -> None:
    kit = new_kit(db)
    admin = await member(kit, 1, Role.ADMIN)
    await admin.command("invite")
    state = await admin.state()
    assert state is not None
    async with kit.sessions() as session, session.begin():
        await session.execute(update(Person).values(role=Role.STAFF))
    answer = await admin.press_data(f"{state.token}|{state.step}|staff")
    assert "conversation.no_longer_allowed" in keys(answer)
    assert await kit.count(Invite) == 0

    # The handler itself checks too, should a staff member ever reach it.
    async with kit.sessions() as session, session.begin():
        person = await session.scalar(select(Person))
        event = ButtonPress(update_id=None, user_id=1, chat_id=1, data="", callback_id="x")
        ctx = Context(
            session=session,
            event=event,
            person=person,
            language="zh_Hans",
            now=kit.clock(),
            settings=kit.settings,
            new_token=lambda: "t",
        )
        fake = State(flow="invite", step="invite_kind", token="t")
        for kind in ("staff", "inspection", "town_officer"):
            outcome = await organisation_flow.on_invite_kind(fake, kind, ctx)
            assert outcome == Reject(Msg("error.not_allowed"))
    assert await kit.count(Invite) == 0


# One primary contact per enterprise, and a deputy ----------------------------------------------


async def told(kit: Kit, answer: Answer, chat_id: int) -> list[str]:
    """Keys of the messages an answer sends to another person's chat (through the outbox)."""
    return [s.key for s in await sent(kit, answer) if s.chat_id == chat_id]


async def card(staff: SimUser) -> None:
    """Open the first enterprise's card."""
    await staff.command("enterprises")
    await staff.press("城建一公司")


async def contact_link(staff: SimUser, key: str = "org.contact_invite") -> str:
    await card(staff)
    assert keys(await staff.press(key)) == ["invite.created"]
    return invite_code(staff)


async def test_a_contact_gives_a_phone_and_a_newer_contact_replaces_them(db: AsyncEngine) -> None:
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    staff = await member(kit, 2, Role.STAFF)
    first = kit.user(400)
    await first.command("start", await contact_link(staff))
    await first.press("enrol.agree")
    assert keys(await first.send("陈经理")) == ["enrol.ask_phone"]
    assert keys(await first.send("12345"))[0] == "error.phone.invalid"
    assert await kit.count(Person) == 1, "nothing stored before the phone"
    refused = await first.share_contact("+86 139 0000 0001", own=False)
    assert keys(refused)[0] == "enrol.not_own_contact"
    assert keys(await first.send("13900000001")) == ["role.done"]
    person = await person_of(kit, 400)
    assert (person.role, person.phone, person.deputy) == (Role.CONTACT, "13900000001", False)
    [enterprise] = await kit.rows(Enterprise)
    assert (enterprise.contact_name, enterprise.contact_phone) == ("陈经理", "13900000001")
    await first.command("report")
    reporting = await first.state()
    assert reporting is not None and reporting.flow == "report"

    # A second contact link (from the command line), opened by someone else: they take the
    # place, and the first contact, in the middle of a report, loses it at once.
    code = await role_invite(kit, InviteKind.CONTACT, enterprise_id=enterprise_id)
    second = await enrol(kit, 401, code, "林主管")
    assert await told(kit, second.answers[-1], 400) == ["role.relieved"]
    old, new = await person_of(kit, 400), await person_of(kit, 401)
    assert (old.role, old.enterprise_id, new.role) == (Role.FORMER, enterprise_id, Role.CONTACT)
    [enterprise] = await kit.rows(Enterprise)
    assert (enterprise.contact_name, enterprise.contact_phone) == ("林主管", "13900000401")
    assert "conversation.no_longer_allowed" in keys(await first.send("120"))
    assert keys(await first.command("report")) == ["error.not_allowed"]
    assert keys(await first.command("mydata"))[0] == "mydata.text"
    entries = [e for e in await kit.rows(AuditEntry) if e.action is audit.Action.ROLE_CHANGE]
    assert [e.scope["to"] for e in entries] == ["contact", "contact", "former"]


async def test_staff_replace_the_contact_who_loses_access_before_anyone_new_enrols(
    db: AsyncEngine,
) -> None:
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    staff = await member(kit, 2, Role.STAFF)
    await member(kit, 400, Role.CONTACT, enterprise=enterprise_id)
    await card(staff)
    assert staff.button_keys()[2:4] == ["org.replace_contact", "org.deputy_invite"]
    assert keys(await staff.press("org.replace_contact")) == ["org.confirm_replace_contact"]
    assert keys(await staff.press("ui.no")) == ["org.enterprise_card"]
    assert (await person_of(kit, 400)).role is Role.CONTACT
    await staff.press("org.replace_contact")
    answer = await staff.press("ui.yes")
    assert keys(answer)[:2] == ["org.contact_replaced", "invite.created"]
    assert await told(kit, answer, 400) == ["role.relieved"]
    assert (await person_of(kit, 400)).role is Role.FORMER
    assert await staff.state() is None

    # The link shown enrols the new contact, whom the card then offers to replace in turn.
    await enrol(kit, 401, invite_code(staff), "林主管")
    assert (await person_of(kit, 401)).role is Role.CONTACT
    await card(staff)
    assert "org.replace_contact" in staff.button_keys()


async def test_a_deputy_reports_too_stays_when_the_contact_changes_and_can_be_removed(
    db: AsyncEngine,
) -> None:
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    staff = await member(kit, 2, Role.STAFF)
    await member(kit, 400, Role.CONTACT, enterprise=enterprise_id)
    deputy = kit.user(402)
    assert keys(await deputy.command("start", await contact_link(staff, "org.deputy_invite"))) == [
        "role.invited",
        "role.consent",
    ]
    await deputy.press("enrol.agree")
    await deputy.send("吴副经理")
    assert keys(await deputy.send("13900000402")) == ["role.done"]
    person = await person_of(kit, 402)
    assert (person.role, person.deputy, person.enterprise_id) == (Role.CONTACT, True, enterprise_id)
    assert (await person_of(kit, 400)).role is Role.CONTACT, "the primary contact stays"
    [enterprise] = await kit.rows(Enterprise)
    assert enterprise.contact_phone != "13900000402", "the enterprise's contact is the primary"
    await deputy.command("report")
    assert (await deputy.state()) is not None

    # Replacing the primary contact leaves the deputy be.
    await card(staff)
    assert staff.button_keys()[2:4] == ["org.replace_contact", "org.remove_deputy"]
    await staff.press("org.replace_contact")
    await staff.press("ui.yes")
    assert (await person_of(kit, 402)).role is Role.CONTACT

    await card(staff)
    assert keys(await staff.press("org.remove_deputy")) == ["org.confirm_remove_deputy"]
    answer = await staff.press("ui.yes")
    assert keys(answer)[0] == "org.deputy_removed" and "org.enterprise_card" in keys(answer)
    assert await told(kit, answer, 402) == ["role.relieved"]
    assert (await person_of(kit, 402)).role is Role.FORMER
    assert "org.deputy_invite" in staff.button_keys()


async def test_a_town_officer_cannot_relieve_another_towns_contact(db: AsyncEngine) -> None:
    kit = new_kit(db)
    theirs, _ = await kit.add_enterprise("城建一公司", "开发区")
    await kit.add_enterprise("钢铁二厂", "南堡镇")
    await member(kit, 400, Role.CONTACT, enterprise=theirs)
    officer = await member(kit, 300, Role.TOWN_OFFICER, town="南堡镇")
    await officer.command("enterprises")
    await officer.press("钢铁二厂")
    state = await officer.state()
    assert state is not None
    # Their own card, with another town's enterprise forged into the conversation.
    async with kit.sessions() as session, session.begin():
        await session.execute(
            update(Conversation)
            .where(Conversation.user_id == 300)
            .values(state={**state.to_json(), "data": {**state.data, "enterprise_id": theirs}})
        )
    for forged in ("rep", "undep", "dep", "inv"):
        answer = await officer.press_data(f"{state.token}|{state.step}|{forged}")
        assert keys(answer) == ["error.not_allowed"], forged
    assert (await person_of(kit, 400)).role is Role.CONTACT
    assert await kit.count(Invite) == 2, "only the two workers' invites"


# Labour inspection (劳动监察大队) ---------------------------------------------------------------


def shown(kit: Kit, language: str, answer: Answer) -> list[str]:
    """The texts an answer sends to the person who acted, as they read them."""
    return [kit.render(language, a.text) for a in answer.actions if isinstance(a, SendText)]


async def test_an_admin_invites_labour_inspection_staff_who_are_told_so(db: AsyncEngine) -> None:
    kit = new_kit(db)
    admin = await member(kit, 1, Role.ADMIN)
    await admin.command("invite")
    assert keys(await admin.press("invite.kind.inspection")) == ["invite.created"]
    created = admin.messages[-1].text
    assert isinstance(created, Msg) and created.params["role"] == Msg("role.labour_inspection")
    [invite] = await kit.rows(Invite)
    assert (invite.kind, invite.max_uses) == (InviteKind.INSPECTION, 1)

    newcomer = kit.user(200, "en")
    answer = await newcomer.command("start", invite_code(admin))
    assert keys(answer) == ["role.invited", "role.consent"]
    assert "labour inspection staff" in shown(kit, "en", answer)[0]
    await newcomer.press("enrol.agree")
    assert keys(await newcomer.send("Zhao Liu")) == ["role.done"], "no phone asked of staff"
    person = await person_of(kit, 200)
    assert (person.role, person.labour_inspection, person.town_id) == (Role.STAFF, True, None)
    [mydata] = shown(kit, "en", await newcomer.command("mydata"))
    assert "labour inspection staff" in mydata
    [entry] = [e for e in await kit.rows(AuditEntry) if e.action is audit.Action.ROLE_CHANGE]
    assert entry.scope["labour_inspection"] is True


async def test_a_plain_staff_invite_does_not_make_labour_inspection(db: AsyncEngine) -> None:
    kit = new_kit(db)
    await enrol(kit, 200, await role_invite(kit, InviteKind.STAFF))
    person = await person_of(kit, 200)
    assert (person.role, person.labour_inspection) == (Role.STAFF, False)
    [mydata] = shown(kit, "zh_Hans", await kit.user(200).command("mydata"))
    assert "区工作人员" in mydata and "劳动监察" not in mydata


async def test_staff_join_labour_inspection_and_leave_it_with_another_role(
    db: AsyncEngine,
) -> None:
    kit = new_kit(db)
    staff = await member(kit, 2, Role.STAFF)
    code = await role_invite(kit, InviteKind.INSPECTION)
    assert keys(await staff.command("start", code)) == ["role.confirm_change"]
    question = staff.messages[-1].text
    assert isinstance(question, Msg)
    assert (question.params["current"], question.params["role"]) == (
        Msg("role.staff"),
        Msg("role.labour_inspection"),
    )
    assert keys(await staff.press("ui.yes")) == ["role.changed"]
    person = await person_of(kit, 2)
    assert (person.role, person.labour_inspection) == (Role.STAFF, True)
    again = await role_invite(kit, InviteKind.INSPECTION)
    assert keys(await staff.command("start", again)) == ["role.already_has"]

    # A plain staff invite, then a town officer's, each take the mark away.
    await staff.command("start", await role_invite(kit, InviteKind.STAFF))
    assert keys(await staff.press("ui.yes")) == ["role.changed"]
    assert (await person_of(kit, 2)).labour_inspection is False
    await staff.command("start", await role_invite(kit, InviteKind.INSPECTION))
    await staff.press("ui.yes")
    town = await town_id(kit, "南堡镇")
    await staff.command("start", await role_invite(kit, InviteKind.TOWN_OFFICER, town_id=town))
    assert keys(await staff.press("ui.yes")) == ["role.changed"]
    person = await person_of(kit, 2)
    assert (person.role, person.town_id, person.labour_inspection) == (
        Role.TOWN_OFFICER,
        town,
        False,
    )


async def test_an_inspector_made_administrator_leaves_labour_inspection(db: AsyncEngine) -> None:
    kit = new_kit(db)
    await enrol(kit, 200, await role_invite(kit, InviteKind.INSPECTION))
    async with kit.sessions() as session, session.begin():
        person, previous = await people.make_admin(session, 200, "zh_Hans", kit.clock())
        assert (previous, person.role, person.labour_inspection) == (Role.STAFF, Role.ADMIN, False)
        assert await people.labour_inspection_ids(session) == []


async def test_the_card_masks_the_contacts_phones_except_for_administrators(
    db: AsyncEngine,
) -> None:
    """Staff and town officers read 136****3333 as /missing shows it; an administrator the
    whole number."""
    kit = new_kit(db)
    enterprise_id, _ = await kit.add_enterprise()
    await member(kit, 400, Role.CONTACT, enterprise=enterprise_id)
    await member(kit, 401, Role.CONTACT, enterprise=enterprise_id)
    async with kit.sessions() as session, session.begin():
        for person in await session.scalars(select(Person).where(Person.role == Role.CONTACT)):
            person.phone = f"13600003{person.telegram_user_id}"
            person.deputy = person.telegram_user_id == 401
    readers = {
        Role.STAFF: await member(kit, 2, Role.STAFF),
        Role.TOWN_OFFICER: await member(kit, 3, Role.TOWN_OFFICER, town="开发区"),
        Role.ADMIN: await member(kit, 4, Role.ADMIN),
    }
    for role, reader in readers.items():
        await card(reader)
        shown = kit.render("zh_Hans", reader.messages[-1].text)
        full = role is Role.ADMIN
        for phone in ("13600003400", "13600003401"):
            assert (phone in shown) is full, (role, shown)
            assert (str(mask_phone(phone)) in shown) is not full, (role, shown)
