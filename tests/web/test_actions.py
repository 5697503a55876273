"""Operator changes from the dashboard: the preview shows the planner's difference
and writes nothing; the confirmation commits only with the session's form token,
the unaltered previewed change, and an unchanged store; then the change's page
shows each affected site's acknowledgement."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from db_support import dump_db
from web_support import Tokens, csrf_of, fake_agent_ack, hidden_fields, log_in, sessions_up

from orchestrator.errors import DatabaseBusy
from orchestrator.service import diversions, sites, sync
from orchestrator.store.db import Database
from orchestrator.store.models import SiteAdminRow


def _preview(client: Any, **fields: str) -> Any:
    csrf = csrf_of(client.get("/").text)
    return client.post("/actions/preview", data={"csrf": csrf, **fields})


@pytest.fixture
def operator(client: Any, secrets: Tokens, db: Database) -> Any:
    sessions_up(db)
    log_in(client, secrets.operator)
    return client


def test_drain_preview_shows_a_customer_left_unprotected(operator: Any, db: Database) -> None:
    """fra is acme's only site with an IPv6 session: after the drain time acme's /48
    would be announced nowhere, which the drain itself refuses without force."""
    diversions.start(db, diversions.DivertRequest(customer="acme", reason="flood"),
                     actor="op", now=datetime.now(UTC))  # fmt: skip
    response = _preview(operator, kind="drain", site="fra", reason="maintenance")
    assert "UNPROTECTED</span> (after the drain time)" in response.text


def test_drain_preview_shows_the_difference_and_writes_nothing(operator: Any,
                                                                db: Database) -> None:  # fmt: skip
    diversions.start(db, diversions.DivertRequest(customer="acme", reason="flood"),
                     actor="op", now=datetime.now(UTC))  # fmt: skip
    before = dump_db(db.url)
    response = _preview(operator, kind="drain", site="fra", reason="maintenance")
    assert response.status_code == 200, response.text
    assert "203.0.113.0/24" in response.text
    assert "65535:0" in response.text  # GRACEFUL_SHUTDOWN from the draining site
    assert dump_db(db.url) == before


def test_confirm_commits_and_shows_the_acknowledgements(operator: Any, db: Database) -> None:
    diversions.start(db, diversions.DivertRequest(customer="acme", reason="flood"),
                     actor="op", now=datetime.now(UTC))  # fmt: skip
    fields = hidden_fields(_preview(operator, kind="drain", site="ams", reason="maint").text)
    done = operator.post("/actions/confirm", data=fields)
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/changes/")
    assert "site=ams" in done.headers["location"]
    assert "waiting" in operator.get(done.headers["location"]).text
    fake_agent_ack(db, "ams")
    assert "acknowledged" in operator.get(done.headers["location"]).text
    events = [(e.action, e.actor, e.reason) for e in _events(db)]
    assert events[-1] == ("site.drain", "operator", "maint")


def _events(db: Database) -> list[Any]:
    from orchestrator.service.status import events

    return events(db, since=None, limit=1000)


def test_confirm_is_refused_when_the_store_changed(operator: Any, db: Database) -> None:
    fields = hidden_fields(_preview(operator, kind="drain", site="fra", reason="maint").text)
    diversions.start(db, diversions.DivertRequest(customer="acme", reason="flood"),
                     actor="other", now=datetime.now(UTC))  # fmt: skip
    before = dump_db(db.url)
    response = operator.post("/actions/confirm", data=fields)
    assert response.status_code == 200
    assert "The state changed since the preview; nothing was done" in response.text
    assert dump_db(db.url) == before


def test_a_change_slipped_in_after_the_early_reads_is_refused(
    operator: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another change committed after the confirmation started (here: while it reads
    the plan before the change, the window of a check made before the use case's own
    transaction) is caught by the check inside that transaction: nothing committed."""
    fields = hidden_fields(_preview(operator, kind="drain", site="ams", reason="maint").text)
    real = sync.planned_routes
    slipped: list[int] = []

    def slip_a_change_in(database: Database, now: datetime) -> Any:
        if not slipped:
            diversions.start(database, diversions.DivertRequest(customer="acme", reason="flood"),
                             actor="other", now=now)  # fmt: skip
            slipped.append(database.generation())
        return real(database, now)

    monkeypatch.setattr(sync, "planned_routes", slip_a_change_in)
    response = operator.post("/actions/confirm", data=fields)
    assert slipped, "the confirmation never reached the window"
    assert response.status_code == 200
    assert "The state changed since the preview; nothing was done" in response.text
    with db.read() as session:
        assert session.get(SiteAdminRow, "ams") is None  # the drain was not committed
    assert [e.action for e in _events(db)][-1] == "divert.start"
    assert db.generation() == slipped[0]


def test_no_change_can_come_between_the_check_and_the_commit(
    operator: Any, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From inside the drain's transaction, after its check, another writer cannot
    commit: it waits for the lock (here: gives up), and the drain commits alone."""
    fields = hidden_fields(_preview(operator, kind="drain", site="ams", reason="maint").text)
    monkeypatch.setenv("SCRUBCTL_BUSY_TIMEOUT", "0.3")
    other = Database(db.url)
    real = sites.record_event
    intruder: list[str] = []

    def write_from_elsewhere(session: Any, **event: Any) -> Any:
        try:
            diversions.start(other, diversions.DivertRequest(customer="acme", reason="flood"),
                             actor="other", now=datetime.now(UTC))  # fmt: skip
            intruder.append("committed")
        except DatabaseBusy:
            intruder.append("busy")
        return real(session, **event)

    monkeypatch.setattr(sites, "record_event", write_from_elsewhere)
    done = operator.post("/actions/confirm", data=fields)
    other.dispose()
    assert intruder == ["busy"]
    assert done.status_code == 303, done.text
    assert diversions.list_(db, include_stopped=True) == []
    assert [e.action for e in _events(db)][-1] == "site.drain"


ALTERED = [("site", "ams"), ("force", "1"), ("reason", "other"), ("generation", "999")]


@pytest.mark.parametrize(("field", "value"), ALTERED)
def test_confirm_of_an_altered_change_is_refused(field: str, value: str, operator: Any,
                                                 db: Database) -> None:  # fmt: skip
    fields = hidden_fields(_preview(operator, kind="drain", site="fra", reason="maint").text)
    before = dump_db(db.url)
    response = operator.post("/actions/confirm", data={**fields, field: value})
    assert response.status_code == 422
    assert "the confirmation does not match the previewed change" in response.text
    assert dump_db(db.url) == before


@pytest.mark.parametrize("path", ["/actions/preview", "/actions/confirm"])
def test_posts_without_the_form_token_are_refused(path: str, operator: Any, db: Database) -> None:
    fields = hidden_fields(_preview(operator, kind="drain", site="fra", reason="maint").text)
    before = dump_db(db.url)
    response = operator.post(path, data={**fields, "csrf": "forged"})
    assert response.status_code == 403
    assert dump_db(db.url) == before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "drain", "site": "fra", "reason": ""}, "reason: must not be empty"),
        ({"kind": "drain", "site": "lon", "reason": "r"}, "site: unknown site &#39;lon&#39;"),
        ({"kind": "divert-start", "customer": "acme", "prefixes": "10.0.0.0/8", "reason": "r"},
         "prefixes[0]: 10.0.0.0/8 is not inside acme"),
        ({"kind": "rtbh-add", "host": "203.0.113.7", "expires": "40d", "reason": "r"},
         "expires: 40d must be more than 0 and at most 30d"),
        ({"kind": "failback", "customer": "acme", "reason": "r"}, "acme has no active move"),
    ],
)  # fmt: skip
def test_bad_change_is_shown_on_its_form(fields: dict[str, str], message: str, operator: Any,
                                         db: Database) -> None:  # fmt: skip
    before = dump_db(db.url)
    response = _preview(operator, **fields)
    assert response.status_code == 422
    assert message in response.text
    assert dump_db(db.url) == before


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "divert-start", "customer": "acme", "reason": "flood"}, "announce"),
        ({"kind": "rtbh-add", "host": "203.0.113.7", "expires": "1h", "force": "1",
          "reason": "flood"}, "203.0.113.7/32"),
        ({"kind": "failover", "customer": "pharmanet", "site": "fra", "reason": "r",
          "force": "1"}, "withdraw"),
    ],
)  # fmt: skip
def test_each_change_previews_then_commits(fields: dict[str, str], expected: str, operator: Any,
                                           db: Database) -> None:  # fmt: skip
    shown = _preview(operator, **fields)
    assert shown.status_code == 200, shown.text
    assert expected in shown.text
    generation = db.generation()
    done = operator.post("/actions/confirm", data=hidden_fields(shown.text))
    assert done.status_code == 303, done.text
    assert db.generation() == generation + 1
