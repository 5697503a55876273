"""Every read endpoint through the real ASGI app: status 200 for a viewer, its JSON
shape, the same data as the CLI's views; and the OpenAPI documentation."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Api, error_of

from orchestrator.service import status as status_service

READS: dict[str, tuple[str, dict[str, Any], Any]] = {
    # endpoint, query, expected shape: a set of keys (object), or [keys] (list of objects)
    "inventory": ("/api/v1/inventory", {}, {"policy", "sites", "customers"}),
    "diversions": ("/api/v1/diversions", {"all": "true"}, ["id", "customer", "state", "acks"]),
    "rtbh": ("/api/v1/rtbh", {"all": "true"}, ["id", "prefix", "forced", "expires_at"]),
    "sites": ("/api/v1/sites", {}, ["site", "admin_state", "peers", "return_paths"]),
    "plan": ("/api/v1/plan", {"assume_up": "true"},
             {"routes", "customers", "violations", "next_change_at"}),
    "plan_one_site": ("/api/v1/plan", {"site": "fra", "assume_up": "true"},
                      {"routes", "customers", "violations", "next_change_at"}),
    "status": ("/api/v1/status", {}, {"customers", "routes", "violations"}),
    "paths": ("/api/v1/paths", {"site": "ams"}, ["customer", "site", "kind", "health"]),
    "events": ("/api/v1/events", {"since": "1h", "limit": "5"},
               ["id", "at", "actor", "action", "target", "reason", "detail"]),
    "ttm": ("/api/v1/reports/ttm", {"since": "7d"}, {"summary", "diversions"}),
    "detections": ("/api/v1/detections", {}, []),
}  # fmt: skip


@pytest.fixture
def busy(api: Api) -> Api:
    """Something in every list: a diversion (stopped and active), an RTBH entry."""
    assert api.post("/api/v1/diversions", {"customer": "acme", "reason": "r"}).status_code == 201
    body = {"customer": "pharmanet", "reason": "r"}
    assert api.post("/api/v1/diversions", body).status_code == 201
    assert api.post("/api/v1/diversions/stop", body).status_code == 200
    rtbh = {"host": "203.0.113.7", "reason": "r", "expires": "1h", "force": True}
    assert api.post("/api/v1/rtbh", rtbh).status_code == 201
    return api


@pytest.mark.parametrize("name", sorted(READS))
def test_read_endpoint_shape(name: str, busy: Api) -> None:
    path, query, shape = READS[name]
    response = busy.get(path, params=query)
    assert response.status_code == 200, response.text
    body = response.json()
    if isinstance(shape, set):
        assert set(body) == shape
    else:
        assert isinstance(body, list)
        assert all(set(shape) <= set(item) for item in body)
        assert bool(body) == bool(shape)  # every list but detections has entries here


def test_diversions_list_matches_the_service(busy: Api) -> None:
    rows = busy.get("/api/v1/diversions", params={"all": "true"}).json()
    assert [(r["id"], r["customer"], r["state"], r["requested_by"]) for r in rows] == [
        (1, "acme", "active", "operator"),
        (2, "pharmanet", "stopped", "operator"),
    ]
    active = busy.get("/api/v1/diversions").json()
    assert [r["id"] for r in active] == [1]


def test_status_names_each_customers_state_and_path_health(api: Api) -> None:
    body = api.get("/api/v1/status").json()
    assert body["customers"]["acme"]["state"] == "idle"
    assert body["customers"]["acme"]["paths"] == {"ams": "unknown", "fra": "unknown"}
    assert body["customers"]["pharmanet"]["state"] == "unprotected"  # always-on, no session


def test_times_are_iso_with_utc_offset(busy: Api) -> None:
    row = busy.get("/api/v1/diversions").json()[0]
    assert row["requested_at"].endswith("+00:00")


@pytest.mark.parametrize(
    ("path", "query", "status", "field", "message"),
    [
        ("/api/v1/plan", {"site": "lon"}, 404, "site", "no site 'lon' in the plan"),
        ("/api/v1/paths", {"site": "lon"}, 404, "site", "unknown site 'lon' (known: ams, fra)"),
        ("/api/v1/events", {"since": "yesterday"}, 422, "since",
         "'yesterday' is neither a duration (2h) nor an ISO time"),
        ("/api/v1/events", {"limit": "0"}, 422, "limit",
         "Input should be greater than or equal to 1"),
        ("/api/v1/reports/ttm", {"since": "99999999d"}, 422, "since",
         "99999999d must be more than 0 and at most 36500d"),
    ],
)  # fmt: skip
def test_bad_query_names_the_parameter(
    api: Api, path: str, query: dict[str, str], status: int, field: str, message: str
) -> None:
    response = api.get(path, params=query)
    assert response.status_code == status
    error = error_of(response)
    assert (error["field"], error["message"]) == (field, message)


def test_no_inventory_says_how_to_load_one(api: Api) -> None:
    from sqlalchemy import delete

    from orchestrator.store.models import InventoryObject

    with api.db.write() as session:
        session.execute(delete(InventoryObject))
    response = api.get("/api/v1/status")
    assert response.status_code == 404
    assert error_of(response)["text"] == "no inventory loaded (POST /api/v1/inventory first)"


def test_openapi_documents_every_endpoint(api: Api) -> None:
    assert api.get("/docs", role=None).status_code == 200
    spec = api.get("/openapi.json", role=None).json()
    paths = set(spec["paths"])
    assert {"/api/v1/diversions", "/api/v1/diversions/stop", "/api/v1/rtbh", "/api/v1/rtbh/remove",
            "/api/v1/sites/{site}/drain", "/api/v1/sites/{site}/undrain",
            "/api/v1/customers/{customer}/failover", "/api/v1/customers/{customer}/failback",
            "/api/v1/inventory", "/api/v1/plan", "/api/v1/status", "/api/v1/paths",
            "/api/v1/events", "/api/v1/reports/ttm", "/api/v1/detections",
            "/api/v1/tokens", "/api/v1/tokens/{name}/revoke"} <= paths  # fmt: skip
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_a_database_failing_mid_request_is_503_with_the_drivers_words(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's first connection worked; a driver error after it (here raised by the
    status read, as psycopg raises a server's goodbye) is the service's own JSON error,
    503 unavailable, not the 500 of a bug."""
    from sqlalchemy.exc import OperationalError

    def dropped(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError(
            "SELECT", {}, Exception("server closed the connection\nunexpectedly")
        )

    monkeypatch.setattr(status_service, "status", dropped)
    response = api.get("/api/v1/status")
    assert response.status_code == 503
    error = error_of(response)
    assert (error["code"], error["field"]) == ("unavailable", "database")
    assert error["message"] == (
        "the database failed during the command: server closed the connection unexpectedly"
    )
