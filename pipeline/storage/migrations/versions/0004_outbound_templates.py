"""Outbound messages remember their template, for WhatsApp's 24-hour window.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept literal (not imported from tables.py) so this revision never changes after release.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("template", JSON, nullable=True))
        batch.add_column(sa.Column("sent_template", sa.Text(), nullable=True))
        batch.add_column(sa.Column("window_closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("window_closed_at")
        batch.drop_column("sent_template")
        batch.drop_column("template")
