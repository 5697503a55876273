"""Return-path samples: each path's health, loss and RTT over time (bounded by the
site's loop), for the customer page's plot.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "return_path_samples",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("loss", sa.Float, nullable=True),
        sa.Column("rtt_ms", sa.Float, nullable=True),
    )
    op.create_index("ix_return_path_samples_path_at", "return_path_samples",
                    ["customer", "site", "at"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_return_path_samples_path_at", table_name="return_path_samples")
    op.drop_table("return_path_samples")
