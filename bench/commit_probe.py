"""``scrubctl`` with a stopwatch on the commit: runs the CLI's own entry point after
registering a SQLAlchemy ``after_commit`` listener that appends the wall-clock time
of every session commit to the file named first on the command line.

    python bench/commit_probe.py TIMES_FILE divert start ttd --reason ...

The imports are the CLI's own (the listener needs ``sqlalchemy.orm``, which
``divert start`` imports anyway, only earlier), so launch -> commit measured this
way is the CLI's start-up plus its transaction.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    times_file, args = sys.argv[1], sys.argv[2:]
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    def committed(_session: Session) -> None:
        with open(times_file, "a") as out:
            out.write(f"{time.time():.6f}\n")

    event.listen(Session, "after_commit", committed)
    sys.argv = ["scrubctl", *args]
    from orchestrator.cli.main import main as scrubctl

    scrubctl()


if __name__ == "__main__":
    main()
