"""Every dashboard page in a real browser: Debian's chromium driven by Playwright (used by the browser
test in tests/plantwatch/test_up.py and by bench.dashboard).

`chromium()` finds the browser, installing Debian's package when the tests run as root with apt
(the test setup of a fresh machine); `visit_pages` opens each page as a plant engineer would, waits
until Streamlit has finished running it, measures how long that took, collects any error the page
shows, and saves a screenshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = ("fleet", "machine", "alerts", "quality", "models", "jobs")
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"], [role="dialog"]'
BUSY = '[data-testid="stStatusWidget"], [data-testid="stSpinner"]'  # "Running…", st.spinner
QUIET_S = 1.0  # a page is loaded once nothing has been busy this long
PAGE_TIMEOUT_S = 120.0


@dataclass
class PageVisit:
    name: str
    load_s: float
    errors: list[str]
    screenshot: Path


def chromium() -> str | None:
    """The chromium executable; installs Debian's package first where that is possible."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "chromium"],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            capture_output=True,
            timeout=900,
            check=False,
        )
        found = shutil.which("chromium")
    return found


def visit_pages(base_url: str, executable: str, out_dir: Path) -> list[PageVisit]:
    """Each page in turn, the first opened by its URL, the others through the sidebar; each timed
    until it shows its own title and nothing has been busy for QUIET_S (the "Running…" widget can
    appear after the title, so waiting for it to go stops the clock too early)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    visits = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})  # a laptop screen
        for name in PAGES:
            started = time.monotonic()
            if name == PAGES[0]:  # the default page, at the root: loads the app itself
                page.goto(base_url)
            else:  # then from page to page as an engineer does, through the sidebar (no reload)
                page.click(f'a[data-testid="stSidebarNavLink"][href$="/{name}"]')
            busy_until = time.monotonic()
            while time.monotonic() - busy_until < QUIET_S:
                if time.monotonic() - started > PAGE_TIMEOUT_S:
                    raise RuntimeError(f"page {name} still runs after {PAGE_TIMEOUT_S} s")
                title = page.query_selector("h1")
                if title is None or title.inner_text().strip() != name.title() or page.query_selector(BUSY):
                    busy_until = time.monotonic()
                time.sleep(0.05)
            errors = [element.inner_text() for element in page.query_selector_all(ERRORS)]
            shot = out_dir / f"{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            visits.append(PageVisit(name, round(busy_until - started, 2), errors, shot))
        browser.close()
    return visits
