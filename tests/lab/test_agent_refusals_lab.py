"""Issue 7 against the real FRR transits: a route that bypassed validation (an IPv6
zone id written straight into the store) is refused by the driver, and the site
keeps running and announcing everything else; the customer stays protected.

The lab is IPv4 only, so this module adds one IPv6 session to its own copy of
the lab (the lab fixture builds one per module and removes it afterwards):
fra eth1 2001:db8:ffff:1::2 <-> transit1 eth2 2001:db8:ffff:1::1, and acme's
2001:db8:100::/48. The bad route shares its batch with that valid /48.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select

from orchestrator.lab.expect import wait_until
from orchestrator.lab.handle import LabHandle
from orchestrator.lab.routes import fib
from orchestrator.lab.shell import run
from orchestrator.lab.sites import LabSites, scrubctl_argv
from orchestrator.store.db import Database
from orchestrator.store.models import DiversionRow, EventRow, RtbhRow

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
PREFIX, PREFIX6 = "203.0.113.0/24", "2001:db8:100::/48"
TRANSIT1_V6, FRA_V6 = "2001:db8:ffff:1::1", "2001:db8:ffff:1::2"
LINE_FRA_V6, LINE_CE_V6 = "2001:db8:ffff:13::1", "2001:db8:ffff:13::2"  # fra eth3 - ce eth3
FRA = {"transit1": "192.0.2.134", "transit2": "192.0.2.142"}  # fra as each transit sees it
PRIMARY_PATH = "64500 64496"
ZONED = "2001:db8:100::%0/48"  # what `divert start --prefix` took before issue 7
ZONED_SHUTDOWN = "2001:db8:100::%0\nshutdown/48"  # a second line ExaBGP would obey
TRANSIT1_V6_CONFIG = [
    "ipv6 prefix-list ACME6 seq 10 permit 2001:db8:100::/48",
    "route-map FROM-ACME6 permit 10",
    "match ipv6 address prefix-list ACME6",
    "exit",
    "router bgp 64501",
    f"neighbor {FRA_V6} remote-as 64500",
    f"neighbor {FRA_V6} description fra-v6",
    f"neighbor {FRA_V6} timers 3 9",
    f"neighbor {FRA_V6} timers connect 2",
    "address-family ipv4 unicast",
    f"no neighbor {FRA_V6} activate",
    "exit-address-family",
    "address-family ipv6 unicast",
    f"neighbor {FRA_V6} activate",
    f"neighbor {FRA_V6} route-map FROM-ACME6 in",
    f"neighbor {FRA_V6} route-map TO-ANY out",
    "exit-address-family",
]


def dual_stack_inventory(path: Path) -> Path:
    data = yaml.safe_load((ROOT / "lab" / "inventory.yml").read_text())
    data["sites"]["fra"]["peers"].append(
        {"name": "transit1v6", "address": TRANSIT1_V6, "local_address": FRA_V6,
         "asn": 64501, "max_prefix": 100}
    )  # fmt: skip
    data["customers"]["acme"]["prefixes"].append({"prefix": PREFIX6})
    # a dual-stack customer's dedicated line needs a next hop per family
    data["customers"]["acme"]["return_paths"]["fra"]["next_hop_v6"] = LINE_CE_V6
    path.write_text(yaml.safe_dump(data))
    return path


class Env:
    def __init__(self, lab: LabHandle, sites: LabSites, db: Database) -> None:
        self.lab = lab
        self.sites = sites
        self.db = db

    def scrubctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*scrubctl_argv(*args), "--db", self.db.url],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done

    def expect(self, what: str, check: Any, timeout: float = 45.0) -> None:
        try:
            wait_until(check, timeout=timeout, interval=0.2, what=what)
        except Exception:
            print(self.sites.log_tail("fra", 60))
            raise

    def paths(self, transit: str, prefix: str) -> list[tuple[str, str, bool]]:
        """(AS path, next hop, best) of every path for ``prefix``, from FRR's JSON."""
        family = "ipv6" if ":" in prefix else "ipv4"
        data = self.lab.vtysh_json(transit, f"show bgp {family} unicast {prefix} json")
        return [
            (p.get("aspath", {}).get("string", ""), p["nexthops"][0]["ip"],
             bool(p.get("bestpath", {}).get("overall")))
            for p in data.get("paths", [])
        ]  # fmt: skip

    def best_via(self, transit: str, prefix: str, nexthop: str) -> bool:
        return (PRIMARY_PATH, nexthop, True) in self.paths(transit, prefix)

    def protected(self) -> bool:
        """Both transits send acme's /24 to fra, and transit1 its /48 too."""
        return all(self.best_via(t, PREFIX, a) for t, a in FRA.items()) and self.best_via(
            "transit1", PREFIX6, FRA_V6
        )

    def established(self, transit: str, family: str, address: str) -> bool:
        peers = self.lab.vtysh_json(transit, "show bgp summary json")[family]["peers"]
        return bool(peers.get(address, {}).get("state") == "Established")

    def fra_processes(self) -> tuple[list[int], list[int]]:
        return (self.sites.pids_matching("fra", "exabgp server"),
                self.sites.pids_matching("fra", "orchestrator.site.agent"))  # fmt: skip

    def agent_errors(self) -> list[str]:
        with self.db.read() as session:
            query = select(EventRow).where(EventRow.action == "agent.error")
            return [e.reason for e in session.scalars(query)]

    def fib(self, transit: str, prefix: str) -> str | None:
        return fib(self.lab.runner, transit, prefix)


def unvalidated(prefix: str, now: datetime) -> DiversionRow:
    """A diversion as only a writer bypassing the service's validation could store it."""
    return DiversionRow(customer="acme", prefixes=[prefix], sites=[], targets=[],
                        more_specifics=False, reason="bypassed validation",
                        requested_by="lab test", requested_at=now)  # fmt: skip


@pytest.fixture(scope="module")
def env(lab: LabHandle) -> Iterator[Env]:
    workdir = Path(tempfile.mkdtemp(prefix="scrubctl-refusals-lab-"))
    db = Database(f"sqlite:///{workdir / 'lab.db'}")
    sites = LabSites(lab.topology, db.url, workdir)
    environment = Env(lab, sites, db)
    try:
        lab.exec("fra", "ip", "-6", "address", "add", f"{FRA_V6}/64", "dev", "eth1", "nodad")
        lab.exec("fra", "ip", "-6", "address", "add", f"{LINE_FRA_V6}/64", "dev", "eth3", "nodad")
        lab.exec("ce", "ip", "-6", "address", "add", f"{LINE_CE_V6}/64", "dev", "eth3", "nodad")
        lab.exec("transit1", "ip", "-6", "address", "add", f"{TRANSIT1_V6}/64", "dev", "eth2",
                 "nodad")  # fmt: skip
        vtysh = ["vtysh", "-c", "configure terminal"]
        for line in TRANSIT1_V6_CONFIG:
            vtysh += ["-c", line]
        lab.exec("transit1", *vtysh)
        environment.scrubctl("inventory", "apply", str(dual_stack_inventory(workdir / "inv.yml")))
        environment.scrubctl("divert", "start", "acme", "--reason", "lab test")
        with db.write() as session:  # there before the agents start
            session.add(unvalidated(ZONED, datetime.now(UTC)))
        sites.start("fra")
        sites.start("ams")
        yield environment
    finally:
        sites.stop_all()
        db.dispose()
        run(["rm", "-rf", str(workdir)], check=False)


def test_a_bad_route_costs_only_itself_and_the_site_stays_up(env: Env) -> None:
    env.expect("transit1: IPv6 session with fra",
               lambda: env.established("transit1", "ipv6Unicast", FRA_V6))  # fmt: skip
    env.expect("acme protected through fra, /24 and /48", env.protected)
    assert env.agent_errors() == [
        f"transit1v6 ({TRANSIT1_V6}): announce {ZONED} refused: not a plain prefix"
    ]
    processes = env.fra_processes()
    uptime = env.lab.vtysh_json("transit1", "show bgp summary json")["ipv6Unicast"]["peers"][
        FRA_V6
    ]["peerUptimeMsec"]
    time.sleep(7)  # past the agent's 5 s retry: neither agent nor ExaBGP may die meanwhile
    assert env.fra_processes() == processes
    peer = env.lab.vtysh_json("transit1", "show bgp summary json")["ipv6Unicast"]["peers"][FRA_V6]
    assert peer["state"] == "Established" and peer["peerUptimeMsec"] > uptime
    assert env.protected()
    assert len(env.agent_errors()) == 1  # reported once, not on every sync


def test_a_bad_route_written_while_running_leaves_the_next_change_working(env: Env) -> None:
    env.expect("acme protected through fra", env.protected)
    processes = env.fra_processes()
    host = "203.0.113.66"
    with env.db.write() as session:  # one transaction: the bad route and a valid change
        now = datetime.now(UTC)
        session.add(unvalidated(ZONED_SHUTDOWN, now))
        session.add(RtbhRow(prefix=f"{host}/32", customer="acme", forced=True, reason="lab",
                            requested_by="lab test", created_at=now,
                            expires_at=now + timedelta(minutes=10)))  # fmt: skip
    try:
        for transit in FRA:
            env.expect(f"{transit}: {host} blackholed",
                       lambda t=transit: env.fib(t, f"{host}/32") == "blackhole")  # fmt: skip
        escaped = ZONED_SHUTDOWN.replace("\n", "\\n")
        env.expect("the refusal is recorded", lambda: any(escaped in e for e in env.agent_errors()))
        assert env.fra_processes() == processes
        assert env.protected()
    finally:
        env.scrubctl("rtbh", "remove", host, "--reason", "lab test over")
    for transit in FRA:
        env.expect(f"{transit}: {host} gone", lambda t=transit: env.fib(t, f"{host}/32") is None)
    assert env.protected()
