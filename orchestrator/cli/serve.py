"""``scrubctl serve``: the resident HTTP API (FastAPI on uvicorn).

Listens on 127.0.0.1:8180 unless told otherwise. Any other address needs TLS
(``--tls-cert`` and ``--tls-key``) or an explicit ``--insecure``: bearer tokens
must not cross a network in the clear by accident.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import DbOption, guard, open_db
from orchestrator.errors import InvalidInput

DEFAULT_LISTEN = "127.0.0.1:8180"


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    @property
    def loopback(self) -> bool:
        return self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback


def parse_listen(text: str, where: str = "--listen") -> Listen:
    """``ADDR:PORT`` or ``[V6ADDR]:PORT``; ADDR an IP address or ``localhost``."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"{text!r} is not ADDR:PORT (port 1-65535)", where=where)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host != "localhost":
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise InvalidInput(
                f"{host!r} is not an IP address (or localhost)", where=where
            ) from None
        host = str(address)
    return Listen(host, int(port))


def _readable(path: Path | None, where: str) -> None:
    if path is None:
        return
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", where=where) from None


def check_tls(listen: Listen, cert: Path | None, key: Path | None, insecure: bool) -> None:
    if (cert is None) != (key is None):
        raise InvalidInput("needs --tls-cert and --tls-key together",
                           where="--tls-cert" if cert is None else "--tls-key")  # fmt: skip
    _readable(cert, "--tls-cert")
    _readable(key, "--tls-key")
    if cert is None and not listen.loopback and not insecure:
        raise InvalidInput(
            f"{listen.host} is not a loopback address: serving it without TLS sends tokens "
            "in the clear",
            where="--listen",
            hint="give --tls-cert and --tls-key, or --insecure",
        )


def parse_hold_down(text: str) -> timedelta:
    from orchestrator.service.common import parse_duration
    from orchestrator.service.detections import MAX_HOLD_DOWN

    if text.strip() == "0":
        return timedelta(0)
    return parse_duration(text, "--hold-down", maximum=MAX_HOLD_DOWN)


@guard
def serve(
    listen: Annotated[str, typer.Option("--listen", help="ADDR:PORT to listen on.")] = (
        DEFAULT_LISTEN
    ),
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow plain HTTP on a non-loopback address.")
    ] = False,
    hold_down: Annotated[
        str,
        typer.Option(
            "--hold-down",
            help="After a detector's unban, keep the diversion this long (0, 90s, 5m; at most 1d).",
        ),
    ] = "0",
    db: DbOption = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) until SIGTERM or Ctrl-C."""
    address = parse_listen(listen)
    check_tls(address, tls_cert, tls_key, insecure)
    held = parse_hold_down(hold_down)
    database = open_db(db)

    import uvicorn  # only here: the other commands do not pay for it

    from orchestrator.api.app import create_app
    from orchestrator.api.context import Context

    logging.basicConfig(level=logging.INFO, format="serve %(levelname)s %(message)s")
    app = create_app(Context(database, held))
    uvicorn.run(app, host=address.host, port=address.port, log_level="info",
                ssl_certfile=str(tls_cert) if tls_cert else None,
                ssl_keyfile=str(tls_key) if tls_key else None)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
