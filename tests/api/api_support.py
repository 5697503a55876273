"""Calling the API as a given role, and reading the database behind it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from db_support import dump_db

from orchestrator.store.db import Database


@dataclass
class Api:
    client: Any  # fastapi.testclient.TestClient
    secrets: dict[str, str]
    db: Database

    def call(self, method: str, path: str, role: str | None = "admin", **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {self.secrets.get(role, role)}"
        response: httpx.Response = self.client.request(method, path, headers=headers, **kw)
        return response

    def get(self, path: str, role: str | None = "viewer", **kw: Any) -> httpx.Response:
        return self.call("GET", path, role, **kw)

    def post(self, path: str, body: Any = None, role: str | None = "operator",
             **kw: Any) -> httpx.Response:  # fmt: skip
        if body is not None:
            kw["json"] = body
        return self.call("POST", path, role, **kw)

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        return dump_db(self.db.url)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body["error"]) == {"code", "field", "message", "hint", "text", "template"}, body
    return body["error"]  # type: ignore[no-any-return]
