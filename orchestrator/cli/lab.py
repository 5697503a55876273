"""``scrubctl lab``: the namespace lab built from ``containerlab.yml``."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orchestrator.cli.common import JsonOption, emit_json, guard, say, table

if TYPE_CHECKING:
    from orchestrator.lab.guestlink import GuestLink
    from orchestrator.lab.runner import LabRunner

app = typer.Typer(
    help="The lab: containerlab.yml built into network namespaces (needs root).",
    no_args_is_help=True,
)
traffic_app = typer.Typer(help="Bounded test traffic inside the lab, and its counters.",
                          no_args_is_help=True)  # fmt: skip
app.add_typer(traffic_app, name="traffic")
DEMO_BUDGET = 1800.0  # seconds for the whole demo inside a guest (15 min seen on a busy host)
DASHBOARD_PORT = 8180  # the demo's dashboard (scrubctl serve's default port)
DASHBOARD = f"127.0.0.1:{DASHBOARD_PORT}"
DASHBOARD_HELP = (
    f"ADDR:PORT of the demo's dashboard (default {DASHBOARD}; in a guest, its end of the "
    "link to this host)."
)

TopologyOption = Annotated[
    Path | None,
    typer.Option(
        "--topology",
        "-t",
        help="Topology file (default: ./containerlab.yml, else the repository's).",
        show_default=False,
    ),
]
NameOption = Annotated[
    str | None,
    typer.Option(
        "--name",
        help="Build the lab under another name (env SCRUBCTL_LAB_NAME).",
        show_default=False,
    ),
]


UmlOption = Annotated[
    bool,
    typer.Option(
        "--uml",
        help="Run in a user-mode Linux guest (the default where this kernel has no GRE).",
    ),
]


def _guest(commands: list[list[str]], topology: Path | None, name: str | None,
           timeout: float, link: GuestLink | None = None) -> None:  # fmt: skip
    """Run ``lab`` commands in one user-mode Linux guest; print what they print as
    they print it."""
    from orchestrator.lab.guest import run_in_guest
    from orchestrator.lab.topology import default_topology_path

    where = ["--topology", str((topology or default_topology_path()).resolve())]
    where += ["--name", name] if name else []
    say("booting a user-mode Linux guest (kernel GRE; the lab lives as long as the guest)")
    result = run_in_guest([[*c, *where] for c in commands], workdir=Path.cwd(),
                          timeout=timeout, link=link, follow=say)  # fmt: skip
    say(f"guest halted after {result.seconds:.1f} s (boot to halt)")
    if result.exit_code != 0:
        raise typer.Exit(result.exit_code)


def _runner(topology: Path | None, name: str | None) -> LabRunner:
    from orchestrator.lab.runner import LabRunner
    from orchestrator.lab.topology import default_topology_path, load_topology

    topo = load_topology(topology or default_topology_path())
    name = name or os.environ.get("SCRUBCTL_LAB_NAME")
    return LabRunner(topo.renamed(name) if name else topo, log=say)


@app.command()
@guard
def up(
    topology: TopologyOption = None,
    name: NameOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for BGP.")] = 60.0,
    uml: Annotated[
        bool,
        typer.Option(
            "--uml",
            help="Build it in a user-mode Linux guest with kernel GRE, show its status and "
            "halt: the lab lives only as long as the guest.",
        ),
    ] = False,
) -> None:
    """Build the lab (removing leftovers of an earlier run first) and wait for BGP."""
    from orchestrator.lab.guest import in_guest

    if uml and not in_guest():
        up_args = ["up", "--timeout", str(timeout)]
        _guest([up_args, ["status"], ["down"]], topology, name, timeout=timeout + 120)
        return
    runner = _runner(topology, name)
    report = runner.up(converge_timeout=timeout)
    if report.cleaned:
        say(f"removed leftovers of an earlier run: {len(report.cleaned)} namespaces")
    say(
        f"lab {report.lab} up: {len(runner.topology.nodes)} nodes, "
        f"{len(runner.topology.links)} links, {report.sessions} BGP sessions Established; "
        f"built in {report.build_seconds:.1f} s, converged in {report.converge_seconds:.1f} s "
        f"(total {report.total_seconds:.1f} s)"
    )
    for site in report.paths:
        for text in (*site.built, *(f"DOWN {d}" for d in site.down)):
            say(f"{site.site}: return path {text}")
    if report.skipped:
        say(f"this kernel has no GRE: {len(report.skipped)} exec lines of the GRE return path "
            "were not run, so that path is down; `scrubctl lab demo` runs the whole lab, "
            "tunnel included, in a user-mode Linux guest")  # fmt: skip


@app.command()
@guard
def demo(
    topology: TopologyOption = None,
    name: NameOption = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Leave the lab, sites and dashboard running.")
    ] = False,
    dashboard: Annotated[str | None, typer.Option("--dashboard", help=DASHBOARD_HELP)] = None,
    no_dashboard: Annotated[
        bool, typer.Option("--no-dashboard", help="Run the demo without the dashboard.")
    ] = False,
    uml: UmlOption = False,
) -> None:
    """The end-to-end demo: divert, fail over, fall back, withdraw (the README's main job).

    Where this kernel has no GRE (or with --uml) it runs in one user-mode Linux guest,
    whose output is shown as it runs; with --keep the guest stays up until Ctrl-C."""
    from orchestrator.cli.serve import parse_listen
    from orchestrator.lab.demo import run_demo
    from orchestrator.lab.guest import in_guest, want_guest

    if dashboard is not None:
        parse_listen(dashboard, where="--dashboard")
    if want_guest(uml):
        _demo_in_guest(topology, name, keep=keep, dashboard=not no_dashboard)
        return
    listen = None if no_dashboard else dashboard or DASHBOARD
    run_demo(_runner(topology, name), say, keep=keep, dashboard=listen)
    if keep and in_guest():  # the lab lives as long as this guest: keep it up
        say("the guest stays up with the lab: Ctrl-C (or SIGTERM) on the host stops it")
        while True:
            time.sleep(3600)


def _demo_in_guest(topology: Path | None, name: str | None, *, keep: bool,
                   dashboard: bool) -> None:  # fmt: skip
    """The demo in a guest, its dashboard reachable from here over a guest link. Where
    the link cannot be made (no /dev/net/tun, another demo holds it), the demo runs
    without the dashboard and says why."""
    from orchestrator.lab.guestlink import GuestLink, host_link
    from orchestrator.lab.shell import LabError

    args = ["demo", *(["--keep"] if keep else [])]
    timeout = math.inf if keep else DEMO_BUDGET
    # SIGTERM as Ctrl-C: the guest killed and the tap removed (the finally blocks)
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        with contextlib.ExitStack() as stack:
            link: GuestLink | None = None
            if dashboard:
                try:
                    link = stack.enter_context(host_link(GuestLink()))
                except LabError as exc:
                    say(f"no dashboard for this demo: {exc}")
            if link is None:
                _guest([[*args, "--no-dashboard"]], topology, name, timeout=timeout)
                return
            listen = f"{link.guest_address}:{DASHBOARD_PORT}"
            say(f"the dashboard will be at http://{listen}/ from this host (a link to the guest)")
            _guest([[*args, "--dashboard", listen]], topology, name, timeout=timeout, link=link)
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
@guard
def down(topology: TopologyOption = None, name: NameOption = None) -> None:
    """Remove the lab: its namespaces, the processes inside them and its run directory."""
    report = _runner(topology, name).down()
    say(f"lab {report.lab} down: removed {len(report.namespaces)} namespaces, "
        f"stopped {report.processes} processes")  # fmt: skip


@app.command()
@guard
def status(topology: TopologyOption = None, name: NameOption = None,
           json: JsonOption = False) -> None:  # fmt: skip
    """Nodes, links and BGP sessions (from each router's `show bgp summary json`)."""
    from orchestrator.lab import status as lab_status

    state = lab_status.collect(_runner(topology, name))
    if json:
        emit_json(state.to_json())
        return
    say(f"lab {state.lab} ({state.topology}): {'up' if state.up else 'down'}")
    table("nodes", ["node", "role", "namespace", "present", "daemons", "addresses"], [
        [n.name, n.role, n.namespace, "yes" if n.present else "no",
         " ".join(f"{d}:{p or 'down'}" for d, p in n.daemons.items()),
         ", ".join(n.addresses)] for n in state.nodes
    ])  # fmt: skip
    table("links", ["a", "b", "state"], [
        [link.a, link.b, f"{link.state_a}/{link.state_b}"] for link in state.links
    ])  # fmt: skip
    columns = ["router", "neighbor", "peer", "AS", "state", "pfx rcvd", "up", "expected"]
    table("BGP sessions", columns, [
        [s.router, s.neighbor, s.peer_node or "-", s.remote_as, s.state,
         "-" if s.prefixes_received is None else s.prefixes_received, s.uptime,
         "yes" if s.expected else "later (ExaBGP)"] for s in state.sessions
    ])  # fmt: skip


@app.command(
    "exec",
    context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True},
)
@guard
def exec_(
    node: Annotated[str, typer.Argument(help="Lab node.")],
    command: Annotated[list[str], typer.Argument(help="Command (after --) to run there.")],
    topology: TopologyOption = None,
    name: NameOption = None,
) -> None:
    """Run a command in NODE's namespace; `vtysh` talks to that node's FRR."""
    from orchestrator.lab.shell import in_netns, require_namespaces

    runner = _runner(topology, name)
    target = runner.topology.node(node)
    namespace = runner.namespace(node)
    require_namespaces(runner.topology.name, [namespace])
    argv = command[1:] if command[:1] == ["--"] else list(command)
    if argv and argv[0] == "vtysh" and target.is_frr:
        argv = [*runner.frr(node).vtysh_argv(), *argv[1:]]
    raise typer.Exit(subprocess.call(in_netns(namespace, argv)))


@traffic_app.command()
@guard
def legit(
    count: Annotated[int, typer.Option(help="Requests to send (bounded).")] = 20,
    interval: Annotated[float, typer.Option(help="Seconds between requests.")] = 0.05,
    topology: TopologyOption = None,
    name: NameOption = None,
    json: JsonOption = False,
) -> None:
    """HTTP requests from `client` to the server; prints how many succeeded."""
    from orchestrator.lab import traffic as lab_traffic

    result = lab_traffic.legit(_runner(topology, name).topology, count=count, interval=interval)
    if json:
        emit_json(result.__dict__)
        return
    say(f"legit: {result.ok}/{result.sent} requests answered ({result.failed} failed) "
        f"in {result.elapsed:.1f} s")  # fmt: skip


@traffic_app.command()
@guard
def attack(
    count: Annotated[int, typer.Option(help="Packets to send (bounded).")] = 1000,
    rate: Annotated[float, typer.Option(help="Packets per second.")] = 500.0,
    size: Annotated[int, typer.Option(help="UDP payload bytes.")] = 1200,
    duration: Annotated[float, typer.Option(help="Stop after this many seconds.")] = 30.0,
    target: Annotated[str | None, typer.Option(help="A lab address (default: server).")] = None,
    topology: TopologyOption = None,
    name: NameOption = None,
    json: JsonOption = False,
) -> None:
    """UDP from `attacker` source port 123 (NTP-amplification shaped), rate-limited."""
    from orchestrator.lab import traffic as lab_traffic

    topo = _runner(topology, name).topology
    result = lab_traffic.attack(topo, count=count, rate=rate, size=size, duration=duration,
                                target=target)  # fmt: skip
    if json:
        emit_json(result.__dict__)
        return
    say(f"attack: sent {result.sent} packets ({result.errors} send errors) "
        f"in {result.elapsed:.1f} s")  # fmt: skip


@traffic_app.command()
@guard
def counters(topology: TopologyOption = None, name: NameOption = None,
             json: JsonOption = False) -> None:  # fmt: skip
    """The nftables counters of every node (scrubbing filters included)."""
    from orchestrator.lab import traffic as lab_traffic

    values = lab_traffic.read_counters(_runner(topology, name).topology)
    if json:
        emit_json(values)
        return
    table("nftables counters", ["node", "table", "counter", "packets", "bytes"], [
        [node, tbl, cname, v["packets"], v["bytes"]]
        for node, tables in values.items() for tbl, cs in tables.items() for cname, v in cs.items()
    ])  # fmt: skip


if __name__ == "__main__":
    app()
