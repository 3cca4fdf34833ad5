"""the outbox: every outgoing message has a purpose; deliveries name a person, not a chat

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 09:00:00

A broadcast row becomes any outgoing message: its purpose is typed, a catalog message keeps
its parameters and keyboard as JSON, and the sender finds due rows by `next_run_at` (no
job store mirrors the table). A delivery no longer copies a Telegram chat id: the sender
looks up the person's channel and address when it sends.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

_KIND_PURPOSE = {
    "text": "broadcast",
    "photo": "broadcast",
    "document": "broadcast",
    "letter": "letter",
    "event": "event_notice",
    "event_reminder": "event_reminder",
}
_MESSAGE_PURPOSE = (
    ("report.remind.", "report_reminder"),
    ("checkin.remind.contact", "nudge"),
    ("checkin.remind.", "reask"),
    ("nominate.", "nomination"),
)


def _message_purpose(key: str) -> str:
    for prefix, purpose in _MESSAGE_PURPOSE:
        if key.startswith(prefix):
            return purpose
    return "broadcast"


def upgrade() -> None:
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(16), nullable=False, server_default="telegram")
        )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(24), nullable=False, server_default="broadcast")
        )
        batch_op.add_column(sa.Column("message", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("next_run_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("report_progress", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    connection = op.get_bind()
    rows = connection.execute(
        sa.text("SELECT id, content_kind, text, status, send_at, notify_chat_id FROM broadcasts")
    ).all()
    for row_id, kind, text, status, send_at, notify_chat_id in rows:
        values: dict[str, Any] = {
            "id": row_id,
            "purpose": _KIND_PURPOSE.get(kind, "broadcast"),
            "message": None,
            "next_run_at": send_at if status == "scheduled" else None,
            "report_progress": notify_chat_id is not None,
        }
        if kind == "message":
            key, _, query = (text or "").partition("?")
            # Parameters were plain text, shown as given: they stay so.
            params = {name: {"raw": value} for name, value in parse_qsl(query)}
            values["purpose"] = _message_purpose(key)
            values["message"] = json.dumps({"text": {"msg": key, "params": params}, "markup": None})
        connection.execute(
            sa.text(
                "UPDATE broadcasts SET purpose = :purpose, message = :message, "
                "next_run_at = :next_run_at, report_progress = :report_progress WHERE id = :id"
            ),
            values,
        )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_broadcasts_status"))
        batch_op.drop_column("notify_chat_id")
        batch_op.create_index("ix_broadcasts_due", ["status", "next_run_at"], unique=False)
        batch_op.create_index("ix_broadcasts_purpose", ["purpose", "created_at"], unique=False)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("chat_id")


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("chat_id", sa.BigInteger(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.drop_index("ix_broadcasts_purpose")
        batch_op.drop_index("ix_broadcasts_due")
        batch_op.add_column(sa.Column("notify_chat_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f("ix_broadcasts_status"), ["status"], unique=False)
        batch_op.drop_column("report_progress")
        batch_op.drop_column("next_run_at")
        batch_op.drop_column("message")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_column("channel")
