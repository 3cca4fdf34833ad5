"""organisation: an enterprise's contact name and phone

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table, PostgreSQL alters it in place.
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("contact_phone", sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("enterprises", schema=None) as batch_op:
        batch_op.drop_column("contact_phone")
        batch_op.drop_column("contact_name")
