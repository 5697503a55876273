"""ICMP echo probes sent through a return path itself.

How a probe is made to cross the path, and only the path: one raw ICMP (or
ICMPv6) socket per path with

- ``SO_BINDTODEVICE`` to the path's interface (the GRE tunnel ``scr-*`` or the
  dedicated line's interface): the echo can leave by that interface only. A
  tunnel or line that is down, or a carrier that is gone, makes it fail (or
  vanish) instead of silently leaving by the site's default route and
  reaching the target over the internet (a false "up").
- ``SO_MARK`` = ``PROBE_MARK``: the site's policy rule ``fwmark PROBE_MARK
  lookup <site table>`` (priority 17001, protocol 245; see
  ``drivers/netlink/marks.py``) routes the probe by the same table as the
  customer's clean traffic, so a target inside the customer's prefixes (a
  host behind the customer edge) is reached via the line's next hop exactly
  like scrubbed traffic. A target on the path's own subnet (the defaults: the
  tunnel's ``inner_remote``, the line's ``next_hop``) is not in that table and
  falls through to the main table's connected route on the same interface.

Both work for a dedicated line (a veth, VLAN or physical port with a next
hop) and for a GRE tunnel (``gre``/``ip6gre``): the kernel picks the source
address of the chosen route (the tunnel's inner address, the line's own
address), so the answer comes back through the path as well. Raw sockets
need CAP_NET_RAW, ``SO_MARK`` CAP_NET_ADMIN: the site runs as root (it owns
netlink objects anyway). The kernel computes the ICMPv6 checksum.

Non-blocking: ``send`` writes one echo and returns; ``collect`` waits (up to a
given time) on every socket at once with ``selectors`` and returns answers
and the probes whose timeout passed (lost). Hundreds of paths at 100 ms are
one thread's work.

**Link state** (``LinkWatch``): the same ``collect`` also listens to the
kernel's link notifications (rtnetlink, group ``RTMGRP_LINK``) in the site's
namespace. A path's interface that loses its carrier, is set down or is
deleted yields an ``Outcome`` with ``link_down`` at once, so the health goes
down without waiting for ``threshold`` probes to be lost (a line whose far end
went away is down now, as a router treats an interface down). A carrier that
comes back yields nothing: the path is up again only after ``rise`` answered
probes. ``configure`` asks the kernel for every link once (a dump), so a path
whose interface is already down is reported at once too. A failure that keeps
the carrier (a tunnel's far end gone, a switch in between) is found by the
probes alone.
"""

from __future__ import annotations

import random
import selectors
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pyroute2 import netns
from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST
from pyroute2.netlink.rtnl import RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifinfmsg import IFF_LOWER_UP, IFF_UP, ifinfmsg
from pyroute2.netlink.rtnl.marshal import MarshalRtnl

from orchestrator.domain import IPAddress
from orchestrator.drivers.netlink.marks import PROBE_MARK

SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
PAYLOAD = b"scrubctl-probe\x00\x00"


@dataclass(frozen=True)
class ProbeTarget:
    """What to probe for one path: ``key`` names it (the customer)."""

    key: str
    interface: str
    target: IPAddress
    timeout: float  # seconds an answer may take before the probe counts as lost


@dataclass(frozen=True)
class Outcome:
    key: str
    ok: bool
    rtt_ms: float | None = None
    detail: str = ""  # why a probe could not even be sent; why the link is down
    link_down: bool = False  # the interface itself is down: the path is down now


class Prober(Protocol):
    def configure(self, targets: Sequence[ProbeTarget]) -> None:
        """The paths to probe from now on (sockets re-made; probes in flight forgotten)."""
        ...

    def send(self, key: str) -> None:
        """One echo for path ``key``; its answer or its loss comes from ``collect``."""
        ...

    def collect(self, wait: float) -> list[Outcome]:
        """Answers within ``wait`` seconds, then the probes whose timeout has passed."""
        ...

    def close(self) -> None: ...


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)


def echo_request(version: int, ident: int, seq: int) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST[version], 0, 0, ident, seq)
    if version == 6:
        return header + PAYLOAD  # the kernel fills in the ICMPv6 checksum
    return struct.pack("!BBHHH", 8, 0, checksum(header + PAYLOAD), ident, seq) + PAYLOAD


def parse_reply(version: int, packet: bytes) -> tuple[int, int] | None:
    """(identifier, sequence) of an echo reply, or None for anything else."""
    if version == 4:  # a raw IPv4 socket hands over the IP header too
        if len(packet) < 20:
            return None
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8 or packet[0] != ECHO_REPLY[version] or packet[1] != 0:
        return None
    ident, seq = struct.unpack("!HH", packet[4:8])
    return ident, seq


def link_problem(msg_type: int, flags: int, carrier: int | None) -> str | None:
    """Why a link notification means the link cannot carry anything, or None."""
    if msg_type == RTM_DELLINK:
        return "was deleted"
    if not flags & IFF_UP:
        return "is administratively down"
    if not flags & IFF_LOWER_UP or carrier == 0:
        return "lost its carrier"
    return None


class LinkWatch:
    """The kernel's link notifications in one namespace, as (interface, problem) pairs.

    ``problem`` is None for a link that can carry traffic. One rtnetlink socket
    bound to ``RTMGRP_LINK``; ``dump`` asks for every link once (the answers
    arrive on the same socket, read like notifications).
    """

    def __init__(self, netns_name: str | None) -> None:
        if netns_name is not None:
            netns.pushns(netns_name)
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        finally:
            if netns_name is not None:
                netns.popns()
        self.sock.bind((0, RTMGRP_LINK))
        self.sock.setblocking(False)
        self._marshal = MarshalRtnl()

    def dump(self) -> None:
        request = ifinfmsg()
        request["header"]["type"] = RTM_GETLINK
        request["header"]["flags"] = NLM_F_REQUEST | NLM_F_DUMP
        request["family"] = socket.AF_UNSPEC
        request.encode()
        try:
            self.sock.send(request.data)
        except OSError:  # a full buffer: the notifications still come
            return

    def read(self) -> list[tuple[str, str | None]]:
        found: list[tuple[str, str | None]] = []
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return found
            except OSError:  # ENOBUFS: notifications lost; ask again
                self.dump()
                return found
            for msg in self._marshal.parse(data):
                kind = msg["header"]["type"]
                name = msg.get_attr("IFLA_IFNAME")
                if kind in (RTM_NEWLINK, RTM_DELLINK) and name:
                    problem = link_problem(kind, msg["flags"], msg.get_attr("IFLA_CARRIER"))
                    found.append((name, problem))

    def close(self) -> None:
        self.sock.close()


@dataclass
class _Path:
    target: ProbeTarget
    ident: int
    sock: socket.socket | None
    error: str = ""
    seq: int = 0
    sent: dict[int, float] | None = None  # seq -> monotonic send time


def _open(target: ProbeTarget) -> socket.socket:
    version = target.target.version
    family, proto = (
        (socket.AF_INET, socket.IPPROTO_ICMP)
        if version == 4
        else (socket.AF_INET6, socket.IPPROTO_ICMPV6)
    )
    sock = socket.socket(family, socket.SOCK_RAW, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_MARK, PROBE_MARK)
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, target.interface.encode())
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class IcmpProber:
    """The real prober (see the module text); ``netns``: open the sockets in that namespace."""

    def __init__(
        self, netns: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.netns = netns
        self.clock = clock
        self._paths: dict[str, _Path] = {}
        self._selector = selectors.DefaultSelector()
        self._base = random.randrange(0x10000)
        self._links: LinkWatch | None = None
        self._link_problem: dict[str, str | None] = {}  # interface -> last problem seen

    def _open_in_netns(self, target: ProbeTarget) -> socket.socket:
        if self.netns is None:
            return _open(target)
        netns.pushns(self.netns)  # a socket stays in the namespace it was made in
        try:
            return _open(target)
        finally:
            netns.popns()

    def configure(self, targets: Sequence[ProbeTarget]) -> None:
        self._close_all()
        for i, target in enumerate(sorted(targets, key=lambda t: t.key)):
            ident = (self._base + i) & 0xFFFF
            try:
                sock: socket.socket | None = self._open_in_netns(target)
                error = ""
            except OSError as exc:
                sock, error = None, f"cannot probe via {target.interface}: {exc.strerror}"
            path = _Path(target, ident, sock, error, sent={})
            self._paths[target.key] = path
            if sock is not None:
                self._selector.register(sock, selectors.EVENT_READ, path)
        self._watch_links()

    def _watch_links(self) -> None:
        if self._links is None and self._paths:
            self._links = LinkWatch(self.netns)
            self._selector.register(self._links.sock, selectors.EVENT_READ, None)
        if self._links is not None:
            self._link_problem = {}  # report every down link of the new paths once
            self._links.dump()

    def _link_outcomes(self) -> list[Outcome]:
        assert self._links is not None
        found: list[Outcome] = []
        for name, problem in self._links.read():
            if name in self._link_problem and self._link_problem[name] == problem:
                continue  # nothing new about this link
            self._link_problem[name] = problem
            if problem is None:
                continue  # back: up again only after `rise` answered probes
            for path in self._paths.values():
                if path.target.interface == name:
                    detail = f"{name} {problem}"
                    found.append(Outcome(path.target.key, False, detail=detail, link_down=True))
        return found

    def send(self, key: str) -> None:
        path = self._paths[key]
        assert path.sent is not None
        path.seq = (path.seq + 1) & 0xFFFF
        path.sent[path.seq] = self.clock()  # a failed send is a loss, found by its timeout
        if path.sock is None:
            return
        packet = echo_request(path.target.target.version, path.ident, path.seq)
        try:
            path.sock.sendto(packet, (str(path.target.target), 0))
            path.error = ""
        except OSError as exc:  # ENETDOWN, ENETUNREACH, a full buffer
            path.error = f"send via {path.target.interface}: {exc.strerror}"

    def _read(self, path: _Path) -> list[Outcome]:
        assert path.sock is not None and path.sent is not None
        found: list[Outcome] = []
        while True:
            try:
                packet, source = path.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return found
            except OSError:
                return found
            reply = parse_reply(path.target.target.version, packet)
            if reply is None or reply[0] != path.ident or source[0] != str(path.target.target):
                continue
            sent = path.sent.pop(reply[1], None)
            if sent is not None:
                found.append(Outcome(path.target.key, True, (self.clock() - sent) * 1000.0))

    def _expired(self, now: float) -> list[Outcome]:
        lost = []
        for path in self._paths.values():
            assert path.sent is not None
            for seq, sent in list(path.sent.items()):
                if now - sent >= path.target.timeout:
                    del path.sent[seq]
                    lost.append(Outcome(path.target.key, False, detail=path.error))
        return lost

    def _next_expiry(self) -> float | None:
        deadlines = [
            sent + path.target.timeout
            for path in self._paths.values()
            for sent in (path.sent or {}).values()
        ]
        return min(deadlines, default=None)

    def collect(self, wait: float) -> list[Outcome]:
        """Answers and link news within ``wait`` seconds, and the probes lost by then.

        The wait ends early when a probe's timeout passes, so a loss is counted
        when it happens, not at the end of the caller's wait (up to an interval later).
        """
        outcomes: list[Outcome] = []
        expiry = self._next_expiry()
        if expiry is not None:
            wait = min(wait, expiry - self.clock())
        if self._selector.get_map():
            for selected, _ in self._selector.select(timeout=max(0.0, wait)):
                if selected.data is None:
                    outcomes += self._link_outcomes()
                else:
                    outcomes += self._read(selected.data)
        elif wait > 0:
            time.sleep(wait)
        return outcomes + self._expired(self.clock())

    def _close_all(self) -> None:
        for path in self._paths.values():
            if path.sock is not None:
                self._selector.unregister(path.sock)
                path.sock.close()
        self._paths = {}

    def close(self) -> None:
        self._close_all()
        if self._links is not None:
            self._selector.unregister(self._links.sock)
            self._links.close()
            self._links = None
        self._selector.close()
