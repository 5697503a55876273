"""The HTTP API's bearer tokens (hashed) and the detections it receives.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, index=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
        sa.Column("revoked_at", UTCDateTime, nullable=True),
        sa.Column("revoked_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "detections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("address", sa.String(64), nullable=False, index=True),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("detector", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("pps", sa.BigInteger, nullable=True),
        sa.Column("bps", sa.BigInteger, nullable=True),
        sa.Column("diversion_id", sa.Integer, sa.ForeignKey("diversions.id"), nullable=False),
        sa.Column("owns_diversion", sa.Boolean, nullable=False),
        sa.Column("banned_by", sa.String(64), nullable=False),
        sa.Column("banned_at", UTCDateTime, nullable=False),
        sa.Column("unbanned_by", sa.String(64), nullable=True),
        sa.Column("unbanned_at", UTCDateTime, nullable=True),
        sa.Column("release_at", UTCDateTime, nullable=True),
        sa.Column("ended_at", UTCDateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("detections")
    op.drop_table("api_tokens")
