"""A point-to-point link between this host and a user-mode Linux guest.

The lab in a guest (``lab.guest``) lives in the guest's own kernel, so nothing
in it is reachable from the host, and the dashboard of a demo running there
could not be opened in a browser. A ``GuestLink`` is a tap device on the host
(``ip tuntap``, in ``netns`` or the host's own namespace) that UML's vector
driver attaches to as the guest's ``vec0``: one /30 of link-local addresses,
the host's end and the guest's, and nothing routed beyond them. It carries
only what is addressed to the guest's end (the demo's ``scrubctl serve``).

``host_link`` creates the tap (removing a leftover of the same name first) and
always removes it again; the guest's end is configured by the guest's init
(``uml.UmlRunner``). Needs root and ``/dev/net/tun``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from orchestrator.lab.shell import LabError, run

GUEST_IF = "vec0"  # the name UML's vector driver gives the guest's end
DEFAULT_NETWORK = ipaddress.IPv4Network("169.254.80.0/30")  # link-local: never routed


@dataclass(frozen=True)
class GuestLink:
    tap: str = "scrub-uml0"  # the host's end
    network: ipaddress.IPv4Network = DEFAULT_NETWORK
    netns: str | None = None  # the host end's namespace; None: the host's own

    @property
    def host_address(self) -> ipaddress.IPv4Address:
        return next(self.network.hosts())

    @property
    def guest_address(self) -> ipaddress.IPv4Address:
        return list(self.network.hosts())[1]

    def boot_arg(self) -> str:
        """The UML kernel argument that attaches the guest's vec0 to the tap."""
        return f"{GUEST_IF}:transport=tap,ifname={self.tap}"

    def guest_commands(self) -> list[list[str]]:
        """What the guest's init runs to bring its end up."""
        address = f"{self.guest_address}/{self.network.prefixlen}"
        return [
            ["ip", "addr", "add", address, "dev", GUEST_IF],
            ["ip", "link", "set", GUEST_IF, "up"],
        ]

    def _ip(self, *args: str) -> Sequence[str]:
        prefix = ["ip", "-n", self.netns] if self.netns else ["ip"]
        return [*prefix, *args]


@contextlib.contextmanager
def host_link(link: GuestLink) -> Iterator[GuestLink]:
    """The tap of ``link``, up with the host's address, for the life of the block.
    A tap of that name with a guest attached (carrier) belongs to another running
    demo and is refused; one without is a leftover of a killed run and replaced."""
    if _attached(link):
        raise LabError(
            f"the guest link {link.tap} is in use by another user-mode Linux guest",
            hint="another `scrubctl lab demo` is running; stop it first",
        )
    _remove(link)
    address = f"{link.host_address}/{link.network.prefixlen}"
    try:
        for args in (("tuntap", "add", "dev", link.tap, "mode", "tap"),
                     ("addr", "add", address, "dev", link.tap),
                     ("link", "set", link.tap, "up")):  # fmt: skip
            done = run(link._ip(*args), check=False)
            if done.returncode != 0:
                raise LabError(
                    f"cannot create the guest link {link.tap}: {done.stderr.strip()}",
                    hint="needs root and /dev/net/tun",
                )
        yield link
    finally:
        _remove(link)


def _attached(link: GuestLink) -> bool:
    done = run(link._ip("-j", "link", "show", "dev", link.tap), check=False)
    if done.returncode != 0:
        return False  # no such tap
    [info] = json.loads(done.stdout)
    return "LOWER_UP" in info.get("flags", [])


def _remove(link: GuestLink) -> None:
    run(link._ip("tuntap", "del", "dev", link.tap, "mode", "tap"), check=False)
