"""A viewer token scoped to one customer (``token create --customer acme``): every
read answers acme's part only, no other customer's name or prefix appears in any
answer, /metrics is refused, and only viewers can be scoped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from api_support import Api, error_of

from orchestrator.service import diversions, observed, rtbh, tokens

OTHERS = ("pharmanet", "hoster", "loopy", "198.51.100.", "198.18.", "198.19.")
ALL_PEERS = (("fra", "transit-a"), ("fra", "transit-a-v6"), ("ams", "transit-b"), ("ams", "ix-rs"))


@pytest.fixture
def scoped(api: Api) -> str:
    """acme's viewer, and a state in which other customers have something to show:
    sessions up, a diversion of acme, pharmanet always on with a forced RTBH entry."""
    now = datetime.now(UTC)
    for site, peer in ALL_PEERS:
        observed.record_session(api.db, site, peer, "up", "", now)
    request = diversions.DivertRequest(customer="acme", reason="acme flood", sites=("fra",))
    diversions.start(api.db, request, actor="operator", now=now)
    rtbh.add(api.db, "198.51.100.7", reason="pharmanet host", expires=timedelta(hours=1),
             forced=True, actor="operator", now=now)  # fmt: skip
    return tokens.create(api.db, "acme-view", tokens.Role.VIEWER, expires=None, actor="setup",
                         now=now, customer="acme").secret  # fmt: skip


READS = ["/api/v1/inventory", "/api/v1/diversions?all=true", "/api/v1/rtbh?all=true",
         "/api/v1/sites", "/api/v1/plan", "/api/v1/plan?assume_up=true", "/api/v1/status",
         "/api/v1/paths", "/api/v1/events?limit=1000", "/api/v1/reports/ttm",
         "/api/v1/detections"]  # fmt: skip


@pytest.mark.parametrize("path", READS)
def test_scoped_viewer_sees_no_other_customer(path: str, api: Api, scoped: str) -> None:
    unscoped = api.get(path, role="viewer")
    assert unscoped.status_code == 200
    answer = api.get(path, role=scoped)
    assert answer.status_code == 200, answer.text
    assert [o for o in OTHERS if o in answer.text] == []
    if path not in ("/api/v1/detections", "/api/v1/rtbh?all=true"):  # acme has none
        assert "acme" in answer.text or "203.0.113." in answer.text


def test_scoped_viewer_unscoped_figures_differ(api: Api, scoped: str) -> None:
    """The same reads without the scope do name the others (the test above can fail)."""
    assert "pharmanet" in api.get("/api/v1/plan", role="viewer").text


@pytest.mark.parametrize(
    ("path", "wanted"),
    [("/api/v1/status", {"acme"}), ("/api/v1/plan", {"acme"})],
)
def test_scoped_viewer_gets_its_customer(path: str, wanted: set[str], api: Api,
                                         scoped: str) -> None:  # fmt: skip
    assert set(api.get(path, role=scoped).json()["customers"]) == wanted


def test_scoped_viewer_events_are_acmes(api: Api, scoped: str) -> None:
    events = api.get("/api/v1/events", role=scoped, params={"limit": "1000"}).json()
    assert [(e["action"], e["target"]) for e in events] == [("divert.start", "acme")]


def test_scoped_viewer_cannot_read_metrics(api: Api, scoped: str) -> None:
    response = api.get("/metrics", role=scoped)
    assert response.status_code == 403
    assert "hoster" not in response.text


@pytest.mark.parametrize("method_path", [("POST", "/api/v1/diversions"),
                                         ("POST", "/api/v1/sites/fra/drain")])  # fmt: skip
def test_scoped_viewer_changes_nothing(method_path: tuple[str, str], api: Api,
                                       scoped: str) -> None:  # fmt: skip
    before = api.dump()
    method, path = method_path
    response = api.call(method, path, scoped, json={"customer": "acme", "reason": "x"})
    assert response.status_code == 403
    assert api.dump() == before


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "x", "role": "operator", "customer": "acme"}, 422,
         "only a viewer can be scoped to a customer, not operator"),
        ({"name": "x", "role": "viewer", "customer": "acne"}, 404, "unknown customer 'acne'"),
    ],
)  # fmt: skip
def test_bad_scoped_token_changes_nothing(api: Api, body: dict[str, str], status: int,
                                          message: str) -> None:  # fmt: skip
    before = api.dump()
    response = api.post("/api/v1/tokens", body, role="admin")
    assert response.status_code == status, response.text
    assert (error_of(response)["field"], error_of(response)["message"]) == ("customer", message)
    assert api.dump() == before


def test_scoped_token_is_listed_with_its_customer(api: Api, scoped: str) -> None:
    listed = {t["name"]: t["customer"] for t in api.get("/api/v1/tokens", role="admin").json()}
    assert listed["acme-view"] == "acme"
    assert listed["viewer"] is None
