"""Request bodies and the responses that add a ``wait`` to a service's result.

Requests are strict (``"force": "yes"`` is not true, ``"pps": "5"`` not 5) and
refuse unknown fields; values are then checked by the same use cases as the
CLI's, so both faces refuse the same things with the same messages.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from orchestrator.defaults import SYNC_TIMEOUT_MAX_S, SYNC_TIMEOUT_S
from orchestrator.service.detections import DetectionResult
from orchestrator.service.diversions import DiversionView, StartResult
from orchestrator.service.moves import MoveResult
from orchestrator.service.sites import SiteChange
from orchestrator.service.sync import WaitResult

Names = list[str]
MAX_ITEMS = 256


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Waiting(Body):
    wait: bool = Field(
        False, description="Answer once every site the change affects has acknowledged it."
    )
    timeout: float | None = Field(
        None,
        description=f"With wait: seconds (default {SYNC_TIMEOUT_S:g}, at most "
        f"{SYNC_TIMEOUT_MAX_S:g}); 504 after.",
    )


class DivertStart(Waiting):
    customer: str
    reason: str
    prefixes: Names = Field(default_factory=list, max_length=MAX_ITEMS)
    sites: Names = Field(default_factory=list, max_length=MAX_ITEMS)
    targets: Names = Field(default_factory=list, max_length=MAX_ITEMS)
    more_specifics: bool = False


class DivertStop(Waiting):
    customer: str
    reason: str
    id: int | None = None


class RtbhAdd(Body):
    host: str
    reason: str
    expires: str = Field(description="Lifetime: 90s, 30m, 2h, 7d (at most 30d).")
    force: bool = False


class RtbhRemove(Body):
    host: str
    reason: str


class Drain(Waiting):
    reason: str
    force: bool = False


class Undrain(Waiting):
    reason: str


class Failover(Waiting):
    from_site: str
    to_site: str | None = None
    reason: str
    force: bool = False


class Failback(Waiting):
    reason: str


class Detection(Waiting):
    address: str = Field(description="The attacked address (incoming) or the source (outgoing).")
    direction: str = Field(description="incoming or outgoing (outgoing is refused).")
    action: str = Field(description="ban (attack seen) or unban (attack over).")
    detector: str = Field(description="Which detector saw it (letters, digits, _ . @ -).")
    pps: int | None = None
    bps: int | None = None


class TokenCreate(Body):
    name: str
    role: str = Field(description="viewer, operator or admin.")
    expires: str | None = Field(None, description="Lifetime: 90s, 30m, 2h, 7d; none: never.")
    customer: str | None = Field(None, description="A viewer of this customer only.")


class TokenRevoke(Body):
    reason: str = ""


# --- responses: a result with the outcome of its wait --------------------------


class Waited(BaseModel):
    wait: WaitResult | None = None


class StartResponse(StartResult, Waited):
    pass


class StopResponse(Waited):
    stopped: tuple[DiversionView, ...]


class SiteResponse(SiteChange, Waited):
    pass


class MoveResponse(MoveResult, Waited):
    pass


class DetectionResponse(DetectionResult, Waited):
    pass
