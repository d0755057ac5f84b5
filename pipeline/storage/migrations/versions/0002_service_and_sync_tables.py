"""Service and sync tables: contacts, outbound messages, dead jobs, API keys, CRM sync.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Kept literal (not imported from tables.py) so this revision never changes after release.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("person", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'supervisor', 'agent')", name=op.f("ck_api_keys_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("profile_name", sa.Text(), nullable=True),
        sa.Column("person", sa.Text(), nullable=True),
        sa.Column("opted_out", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("consent_changed_at", TIMESTAMP, nullable=True),
        sa.Column("quiet_start", sa.Text(), nullable=True),
        sa.Column("quiet_end", sa.Text(), nullable=True),
        sa.Column("timezone", sa.Text(), nullable=True),
        sa.Column("last_inbound_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("tenant", "address", name=op.f("uq_contacts_tenant_address")),
    )
    op.create_table(
        "dead_jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failed_at", TIMESTAMP, nullable=False),
        sa.Column("retried_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_jobs")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("tenant", sa.Text(), nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("tenant", "connector", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "item_sync",
        sa.Column("item_id", ID, nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False),
        sa.Column("state", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("remote_id", sa.Text(), nullable=True),
        sa.Column("remote_type", sa.Text(), nullable=True),
        sa.Column("remote_version", sa.Text(), nullable=True),
        sa.Column("pushed_hash", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "state IN ('pending', 'synced', 'dead')", name=op.f("ck_item_sync_state")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["items.id"], name=op.f("fk_item_sync_item_id_items"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("item_id", "connector", name=op.f("pk_item_sync")),
    )
    op.create_index(
        op.f("ix_item_sync_connector_remote_id"), "item_sync", ["connector", "remote_id"]
    )
    op.create_index(
        op.f("ix_item_sync_state_next_attempt_at"), "item_sync", ["state", "next_attempt_at"]
    )

    op.create_table(
        "outbound_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant", sa.Text(), server_default=sa.text("'default'"), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("urgent", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("in_reply_to", ID, nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("send_after", TIMESTAMP, nullable=True),
        sa.Column("provider_id", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'held', 'sending', 'queued', 'sent', 'delivered', 'read', "
            "'failed', 'undelivered', 'suppressed')",
            name=op.f("ck_outbound_messages_status"),
        ),
        sa.ForeignKeyConstraint(
            ["in_reply_to"],
            ["messages.id"],
            name=op.f("fk_outbound_messages_in_reply_to_messages"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["items.id"],
            name=op.f("fk_outbound_messages_item_id_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbound_messages")),
        sa.UniqueConstraint(
            "channel", "provider_id", name=op.f("uq_outbound_messages_channel_provider_id")
        ),
    )
    op.create_index(
        op.f("ix_outbound_messages_status_send_after"),
        "outbound_messages",
        ["status", "send_after"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbound_messages_status_send_after"), table_name="outbound_messages")

    op.drop_table("outbound_messages")
    op.drop_index(op.f("ix_item_sync_state_next_attempt_at"), table_name="item_sync")
    op.drop_index(op.f("ix_item_sync_connector_remote_id"), table_name="item_sync")

    op.drop_table("item_sync")
    op.drop_table("sync_cursors")
    op.drop_table("dead_jobs")
    op.drop_table("contacts")
    op.drop_table("api_keys")
