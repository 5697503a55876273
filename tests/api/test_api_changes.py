"""Every change endpoint through the real ASGI app: status codes, JSON shapes, the
token's name as the audit actor, ``wait`` (200 with each site's acknowledgement,
504 on timeout), and bad input answered with the field at fault and nothing changed."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_support import Api, error_of

from orchestrator.api.errors import STATUS, status_of
from orchestrator.errors import KINDS, ScrubError, by_code
from orchestrator.service import observed
from orchestrator.store.db import Database

INVENTORY = Path(__file__).parent.parent / "data" / "inventory.yml"
ALL_PEERS = (("fra", "transit-a"), ("fra", "transit-a-v6"), ("ams", "transit-b"), ("ams", "ix-rs"))


def sessions_up(db: Database) -> None:
    for site, peer in ALL_PEERS:
        observed.record_session(db, site, peer, "up", "", datetime.now(UTC))


def last_event(api: Api) -> dict[str, Any]:
    events: list[dict[str, Any]] = api.get("/api/v1/events", params={"limit": "1"}).json()
    return events[-1]


def test_divert_start_twice_is_one_diversion(api: Api) -> None:
    body = {"customer": "acme", "reason": "flood", "targets": ["203.0.113.7"]}
    first = api.post("/api/v1/diversions", body)
    assert first.status_code == 201
    assert set(first.json()) == {"created", "note", "diversion", "wait"}
    assert first.json()["diversion"]["targets"] == ["203.0.113.7"]
    assert first.json()["diversion"]["requested_by"] == "operator"
    before = api.dump()
    again = api.post("/api/v1/diversions", body)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["diversion"]["id"] == first.json()["diversion"]["id"]
    assert api.dump() == before  # no event, no change counter bump


def test_divert_stop_and_its_event_actor(api: Api) -> None:
    api.post("/api/v1/diversions", {"customer": "acme", "reason": "flood"})
    stopped = api.post("/api/v1/diversions/stop", {"customer": "acme", "reason": "over",
                                                   "id": 1})  # fmt: skip
    assert stopped.status_code == 200
    assert [d["state"] for d in stopped.json()["stopped"]] == ["stopped"]
    event = last_event(api)
    assert (event["actor"], event["action"], event["reason"]) == ("operator", "divert.stop", "over")


def test_rtbh_add_extend_remove(api: Api) -> None:
    body = {"host": "203.0.113.7", "reason": "flood", "expires": "1h", "force": True}
    added = api.post("/api/v1/rtbh", body)
    assert added.status_code == 201
    assert added.json()["entry"]["prefix"] == "203.0.113.7/32"
    assert api.post("/api/v1/rtbh", {**body, "expires": "2h"}).status_code == 200
    removed = api.post("/api/v1/rtbh/remove", {"host": "203.0.113.7", "reason": "over"})
    assert removed.status_code == 200
    assert [r["prefix"] for r in removed.json()] == ["203.0.113.7/32"]
    assert api.get("/api/v1/rtbh").json() == []


def test_drain_undrain(api: Api) -> None:
    sessions_up(api.db)
    drained = api.post("/api/v1/sites/ams/drain", {"reason": "maintenance"})
    assert drained.status_code == 200
    assert (drained.json()["admin_state"], drained.json()["changed"]) == ("draining", True)
    again = api.post("/api/v1/sites/ams/drain", {"reason": "maintenance"})
    assert again.json()["changed"] is False
    undrained = api.post("/api/v1/sites/ams/undrain", {"reason": "done"})
    assert (undrained.json()["admin_state"], undrained.json()["changed"]) == ("active", True)


def test_failover_failback(api: Api) -> None:
    sessions_up(api.db)
    api.post("/api/v1/diversions", {"customer": "acme", "reason": "flood"})
    moved = api.post(
        "/api/v1/customers/acme/failover",
        {"from_site": "fra", "to_site": "ams", "reason": "maintenance", "force": True},
    )  # no return path is up here
    assert moved.status_code == 200, moved.text
    assert moved.json()["move"]["from_site"] == "fra"
    back = api.post("/api/v1/customers/acme/failback", {"reason": "done"})
    assert back.status_code == 200
    assert back.json()["move"]["ended_by"] == "operator"


def test_inventory_dry_run_then_apply(api: Api) -> None:
    text = INVENTORY.read_text().replace("drain_time: 300", "drain_time: 600")
    assert text != INVENTORY.read_text()
    before = api.dump()
    dry = api.call("POST", "/api/v1/inventory", params={"dry_run": "true"}, content=text,
                   headers={"Content-Type": "application/yaml"})  # fmt: skip
    assert dry.status_code == 200, dry.text
    assert dry.json()["dry_run"] is True
    assert [(c["op"], c["name"]) for c in dry.json()["changes"]] == [("change", "policy")]
    assert api.dump() == before
    applied = api.call("POST", "/api/v1/inventory", content=text)
    assert applied.status_code == 200
    assert last_event(api)["actor"] == "admin"


def test_inventory_errors_are_listed_with_file_and_line(api: Api) -> None:
    before = api.dump()
    response = api.call("POST", "/api/v1/inventory", content=b"policy: {asn: 1}\npolicy: {}\n")
    assert response.status_code == 422
    assert error_of(response)["field"] == "inventory:2"
    assert api.dump() == before


def test_inventory_with_several_problems_lists_each(api: Api) -> None:
    text = INVENTORY.read_text().replace("asn: 64501", "asn: yes").replace("asn: 64496", "asn: x")
    response = api.call("POST", "/api/v1/inventory", content=text)
    assert response.status_code == 422
    assert len(response.json()["errors"]) >= 2
    assert response.json()["error"] == response.json()["errors"][0]


# --- wait ------------------------------------------------------------------------


def test_wait_times_out_with_504_and_the_change_committed(api: Api) -> None:
    sessions_up(api.db)
    body = {"customer": "acme", "reason": "flood", "wait": True, "timeout": 0.3}
    response = api.post("/api/v1/diversions", body)
    assert response.status_code == 504
    document = response.json()
    assert document["error"]["field"] == "wait"
    assert document["wait"]["timed_out"] == ["ams", "fra"]
    assert document["diversion"]["state"] == "active"
    assert [d["id"] for d in api.get("/api/v1/diversions").json()] == [1]


def _fake_agents(db: Database, stop: threading.Event) -> None:
    """Both sites' agents, acknowledging every change counter as soon as it appears."""
    while not stop.is_set():
        generation = db.generation()
        for site in ("fra", "ams"):
            observed.record_site_sync(db, site, generation, datetime.now(UTC))
        time.sleep(0.02)


def test_wait_answers_200_with_each_sites_acknowledgement(api: Api) -> None:
    sessions_up(api.db)
    stop = threading.Event()
    agents = threading.Thread(target=_fake_agents, args=(api.db, stop))
    agents.start()
    try:
        body = {"customer": "acme", "reason": "flood", "wait": True, "timeout": 10}
        response = api.post("/api/v1/diversions", body)
    finally:
        stop.set()
        agents.join()
    assert response.status_code == 201, response.text
    wait = response.json()["wait"]
    assert [a["site"] for a in wait["acknowledged"]] == ["ams", "fra"]
    assert all(a["generation"] >= wait["generation"] for a in wait["acknowledged"])
    assert wait["timed_out"] == []


# --- bad input: the field at fault, the status from the exit code, nothing changed --

BAD: dict[str, tuple[str, dict[str, Any], int, str, str]] = {
    "bad_prefix": ("/api/v1/diversions", {"customer": "acme", "reason": "x",
                   "prefixes": ["203.0.113.0/33"]}, 422, "prefixes[0]",
                   "'203.0.113.0/33' is not a prefix"),
    "prefix_outside": ("/api/v1/diversions", {"customer": "acme", "reason": "x",
                       "prefixes": ["203.0.113.0/24", "198.51.100.0/24"]}, 422, "prefixes[1]",
                       "198.51.100.0/24 is not inside acme's prefixes"),
    "zone_id_target": ("/api/v1/diversions", {"customer": "acme", "reason": "x",
                       "targets": ["2001:db8:100::7%eth0"]}, 422, "targets[0]",
                       "'2001:db8:100::7%eth0' has a zone id (%eth0)"),
    "unknown_site": ("/api/v1/diversions", {"customer": "acme", "reason": "x", "sites": ["lon"]},
                     404, "sites[0]", "unknown site 'lon'"),
    "unknown_customer": ("/api/v1/diversions", {"customer": "acne", "reason": "x"}, 404,
                         "customer", "unknown customer 'acne'"),
    "control_character": ("/api/v1/diversions", {"customer": "acme", "reason": "a\u2028b"}, 422,
                          "reason", "contains a control character ('\\u2028')"),
    "max_prefix": ("/api/v1/diversions", {"customer": "hoster", "reason": "x",
                   "more_specifics": True}, 409, "sites.ams.peers.ix-rs",
                   "plan has 3 routes, over its max_prefix 2"),
    "timeout_without_wait": ("/api/v1/diversions", {"customer": "acme", "reason": "x",
                             "timeout": 5}, 422, "timeout", 'only goes with "wait": true'),
    "string_for_bool": ("/api/v1/diversions", {"customer": "acme", "reason": "x",
                        "more_specifics": "yes"}, 422, "more_specifics",
                        "Input should be a valid boolean"),
    "unknown_field": ("/api/v1/diversions", {"customer": "acme", "reason": "x", "prefix": []},
                      422, "prefix", "Extra inputs are not permitted"),
    "missing_reason": ("/api/v1/diversions", {"customer": "acme"}, 422, "reason", "Field required"),
    "nothing_to_stop": ("/api/v1/diversions/stop", {"customer": "acme", "reason": "x"}, 404,
                        "customer", "no active diversion for acme"),
    "string_for_id": ("/api/v1/diversions/stop", {"customer": "acme", "reason": "x", "id": "1"},
                      422, "id", "Input should be a valid integer"),
    "rtbh_wide": ("/api/v1/rtbh", {"host": "203.0.113.0/28", "reason": "x", "expires": "1h",
                  "force": True}, 422, "host", "203.0.113.0/28 is wider than /32"),
    "rtbh_expiry": ("/api/v1/rtbh", {"host": "203.0.113.7", "reason": "x", "expires": "31d",
                    "force": True}, 422, "expires", "31d must be more than 0 and at most 30d"),
    "rtbh_standby_refused": ("/api/v1/rtbh", {"host": "198.19.0.7", "reason": "x",
                             "expires": "1h"}, 422, "host", "loopy does not allow RTBH"),
    "rtbh_nothing_to_remove": ("/api/v1/rtbh/remove", {"host": "203.0.113.99", "reason": "x"},
                               404, "host", "no active RTBH entry for 203.0.113.99/32"),
    "drain_unknown_site": ("/api/v1/sites/lon/drain", {"reason": "x"}, 404, "site",
                           "unknown site 'lon' (known: ams, fra)"),
    "failover_same_site": ("/api/v1/customers/acme/failover", {"from_site": "fra",
                           "to_site": "fra", "reason": "x"}, 422, "to_site",
                           "is fra, the site being left"),
    "failback_nothing": ("/api/v1/customers/acme/failback", {"reason": "x"}, 404, "customer",
                         "acme has no active failover"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_change_names_the_field_and_changes_nothing(case: str, api: Api) -> None:
    path, body, status, field, message = BAD[case]
    before = api.dump()
    response = api.post(path, body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["field"] == field
    assert error["message"].startswith(message), error
    assert api.dump() == before


def test_hints_name_json_fields_and_endpoints(api: Api) -> None:
    moved = api.post("/api/v1/customers/acme/failover", {"from_site": "fra", "reason": "x",
                                                         "force": True})  # fmt: skip
    assert moved.status_code == 200
    before = api.dump()
    response = api.post("/api/v1/customers/acme/failover", {"from_site": "ams", "reason": "y"})
    assert response.status_code == 409
    assert error_of(response)["hint"] == (
        "POST /api/v1/customers/acme/failback first; nothing was changed"
    )
    assert api.dump() == before


def test_malformed_json_is_invalid(api: Api) -> None:
    before = api.dump()
    response = api.post("/api/v1/diversions", content=b"{not json",
                        headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 422
    assert error_of(response)["field"] == "body"
    assert api.dump() == before


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_each_error_kind_has_a_status_and_comes_back_as_itself(kind: type[ScrubError]) -> None:
    """The API names a kind by its code; the CLI's --api turns the code back into the
    kind, whose exit code is the local command's."""
    status, code = status_of(kind("x"))
    assert status == STATUS[kind.code] and 400 <= status < 600 and code == kind.code
    assert by_code(code) is kind
    assert by_code("no such code") is ScrubError
    assert len({k.code for k in KINDS}) == len(KINDS)
