"""voice: a request described by a voice message; web messages that carry a voice

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voice_file_id", sa.String(length=256), nullable=True))
    with op.batch_alter_table("web_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("voice", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("web_messages", schema=None) as batch_op:
        batch_op.drop_column("voice")
    with op.batch_alter_table("help_requests", schema=None) as batch_op:
        batch_op.drop_column("voice_file_id")
