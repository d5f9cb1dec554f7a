"""Trade lifecycle: closed volume of partial closes, the transition history, trade management.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

* ``trades.closed_volume``: the volume closed so far (partial closes); a closed trade has
  closed all of ``volume``.
* ``trade_transitions``: one row per status change of a trade (and per partial close), written
  in the same transaction as the change, so the history of every trade is complete.
* ``strategy_config.management``: break-even and trailing-stop settings of a strategy
  instance, changed at run time like its parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMPTY_JSONB = sa.text("'{}'::jsonb")
_STATUSES = "'intent', 'submitted', 'open', 'closing', 'closed', 'rejected', 'cancelled'"


def upgrade() -> None:
    op.add_column(
        "trades",
        sa.Column("closed_volume", sa.Numeric(), nullable=False, server_default=sa.text("0")),
    )
    op.create_check_constraint(
        op.f("ck_trades_closed_volume_range"),
        "trades",
        "closed_volume >= 0 AND closed_volume <= volume",
    )
    op.create_table(
        "trade_transitions",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("trade_id", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.Text()),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=_EMPTY_JSONB),
        sa.PrimaryKeyConstraint("id", name="pk_trade_transitions"),
        sa.ForeignKeyConstraint(
            ["trade_id"],
            ["trades.id"],
            name="fk_trade_transitions_trade_id_trades",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            f"from_status IS NULL OR from_status IN ({_STATUSES})",
            name=op.f("ck_trade_transitions_from_status"),
        ),
        sa.CheckConstraint(
            f"to_status IN ({_STATUSES})", name=op.f("ck_trade_transitions_to_status")
        ),
    )
    op.create_index("ix_trade_transitions_trade_id", "trade_transitions", ["trade_id", "id"])
    op.add_column(
        "strategy_config",
        sa.Column("management", postgresql.JSONB(), nullable=False, server_default=_EMPTY_JSONB),
    )


def downgrade() -> None:
    op.drop_column("strategy_config", "management")
    op.drop_table("trade_transitions")
    op.drop_constraint(op.f("ck_trades_closed_volume_range"), "trades", type_="check")
    op.drop_column("trades", "closed_volume")
