"""The dashboard tests' browser: the server and browser of
``orchestrator.testing.browser``, and full-page screenshots as test artifacts."""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver

from orchestrator.testing.browser import browser, served

__all__ = ["browser", "screenshot", "served"]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page (as tall as its content) as build/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(600, min(int(height) + 40, 4000)))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1280, 1000)
    return path
