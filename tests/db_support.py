"""Compare whole databases: a full, ordered dump of every table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, create_engine, select


def dump_db(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (the Alembic version table too), in primary-key order."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        out: dict[str, list[tuple[Any, ...]]] = {}
        with engine.connect() as conn:
            for name, table in sorted(meta.tables.items()):
                order = list(table.primary_key.columns) or list(table.columns)
                out[name] = [tuple(row) for row in conn.execute(select(table).order_by(*order))]
        return out
    finally:
        engine.dispose()
