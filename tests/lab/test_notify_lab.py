"""Agents wake at the commit: on PostgreSQL by NOTIFY, on an SQLite file by
inotify. `scrubctl site run` (a real ExaBGP and its agent) on a private
PostgreSQL cluster or an SQLite file, a real FRR peer, and a diversion started
with `scrubctl divert start --wait`.

The agent's fallback poll is set to 30 s (``SCRUBCTL_NOTIFY_FALLBACK``), so the
diversion can be acknowledged within the 2 s ``--wait`` only if the commit's
NOTIFY, or its write of the SQLite file, woke the agent. Two private
namespaces joined by a veth (FRR in one, the site in the other), removed again
whatever happens; not the lab.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peer_pair import PeerPair, peer_pair
from pg_support import private_cluster
from sqlalchemy import select

from orchestrator.files import stop_process
from orchestrator.lab.shell import in_netns, run
from orchestrator.store.db import Database
from orchestrator.store.models import AgentSyncRow, SessionRow, SiteSyncRow

pytestmark = pytest.mark.lab

FRR_CONF = """\
frr defaults traditional
route-map ANY permit 10
exit
router bgp 64501
 bgp router-id 192.0.2.1
 neighbor 192.0.2.2 remote-as 64500
 neighbor 192.0.2.2 timers connect 1
 address-family ipv4 unicast
  neighbor 192.0.2.2 route-map ANY in
  neighbor 192.0.2.2 route-map ANY out
 exit-address-family
exit
"""

INVENTORY = """\
policy: {asn: 64500, allow_reserved_prefixes: true}
sites:
  x:
    router_id: 192.0.2.2
    peers:
      - {name: t1, address: 192.0.2.1, local_address: 192.0.2.2, asn: 64501}
customers:
  acme:
    asn: 64496
    prefixes: [{prefix: 203.0.113.0/24}]
    sites: [{site: x, role: primary}]
    return_paths:                   # not probed here: site run --no-return-paths
      x: {kind: dedicated, interface: v0, next_hop: 192.0.2.1}
"""
FALLBACK_S = "30"  # the agent reads the change counter by itself only every 30 s
WAIT_S = "2"


def received(peer: PeerPair) -> set[str]:
    out = run([*peer.frr.vtysh_argv(), "-c", "show bgp ipv4 unicast json"]).stdout
    return set(json.loads(out).get("routes", {}))


@pytest.fixture(scope="module")
def peer() -> Iterator[PeerPair]:
    with peer_pair("n", ["192.0.2.2/30"], ["192.0.2.1/30"], FRR_CONF) as made:
        yield made


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from private_cluster()


def wait_until(what: str, check: object, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text(errors='replace')}"
        time.sleep(0.2)


def caught_up(db: Database) -> bool:
    """The session is up and the agent synced the newest change (nothing pending)."""
    generation = db.generation()
    with db.read() as session:
        up = session.scalars(select(SessionRow.established).where(SessionRow.site == "x"))
        synced = session.get(SiteSyncRow, "x")
        return any(up) and synced is not None and synced.generation == generation


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'scrubctl.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_an_agent_acknowledges_a_diversion_woken_at_the_commit(
    peer: PeerPair, db_url: str, tmp_path: Path
) -> None:
    inventory, log = tmp_path / "inventory.yml", tmp_path / "site.log"
    inventory.write_text(INVENTORY)
    scrubctl = [sys.executable, "-m", "orchestrator"]
    env = dict(os.environ, SCRUBCTL_DB=db_url, SCRUBCTL_NOTIFY_FALLBACK=FALLBACK_S,
               PYTHONUNBUFFERED="1")  # fmt: skip
    run([*scrubctl, "inventory", "apply", str(inventory)], env=env)
    db = Database(db_url)
    with log.open("ab") as out:
        site = subprocess.Popen(
            in_netns(peer.site, [*scrubctl, "site", "run", "x", "--no-return-paths",
                               "--run-dir", str(tmp_path / "run")]),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip
    try:
        wait_until("session up and synced", lambda: caught_up(db), 60, log)
        divert = subprocess.run(
            [*scrubctl, "divert", "start", "acme", "--reason", "notify test", "--wait",
             "--timeout", WAIT_S, "--json"],
            env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert divert.returncode == 0, divert.stderr + log.read_text(errors="replace")
        acknowledged = json.loads(divert.stdout)["wait"]["acknowledged"]
        assert [a["site"] for a in acknowledged] == ["x"]
        wait_until("FRR received the route", lambda: "203.0.113.0/24" in received(peer), 15, log)
        assert "syncing (woken by notify)" in log.read_text(errors="replace")
        with db.read() as session:
            figures = session.get(AgentSyncRow, "x")
            assert figures is not None and figures.errors == 0
            assert 0 < figures.duration_s < float(WAIT_S)
    finally:
        site.send_signal(signal.SIGTERM)
        stop_process(site)
        db.dispose()
