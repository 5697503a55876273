"""The return-path loop against the fake kernel, the fake prober and a real SQLite store."""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from orchestrator.inventory import parse_inventory
from orchestrator.service import inventory as inventory_service
from orchestrator.site import returnpaths
from orchestrator.site.returnpaths import ReturnPathLoop
from orchestrator.store.db import Database
from orchestrator.store.models import EventRow, ReturnPathRow, ReturnPathSampleRow
from orchestrator.testing.netlink import FakeKernel
from orchestrator.testing.probe import FakeProber

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINE = {"kind": "dedicated", "interface": "line0", "next_hop": "192.0.2.130",
        "health": {"interval": 0.5, "threshold": 3, "rise": 2}}  # fmt: skip
GRE = {"kind": "gre", "local": "192.0.2.1", "remote": "198.18.0.1",
       "inner_local": "192.0.2.161/30", "inner_remote": "192.0.2.162"}  # fmt: skip
INVENTORY: dict[str, Any] = {
    "policy": {"asn": 64500, "allow_reserved_prefixes": True},
    "sites": {
        "fra": {
            "router_id": "192.0.2.1",
            "peers": [{"name": "t1", "address": "192.0.2.254", "asn": 64501}],
            "upstream_interfaces": ["up0"],
        }
    },
    "customers": {
        "acme": {"asn": 64496, "prefixes": [{"prefix": "203.0.113.0/24"}],
                 "sites": [{"site": "fra"}], "return_paths": {"fra": GRE}},
        "beta": {"asn": 64497, "prefixes": [{"prefix": "198.51.100.0/24"}],
                 "sites": [{"site": "fra"}], "return_paths": {"fra": LINE}},
    },
}  # fmt: skip


def iface(text: str) -> ipaddress.IPv4Interface:
    return ipaddress.IPv4Interface(text)


def store(db: Database, data: dict[str, Any]) -> None:
    inventory_service.apply(
        db, parse_inventory(data), actor="t", now=NOW, dry_run=False, source="t"
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.ensure_schema()
    store(database, INVENTORY)
    yield database
    database.dispose()


def kernel() -> FakeKernel:
    fake = FakeKernel()
    fake.add_interface("wan0", [iface("192.0.2.1/25")])
    fake.add_interface("line0", [iface("192.0.2.129/30")])
    return fake


def make_loop(db: Database, fake: FakeKernel | None = None) -> tuple[ReturnPathLoop, FakeProber]:
    prober = FakeProber()
    loop = ReturnPathLoop(db, "fra", fake or kernel(), prober, clock=prober.clock, wall=lambda: NOW)
    return loop, prober


def rows(db: Database) -> dict[str, tuple[str, str]]:
    with db.read() as session:
        return {r.customer: (r.health, r.detail) for r in session.scalars(select(ReturnPathRow))}


def events(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        query = select(EventRow).where(EventRow.action.like("path.%")).order_by(EventRow.id)
        return [(e.action, e.target, e.reason) for e in session.scalars(query)]


def turns(loop: ReturnPathLoop, n: int) -> None:
    for _ in range(n):
        loop.step()


def run_for(loop: ReturnPathLoop, prober: FakeProber, seconds: float) -> None:
    end = prober.clock.now + seconds
    while prober.clock.now < end:
        loop.step()


def test_start_builds_the_paths_and_records_them_unknown(db: Database) -> None:
    fake = kernel()
    loop, prober = make_loop(db, fake)
    before = db.generation()
    loop.step()
    assert fake.ops  # the tunnel, its address, routes, rules
    assert set(prober.targets) == {"acme", "beta"}
    assert str(prober.targets["acme"].target) == "192.0.2.162"  # GRE default: inner_remote
    assert str(prober.targets["beta"].target) == "192.0.2.130"  # line default: next hop
    assert rows(db) == {
        "acme": ("unknown", "not probed yet"),
        "beta": ("unknown", "not probed yet"),
    }
    assert db.generation() == before + 1
    assert [e[0] for e in events(db)] == ["path.unknown", "path.unknown"]


def test_answers_make_a_path_up_after_rise_with_one_bump(db: Database) -> None:
    loop, prober = make_loop(db)
    loop.step()
    start = db.generation()
    run_for(loop, prober, 3.5)  # beta: 0.5 s interval, rise 2; acme: 1 s, rise 3
    assert rows(db)["beta"] == ("up", "2 probes to 192.0.2.130 answered in a row")
    assert rows(db)["acme"][0] == "up"
    assert db.generation() == start + 2  # one bump per transition, none for figures
    assert ("path.up", "fra/beta", "2 probes to 192.0.2.130 answered in a row") in events(db)


def test_losses_make_a_path_down_after_threshold(db: Database) -> None:
    loop, prober = make_loop(db)
    run_for(loop, prober, 4)
    prober.reachable["beta"] = False
    sent = prober.sent.count("beta")
    while rows(db)["beta"][0] == "up":
        loop.step()
    assert prober.sent.count("beta") - sent == 3  # threshold 3
    assert rows(db)["beta"] == ("down", "3 probes to 192.0.2.130 lost in a row")
    assert events(db)[-1] == ("path.down", "fra/beta", "3 probes to 192.0.2.130 lost in a row")


def test_carrier_loss_makes_a_path_down_at_once_and_rise_answers_bring_it_back(
    db: Database,
) -> None:
    loop, prober = make_loop(db)
    run_for(loop, prober, 4)
    assert rows(db)["beta"][0] == "up"
    start, sent = db.generation(), prober.sent.count("beta")
    prober.reachable["beta"] = False  # the line is down: its probes are lost too
    prober.link_down("beta", "line0 lost its carrier")
    loop.step()
    assert rows(db)["beta"] == ("down", "line0 lost its carrier")
    assert prober.sent.count("beta") - sent <= 1  # no loss streak waited for
    assert db.generation() == start + 1
    assert events(db)[-1] == ("path.down", "fra/beta", "line0 lost its carrier")
    run_for(loop, prober, 2)
    assert rows(db)["beta"][0] == "down"  # probed on, still lost
    prober.reachable["beta"] = True
    sent = prober.sent.count("beta")
    while rows(db)["beta"][0] == "down":
        loop.step()
    assert prober.sent.count("beta") - sent == 2  # rise 2
    assert rows(db)["beta"] == ("up", "2 probes to 192.0.2.130 answered in a row")


def test_a_held_up_loop_sends_one_late_probe_not_a_burst(db: Database) -> None:
    loop, prober = make_loop(db)
    run_for(loop, prober, 4)
    prober.clock.now += 10.0  # the loop was held up for 20 of beta's intervals
    sent = prober.sent.count("beta")
    loop.step()
    assert prober.sent.count("beta") - sent == 1  # the late probe
    run_for(loop, prober, 0.25)  # with the step above (0.2 s): less than beta's 0.5 s
    assert prober.sent.count("beta") - sent == 1


def test_figures_are_throttled_and_never_bump(db: Database) -> None:
    loop, prober = make_loop(db)
    run_for(loop, prober, 4)
    writes: list[int] = []
    real = loop.flush

    def counting(*, force: bool = False) -> None:
        pending = len(loop.pending)
        real(force=force)
        writes.append(pending - len(loop.pending))

    loop.flush = counting  # type: ignore[method-assign]
    start, clock = db.generation(), prober.clock.now
    run_for(loop, prober, 8)
    seconds = prober.clock.now - clock
    assert db.generation() == start  # no transition, no bump
    assert 0 < sum(1 for w in writes if w) <= seconds / 1.0 + 1  # at most one write a second
    with db.read() as session:
        row = session.get(ReturnPathRow, ("beta", "fra"))
        assert row is not None and row.loss == 0.0 and row.rtt_ms == 4.0


def test_driver_down_path_is_down_with_its_cause_and_not_probed(db: Database) -> None:
    fake = kernel()
    del fake.links["line0"]
    loop, prober = make_loop(db, fake)
    turns(loop, 5)
    assert rows(db)["beta"] == ("down", "interface line0 does not exist")
    assert "beta" not in prober.targets and "beta" not in prober.sent
    assert ("path.down", "fra/beta", "interface line0 does not exist") in events(db)


def test_a_restart_starts_from_the_stored_health(db: Database) -> None:
    loop, first = make_loop(db)
    run_for(loop, first, 4)
    assert rows(db)["beta"][0] == "up"
    start = db.generation()
    again, prober = make_loop(db)
    prober.reachable["beta"] = False
    again.step()
    again.step()  # two losses: below the threshold, still up; no unknown in between
    assert rows(db)["beta"][0] == "up"
    assert db.generation() == start
    assert [e for e in events(db) if e[0] == "path.unknown"] == [
        ("path.unknown", "fra/acme", "not probed yet"),
        ("path.unknown", "fra/beta", "not probed yet"),
    ]


def test_an_inventory_change_is_reconciled_and_a_removed_path_forgotten(db: Database) -> None:
    fake = kernel()
    loop, prober = make_loop(db, fake)
    turns(loop, 3)
    data = copy.deepcopy(INVENTORY)
    del data["customers"]["acme"]
    store(db, data)
    loop.step()
    assert "scr-acme" not in fake.links
    assert set(rows(db)) == {"beta"}
    assert set(prober.targets) == {"beta"}


def test_no_change_makes_no_kernel_write(db: Database) -> None:
    fake = kernel()
    loop, prober = make_loop(db, fake)
    loop.step()
    done = len(fake.ops)
    prober.clock.now += 10  # past the resync: a read, no write
    turns(loop, 5)
    assert len(fake.ops) == done


def test_paths_command_shows_health_cause_and_figures(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.main import build_app

    loop, prober = make_loop(db)
    run_for(loop, prober, 4)
    prober.reachable["beta"] = False
    run_for(loop, prober, 3)
    loop.flush(force=True)
    monkeypatch.setenv("SCRUBCTL_DB", db.url)
    result = CliRunner().invoke(build_app(), ["paths", "--site", "fra", "--json"])
    assert result.exit_code == 0, result.output
    shown = {p["customer"]: p for p in json.loads(result.stdout)}
    assert (shown["beta"]["health"], shown["beta"]["cause"]) == (
        "down",
        "3 probes to 192.0.2.130 lost in a row",
    )
    assert shown["beta"]["loss"] > 0 and shown["beta"]["interface"] == "line0"
    assert (shown["acme"]["health"], shown["acme"]["interface"]) == ("up", "scr-acme")
    assert shown["acme"]["rtt_ms"] == 4.0
    unknown = CliRunner().invoke(build_app(), ["paths", "--site", "nowhere"])
    assert unknown.exit_code == 3
    assert unknown.stderr.startswith("error: --site: unknown site 'nowhere'")


def test_site_list_shows_path_health(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli.main import build_app

    loop, prober = make_loop(db)
    prober.reachable["beta"] = False
    run_for(loop, prober, 4)
    loop.flush(force=True)
    monkeypatch.setenv("SCRUBCTL_DB", db.url)
    result = CliRunner().invoke(build_app(), ["site", "list", "--json"])
    assert result.exit_code == 0, result.output
    (fra,) = json.loads(result.stdout)
    assert {p["customer"]: p["health"] for p in fra["return_paths"]} == {
        "acme": "up",
        "beta": "down",
    }


# --- the history behind the customer page's loss/RTT plot ---------------------


def clocked_loop(db: Database) -> tuple[ReturnPathLoop, FakeProber]:
    """A loop whose wall clock moves with the prober's (simulated) time."""
    prober = FakeProber()
    start = prober.clock.now

    def wall() -> datetime:
        return NOW + timedelta(seconds=prober.clock.now - start)

    loop = ReturnPathLoop(db, "fra", kernel(), prober, clock=prober.clock, wall=wall)
    return loop, prober


def samples(db: Database, customer: str) -> list[tuple[float, str, float | None]]:
    """(seconds after NOW, health, RTT) of the customer's samples, oldest first."""
    query = (
        select(ReturnPathSampleRow)
        .where(ReturnPathSampleRow.customer == customer)
        .order_by(ReturnPathSampleRow.id)
    )
    with db.read() as session:
        return [((s.at - NOW).total_seconds(), s.health, s.rtt_ms)
                for s in session.scalars(query)]  # fmt: skip


def test_history_is_sampled_each_period_and_at_a_transition_not_per_probe(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(returnpaths, "HISTORY_EVERY", 5.0)
    loop, prober = clocked_loop(db)
    run_for(loop, prober, 12)
    beta = samples(db, "beta")
    assert [h for _, h, _ in beta] == ["unknown", "up", "up", "up"]
    at = [t for t, _, _ in beta]
    assert at[0] <= 0.2 < at[1] < 5  # the first turn; the transition (rise 2): at once
    assert [round(t) for t in at[2:]] == [5, 10]  # then one per period
    assert beta[-1][2] == 4.0  # the figures of the moment
    assert prober.sent.count("beta") >= 20  # far more probes than samples


def test_history_older_than_the_keep_time_is_pruned_even_of_a_removed_path(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(returnpaths, "HISTORY_EVERY", 5.0)
    monkeypatch.setattr(returnpaths, "HISTORY_KEEP", timedelta(seconds=20))
    with db.write(bump=False) as session:
        session.add(ReturnPathSampleRow(customer="gone", site="fra", at=NOW, health="up",
                                        loss=0.0, rtt_ms=1.0))  # fmt: skip
    loop, prober = clocked_loop(db)
    run_for(loop, prober, 41)
    at = [t for t, _, _ in samples(db, "beta")]
    assert min(at) >= 40 - 20 and len(at) == 5  # 20, 25, 30, 35, 40
    assert samples(db, "gone") == []


def test_history_is_capped_per_path(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(returnpaths, "HISTORY_EVERY", 5.0)
    monkeypatch.setattr(returnpaths, "HISTORY_MAX", 3)
    loop, prober = clocked_loop(db)
    run_for(loop, prober, 31)
    assert [round(t) for t, _, _ in samples(db, "beta")] == [20, 25, 30]
    assert [round(t) for t, _, _ in samples(db, "acme")] == [20, 25, 30]


def test_a_removed_paths_history_is_forgotten_with_it(db: Database) -> None:
    loop, _prober = clocked_loop(db)
    turns(loop, 3)
    assert samples(db, "acme") and samples(db, "beta")
    data = copy.deepcopy(INVENTORY)
    del data["customers"]["acme"]
    store(db, data)
    loop.step()
    assert samples(db, "acme") == []
    assert samples(db, "beta") != []
