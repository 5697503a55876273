"""The dashboard through the real ASGI app: a login is needed for every page, the
session cookie is HttpOnly and SameSite=Strict, sessions end (logout, idle,
revoked token), every form carries the CSRF token and every field a label, and
a customer-scoped viewer sees its customer only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web_support import OTHERS, Tokens, csrf_of, log_in, sessions_up, unlabelled_fields

from orchestrator.domain import Health
from orchestrator.service import diversions, observed, tokens
from orchestrator.store.db import Database
from orchestrator.store.models import WebSessionRow

PAGES = ["/", "/customers/acme", "/sites", "/events", "/events.csv"]


@pytest.mark.parametrize("path", [*PAGES, "/actions/drain?site=fra", "/live"])
def test_every_page_needs_a_login(path: str, client: Any) -> None:
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


def test_login_sets_a_strict_httponly_cookie(client: Any, secrets: Tokens) -> None:
    response = client.post("/login", data={"token": secrets.viewer})
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert secrets.viewer not in cookie


@pytest.mark.parametrize("token", ["", "scrubctl_not-a-token"])
def test_bad_token_opens_no_session(token: str, client: Any, db: Database) -> None:
    response = client.post("/login", data={"token": token})
    assert response.status_code == 401
    assert "unknown token" in response.text
    assert "set-cookie" not in response.headers
    with db.read() as session:
        assert session.query(WebSessionRow).count() == 0


@pytest.mark.parametrize("path", PAGES)
def test_pages_render(path: str, client: Any, secrets: Tokens, db: Database) -> None:
    sessions_up(db)
    log_in(client, secrets.operator)
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert "acme" in response.text


@pytest.mark.parametrize("path", ["/", "/customers/acme", "/sites", "/events", "/login",
                                  *(f"/actions/{k}" for k in ("divert-start", "divert-stop",
                                    "rtbh-add", "rtbh-remove", "drain", "undrain", "failover",
                                    "failback"))])  # fmt: skip
def test_every_field_has_a_label(path: str, client: Any, secrets: Tokens) -> None:
    log_in(client, secrets.operator)
    response = client.get(path)
    assert response.status_code == 200
    assert unlabelled_fields(response.text) == []


def test_state_is_told_in_text_not_colour_alone(client: Any, secrets: Tokens, db: Database) -> None:
    log_in(client, secrets.viewer)
    diversions.start(
        db,
        diversions.DivertRequest(customer="acme", reason="flood"),
        actor="op",
        now=datetime.now(UTC),
    )  # no session up: unprotected
    page = client.get("/").text
    assert "UNPROTECTED" in page
    assert "Needs attention" in page


def test_logout_ends_the_session(client: Any, secrets: Tokens) -> None:
    log_in(client, secrets.viewer)
    csrf = csrf_of(client.get("/").text)
    assert client.post("/logout", data={"csrf": csrf}).status_code == 303
    assert client.get("/").headers["location"] == "/login"


def test_logout_needs_the_form_token(client: Any, secrets: Tokens) -> None:
    log_in(client, secrets.viewer)
    assert client.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert client.get("/").status_code == 200


def test_idle_session_expires(client: Any, secrets: Tokens, db: Database) -> None:
    log_in(client, secrets.viewer)
    with db.write(bump=False) as session:
        for row in session.query(WebSessionRow):
            row.seen_at = datetime.now(UTC) - timedelta(minutes=31)
    response = client.get("/")
    assert response.headers["location"] == "/login?why=ended"


def test_revoking_the_token_ends_its_sessions(client: Any, secrets: Tokens, db: Database) -> None:
    log_in(client, secrets.viewer)
    tokens.revoke(db, "viewer", reason="left", actor="admin", now=datetime.now(UTC))
    assert client.get("/").headers["location"] == "/login?why=ended"


def test_the_database_keeps_no_session_cookie(client: Any, secrets: Tokens, db: Database) -> None:
    response = client.post("/login", data={"token": secrets.viewer})
    value = response.cookies["scrubctl_session"]
    with db.read() as session:
        stored = [r.id_sha256 for r in session.query(WebSessionRow)]
    assert value not in stored
    assert len(stored) == 1


# --- a customer-scoped viewer -------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_scoped_viewer_pages_name_no_other_customer(path: str, client: Any, secrets: Tokens,
                                                     db: Database) -> None:  # fmt: skip
    sessions_up(db)  # pharmanet (always-on) is announced: it would show
    log_in(client, secrets.acme)
    response = client.get(path)
    assert response.status_code == 200
    assert [o for o in OTHERS if o in response.text] == []


def test_unscoped_viewer_does_see_the_others(client: Any, secrets: Tokens, db: Database) -> None:
    sessions_up(db)
    log_in(client, secrets.viewer)
    assert all(o in client.get("/").text for o in OTHERS)


@pytest.mark.parametrize("name", ["pharmanet", "hoster", "no-such-customer"])
def test_scoped_viewer_cannot_open_another_customer(name: str, client: Any,
                                                    secrets: Tokens) -> None:  # fmt: skip
    log_in(client, secrets.acme)
    response = client.get(f"/customers/{name}")
    assert response.status_code == 403
    assert name not in response.text


@pytest.mark.parametrize("path", ["/actions/drain?site=fra", "/actions/divert-start"])
def test_viewers_have_no_actions(path: str, client: Any, secrets: Tokens) -> None:
    log_in(client, secrets.viewer)
    assert client.get(path).status_code == 403


# --- the return paths' loss/RTT history ------------------------------------------


def write_history(db: Database, customer: str, site: str, rtts: list[float]) -> None:
    """One sample a minute ending now, the way the site's loop writes them."""
    now = datetime.now(UTC)
    for i, rtt in enumerate(rtts):
        sample = observed.PathSample(customer, Health.UP, 0.1 * i, rtt)
        at = now - timedelta(minutes=len(rtts) - 1 - i)
        observed.record_path_health(db, site, [], at, samples=[sample])


def test_customer_page_plots_each_paths_loss_and_rtt_from_the_store(
    client: Any, secrets: Tokens, db: Database
) -> None:
    write_history(db, "acme", "fra", [4.25, 6.5, 9.75])
    write_history(db, "acme", "ams", [31.5])
    log_in(client, secrets.acme)
    page = client.get("/customers/acme").text
    assert "no history" not in page
    assert 'aria-label="RTT of the return path at fra: 3 values, at most 9.75 ms"' in page
    assert 'aria-label="Loss of the return path at fra: 3 values, at most 20 %"' in page
    assert page.count(" ms at ") == 4  # every RTT point has its value and time as text
    assert all(f"{v:g} ms at " in page for v in (4.25, 6.5, 9.75, 31.5))
    assert "4.2 / 6.5 / 9.8 ms" in page  # the summary row: lowest, median, highest
    assert 'aria-label="RTT of the return path at ams: 1 values, at most 31.5 ms"' in page


def test_customer_page_without_history_says_so(client: Any, secrets: Tokens) -> None:
    log_in(client, secrets.acme)
    page = client.get("/customers/acme").text
    assert "No RTT figures from fra in the last 24 hours." in page
    assert "<polyline" not in page.split('id="path-history-h"')[1].split("ttm-h")[0]


def test_samples_older_than_a_day_are_not_plotted(
    client: Any, secrets: Tokens, db: Database
) -> None:
    old = datetime.now(UTC) - timedelta(hours=25)
    sample = observed.PathSample("acme", Health.UP, 0.0, 77.25)
    observed.record_path_health(db, "fra", [], old, samples=[sample])
    log_in(client, secrets.acme)
    assert "77.25" not in client.get("/customers/acme").text


@pytest.mark.parametrize("path", ["/customers/pharmanet", "/customers/acme", "/", "/sites"])
def test_scoped_viewer_sees_no_other_customers_path_history(
    path: str, client: Any, secrets: Tokens, db: Database
) -> None:
    write_history(db, "pharmanet", "fra", [88.25])
    log_in(client, secrets.acme)
    response = client.get(path)
    assert "88.25" not in response.text
    assert response.status_code == (403 if "pharmanet" in path else 200)


def test_unscoped_viewer_does_see_another_customers_path_history(
    client: Any, secrets: Tokens, db: Database
) -> None:
    write_history(db, "pharmanet", "fra", [88.25])
    log_in(client, secrets.viewer)
    assert "88.25 ms at " in client.get("/customers/pharmanet").text
