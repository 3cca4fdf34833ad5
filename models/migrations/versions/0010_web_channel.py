"""the web channel: people, conversations and processed updates keyed by channel; web chats

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# Autoincrementing keys: BIGINT on PostgreSQL, SQLite's rowid (INTEGER) there.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def channel() -> sa.Column[str]:
    # Everyone known so far came through Telegram: they keep their ids, on channel "telegram".
    return sa.Column("channel", sa.String(length=16), nullable=False, server_default="telegram")


def upgrade() -> None:
    # people.channel came with the outbox (0009); here it becomes part of the person's key.
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint("uq_people_telegram_user_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_people_channel_telegram_user_id", ["channel", "telegram_user_id"]
        )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(channel())
        batch_op.drop_constraint("pk_conversations", type_="primary")
        batch_op.create_primary_key("pk_conversations", ["channel", "chat_id", "user_id"])
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.add_column(channel())
        batch_op.drop_constraint("pk_processed_updates", type_="primary")
        batch_op.create_primary_key("pk_processed_updates", ["channel", "update_id"])

    op.create_table(
        "web_chats",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("read_seq", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_chats")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_web_chats_link_hash")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["web_chats.id"],
            name=op.f("fk_web_sessions_chat_id_web_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_chat_id"), "web_sessions", ["chat_id"])
    op.create_table(
        "web_files",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["web_chats.id"],
            name=op.f("fk_web_files_chat_id_web_chats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_files")),
    )
    op.create_index(op.f("ix_web_files_chat_id"), "web_files", ["chat_id"])
    op.create_table(
        "web_messages",
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("markup", sa.JSON(), nullable=True),
        sa.Column("file_id", sa.BigInteger(), nullable=True),
        sa.Column("photo", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("mine", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(
            ["chat_id"],
            ["web_chats.id"],
            name=op.f("fk_web_messages_chat_id_web_chats"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["web_files.id"],
            name=op.f("fk_web_messages_file_id_web_files"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("chat_id", "id", name=op.f("pk_web_messages")),
    )
    op.create_index("ix_web_messages_chat_seq", "web_messages", ["chat_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_web_messages_chat_seq", table_name="web_messages")
    op.drop_table("web_messages")
    op.drop_index(op.f("ix_web_files_chat_id"), table_name="web_files")
    op.drop_table("web_files")
    op.drop_index(op.f("ix_web_sessions_chat_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_table("web_chats")
    op.execute("DELETE FROM processed_updates WHERE channel <> 'telegram'")
    with op.batch_alter_table("processed_updates", schema=None) as batch_op:
        batch_op.drop_constraint("pk_processed_updates", type_="primary")
        batch_op.create_primary_key("pk_processed_updates", ["update_id"])
        batch_op.drop_column("channel")
    op.execute("DELETE FROM conversations WHERE channel <> 'telegram'")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_constraint("pk_conversations", type_="primary")
        batch_op.create_primary_key("pk_conversations", ["chat_id", "user_id"])
        batch_op.drop_column("channel")
    # Web people keep their rows (counts refer to them), without an address on any channel.
    op.execute(
        "UPDATE people SET telegram_user_id = NULL, chat_id = NULL WHERE channel <> 'telegram'"
    )
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.drop_constraint("uq_people_channel_telegram_user_id", type_="unique")
        batch_op.create_unique_constraint("uq_people_telegram_user_id", ["telegram_user_id"])
