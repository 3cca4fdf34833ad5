"""Advanced-model nominations as plain functions: a contact's /nominate up to and after the
deadline, staff's /nominations review and selection; forged buttons are refused."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from handlers.actions import AnswerButton, Msg, Raw, SendPhoto
from handlers.engine import Answer
from handlers.flows import nominations as flow
from models import broadcasts, checkins, nominations, organisation
from models.checkins import CheckIn, Plan
from models.nominations import (
    Measure,
    Nomination,
    NominationMeasure,
    NominationReview,
    NominationStatus,
    ReviewKind,
)
from models.people import Person, Role
from models.reports import Report
from models.requests import Category, HelpRequest, Route, Source, Status
from tests.harness import Kit, SimUser, keys, photo, said, sent
from tests.test_flow_broadcast import member
from tests.test_flow_requests import enterprise, person

DEADLINE = date(2027, 2, 14)


async def contact(
    kit: Kit, user_id: int = 500, company: str = "城建一公司", language: str = "zh_Hans"
) -> SimUser:
    return await person(
        kit, user_id, Role.CONTACT, company=company, name="王经理", phone=None, language=language
    )


async def write_measure(
    user: SimUser, measure: str, text: str, photos: tuple[str, ...] = ()
) -> Answer:
    """From the overview: describe a measure, add photos, back to the overview."""
    await user.press(measure)
    await user.send(text)
    for file_id in photos:
        await user.deliver(photo(user, file_id))
    return await user.press("ui.done")


async def submitted(
    kit: Kit, user: SimUser, measures: tuple[str, ...] = ("nomination.measure.wages",)
) -> Answer:
    """A whole nomination, written and submitted."""
    await user.command("nominate")
    for measure in measures:
        await write_measure(user, measure, "每月10日按时足额发放工资")
    await user.press("nominate.summary_button")
    await user.send("春节期间留守职工120人，工资补贴全部到位")
    await user.press("nominate.submit_button")
    return await user.press("nominate.submit_button")


async def the_nomination(kit: Kit, company: str = "城建一公司") -> Nomination:
    async with kit.sessions() as session:
        found = await organisation.find_enterprise(session, company)
        assert found is not None
        nomination = await nominations.for_enterprise(session, found.id)
        assert nomination is not None
        return nomination


async def items(kit: Kit, nomination: Nomination) -> dict[Measure, NominationMeasure]:
    async with kit.sessions() as session:
        return await nominations.measures(session, nomination.id)


def test_the_diagrams_are_the_flows() -> None:
    assert flow.__doc__ is not None
    diagrams = re.findall(r"```mermaid\n(.*?)```", flow.__doc__, re.S)
    assert [d.strip() for d in diagrams] == [f.mermaid() for f in flow.FLOWS]


# The contact's /nominate ------------------------------------------------------------------


async def test_a_contact_writes_and_submits_the_nomination(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    answer = await boss.command("nominate")
    assert keys(answer) == ["nominate.overview"]
    overview = said(kit, answer)[0]
    assert "城建一公司" in overview and "2027年2月14日" in overview
    assert boss.button_keys()[:7] == [
        "nomination.measure.wages",
        "nomination.measure.overtime",
        "nomination.measure.living",
        "nomination.measure.safety",
        "nomination.measure.culture",
        "nomination.measure.club",
        "nomination.measure.warmth",
    ]
    assert keys(await boss.press("nomination.measure.living")) == ["nominate.ask_measure"]
    assert keys(await boss.send("为120名留守职工提供集中供暖宿舍和免费年夜饭")) == [
        "nominate.ask_photos"
    ]
    assert await kit.count(NominationMeasure) == 1, "kept at once, as a draft"
    answer = await boss.deliver(photo(boss, "P1"))
    assert keys(answer) == ["nominate.photo_kept"]
    assert "第 1 张（最多 5 张）" in said(kit, answer)[0]
    await boss.deliver(photo(boss, "P2"))
    answer = await boss.press("ui.done")
    assert keys(answer) == ["nominate.overview"]
    assert "照片 2 张" in said(kit, answer)[0]
    assert keys(await boss.press("nominate.summary_button")) == ["nominate.ask_summary"]
    await boss.send("春节期间留守职工120人，吃住暖全部保障")
    answer = await boss.press("nominate.submit_button")
    assert keys(answer) == ["nominate.preview"]
    preview = said(kit, answer)[0]
    assert "为120名留守职工提供集中供暖宿舍和免费年夜饭" in preview
    assert "安全保障：未填写" in preview
    nomination = await the_nomination(kit)
    assert nomination.status is NominationStatus.DRAFT
    answer = await boss.press("nominate.submit_button")
    assert keys(answer)[0] == "nominate.submitted"
    notes = await sent(kit, answer)
    assert [(n.chat_id, n.key) for n in notes] == [(staff.user_id, "nominations.notify_submitted")]
    assert officer.user_id not in [n.chat_id for n in notes]
    nomination = await the_nomination(kit)
    assert nomination.status is NominationStatus.SUBMITTED
    assert nomination.submitted_at == kit.clock()
    assert nomination.summary == "春节期间留守职工120人，吃住暖全部保障"
    assert (await items(kit, nomination))[Measure.LIVING].photos == ["P1", "P2"]
    assert await boss.state() is None

    # Still open for changes until the deadline; staff hear of the update.
    kit.clock.advance(days=3)
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.safety", "每周安全检查一次，配发防寒用品")
    await boss.press("nominate.submit_button")
    answer = await boss.press("nominate.submit_button")
    assert [n.key for n in await sent(kit, answer)] == ["nominations.notify_updated"]
    assert set(await items(kit, await the_nomination(kit))) == {Measure.LIVING, Measure.SAFETY}


async def test_leaving_keeps_the_draft_and_it_can_be_resumed(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.club", "新市民俱乐部组织包饺子和联欢会")
    answer = await boss.press("nominate.leave")
    assert keys(answer) == ["nominate.left"]
    assert await boss.state() is None
    await boss.command("nominate")
    assert "nomination.measure.club" in boss.button_keys()
    club = boss.find("nomination.measure.club")[0]
    assert isinstance(club.label, Msg) and club.label.key == "ui.checked"
    answer = await staff.command("nominations")
    assert keys(answer) == ["nominations.none"]
    assert "未提交的草稿 1" in said(kit, answer)[0], "drafts are counted, not shown"


async def test_bad_input_is_refused_and_nothing_is_kept(db: AsyncEngine) -> None:
    kit = Kit(db, description_max_length=60)
    boss = await contact(kit)
    await boss.command("nominate")
    answer = await boss.press("nominate.submit_button")
    assert keys(answer) == ["nominate.incomplete"]
    assert isinstance(answer.actions[0], AnswerButton) and answer.actions[0].alert
    await boss.press("nomination.measure.wages")
    for typed, problem in (
        ("按时", "nominate.too_short"),
        ("  ", "error.text.empty"),
        ("长" * 61, "error.note.too_long"),
        ("按时发放\u202e工资了", "error.text.control_chars"),
    ):
        assert keys(await boss.send(typed)) == [problem, "nominate.ask_measure"], typed
    assert await kit.count(Nomination) == 0, "a refused step writes nothing"
    await boss.send("每月10日按时发放工资")
    assert keys(await boss.send_media("sticker")) == ["nominate.photo_only", "nominate.ask_photos"]
    assert keys(await boss.send("照片稍后发")) == ["nominate.hint_photos"]
    for n in range(flow.PHOTOS_PER_MEASURE):
        await boss.deliver(photo(boss, f"P{n}"))
    answer = await boss.deliver(photo(boss, "one-too-many"))
    assert keys(answer) == ["nominate.too_many_photos"]
    assert boss.button_keys() == ["ui.done", "nominate.clear_photos"]
    nomination = await the_nomination(kit)
    assert len((await items(kit, nomination))[Measure.WAGES].photos) == flow.PHOTOS_PER_MEASURE
    await boss.press("ui.done")
    answer = await boss.press("nominate.submit_button")
    assert keys(answer) == ["nominate.incomplete"], "the summary is missing"
    token = (await boss.state()).token  # type: ignore[union-attr]
    for forged in ("m:bonus", "x:1", "delete"):
        assert keys(await boss.press_data(f"{token}|overview|{forged}")) == ["error.stale_button"]


async def test_keep_remove_and_clear_photos(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.warmth", "春节前走访慰问留守职工", ("A", "B"))
    answer = await boss.press("nomination.measure.warmth")
    assert keys(answer) == ["nominate.ask_measure_again"]
    assert "春节前走访慰问留守职工" in said(kit, answer)[0]
    assert keys(await boss.press("nominate.keep_text")) == ["nominate.ask_photos"]
    await boss.press("nominate.clear_photos")
    nomination = await the_nomination(kit)
    assert (await items(kit, nomination))[Measure.WARMTH].photos == []
    await boss.press("ui.done")
    await boss.press("nomination.measure.warmth")
    assert keys(await boss.press("nominate.remove_measure")) == ["nominate.overview"]
    assert await items(kit, nomination) == {}
    await boss.press("nominate.summary_button")
    await boss.send("这是总结，写得很认真的一段话")
    assert keys(await boss.press("nominate.summary_button")) == ["nominate.ask_summary_again"]
    assert keys(await boss.press("nominate.keep_text")) == ["nominate.overview"]


async def test_after_the_deadline_a_clear_refusal(db: AsyncEngine) -> None:
    kit = Kit(db, nomination_deadline=date(2027, 1, 19))
    boss = await contact(kit)
    answer = await boss.command("nominate")
    assert keys(answer) == ["nominate.closed"]
    text = said(kit, answer)[0]
    assert "2027年1月19日 24 时截止" in text and "没有提交申报" in text
    assert await boss.state() is None
    assert await kit.count(Nomination) == 0


async def test_the_deadline_passing_midway_stops_the_changes(db: AsyncEngine) -> None:
    kit = Kit(db, nomination_deadline=date(2027, 1, 20))
    boss = await contact(kit)
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.wages", "每月10日按时足额发放")
    await boss.press("nomination.measure.overtime")
    kit.clock.advance(days=1)  # the 21st: the deadline (the 20th, inclusive) has passed
    answer = await boss.send("加班按三倍工资发放")
    assert keys(answer) == ["nominate.closed"]
    assert "草稿截止时还不完整" in said(kit, answer)[0]
    assert set(await items(kit, await the_nomination(kit))) == {Measure.WAGES}
    assert await boss.state() is None
    assert keys(await boss.command("nominate")) == ["nominate.closed"]


async def test_a_submitted_nomination_is_final_after_the_deadline(db: AsyncEngine) -> None:
    kit = Kit(db, nomination_deadline=date(2027, 1, 20))
    boss = await contact(kit)
    await submitted(kit, boss)
    kit.clock.advance(days=1)
    answer = await boss.command("nominate")
    assert keys(answer) == ["nominate.closed"]
    assert "正在审核" in said(kit, answer)[0]


async def test_a_submitted_nomination_keeps_its_last_measure(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    await submitted(kit, boss)
    await boss.command("nominate")
    await boss.press("nomination.measure.wages")
    answer = await boss.press("nominate.remove_measure")
    assert keys(answer) == ["nominate.last_measure"]
    assert isinstance(answer.actions[0], AnswerButton) and answer.actions[0].alert
    nomination = await the_nomination(kit)
    assert nomination.status is NominationStatus.SUBMITTED
    assert set(await items(kit, nomination)) == {Measure.WAGES}
    # With another measure written first, this one may go; the other one then stays.
    await boss.press("nav.back")
    await write_measure(boss, "nomination.measure.safety", "每周安全检查一次，配发防寒用品")
    await boss.press("nomination.measure.wages")
    assert keys(await boss.press("nominate.remove_measure")) == ["nominate.overview"]
    await boss.press("nomination.measure.safety")
    assert keys(await boss.press("nominate.remove_measure")) == ["nominate.last_measure"]
    assert set(await items(kit, await the_nomination(kit))) == {Measure.SAFETY}


async def test_a_nomination_staff_asked_more_of_keeps_its_last_measure(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await submitted(kit, boss)
    await staff.command("nominations")
    await staff.press(
        "nominations.candidate_button",
        enterprise=_raw("城建一公司"),
        status=Msg("nomination.status.submitted"),
    )
    await staff.press("nominations.review.more")
    await staff.send("请补充工资发放凭证")
    await boss.command("nominate")
    await boss.press("nomination.measure.wages")
    assert keys(await boss.press("nominate.remove_measure")) == ["nominate.last_measure"]
    assert set(await items(kit, await the_nomination(kit))) == {Measure.WAGES}
    await boss.press("nav.back")
    assert keys(await boss.press("nominate.leave")) == ["nominate.left_more"]


async def test_completeness_is_one_rule_the_model_keeps(db: AsyncEngine) -> None:
    assert nominations.gaps("总结", [Measure.WAGES]) == ()
    assert nominations.gaps(None, [Measure.WAGES]) == (nominations.Gap.SUMMARY,)
    assert nominations.gaps("  ", []) == (nominations.Gap.MEASURE, nominations.Gap.SUMMARY)
    kit = Kit(db)
    enterprise_id = await enterprise(kit)
    async with kit.sessions() as session, session.begin():
        draft = await nominations.start(session, enterprise_id, None, kit.clock())
        await nominations.set_measure(session, draft, Measure.WAGES, "按时发放", kit.clock())
        assert not await nominations.submit(session, draft, kit.clock()), "no summary yet"
        assert draft.status is NominationStatus.DRAFT and draft.submitted_at is None
        with pytest.raises(ValueError, match="blank"):
            await nominations.set_summary(session, draft, "   ", kit.clock())
        await nominations.set_summary(session, draft, "春节期间工资全部按时发放", kit.clock())
        assert await nominations.submit(session, draft, kit.clock())
        assert not await nominations.remove_measure(session, draft, Measure.WAGES, kit.clock())
        assert set(await nominations.measures(session, draft.id)) == {Measure.WAGES}


async def test_changes_after_submitting_reach_staff_when_the_contact_leaves(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await submitted(kit, boss)
    kit.clock.advance(hours=2)
    await boss.command("nominate")
    await boss.press("nomination.measure.wages")
    await boss.send("每月10日按时足额发放，春节前提前发放")
    await boss.press("ui.done")
    answer = await boss.press("nominate.leave")
    assert keys(answer)[0] == "nominate.left_submitted"
    assert "截至 2027年2月14日 24 时" in said(kit, answer)[0]
    assert [(n.chat_id, n.key) for n in await sent(kit, answer)] == [
        (staff.user_id, "nominations.notify_updated")
    ]
    assert (await the_nomination(kit)).submitted_at == kit.clock(), "handed over again"
    # Leaving again without a change, or submitting again unchanged, bothers nobody.
    await boss.command("nominate")
    assert await sent(kit, await boss.press("nominate.leave")) == []
    await boss.command("nominate")
    await boss.press("nominate.submit_button")
    answer = await boss.press("nominate.submit_button")
    assert keys(answer) == ["nominate.submitted"] and await sent(kit, answer) == []


async def test_staff_see_when_a_nomination_changed_after_it_was_submitted(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await submitted(kit, boss)
    kit.clock.advance(days=1)
    await boss.command("nominate")
    await boss.press("nomination.measure.wages")
    await boss.send("每月10日按时足额发放，春节前提前发放")
    # The contact has not left yet: staff already read the change, and see that it is one.
    await staff.command("nominations")
    answer = await staff.press(
        "nominations.candidate_button",
        enterprise=_raw("城建一公司"),
        status=Msg("nomination.status.submitted"),
    )
    card = said(kit, answer)[0]
    assert "春节前提前发放" in card and "提交后于 2027年1月21日 10:00 修改过" in card


async def test_an_image_sent_as_a_file_is_refused_with_how_to_send_it(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    await boss.command("nominate")
    await boss.press("nomination.measure.wages")
    await boss.send("每月10日按时足额发放")
    as_files = (
        {"mime_type": "image/jpeg", "file_name": "工资表.jpg"},
        {"mime_type": None, "file_name": "IMG_0001.HEIC"},
        {"mime_type": "application/octet-stream", "file_name": "scan.PNG"},
    )
    for details in as_files:
        event = replace(photo(boss, "DOC"), kind="document", **details)
        answer = await boss.deliver(event)
        assert keys(answer) == ["photo.as_file", "nominate.ask_photos"], details
        assert "请以照片而不是文件重新发送" in said(kit, answer)[0]
    answer = await boss.deliver(
        replace(photo(boss, "PDF"), kind="document", mime_type="application/pdf")
    )
    assert keys(answer) == ["nominate.photo_only", "nominate.ask_photos"]
    assert (await items(kit, await the_nomination(kit)))[Measure.WAGES].photos == []
    english = await contact(kit, 501, "钢铁二厂", language="en")
    await english.command("nominate")
    await english.press("nomination.measure.wages")
    await english.send("Wages paid on the 10th")
    event = replace(photo(english, "DOC"), kind="document", mime_type="image/png")
    answer = await english.deliver(event)
    assert "send it again as a photo, not as a file" in said(kit, answer)[0]


async def test_each_photo_of_an_album_is_answered_in_one_short_line(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    await boss.command("nominate")
    await boss.press("nomination.measure.living")
    await boss.send("为120名留守职工提供集中供暖宿舍")
    album = [await boss.deliver(photo(boss, f"A{n}")) for n in range(1, 7)]
    assert [keys(a) for a in album] == [["nominate.photo_kept"]] * 5 + [
        ["nominate.too_many_photos"]
    ]
    assert [said(kit, a)[0] for a in album[:3]] == [
        f"📷 已收第 {n} 张（最多 5 张）。可以继续发，或点“完成”。" for n in (1, 2, 3)
    ]
    assert keys(await boss.press("ui.done")) == ["nominate.overview"]
    nomination = await the_nomination(kit)
    assert (await items(kit, nomination))[Measure.LIVING].photos == [f"A{n}" for n in range(1, 6)]


async def test_the_deadline_day_itself_is_allowed_in_every_language(db: AsyncEngine) -> None:
    kit = Kit(db)
    expected = {
        "zh_Hans": "截至 2027年2月14日 24 时",
        "zh_Hant": "截至 2027年2月14日 24 時",
        "en": "until the end of Feb 14, 2027",
    }
    for number, (language, words) in enumerate(expected.items()):
        boss = await contact(kit, 500 + number, f"企业{number}", language=language)
        await boss.command("nominate")
        await write_measure(boss, "nomination.measure.wages", "每月10日按时足额发放")
        left = await boss.press("nominate.leave")
        await boss.command("nominate")
        await boss.press("nominate.summary_button")
        await boss.send("春节期间留守职工全部按时发薪")
        preview = await boss.press("nominate.submit_button")
        done = await boss.press("nominate.submit_button")
        for answer in (left, preview, done):
            text = said(kit, answer)[0]
            assert words in text, (language, text)
            assert "前" not in text.split(words)[1][:3], "not 'before' the deadline"


# Staff's /nominations ---------------------------------------------------------------------


async def figures_for(kit: Kit, company: str) -> None:
    """Two workers of the enterprise: one staying, one who changed their mind and went home;
    one read the letter; an open and a solved request; a report on time and a late one."""
    enterprise_id = await enterprise(kit, company)
    await person(kit, 100, Role.WORKER, company=company)
    await person(kit, 101, Role.WORKER, company=company)
    workers = [p for p in await kit.rows(Person) if isinstance(p, Person) and p.role is Role.WORKER]
    async with kit.sessions() as session, session.begin():
        now = kit.clock()
        stay, going = workers
        for who, plans in ((stay, (Plan.STAY,)), (going, (Plan.STAY, Plan.RETURN))):
            for plan in plans:
                now += timedelta(minutes=1)
                await checkins.add(
                    session,
                    CheckIn(
                        person_id=who.id,
                        enterprise_id=enterprise_id,
                        created_at=now,
                        local_date=kit.clock().date(),
                        plan=plan,
                        needs=[],
                    ),
                )
        await broadcasts.mark_read(session, stay.id, now)
        for day, late in ((1, False), (2, True)):
            session.add(
                Report(
                    enterprise_id=enterprise_id,
                    local_date=date(2027, 1, 10 + day),
                    revision=1,
                    total=2,
                    staying=1,
                    gone_home=1,
                    on_duty=1,
                    new_arrivals=0,
                    submitted_at=now,
                    late=late,
                )
            )
        for status in (Status.OPEN, Status.SOLVED):
            session.add(
                HelpRequest(
                    person_id=stay.id,
                    enterprise_id=enterprise_id,
                    category=Category.FOOD,
                    description="食堂春节关门",
                    anonymous=False,
                    source=Source.REQUEST,
                    route=Route.CONTACT,
                    status=status,
                    created_at=now,
                    waiting_since=now,
                )
            )


async def test_staff_review_a_candidate_with_the_bots_figures(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await figures_for(kit, "城建一公司")
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.wages", "每月10日按时足额发放", ("P1", "P2"))
    await boss.press("nominate.summary_button")
    await boss.send("春节期间留守职工全部按时发薪")
    await boss.press("nominate.submit_button")
    await boss.press("nominate.submit_button")

    answer = await staff.command("nominations")
    assert keys(answer) == ["nominations.list"]
    listing = said(kit, answer)[0]
    assert "0/3" in listing and "还差 3 家" in listing and "待审核 1" in listing
    answer = await staff.press(
        "nominations.candidate_button",
        enterprise=_raw("城建一公司"),
        status=Msg("nomination.status.submitted"),
    )
    card = said(kit, answer)[0]
    assert "登记的外地务工人员 2 人，已登记去留 2 人，在本地过年 1 人" in card
    assert "已读公开信 1 人（50%）" in card
    assert "未结束 1 件，已解决 1 件" in card
    assert "上报 2 天，其中按时 1 天" in card
    assert "每月10日按时足额发放" in card and "照片 2 张" in card
    assert staff.button_keys() == [
        "nominations.photos_button",
        "nominations.review.comment",
        "nominations.review.more",
        "nominations.review.accept",
        "nominations.review.reject",
        "nav.back",
        "nav.cancel",
    ], "no Select before Accept"

    answer = await staff.press("nominations.photos_button")
    photos = [a for a in answer.actions if isinstance(a, SendPhoto)]
    assert [p.photo for p in photos] == ["P1", "P2"]
    assert photos[0].caption == Msg("nomination.measure.wages")
    assert keys(await staff.press("ui.done")) == ["nominations.card"]

    await staff.press("nominations.review.comment")
    answer = await staff.send("工资表已核对")
    assert keys(answer)[0] == "nominations.commented"
    assert await sent(kit, answer) == [], "a comment stays with staff"
    assert "工资表已核对" in said(kit, answer)[-1]

    await staff.press("nominations.review.more")
    answer = await staff.send("请补充加班补贴发放凭证")
    assert keys(answer)[0] == "nominations.more_sent"
    [told] = await sent(kit, answer)
    assert told.chat_id == boss.user_id and "请补充加班补贴发放凭证" in told.text
    nomination = await the_nomination(kit)
    assert nomination.status is NominationStatus.MORE_REQUESTED

    # The contact adds it (even after the deadline, as staff asked) and submits again.
    kit.clock.advance(days=40)
    await boss.command("nominate")
    await write_measure(boss, "nomination.measure.overtime", "加班补贴按三倍发放，凭证已上传")
    await boss.press("nominate.submit_button")
    answer = await boss.press("nominate.submit_button")
    assert [n.key for n in await sent(kit, answer)] == ["nominations.notify_resubmitted"]

    await staff.command("nominations")
    await staff.press(
        "nominations.candidate_button",
        enterprise=_raw("城建一公司"),
        status=Msg("nomination.status.submitted"),
    )
    assert keys(await staff.press("nominations.review.accept")) == ["nominations.confirm_accept"]
    answer = await staff.press("ui.yes")
    assert keys(answer)[0] == "nominations.accepted"
    assert keys(answer)[-1] == "nominate.accepted_notice"
    assert (await the_nomination(kit)).status is NominationStatus.ACCEPTED
    assert keys(await boss.command("nominate")) == ["nominate.decided"]
    reviews = [r.kind for r in await kit.rows(NominationReview) if isinstance(r, NominationReview)]
    assert sorted(reviews) == sorted([ReviewKind.COMMENT, ReviewKind.MORE, ReviewKind.ACCEPT])


def _raw(text: str) -> Raw:
    return Raw(text)


async def test_selecting_models_up_to_the_target_and_telling_the_contacts(
    db: AsyncEngine,
) -> None:
    kit = Kit(db, nomination_target=3)
    staff = await member(kit, 900)
    names = ["甲公司", "乙公司", "丙公司", "丁公司"]
    for number, name in enumerate(names):
        language = "en" if number == 0 else "zh_Hans"
        boss = await contact(kit, 500 + number, name, language=language)
        await submitted(kit, boss)

    async def decide(name: str, *steps: str) -> list[Answer]:
        await staff.command("nominations")
        status = (await the_nomination(kit, name)).status
        await staff.press(
            "nominations.candidate_button",
            enterprise=_raw(name),
            status=Msg(flow.STATUS_LABELS[status]),
        )
        done = []
        for step in steps:
            if step == "reject":
                await staff.press("nominations.review.reject")
                done.append(await staff.send("员工宿舍没有取暖"))
            else:
                await staff.press(step)
                done.append(await staff.press("ui.yes"))
        return done

    [rejected] = await decide("丁公司", "reject")
    [told] = await sent(kit, rejected)
    assert told.chat_id == 503 and "员工宿舍没有取暖" in told.text
    assert (await the_nomination(kit, "丁公司")).status is NominationStatus.REJECTED

    _, chosen = await decide("甲公司", "nominations.review.accept", "nominations.select_button")
    assert keys(chosen)[:1] == ["nominations.selected"]
    [congratulated] = await sent(kit, chosen)
    assert (congratulated.chat_id, congratulated.key) == (500, "nominate.selected_notice")
    assert "Congratulations" in congratulated.text and "甲公司" in congratulated.text
    assert "1/3" in said(kit, chosen)[-1] and "还差 2 家" in said(kit, chosen)[-1]
    for name in ("乙公司", "丙公司"):
        _, chosen = await decide(name, "nominations.review.accept", "nominations.select_button")
    assert "已选定先进典型 3 家，达到目标" in said(kit, chosen)[-1]
    async with kit.sessions() as session:
        models = await nominations.model_enterprise_ids(session)
        found = [await organisation.find_enterprise(session, n) for n in names[:3]]
    assert models == {e.id for e in found if e is not None}
    selected = await the_nomination(kit, "甲公司")
    assert selected.status is NominationStatus.SELECTED and selected.selected_at == kit.clock()
    assert keys(await kit.user(500, "en").command("nominate")) == ["nominate.decided"]


async def open_card(kit: Kit, staff: SimUser, company: str = "城建一公司") -> Answer:
    """Staff's /nominations, then the company's card."""
    await staff.command("nominations")
    status = (await the_nomination(kit, company)).status
    return await staff.press(
        "nominations.candidate_button",
        enterprise=_raw(company),
        status=Msg(flow.STATUS_LABELS[status]),
    )


async def test_selecting_asks_first_and_no_changes_nothing(db: AsyncEngine) -> None:
    kit = Kit(db, nomination_target=3)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await submitted(kit, boss)
    await open_card(kit, staff)
    answer = await staff.press("nominations.review.accept")
    assert keys(answer) == ["nominations.confirm_accept"]
    assert await sent(kit, answer) == [], "nobody is told before the Yes"
    assert staff.button_keys() == ["ui.yes", "ui.no", "nav.back", "nav.cancel"]
    assert keys(await staff.press("ui.no")) == ["nominations.card"]
    assert (await the_nomination(kit)).status is NominationStatus.SUBMITTED
    await staff.press("nominations.review.accept")
    await staff.press("ui.yes")
    answer = await staff.press("nominations.select_button")
    assert keys(answer) == ["nominations.confirm_select"]
    question = said(kit, answer)[0]
    assert "选定后不能撤销" in question and "0/3" in question
    assert await sent(kit, answer) == []
    assert keys(await staff.press("ui.no")) == ["nominations.card"]
    assert (await the_nomination(kit)).status is NominationStatus.ACCEPTED
    reviews = [r.kind for r in await kit.rows(NominationReview) if isinstance(r, NominationReview)]
    assert reviews == [ReviewKind.ACCEPT], "No selects nothing"
    await open_card(kit, staff)
    await staff.press("nominations.select_button")
    answer = await staff.press("ui.yes")
    assert keys(answer)[0] == "nominations.selected"
    assert keys(answer)[-1] == "nominate.selected_notice"
    assert [n.chat_id for n in await sent(kit, answer)] == [boss.user_id]
    assert (await the_nomination(kit)).status is NominationStatus.SELECTED


async def test_a_decision_on_a_card_the_contact_changed_meanwhile_is_not_taken(
    db: AsyncEngine,
) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    staff = await member(kit, 900)
    await submitted(kit, boss)
    await open_card(kit, staff)
    await boss.command("nominate")
    await boss.press("nominate.summary_button")
    await boss.send("总结改过了：留守职工全部按时发薪")
    answer = await staff.press("nominations.review.accept")
    assert keys(answer) == ["nominations.changed_shown", "nominations.card"]
    assert "总结改过了" in said(kit, answer)[1]
    assert (await the_nomination(kit)).status is NominationStatus.SUBMITTED
    # Changed again between the question and the Yes: still nothing is decided.
    assert keys(await staff.press("nominations.review.accept")) == ["nominations.confirm_accept"]
    await boss.press("nominate.summary_button")
    await boss.send("总结又改了：留守职工全部按时发薪")
    answer = await staff.press("ui.yes")
    assert keys(answer) == ["nominations.changed_shown", "nominations.card"]
    assert await sent(kit, answer) == []
    assert (await the_nomination(kit)).status is NominationStatus.SUBMITTED
    assert await kit.count(NominationReview) == 0
    await staff.press("nominations.review.accept")
    answer = await staff.press("ui.yes")
    assert keys(answer)[0] == "nominations.accepted"
    assert (await the_nomination(kit)).status is NominationStatus.ACCEPTED


# Who may do what -------------------------------------------------------------------------


async def test_roles_and_forged_buttons(db: AsyncEngine) -> None:
    kit = Kit(db)
    boss = await contact(kit)
    other = await contact(kit, 501, "钢铁二厂")
    worker = await person(kit, 100, Role.WORKER)
    officer = await member(kit, 901, Role.TOWN_OFFICER, town="开发区")
    staff = await member(kit, 900)
    assert keys(await worker.command("nominate")) == ["error.not_allowed"]
    assert keys(await officer.command("nominations")) == ["error.not_allowed"]
    assert keys(await boss.command("nominations")) == ["error.not_allowed"]
    assert keys(await staff.command("nominate")) == ["error.not_allowed"]
    nobody = await person(kit, 502, Role.CONTACT, company=None)
    assert keys(await nobody.command("nominate")) == ["nominate.no_enterprise"]

    await other.command("nominate")
    await write_measure(other, "nomination.measure.safety", "每周安全检查一次")  # a draft
    await submitted(kit, boss)
    draft = await the_nomination(kit, "钢铁二厂")
    real = await the_nomination(kit)
    await staff.command("nominations")
    token = (await staff.state()).token  # type: ignore[union-attr]
    for forged in (f"n:{draft.id}", "n:999", "n:x"):
        answer = await staff.press_data(f"{token}|candidates|{forged}")
        assert keys(answer) == ["error.stale_button"], forged
    await staff.press_data(f"{token}|candidates|n:{real.id}")
    state = await staff.state()
    assert state is not None and state.step == "candidate"
    for forged in ("select", "comment2", "photos2"):
        answer = await staff.press_data(f"{state.token}|candidate|{forged}")
        assert keys(answer) == ["error.stale_button"], forged
    assert (await the_nomination(kit)).status is NominationStatus.SUBMITTED
    assert await kit.count(NominationReview) == 0
    # Someone else's flow button does nothing for another person.
    answer = await boss.press_data(f"{state.token}|candidate|accept")
    assert keys(answer) == ["error.stale_button"]
    assert (await the_nomination(kit)).status is NominationStatus.SUBMITTED
