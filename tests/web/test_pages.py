"""The dashboard through the real ASGI app: a login is needed for every page, the
session cookie is HttpOnly and SameSite=Strict, sessions end (logout, idle,
revoked token), every form carries the CSRF token and every field a label, and
a customer-scoped viewer sees its customer only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web_support import OTHERS, Tokens, csrf_of, log_in, sessions_up, unlabelled_fields

from orchestrator.service import diversions, tokens
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
