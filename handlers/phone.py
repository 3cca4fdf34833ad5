"""Asking for a mobile number: one tap on "share my number", or typed and validated."""

from __future__ import annotations

from handlers import validation
from handlers.actions import Action, Msg, Reply, ReplyButton, SendText
from handlers.events import ContactShared
from handlers.flow import Context, Reject, State, refuse
from models.people import Role


def mask_phone(phone: str | None) -> str | None:
    """A number with all but the first three and the last four digits starred
    (13812345678 -> 138****5678): enough to recognise it, not to call a stranger.
    A short number keeps only its last two."""
    if not phone:
        return None
    if len(phone) >= 8:
        return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
    if len(phone) > 2:
        return "*" * (len(phone) - 2) + phone[-2:]
    return "*" * len(phone)


def phone_for(phone: str | None, reader: Role | None) -> str | None:
    """A phone number as this reader may read it: in full for an administrator, masked
    for everyone else (the one rule of the cards, /missing and the export)."""
    return phone if reader is Role.ADMIN else mask_phone(phone)


async def ask_phone(state: State, ctx: Context) -> list[Action]:
    """Share the Telegram number with one tap, or type a mainland mobile number."""
    return [
        SendText(
            Msg("enrol.ask_phone"),
            Reply(((ReplyButton(Msg("enrol.share_phone"), request_contact=True),),)),
        )
    ]


def typed_phone(text: str) -> str | Reject:
    """A typed mainland mobile number, or why it is not one."""
    phone = validation.parse_mobile(text)
    return refuse(phone) if isinstance(phone, validation.Invalid) else phone


def shared_phone(event: ContactShared) -> str | Reject:
    """The number of a shared contact card, but only the person's own."""
    if event.contact_user_id != event.user_id:
        return Reject(Msg("enrol.not_own_contact"))
    phone = validation.normalize_shared_phone(event.phone)
    return phone or Reject(Msg("error.phone.invalid"))
