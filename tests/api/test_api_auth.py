"""Bearer tokens: none, unknown, expired and revoked are 401; a role too weak is 403;
either way nothing changes. Tokens are stored hashed and managed by admins."""

from __future__ import annotations

import hashlib

import pytest
from api_support import Api, error_of

DIVERT = ("POST", "/api/v1/diversions", {"customer": "acme", "reason": "flood"})

REFUSED = {
    "no_token": (None, DIVERT, 401, "no bearer token"),
    "unknown_token": ("scrubctl_not-a-token", DIVERT, 401, "unknown token"),
    "expired": ("expired", DIVERT, 401, "token 'old' has expired"),
    "revoked": ("revoked", DIVERT, 401, "token 'gone' was revoked"),
    "viewer_diverts": ("viewer", DIVERT, 403,
                       "token 'viewer' has role viewer; this needs operator"),
    "viewer_detection": ("viewer", ("POST", "/api/v1/detections", {"address": "203.0.113.10",
                         "direction": "incoming", "action": "ban", "detector": "x"}), 403,
                         "token 'viewer' has role viewer"),
    "operator_applies_inventory": ("operator", ("POST", "/api/v1/inventory", None), 403,
                                   "token 'operator' has role operator; this needs admin"),
    "operator_creates_token": ("operator", ("POST", "/api/v1/tokens", {"name": "x",
                               "role": "admin"}), 403, "this needs admin"),
    "operator_lists_tokens": ("operator", ("GET", "/api/v1/tokens", None), 403, "this needs admin"),
    "no_token_reads": (None, ("GET", "/api/v1/status", None), 401, "no bearer token"),
    "expired_reads": ("expired", ("GET", "/api/v1/status", None), 401, "has expired"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_request_changes_nothing(case: str, api: Api) -> None:
    role, (method, path, body), status, message = REFUSED[case]
    before = api.dump()
    response = api.call(method, path, role, json=body)
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["field"] == "authorization"
    assert message in error["message"]
    if status == 401:
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.dump() == before


def test_not_bearer_scheme_is_no_token(api: Api) -> None:
    response = api.get("/api/v1/status", role=None, headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
def test_every_role_reads(role: str, api: Api) -> None:
    assert api.get("/api/v1/status", role=role).status_code == 200


def test_secrets_are_stored_hashed(api: Api) -> None:
    dump = repr(api.dump())
    for secret in api.secrets.values():
        assert secret not in dump
        assert hashlib.sha256(secret.encode()).hexdigest() in dump


def test_admin_creates_uses_and_revokes_a_token(api: Api) -> None:
    created = api.post("/api/v1/tokens", {"name": "fnm", "role": "operator", "expires": "1h"},
                       role="admin")  # fmt: skip
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert created.json()["token"]["state"] == "active"
    diverted = api.post("/api/v1/diversions", {"customer": "acme", "reason": "r"}, role=secret)
    assert diverted.json()["diversion"]["requested_by"] == "fnm"
    listed = api.get("/api/v1/tokens", role="admin").json()
    assert "fnm" in [t["name"] for t in listed]
    assert "secret" not in listed[0]
    revoked = api.post("/api/v1/tokens/fnm/revoke", {"reason": "rotated"}, role="admin")
    assert revoked.json()["state"] == "revoked"
    refused = api.get("/api/v1/status", role=secret)
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        ({"name": "admin", "role": "viewer"}, 409, "name", "a token named 'admin' is in force"),
        ({"name": "x", "role": "boss"}, 422, "role", "'boss' is not a role"),
        ({"name": "a b", "role": "viewer"}, 422, "name", "'a b' is not a valid name"),
        ({"name": "agent", "role": "viewer"}, 422, "name", "'agent' is the name the site agents"),
        ({"name": "x", "role": "viewer", "expires": "400d"}, 422, "expires",
         "400d must be more than 0 and at most 365d"),
    ],
)  # fmt: skip
def test_bad_token_request_changes_nothing(
    api: Api, body: dict[str, str], status: int, field: str, message: str
) -> None:
    before = api.dump()
    response = api.post("/api/v1/tokens", body, role="admin")
    assert response.status_code == status, response.text
    assert (error_of(response)["field"], error_of(response)["message"][: len(message)]) == (
        field,
        message,
    )
    assert api.dump() == before
