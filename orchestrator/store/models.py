"""SQLAlchemy 2.0 models. Intent, observed state and the event log live in
separate tables; the schema itself is owned by the Alembic migrations in
``migrations/versions`` (a test checks the two agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


# --- meta -------------------------------------------------------------------


class Meta(Base):
    """One row. Every intent change bumps ``generation`` first: that serialises
    writers on every backend and lets agents notice a change with one cheap read."""

    __tablename__ = "meta"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime | None]


# --- inventory (desired configuration) --------------------------------------


class InventoryObject(Base):
    """One validated inventory object (policy, a site, a customer) as JSON."""

    __tablename__ = "inventory_objects"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


# --- intent -------------------------------------------------------------------


class SiteAdminRow(Base):
    __tablename__ = "site_admin"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    since: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class DiversionRow(Base):
    __tablename__ = "diversions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer: Mapped[str] = mapped_column(String(64), index=True)
    prefixes: Mapped[list[str]]
    sites: Mapped[list[str]]
    targets: Mapped[list[str]]
    more_specifics: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    stopped_at: Mapped[datetime | None]
    stopped_by: Mapped[str | None] = mapped_column(String(64))
    stop_reason: Mapped[str | None] = mapped_column(Text)


class MoveRow(Base):
    """An operator's or a script's move of a customer away from a site that still
    works (``scrubctl failover``), until ``failback`` ends it."""

    __tablename__ = "customer_moves"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer: Mapped[str] = mapped_column(String(64), index=True)
    from_site: Mapped[str] = mapped_column(String(64))
    to_site: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(64))


class RtbhRow(Base):
    __tablename__ = "rtbh_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(64), index=True)
    customer: Mapped[str] = mapped_column(String(64))
    forced: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]
    removed_by: Mapped[str | None] = mapped_column(String(64))


# --- observed state (written by the site agents) ------------------------------


class SessionRow(Base):
    __tablename__ = "bgp_sessions"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    established: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime]


class ReturnPathRow(Base):
    """A return path's health as its site's probes see it: ``health`` with hysteresis,
    ``changed_at`` the last transition and ``detail`` its cause; ``loss`` (0..1 over
    the probe window) and ``rtt_ms`` are the latest figures, ``checked_at`` the
    latest probe."""

    __tablename__ = "return_path_health"
    customer: Mapped[str] = mapped_column(String(64), primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    health: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    changed_at: Mapped[datetime]
    loss: Mapped[float | None] = mapped_column(Float)
    rtt_ms: Mapped[float | None] = mapped_column(Float)
    checked_at: Mapped[datetime | None]


class ReturnPathSampleRow(Base):
    """A return path's health and figures at one moment, for the loss/RTT plot: the
    site's loop writes one per path every ``HISTORY_EVERY`` seconds and one at each
    transition, and prunes them (older than ``HISTORY_KEEP``, more than
    ``HISTORY_MAX`` per path), so the table stays bounded."""

    __tablename__ = "return_path_samples"
    __table_args__ = (Index("ix_return_path_samples_path_at", "customer", "site", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer: Mapped[str] = mapped_column(String(64))
    site: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
    health: Mapped[str] = mapped_column(String(16))
    loss: Mapped[float | None] = mapped_column(Float)
    rtt_ms: Mapped[float | None] = mapped_column(Float)


class SiteSyncRow(Base):
    """The change counter a site's agent last brought ExaBGP up to (every route of
    that plan acknowledged), for ``--wait``."""

    __tablename__ = "site_sync"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    synced_at: Mapped[datetime]


class AgentSyncRow(Base):
    """How the last sync of a site's agent went (each sync overwrites it), and how
    many ran and failed since the row was created: for ``/metrics``."""

    __tablename__ = "agent_syncs"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    finished_at: Mapped[datetime]
    duration_s: Mapped[float] = mapped_column(Float)
    errors: Mapped[int] = mapped_column(Integer)  # in the last sync
    syncs: Mapped[int] = mapped_column(BigInteger)
    failed: Mapped[int] = mapped_column(BigInteger)  # syncs with at least one error


class AnnouncedRow(Base):
    """A route ExaBGP acknowledged for one peer of one site."""

    __tablename__ = "announced_routes"
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    peer: Mapped[str] = mapped_column(String(64), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(64), primary_key=True)
    attributes: Mapped[str] = mapped_column(Text)
    acked_at: Mapped[datetime]


class DiversionAckRow(Base):
    """First acknowledgement of a diversion's routes per site (time to mitigate)."""

    __tablename__ = "diversion_acks"
    diversion_id: Mapped[int] = mapped_column(
        ForeignKey("diversions.id", ondelete="CASCADE"), primary_key=True
    )
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_acked_at: Mapped[datetime]


# --- the HTTP API ----------------------------------------------------------------


class TokenRow(Base):
    """A bearer token of the HTTP API. Only the SHA-256 of its secret is kept; the
    secret itself is shown once, when the token is created. At most one token per
    name is in force (not revoked, not expired); its name is the audit actor."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    customer: Mapped[str | None] = mapped_column(String(64))  # a viewer of this customer only


class WebSessionRow(Base):
    """A dashboard login: the SHA-256 of the cookie's random value (a copy of the
    database does not log anyone in), the token it was opened with (revoking the
    token ends it), the form token (CSRF) and when it was last used (idle expiry)."""

    __tablename__ = "web_sessions"
    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class DetectionRow(Base):
    """An attack a detector reported (``ban``) on one address, and the diversion it
    started, until ``unban`` (after the hold-down, ``release_at``) ends it. At most
    one detection per address is open (``ended_at`` null)."""

    __tablename__ = "detections"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    customer: Mapped[str] = mapped_column(String(64))
    detector: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16))
    pps: Mapped[int | None] = mapped_column(BigInteger)
    bps: Mapped[int | None] = mapped_column(BigInteger)
    diversion_id: Mapped[int] = mapped_column(ForeignKey("diversions.id"))
    owns_diversion: Mapped[bool] = mapped_column(Boolean)  # False: an operator's, left alone
    banned_by: Mapped[str] = mapped_column(String(64))
    banned_at: Mapped[datetime]
    unbanned_by: Mapped[str | None] = mapped_column(String(64))
    unbanned_at: Mapped[datetime | None]
    release_at: Mapped[datetime | None]  # the hold-down ends: the diversion is stopped
    ended_at: Mapped[datetime | None]


# --- audit ---------------------------------------------------------------------


class EventRow(Base):
    """Append-only audit log: nothing updates or deletes these rows."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]]


def utcnow() -> datetime:
    return datetime.now(UTC)
