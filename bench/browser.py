"""Every dashboard page in a real browser: Debian's chromium driven by Playwright (used by the browser
test in tests/plantwatch/test_up.py and by bench.dashboard).

`chromium()` finds the browser, installing Debian's package when the tests run as root with apt
(the test setup of a fresh machine); `visit_pages` opens each page as a plant engineer would, waits
until Streamlit has finished running it and the browser has drawn it, measures how long that took,
collects any error the page shows, and saves a screenshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright

PAGES = ("fleet", "machine", "alerts", "quality", "models", "jobs")
FLEET_AGAIN = "fleet_sidebar"  # Fleet once more at the end, through the sidebar (see visit_pages)
FLEET_NEW_TAB = "fleet_new_tab"  # and by its URL in a new tab of the browser, already running
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"], [role="dialog"]'
# The page's title, and whether anything is still on its way: the script still running (Streamlit
# marks its root `notRunning` only once the run has finished), a spinner or "Running…", elements of
# the previous run not replaced yet, an element whose code is still loading (a skeleton stands in for
# it), or a chart or table not drawn yet.
STATE = """() => {
  const all = (selector) => [...document.querySelectorAll(selector)];
  const undrawn = (selector, drawn) => all(selector).some((element) => !element.querySelector(drawn));
  const script = document.querySelector('[data-testid="stApp"]')?.getAttribute("data-test-script-state");
  const busy = script !== "notRunning"
    || all('[data-testid="stStatusWidget"], [data-testid="stSpinner"], [data-testid="stSkeleton"], '
           + '[data-stale="true"]').length > 0
    || undrawn('[data-testid="stVegaLiteChart"]', "canvas, svg")
    || undrawn('[data-testid="stPlotlyChart"]', ".main-svg")
    || undrawn('[data-testid="stDataFrame"]', "canvas");
  return {title: document.querySelector("h1")?.innerText.trim() ?? null, busy};
}"""
QUIET_S = 1.0  # a page is loaded once nothing has been busy this long
PAGE_TIMEOUT_S = 120.0


@dataclass
class PageVisit:
    name: str
    load_s: float
    errors: list[str]
    screenshot: Path


# The emoji font: the pages' health bands and icons are emoji, empty boxes without it.
PACKAGES = ("chromium", "fonts-noto-color-emoji")
EMOJI_FONT = Path("/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf")


def chromium() -> str | None:
    """The chromium executable; installs Debian's packages (chromium, an emoji font) first where that is
    possible (as root, with apt-get; the package lists are refreshed when the first try fails and the
    browser itself is missing). None, after saying why on stderr, when there is none."""
    found = shutil.which("chromium")
    if (found is None or not EMOJI_FONT.exists()) and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", *PACKAGES]
        if _apt(install) != 0 and found is None and _apt(["apt-get", "update", "-q"]) == 0:
            _apt(install)
        found = shutil.which("chromium")
    return found


def _apt(command: list[str]) -> int:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        print(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}", file=sys.stderr)
    return done.returncode


def visit_pages(
    base_url: str,
    executable: str,
    out_dir: Path,
    *,
    machine: str | None = None,
    fleet_again: bool = False,
    profile: Path | None = None,
) -> list[PageVisit]:
    """Each page in turn, the first (Fleet) opened by its URL, the others through the sidebar, timed
    from the navigation until it shows its own title and nothing has been busy for QUIET_S (what
    counts as busy: STATE). With `machine`, the Machine page shows that machine, opened from the
    Fleet page as an engineer does (chosen in "Open a machine", then its Open link); with
    `fleet_again`, a last visit (FLEET_AGAIN) comes back to Fleet through the sidebar, without the
    app's own load, and another (FLEET_NEW_TAB) opens Fleet's URL in a new tab, with the app's load
    but in a browser that has been running (the Fleet page's first visit starts it). The browser
    starts with an empty profile, or with `profile` (a folder kept between calls: what an earlier
    visit left in the browser's cache, Streamlit's scripts above all, is there again, as for an
    engineer who opened the dashboard before)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    visits = []
    with sync_playwright() as playwright, TemporaryDirectory(prefix="pw-browser-") as empty:
        browser = _launch(playwright, executable, profile or Path(empty))
        page = browser.pages[0] if browser.pages else browser.new_page()
        for name in (*PAGES, FLEET_AGAIN) if fleet_again else PAGES:
            if name == "machine" and machine is not None:
                _choose_machine(page, machine)
            started = time.monotonic()
            if name == PAGES[0]:  # the default page, at the root: loads the app itself
                page.goto(base_url)
            elif name == "machine" and machine is not None:
                page.click('[data-testid="stMain"] a[data-testid="stPageLink-NavLink"]')
            else:  # from page to page as an engineer does, through the sidebar (no reload)
                link = "" if name == FLEET_AGAIN else f'[href$="/{name}"]'
                page.locator(f'a[data-testid="stSidebarNavLink"]{link}').first.click()
            title = "Fleet" if name == FLEET_AGAIN else name.title()
            visits.append(_loaded(page, title, name, started, out_dir))
        if fleet_again:
            visits.append(_visit_url(browser.new_page(), base_url, "Fleet", FLEET_NEW_TAB, out_dir))
        browser.close()
    return visits


def visit_url(
    base_url: str, executable: str, title: str, name: str, out_dir: Path, profile: Path
) -> PageVisit:
    """One page by its URL in a browser started for it with `profile`, as visit_pages opens Fleet."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright, executable, profile)
        page = browser.pages[0] if browser.pages else browser.new_page()
        visit = _visit_url(page, base_url, title, name, out_dir)
        browser.close()
    return visit


def _launch(playwright: Playwright, executable: str, profile: Path) -> BrowserContext:
    return playwright.chromium.launch_persistent_context(
        profile,
        executable_path=executable,
        args=["--no-sandbox"],
        viewport={"width": 1366, "height": 768},  # the most common laptop screen
    )


def _visit_url(page: Page, url: str, title: str, name: str, out_dir: Path) -> PageVisit:
    started = time.monotonic()
    page.goto(url)
    return _loaded(page, title, name, started, out_dir)


def _loaded(page: Page, title: str, name: str, started: float, out_dir: Path) -> PageVisit:
    """The visit once the page has settled: its load time, the errors it shows, its screenshot."""
    load_s = _settled(page, title, started)
    errors = [element.inner_text() for element in page.query_selector_all(ERRORS)]
    shot = out_dir / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    return PageVisit(name, round(load_s, 2), errors, shot)


def _settled(page: Page, title: str, started: float) -> float:
    """Seconds from `started` to the last moment the page was not yet loaded, once it has been
    loaded for QUIET_S (the "Running…" widget can appear after the title, so waiting for it to go
    stops the clock too early)."""
    busy_until = time.monotonic()
    while time.monotonic() - busy_until < QUIET_S:
        if time.monotonic() - started > PAGE_TIMEOUT_S:
            raise RuntimeError(f"page {title} still runs after {PAGE_TIMEOUT_S} s")
        state = page.evaluate(STATE)
        if state["title"] != title or state["busy"]:
            busy_until = time.monotonic()
        page.wait_for_timeout(50)
    return busy_until - started


def _choose_machine(page: Page, path: str) -> None:
    """On the Fleet page: `path` chosen in "Open a machine" (the page reruns, not timed)."""
    page.get_by_label("Open a machine").click()
    page.keyboard.type(path)
    page.keyboard.press("Enter")
    _settled(page, "Fleet", time.monotonic())
