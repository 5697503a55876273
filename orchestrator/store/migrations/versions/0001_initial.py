"""Initial schema: inventory, intent, observed state, events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from orchestrator.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=True),
    )
    op.bulk_insert(meta, [{"id": 1, "generation": 0, "changed_at": None}])
    op.create_table(
        "inventory_objects",
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "site_admin",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("since", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_table(
        "diversions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer", sa.String(64), nullable=False, index=True),
        sa.Column("prefixes", sa.JSON, nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("more_specifics", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime, nullable=False),
        sa.Column("stopped_at", UTCDateTime, nullable=True),
        sa.Column("stopped_by", sa.String(64), nullable=True),
        sa.Column("stop_reason", sa.Text, nullable=True),
    )
    op.create_table(
        "rtbh_entries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("prefix", sa.String(64), nullable=False, index=True),
        sa.Column("customer", sa.String(64), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("removed_at", UTCDateTime, nullable=True),
        sa.Column("removed_by", sa.String(64), nullable=True),
    )
    op.create_table(
        "bgp_sessions",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("established", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "return_path_health",
        sa.Column("customer", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("health", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "announced_routes",
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("peer", sa.String(64), primary_key=True),
        sa.Column("prefix", sa.String(64), primary_key=True),
        sa.Column("attributes", sa.Text, nullable=False),
        sa.Column("acked_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "diversion_acks",
        sa.Column(
            "diversion_id",
            sa.Integer,
            sa.ForeignKey("diversions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("site", sa.String(64), primary_key=True),
        sa.Column("first_acked_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("detail", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "events",
        "diversion_acks",
        "announced_routes",
        "return_path_health",
        "bgp_sessions",
        "rtbh_entries",
        "diversions",
        "site_admin",
        "inventory_objects",
        "meta",
    ):
        op.drop_table(table)
