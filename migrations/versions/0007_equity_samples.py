"""Equity history: the account as the position manager read it, at most once a minute.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

* ``equity_samples``: one row per sample, keyed by its time (trading clock, UTC); balance,
  equity, margin and the open positions' floating profit in the account currency, ``NUMERIC``
  like every amount of money. The daemon deletes rows older than 35 days.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "equity_samples",
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("balance", sa.Numeric(), nullable=False),
        sa.Column("equity", sa.Numeric(), nullable=False),
        sa.Column("margin", sa.Numeric(), nullable=False),
        sa.Column("floating_profit", sa.Numeric(), nullable=False),
        sa.PrimaryKeyConstraint("time", name="pk_equity_samples"),
    )


def downgrade() -> None:
    op.drop_table("equity_samples")
