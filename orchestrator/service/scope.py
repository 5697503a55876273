"""What a customer-scoped viewer may see: its own customer's objects only.

Every read the HTTP API and the dashboard serve passes through a ``Scope``. The
unscoped scope (``Scope(None)``: operators, admins, ordinary viewers) returns
everything unchanged. A scoped one keeps the customer's own objects and drops
every other customer's, including anything whose text could name one: plan
violations (they name peers and prefixes of any customer), the plan's next
change time (another customer's RTBH expiry), events not about the customer.
Asking for another customer's object by name is ``Forbidden`` whether that
customer exists or not, and the message does not repeat the name asked for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from orchestrator.errors import Forbidden
from orchestrator.inventory import Inventory
from orchestrator.service.detections import DetectionView
from orchestrator.service.diversions import DiversionView
from orchestrator.service.paths import PathView
from orchestrator.service.report import TtmReport, summarise
from orchestrator.service.rtbh import RtbhView
from orchestrator.service.sites import SiteView
from orchestrator.service.status import EventView, PlanView, customer_plan

T = TypeVar("T", DiversionView, RtbhView, PathView, DetectionView)


@dataclass(frozen=True)
class Scope:
    customer: str | None  # None: every customer

    @property
    def scoped(self) -> bool:
        return self.customer is not None

    def allows(self, customer: str) -> bool:
        return self.customer is None or customer == self.customer

    def require(self, customer: str) -> None:
        if not self.allows(customer):
            raise Forbidden(
                "this token may see one customer only, and not this one", where="customer"
            )

    def mine(self, items: Iterable[T]) -> list[T]:
        return [item for item in items if self.allows(item.customer)]

    def inventory(self, inv: dict[str, Any]) -> dict[str, Any]:
        """The stored inventory (as JSON): the customer and the sites it may use."""
        if self.customer is None:
            return inv
        own = inv.get("customers", {}).get(self.customer, {})
        used = {entry["site"] for entry in own.get("sites", [])}
        return {
            **inv,
            "sites": {n: s for n, s in inv.get("sites", {}).items() if n in used},
            "customers": {self.customer: own} if own else {},
        }

    def sites(self, views: Sequence[SiteView], inv: Inventory) -> list[SiteView]:
        if self.customer is None:
            return list(views)
        customer = inv.customers.get(self.customer)
        used = {s.site for s in customer.sites} if customer else set()
        return [
            v.model_copy(update={"return_paths": tuple(
                p for p in v.return_paths if p.customer == self.customer)})
            for v in views if v.site in used
        ]  # fmt: skip

    def plan(self, view: PlanView) -> PlanView:
        return view if self.customer is None else customer_plan(view, self.customer)

    def ttm(self, report: TtmReport) -> TtmReport:
        if self.customer is None:
            return report
        return summarise([r for r in report.diversions if r.customer == self.customer])

    def sees_event(self, event: EventView, inv: Inventory) -> bool:
        return self.customer is None or event_concerns(event, self.customer, inv)


def event_concerns(event: EventView, customer: str, inv: Inventory) -> bool:
    """Whether an audit event is about ``customer``: it names the customer (diversions,
    moves), one of its return paths (``site/customer``), or an address or prefix
    inside its authorised prefixes (RTBH entries, detections)."""
    if event.target == customer or event.target.endswith(f"/{customer}"):
        return True
    own = inv.customers.get(customer)
    if own is None:
        return False
    try:
        target = ipaddress.ip_network(event.target, strict=False)
    except ValueError:
        return False
    return any(
        target.version == p.prefix.version and target.subnet_of(p.prefix)  # type: ignore[arg-type]
        for p in own.prefixes
    )
