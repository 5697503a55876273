"""``python -m orchestrator`` is ``scrubctl``."""

from orchestrator.cli.main import main

main()
