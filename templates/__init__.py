"""Package data: the jinja2 templates, shipped as ``orchestrator.templates``
(see setup.py). Only the templates live here; nothing imports code from it."""
