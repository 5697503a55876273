"""Return-path health figures, customer moves (failover/failback), site sync marks.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("return_path_health") as batch:
        batch.add_column(sa.Column("loss", sa.Float, nullable=True))
        batch.add_column(sa.Column("rtt_ms", sa.Float, nullable=True))
        batch.add_column(sa.Column("checked_at", UTCDateTime, nullable=True))
    op.create_table(
        "customer_moves",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer", sa.String(64), nullable=False, index=True),
        sa.Column("from_site", sa.String(64), nullable=False),
        sa.Column("to_site", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("ended_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "site_sync",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("synced_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("site_sync")
    op.drop_table("customer_moves")
    with op.batch_alter_table("return_path_health") as batch:
        batch.drop_column("checked_at")
        batch.drop_column("rtt_ms")
        batch.drop_column("loss")
