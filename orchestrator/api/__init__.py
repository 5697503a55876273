"""The resident HTTP service (``scrubctl serve``): a JSON API over the same use
cases as the CLI, for detectors, scripts and dashboards. Imported only by
``serve`` (FastAPI and uvicorn cost start-up time no other command should pay)."""
