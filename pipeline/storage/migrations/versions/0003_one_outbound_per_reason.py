"""One outbound message per reason: unique partial indexes behind the replay guard.

``enqueue`` inserts only where no row answers the same message (or, for reminders, the same
item) with the same kind; under PostgreSQL's READ COMMITTED two workers could both pass that
check, so the database now refuses the second row.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPLY = sa.text("in_reply_to IS NOT NULL")
ITEM_NOTICE = sa.text("in_reply_to IS NULL AND item_id IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        op.f("ix_outbound_messages_in_reply_to_kind"),
        "outbound_messages",
        ["in_reply_to", "kind"],
        unique=True,
        sqlite_where=REPLY,
        postgresql_where=REPLY,
    )
    op.create_index(
        op.f("ix_outbound_messages_item_id_kind"),
        "outbound_messages",
        ["item_id", "kind"],
        unique=True,
        sqlite_where=ITEM_NOTICE,
        postgresql_where=ITEM_NOTICE,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_messages_item_id_kind"), table_name="outbound_messages")
    op.drop_index(op.f("ix_outbound_messages_in_reply_to_kind"), table_name="outbound_messages")
