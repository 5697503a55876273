"""``POST /api/v1/detections``: a ban diverts the owning customer's prefix naming the
address as target, once per attack; unban stops it (at once or after the hold-down);
an address nobody owns is refused with an audit event and nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from api_support import Api, error_of

from orchestrator.service import detections


def report(action: str, address: str = "203.0.113.10", **extra: Any) -> dict[str, Any]:
    return {"address": address, "direction": "incoming", "action": action,
            "detector": "fastnetmon", "pps": 120000, **extra}  # fmt: skip


def test_ban_diverts_the_owning_prefix_with_the_host_as_target(api: Api) -> None:
    response = api.post("/api/v1/detections", report("ban"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["outcome"] == "diverted"
    assert body["diversion"]["customer"] == "acme"
    assert body["diversion"]["prefixes"] == ["203.0.113.0/24"]
    assert body["diversion"]["targets"] == ["203.0.113.10"]
    assert body["diversion"]["requested_by"] == "operator"
    assert body["detection"]["state"] == "open"
    event = api.get("/api/v1/events", params={"limit": "1"}).json()[-1]
    assert (event["actor"], event["action"]) == ("operator", "detection.ban")
    assert event["detail"]["detector"] == "fastnetmon"


def test_a_second_ban_of_the_same_host_is_not_a_second_diversion(api: Api) -> None:
    first = api.post("/api/v1/detections", report("ban")).json()
    before = api.dump()
    again = api.post("/api/v1/detections", report("ban", pps=999))
    assert again.status_code == 200
    assert again.json()["outcome"] == "already-diverted"
    assert again.json()["diversion"]["id"] == first["diversion"]["id"]
    assert api.dump() == before


def test_another_host_of_the_same_customer_is_its_own_diversion(api: Api) -> None:
    api.post("/api/v1/detections", report("ban"))
    other = api.post("/api/v1/detections", report("ban", address="203.0.113.11")).json()
    assert other["diversion"]["targets"] == ["203.0.113.11"]
    api.post("/api/v1/detections", report("unban"))
    active = api.get("/api/v1/diversions").json()
    assert [d["targets"] for d in active] == [["203.0.113.11"]]


def test_unban_stops_the_diversion(api: Api) -> None:
    api.post("/api/v1/detections", report("ban"))
    response = api.post("/api/v1/detections", report("unban"))
    assert response.status_code == 200
    assert response.json()["outcome"] == "stopped"
    assert response.json()["diversion"]["state"] == "stopped"
    assert api.get("/api/v1/diversions").json() == []
    assert api.get("/api/v1/detections").json() == []


def test_an_operators_identical_diversion_is_left_alone(api: Api) -> None:
    body = {"customer": "acme", "reason": "manual", "prefixes": ["203.0.113.0/24"],
            "targets": ["203.0.113.10"]}  # fmt: skip
    mine = api.post("/api/v1/diversions", body).json()["diversion"]["id"]
    banned = api.post("/api/v1/detections", report("ban"))
    assert banned.status_code == 200
    assert banned.json()["detection"]["owns_diversion"] is False
    assert banned.json()["diversion"]["id"] == mine
    api.post("/api/v1/detections", report("unban"))
    assert [d["id"] for d in api.get("/api/v1/diversions").json()] == [mine]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (report("ban", address="192.0.2.99"), "address",
         "192.0.2.99 is not inside any customer's prefixes"),
        (report("ban", direction="outgoing"), "direction", "outgoing attacks are not diverted"),
    ],
)  # fmt: skip
def test_refused_detection_is_audited_and_announces_nothing(
    api: Api, body: dict[str, Any], field: str, message: str
) -> None:
    before = api.dump()
    response = api.post("/api/v1/detections", body)
    assert response.status_code == 422
    assert (error_of(response)["field"], error_of(response)["hint"]) == (
        field, "nothing was announced")  # fmt: skip
    assert error_of(response)["message"].startswith(message)
    after = api.dump()
    assert {t: rows for t, rows in after.items() if t != "events"} == {
        t: rows for t, rows in before.items() if t != "events"
    }
    new = after["events"][len(before["events"]) :]
    assert len(new) == 1
    assert new[0][2:5] == ("operator", "detection.refused", body["address"])


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (report("ban", address="203.0.113.10%eth0"), 422, "address"),
        (report("ban", direction="sideways"), 422, "direction"),
        (report("block"), 422, "action"),
        (report("ban", detector="fast netmon"), 422, "detector"),
        (report("ban", pps=-1), 422, "pps"),
        (report("ban", pps="100"), 422, "pps"),
        (report("unban"), 404, "address"),
    ],
)  # fmt: skip
def test_bad_detection_changes_nothing(
    api: Api, body: dict[str, Any], status: int, field: str
) -> None:
    before = api.dump()
    response = api.post("/api/v1/detections", body)
    assert response.status_code == status, response.text
    assert error_of(response)["field"] == field
    assert api.dump() == before


@pytest.mark.parametrize("hold_down", [timedelta(hours=1)])
def test_unban_with_hold_down_keeps_the_diversion_until_it_ends(api: Api) -> None:
    api.post("/api/v1/detections", report("ban"))
    held = api.post("/api/v1/detections", report("unban"))
    assert held.json()["outcome"] == "hold-down"
    assert held.json()["diversion"]["state"] == "active"
    resumed = api.post("/api/v1/detections", report("ban"))
    assert resumed.json()["outcome"] == "resumed"
    api.post("/api/v1/detections", report("unban"))
    later = datetime.now(UTC) + timedelta(hours=1, seconds=1)
    released = detections.release_due(api.db, now=later)
    assert [r.outcome for r in released] == ["released"]
    assert released[0].diversion.stopped_by == "operator"
    assert api.get("/api/v1/diversions").json() == []


@pytest.mark.parametrize("hold_down", [timedelta(milliseconds=200)])
def test_the_service_releases_by_itself(api: Api) -> None:
    import time

    api.post("/api/v1/detections", report("ban"))
    api.post("/api/v1/detections", report("unban"))
    deadline = time.monotonic() + 10
    while api.get("/api/v1/diversions").json() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.get("/api/v1/diversions").json() == []
    actions = [e["action"] for e in api.get("/api/v1/events").json()]
    assert actions[-1] == "detection.release"
