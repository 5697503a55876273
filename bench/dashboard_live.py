"""How soon an open dashboard shows a change, in a real browser.

    .venv/bin/python bench/dashboard_live.py [--runs 20]

The issue's bound: a state change visible within 1 s, without reloading. The
dashboard's application runs on uvicorn in this process against a fresh SQLite
database holding ``bench/inventory.yml`` with the bench site's session up; Debian's
chromium (headless, through chromium-driver) is logged in with an operator token
and shows the overview. Per run: ``POST /api/v1/detections`` (ban) for an address
of customer ``ttd``; the clock starts when the answer is back (the change is
committed) and stops when the overview's row for ``ttd`` says ``protected``
(read from the page every 10 ms); then ``unban`` and the same until ``idle``. The
page must not have been reloaded (a flag set in the page survives). No lab, no
agent: this measures the dashboard's path alone (the pulse poller, the stream,
the page fetching its live parts again).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/ modules
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the orchestrator package

import benchlab
from benchlab import Stats, ms, table

from orchestrator.inventory import load_inventory
from orchestrator.service import inventory, observed, tokens
from orchestrator.store.db import Database
from orchestrator.testing.browser import browser, served

INVENTORY = Path(__file__).with_name("inventory.yml")
CUSTOMER, ADDRESS = "ttd", "198.18.0.10"
BOUND_S = 1.0


def _state(driver: WebDriver) -> str:
    return str(driver.execute_script(
        "const e = document.getElementById('customer-' + arguments[0]);"
        "return e ? e.dataset.state : '';", CUSTOMER))  # fmt: skip


def _until(driver: WebDriver, state: str) -> float:
    WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: _state(d) == state)
    return time.monotonic()


def _detection(url: str, secret: str, action: str) -> float:
    answer = httpx.post(url + "/api/v1/detections", json={
        "address": ADDRESS, "direction": "incoming", "action": action,
        "detector": "bench", "pps": 1000}, headers={"Authorization": f"Bearer {secret}"},
        timeout=30)  # fmt: skip
    if answer.status_code not in (200, 201):
        raise SystemExit(f"bench: {action} answered {answer.status_code}: {answer.text}")
    return time.monotonic()


def run(runs: int, workdir: Path) -> str:
    db = Database(f"sqlite:///{workdir / 'live.db'}")
    db.ensure_schema()
    now = datetime.now(UTC)
    inventory.apply(db, load_inventory(INVENTORY), actor="bench", now=now, dry_run=False,
                    source="bench")  # fmt: skip
    observed.record_session(db, "site", "transit", "up", "", now)
    secret = tokens.create(db, "bench", tokens.Role.OPERATOR, expires=None, actor="bench",
                           now=now).secret  # fmt: skip
    shown: dict[str, list[float]] = {"protected": [], "idle": []}
    try:
        with served(db) as url, browser() as driver:
            driver.get(url + "/login")
            driver.find_element(By.ID, "token").send_keys(secret, Keys.ENTER)
            WebDriverWait(driver, 30).until(lambda d: d.current_url == url + "/")
            WebDriverWait(driver, 30).until(lambda d: d.find_element(
                By.ID, "live-state").text.startswith("live"))  # fmt: skip
            if _state(driver) != "idle":
                raise SystemExit(f"bench: {CUSTOMER} is {_state(driver)!r} before the first run")
            driver.execute_script("window.notReloaded = true")
            for i in range(runs):
                for action, state in (("ban", "protected"), ("unban", "idle")):
                    committed = _detection(url, secret, action)
                    shown[state].append(_until(driver, state) - committed)
                print(f"  run {i + 1:2d}: protected after {ms(shown['protected'][-1])} ms, "
                      f"idle after {ms(shown['idle'][-1])} ms", flush=True)  # fmt: skip
                time.sleep(0.3)
            if driver.execute_script("return window.notReloaded") is not True:
                raise SystemExit("bench: the page was reloaded")
    finally:
        db.dispose()
    rows = [(f"commit -> overview shows {state}", *(ms(v) for v in _three(values)))
            for state, values in shown.items()]  # fmt: skip
    worst = max(max(values) for values in shown.values())
    verdict = "met" if worst < BOUND_S else "NOT met"
    return "\n".join([
        f"Dashboard: a change on an open overview, {runs} runs each way (ms)",
        table(("figure", "median", "min", "max"), rows),
        f"target: every change visible within {BOUND_S:g} s: {verdict} (worst {ms(worst)} ms)",
    ])  # fmt: skip


def _three(values: list[float]) -> tuple[float, float, float]:
    stats = Stats(tuple(values))
    return stats.median, stats.min, stats.max


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/dashboard_live.py",
                                description=__doc__.split("\n\n")[0])  # fmt: skip
    p.add_argument("--runs", type=int, default=20, help="runs each way (default 20)")
    args = p.parse_args(argv)
    print(f"command: {shlex.join([sys.executable, *sys.argv])}")
    print(f"machine: {benchlab.machine_note()}")
    with tempfile.TemporaryDirectory(prefix="scrubctl-live-") as workdir:
        text = run(args.runs, Path(workdir))
    print(f"machine after: {benchlab.machine_note()}")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
