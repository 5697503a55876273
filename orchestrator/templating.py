"""The jinja2 environments every renderer uses (ExaBGP, packet filters, customer
edges; the dashboard's HTML, escaped): templates come from the package data
``orchestrator.templates`` (the repository's top-level ``templates/`` folder,
shipped into the wheel), so an installed scrubctl renders exactly what a checkout
does. Templates only render:
``StrictUndefined`` turns a value the code forgot to pass into an error."""

from __future__ import annotations

from functools import cache

import jinja2


def _environment(*, html: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("orchestrator.templates", "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=not html,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=html,
    )


@cache
def environment() -> jinja2.Environment:
    return _environment(html=False)


def render(name: str, **values: object) -> str:
    return environment().get_template(name).render(**values)


@cache
def html_environment() -> jinja2.Environment:
    """The dashboard's pages (``web/*.html.j2``): the same package data, with every
    value HTML-escaped (names, reasons and targets are user text)."""
    return _environment(html=True)
