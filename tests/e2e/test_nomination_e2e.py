"""An advanced-model nomination through the real runtime: a contact writes one measure with a
photo and a summary and submits it; staff read it with its evidence and accept it; the
contact hears of it in their own language."""

from __future__ import annotations

from typing import Any

import pytest

from tests.botprocess import BotProcess, count_rows, label
from tests.e2e.test_request_e2e import enrol_staff, unique_name
from tests.fakebotapi import FakeUser

pytestmark = pytest.mark.e2e

# No full-width punctuation: free text is NFKC-normalised, which would make "，" a ",".
MEASURE = "热饭热水 宿舍通暖气 留守 40 人"
SUMMARY = "春节期间为留守职工提供三餐和取暖 组织了年夜饭"


def enrol_english_contact(user: FakeUser, code: str) -> None:
    """From the invite link to an enrolled contact who reads English."""
    user.command("start", code)
    user.wait_text("About your personal information")
    user.press(label("enrol.agree", "en"))
    user.wait_text("real name")
    user.send("Li Ming")
    user.wait_text("11-digit mobile number")
    user.send("13900004001")
    user.wait_text("Li Ming, you are registered as")


def test_a_nomination_with_a_photo_is_read_by_staff_and_accepted(
    shared_bot: BotProcess, new_user: Any
) -> None:
    api = shared_bot.api
    name = unique_name(shared_bot, "先进典型测试厂")
    shared_bot.add_enterprise(name)
    contact: FakeUser = new_user(language_code="en")
    enrol_english_contact(contact, shared_bot.contact_invite(name))
    staff: FakeUser = new_user()
    enrol_staff(shared_bot, staff, "周科长")

    contact.command("nominate")
    contact.wait_text("advanced-model nomination")
    living = label("nomination.measure.living", "en")
    contact.press(label("ui.unchecked", "en").format(label=living))
    contact.wait_text("what did your enterprise do?")
    contact.send(MEASURE)
    contact.wait_text("send photos as evidence (0/5 so far)")
    photo = api.photo_message(contact.user_id, language_code="en")
    file_id = photo["message"]["photo"][-1]["file_id"]
    contact.mark()
    api.push_update(photo)
    contact.wait_text("Photo 1 of at most 5 kept")
    contact.press(label("ui.done", "en"))
    contact.wait_text("advanced-model nomination")
    contact.press(label("ui.unchecked", "en").format(label=label("nominate.summary_button", "en")))
    contact.wait_text("Please write a summary")
    contact.send(SUMMARY)
    overview = contact.wait_text("advanced-model nomination")
    assert "(photos: 1)" in overview["text"]
    contact.press(label("nominate.submit_button", "en"))
    preview = contact.wait_text("the Labour Inspection Brigade will see")
    assert MEASURE in preview["text"] and SUMMARY in preview["text"]
    contact.press(label("nominate.submit_button", "en"))
    contact.wait_text("Submitted to the Labour Inspection Brigade")
    staff.wait_text(f"{name} 提交了先进典型申报")

    staff.command("nominations")
    staff.wait_text("先进典型申报")
    staff.press(f"{name} · {label('nomination.status.submitted')}")
    card = staff.wait_text("申报内容")
    assert name in card["text"] and MEASURE in card["text"] and SUMMARY in card["text"]
    assert "（照片 1 张）" in card["text"]
    shown = api.mark()
    staff.press(label("nominations.photos_button").format(count=1))
    staff.wait_text("以上是全部照片")
    [evidence] = [
        c for c in api.calls[shown:] if c.method == "sendPhoto" and c.chat_id == staff.chat_id
    ]
    assert evidence.ok and evidence.params["photo"] == file_id, "re-sent by its file_id"
    assert evidence.files == {}, "nothing uploaded again"
    assert evidence.params.get("caption") == label("nomination.measure.living")
    staff.press(label("ui.done"))
    staff.wait_text("申报内容")
    staff.press(label("nominations.review.accept"))
    staff.wait_text(f"确认 {name} 的申报初审通过")
    staff.press(label("ui.yes"))
    staff.wait_text(f"{name} 的申报初审通过，已通知联系人")

    told = contact.wait_text("passed the first review")
    assert name in told["text"]
    ours = f"enterprise_id = (SELECT id FROM enterprises WHERE name = '{name}')"
    assert count_rows(shared_bot, "nominations", f"{ours} AND status = 'accepted'") == 1
