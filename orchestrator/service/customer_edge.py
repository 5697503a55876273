"""Use case: the customer edge's half of a return path, for the operator to hand
to the customer. Reads the stored inventory; changes nothing."""

from __future__ import annotations

from orchestrator import customer_edge
from orchestrator.customer_edge.model import Request
from orchestrator.service.snapshot import load_inventory
from orchestrator.store.db import Database


def config(db: Database, request: Request) -> str:
    customer_edge.vendor(request.vendor)  # an unknown vendor is refused before any I/O
    with db.read() as session:
        inv = load_inventory(session)
    return customer_edge.render(inv, request)
