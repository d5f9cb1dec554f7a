"""Web Push alerts: subscriptions per user and device, preferences per user and alert type.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05

* ``push_subscriptions``: a browser's PushSubscription (endpoint and its two public keys);
  an endpoint belongs to one user (unique), and goes with the user (cascade).
* ``notification_preferences``: ``on`` / ``silent`` / ``off`` per user and alert type; a
  missing row means the alert type's default.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.Text(), nullable=False),
        sa.Column("auth", sa.Text(), nullable=False),
        sa.Column("device", sa.Text()),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.PrimaryKeyConstraint("id", name="pk_push_subscriptions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_push_subscriptions_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "uq_push_subscriptions_endpoint", "push_subscriptions", ["endpoint"], unique=True
    )
    op.create_index("ix_push_subscriptions_user_id", "push_subscriptions", ["user_id"])
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_type", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "alert_type", name="pk_notification_preferences"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_notification_preferences_user_id_users",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "level IN ('on', 'silent', 'off')", name=op.f("ck_notification_preferences_level")
        ),
    )


def downgrade() -> None:
    op.drop_table("notification_preferences")
    op.drop_table("push_subscriptions")
