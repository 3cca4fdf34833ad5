"""deliveries keep their channel and the message they became (figures by channel; web reads)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=16), nullable=False, server_default="telegram")
        )
        batch_op.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
    # A person's channel never changes: deliveries written before take their person's.
    op.execute(
        "UPDATE deliveries SET channel = "
        "(SELECT people.channel FROM people WHERE people.id = deliveries.person_id) "
        "WHERE person_id IN (SELECT id FROM people WHERE channel <> 'telegram')"
    )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("message_id")
        batch_op.drop_column("channel")
