"""Jinja2 for the customer-edge templates (``templates/customer-edge/<vendor>/``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render(vendor: str, template: str, **context: Any) -> str:
    return _environment().get_template(f"customer-edge/{vendor}/{template}").render(**context)
