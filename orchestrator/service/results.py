"""The base of every typed result a use case returns: frozen pydantic models, so
the CLI prints them as JSON (``model_dump(mode="json")``) and the HTTP API
serves them (and documents them in OpenAPI) without a second description.

Times are aware UTC datetimes; in JSON they are ISO 8601 with ``+00:00``
(``datetime.isoformat()``), the same on both faces.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer


def _iso(value: datetime) -> str:
    return value.isoformat()


Time = Annotated[datetime, PlainSerializer(_iso, return_type=str, when_used="json")]


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (dicts, lists, strings, numbers)."""
        return self.model_dump(mode="json")
