"""Issue 9 against the real FRR transits: a detector calls the resident service.

``scrubctl serve`` runs (on a loopback port of this host) against the lab's
database; site fra's runner announces through real ExaBGP. A detection posted
for 203.0.113.10 makes both transits forward acme's /24 via fra, a repeated
ban changes nothing, ``unban`` withdraws it; then the same through ``scrubctl
hook fastnetmon --api`` with FastNetMon's argument order and the attack
details on stdin. Asserted on the transits' BGP tables and kernel FIBs.
Only fra is started: its dedicated line needs no GRE, so this runs on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from serve_support import SCRUBCTL, running_service

from orchestrator.lab.expect import wait_until
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.routes import bgp_paths, fib
from orchestrator.lab.shell import run
from orchestrator.lab.sites import LabSites, scrubctl_argv

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "203.0.113.0/24"
ATTACKED = "203.0.113.10"
TRANSITS = {  # transit -> its next hop towards fra, and towards acme's own edge
    "transit1": {"fra": "192.0.2.134", "ce": "192.0.2.150"},
    "transit2": {"fra": "192.0.2.142", "ce": "192.0.2.154"},
}


@dataclass
class Service:
    lab: LabHandle
    db_url: str
    url: str
    secret: str
    sites: LabSites

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"{self.url}{path}", data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Bearer {self.secret}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def hook(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SCRUBCTL_TOKEN": self.secret}
        return subprocess.run([str(SCRUBCTL), "hook", "fastnetmon", "--api", self.url, *args],
                              input=stdin, env=env, capture_output=True, text=True,
                              timeout=90, check=False)  # fmt: skip

    def diversions(self) -> list[Any]:
        done = subprocess.run([*scrubctl_argv("divert", "list", "--json"), "--db", self.db_url],
                              capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
        rows: list[Any] = json.loads(done.stdout)
        return rows

    def via(self, site: str) -> bool:
        """Both transits' best BGP path and kernel FIB for the /24 point at ``site``."""
        for transit, hops in TRANSITS.items():
            best = [p.nexthop for p in bgp_paths(self.lab.runner, transit, PREFIX) if p.best]
            if best != [hops[site]] or fib(self.lab.runner, transit, PREFIX) != hops[site]:
                return False
        return True

    def expect_via(self, site: str) -> None:
        try:
            wait_until(lambda: self.via(site), timeout=60, interval=0.1,
                       what=f"both transits via {site}")  # fmt: skip
        except Exception:
            print(self.sites.log_tail("fra"))
            raise


def scrubctl(db_url: str, *args: str) -> str:
    done = subprocess.run([*scrubctl_argv(*args), "--db", db_url], capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def fra_established(lab: LabHandle) -> Callable[[], bool]:
    def check() -> bool:
        for transit, hops in TRANSITS.items():
            peers = lab.vtysh_json(transit, "show bgp summary json")["ipv4Unicast"]["peers"]
            if peers.get(hops["fra"], {}).get("state") != "Established":
                return False
        return True

    return check


@pytest.fixture(scope="module")
def service(lab: LabHandle) -> Iterator[Service]:
    workdir = Path(tempfile.mkdtemp(prefix="scrubctl-api-lab-"))
    db_url = f"sqlite:///{workdir / 'lab.db'}"
    sites = LabSites(lab.topology, db_url, workdir)
    try:
        scrubctl(db_url, "inventory", "apply", str(ROOT / "lab" / "inventory.yml"))
        secret = scrubctl(db_url, "token", "create", "lab-detector", "--role", "operator")
        sites.start("fra")
        wait_until(fra_established(lab), timeout=120, interval=0.25,
                   what="fra's sessions at both transits")  # fmt: skip
        with running_service(db_url, workdir) as url:
            yield Service(lab, db_url, url, secret.strip(), sites)
    finally:
        sites.stop_all()
        run(["rm", "-rf", str(workdir)], check=False)


@pytest.fixture(autouse=True)
def no_diversion_left(service: Service) -> Iterator[None]:
    """Each test starts with acme undiverted and leaves it so, even when it fails."""
    yield
    if service.diversions():
        scrubctl(service.db_url, "divert", "stop", "acme", "--reason", "test over", "--wait")


def detection(action: str) -> dict[str, Any]:
    return {"address": ATTACKED, "direction": "incoming", "action": action,
            "detector": "lab-detector", "pps": 250000, "bps": 2_000_000_000,
            "wait": True, "timeout": 30}  # fmt: skip


def test_a_posted_detection_diverts_at_the_transits_and_unban_withdraws(
    service: Service,
) -> None:
    service.expect_via("ce")
    status, body = service.post("/api/v1/detections", detection("ban"))
    assert status == 201, body  # a diversion was created (and acknowledged: wait)
    assert [a["site"] for a in body["wait"]["acknowledged"]] == ["fra"]
    service.expect_via("fra")
    rows = service.diversions()
    assert [(r["customer"], r["targets"], r["requested_by"]) for r in rows] == [
        ("acme", [ATTACKED], "lab-detector")
    ]
    status, body = service.post("/api/v1/detections", detection("ban"))  # the same attack
    assert status == 200, body  # nothing new
    assert len(service.diversions()) == 1
    assert service.via("fra")

    status, body = service.post("/api/v1/detections", detection("unban"))
    assert status == 200, body
    service.expect_via("ce")
    assert service.diversions() == []


def test_the_fastnetmon_hook_diverts_and_withdraws_through_the_service(
    service: Service,
) -> None:
    service.expect_via("ce")
    details = "IP: 203.0.113.10\nAttack type: udp_flood\nIncoming traffic: 2000 mbps\n" * 200
    banned = service.hook(ATTACKED, "incoming", "250000", "ban", stdin=details)
    assert banned.returncode == 0, banned.stderr
    service.expect_via("fra")
    assert [r["targets"] for r in service.diversions()] == [[ATTACKED]]

    unbanned = service.hook(ATTACKED, "incoming", "0", "unban")
    assert unbanned.returncode == 0, unbanned.stderr
    service.expect_via("ce")
    assert service.diversions() == []


def test_an_address_of_no_customer_is_refused_and_nothing_is_announced(
    service: Service,
) -> None:
    body = {**detection("ban"), "address": "198.51.100.77"}
    status, answer = service.post("/api/v1/detections", body)
    assert status == 422
    assert answer["error"]["field"] == "address"
    assert service.diversions() == []
    assert service.via("ce")
