"""Initial schema: messages, items, their links, and import runs.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept literal (not imported from tables.py) so this revision never changes after release.
# Names are wrapped in op.f(): they are final, not subject to the models' naming convention.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def _tenant() -> sa.Column[str]:
    return sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), server_default=sa.text("0"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        _tenant(),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("chat", sa.Text(), nullable=False),
        sa.Column("message_key", sa.Text(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("sent_at", TIMESTAMP, nullable=False),
        sa.Column("sent_tz", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("attachments", JSON, nullable=False),
        sa.Column("reply_to", sa.Text(), nullable=True),
        sa.Column("edited", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("extracted_at", TIMESTAMP, nullable=True),
        sa.Column("extractor_version", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint(
            "tenant",
            "source",
            "chat",
            "message_key",
            name=op.f("uq_messages_tenant_source_chat_message_key"),
        ),
    )
    op.create_index(
        op.f("ix_messages_tenant_extractor_version"), "messages", ["tenant", "extractor_version"]
    )

    op.create_table(
        "items",
        sa.Column("id", ID, nullable=False),
        _tenant(),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("priority", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("due", TIMESTAMP, nullable=True),
        sa.Column("start", TIMESTAMP, nullable=True),
        sa.Column("end", TIMESTAMP, nullable=True),
        sa.Column("grain", sa.Text(), nullable=True),
        sa.Column("due_source", sa.Text(), nullable=True),
        sa.Column("time_text", sa.Text(), nullable=True),
        sa.Column("assignee", sa.Text(), nullable=True),
        sa.Column("assignee_reason", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("entities", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("extractor_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_items")),
        sa.UniqueConstraint("tenant", "external_id", name=op.f("uq_items_tenant_external_id")),
        sa.CheckConstraint("status IN ('open', 'done', 'cancelled')", name=op.f("ck_items_status")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_items_tenant_status_due"), "items", ["tenant", "status", "due"])

    op.create_table(
        "item_messages",
        sa.Column("item_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("item_id", "message_id", name=op.f("pk_item_messages")),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_item_messages_item_id_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_item_messages_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("role IN ('origin', 'update')", name=op.f("ck_item_messages_role")),
    )
    op.create_index(op.f("ix_item_messages_message_id"), "item_messages", ["message_id"])

    op.create_table(
        "import_runs",
        sa.Column("id", ID, nullable=False),
        _tenant(),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("chat", sa.Text(), nullable=True),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _count("messages_seen"),
        _count("messages_new"),
        _count("items_created"),
        _count("items_updated"),
        _count("items_removed"),
        _count("unparsed_lines"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )


def downgrade() -> None:
    op.drop_table("import_runs")
    op.drop_index(op.f("ix_item_messages_message_id"), table_name="item_messages")
    op.drop_table("item_messages")
    op.drop_index(op.f("ix_items_tenant_status_due"), table_name="items")
    op.drop_table("items")
    op.drop_index(op.f("ix_messages_tenant_extractor_version"), table_name="messages")
    op.drop_table("messages")
