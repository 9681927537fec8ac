"""Debian's Chromium driven by Playwright for Python, for the console's browser tests.

Playwright is pointed at the system browser (`playwright install` downloads its own
build, which this project never does). Every page opened records its JavaScript errors
(console errors and uncaught exceptions) so a test can assert there were none.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from harness.config import REPO_ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """Debian's chromium (CHROMIUM_PATH overrides), or None when none is installed."""
    wanted = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if Path(wanted).is_file():
        return wanted
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshots_dir() -> Path:
    """Where screenshots go: $CONSOLE_SCREENSHOTS, else .ci-logs/console (git ignores it; CI
    keeps it as an artefact)."""
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or REPO_ROOT / ".ci-logs" / "console")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class PageErrors(list):
    """JavaScript errors of every page of a browser context, as text."""

    def watch(self, page) -> None:
        page.on(
            "console",
            lambda msg: self.append(f"console: {msg.text}") if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.append(f"pageerror: {exc}"))


# Records, in the page, when each execution's row first shows a finished status (Date.now(),
# ms). Playwright's own waiting polls with back-off (up to 500 ms), too coarse to time "live".
_WATCH_ROWS = """() => {
  window.rowSeen = {};
  const note = () => document.querySelectorAll("#rows tr").forEach((tr) => {
    const name = tr.querySelector("a") && tr.querySelector("a").textContent;
    const done = tr.querySelector(".badge:not(.RUNNING)");
    if (name && done && !(name in window.rowSeen)) window.rowSeen[name] = Date.now();
  });
  note();
  new MutationObserver(note).observe(document.querySelector("#rows"), {childList: true, subtree: true});
}"""


def watch_rows(page) -> None:
    page.evaluate(_WATCH_ROWS)


def seconds_until_shown(page, name: str, finished_at: float, timeout_ms: float = 10000) -> float:
    """Seconds from `finished_at` (time.time()) until the page showed `name` finished."""
    page.wait_for_function(f"() => {name!r} in window.rowSeen", timeout=timeout_ms)
    return page.evaluate(f"window.rowSeen[{name!r}]") / 1000 - finished_at
