"""Accessibility in a real chromium: axe-core on every page a person reaches.

For each demo role (the CFA's administrator, an advisor, a training manager, a gestionnaire, an
employer's référent, an apprentice) at 1366 × 900 and at 390 × 844: every page of their navbar
(dropdown entries included), every tab of a dossier of theirs, and the login page carry no
axe-core violation of impact critical or serious, nor any of its landmark rules
(tests/support/axe.py; the real Content-Security-Policy stays on); each says lang="fr" and has
one <main> and labelled <nav>s. At 1366 px the navbar holds on one line. A screenshot of each
page and width, and each role's findings, go to test-artifacts/browser/a11y/.
"""
from __future__ import annotations

import re

import pytest

from tests.support import axe
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, scope_ids, screenshots_dir)

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
ROLES = {
    "admin@sillon.demo": "administrateur du CFA",
    "conseil@sillon.demo": "conseiller",
    "resp.info@sillon.demo": "responsable de formation",
    "gest.info@sillon.demo": "gestionnaire",
    "rh@acme.sillon.demo": "référent employeur",
    "alice@etu.sillon.demo": "apprentie",
}
# What every page declares, checked beside axe-core (which wants a lang, not this one).
PAGE_SHAPE = """() => ({lang: document.documentElement.lang,
  main: document.querySelectorAll('main').length,
  navLabelled: Array.from(document.querySelectorAll('nav'))
    .every(n => n.getAttribute('aria-label'))})"""
EXPECTED_SHAPE = {"lang": "fr", "main": 1, "navLabelled": True}
NAVBAR_LINKS = """els => els.map(e => e.getAttribute('href'))
    .filter(h => h && h !== '#' && !h.startsWith('javascript:'))"""
# The navbar's top-level entries (menu items, dropdown toggles, the account and the logout
# button): their boxes, to tell whether they sit on one line.
NAVBAR_BOXES = """() => {
  const nav = document.querySelector('nav.navbar');
  const items = Array.from(nav.querySelectorAll('.navbar-collapse > ul > li'))
    .filter(e => e.offsetParent !== null)
    .map(e => { const r = e.getBoundingClientRect();
                const text = e.textContent.trim().replace(/\\s+/g, ' ');
                return [r.top, r.bottom, text.slice(0, 30)]; });
  const r = nav.getBoundingClientRect();
  return {nav: [r.top, r.bottom], items: items};
}"""


@pytest.fixture()
def context(browser):
    context = browser.new_context(locale="fr-FR", viewport=DESKTOP)
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "racine"


class Audit:
    """Visits pages and runs axe-core on each, keeping what it found page by page.

    Two tabs take turns: while axe-core runs in one tab's renderer, the next page is requested
    and rendered by the server for the other (the run is collected before that tab moves on)."""

    LANES = 2

    def __init__(self, context, base, shots, who):
        self.base, self.shots, self.who = base, shots, who
        self.lanes = [context.new_page() for _ in range(self.LANES)]
        self.running: list[tuple[object, str]] = []  # (page, where) whose axe run is pending
        self.problems: list[str] = []
        self.visited = 0

    def check(self, path: str, label: str, viewport: dict):
        page = self._free_lane()
        if page.viewport_size != viewport:
            page.set_viewport_size(viewport)
        response = page.goto(self.base + path)
        assert response is not None and response.status == 200, (
            self.who, path, response and response.status, page.content()[-2000:])
        width = viewport["width"]
        page.screenshot(path=str(self.shots / f"{self.who}-{width}-{_slug(label)}.png"))
        where = f"{self.who} at {width} px: {label} ({path})"
        shape = page.evaluate(PAGE_SHAPE)
        if shape != EXPECTED_SHAPE:
            self.problems.append(f"{where}\n  lang and landmarks: {shape},"
                                 f" expected {EXPECTED_SHAPE}")
        axe.start(page)
        self.running.append((page, where))
        self.visited += 1

    def _free_lane(self):
        busy = [page for page, _ in self.running]
        free = [page for page in self.lanes if page not in busy]
        if free:
            return free[0]
        return self._collect_oldest()

    def _collect_oldest(self):
        page, where = self.running.pop(0)
        found = axe.results(page)
        if found:
            self.problems.append(axe.describe(where, found))
        return page

    def finish(self):
        while self.running:
            self._collect_oldest()


def _navbar_paths(page, base) -> list[str]:
    hrefs = page.locator("nav.navbar a[href]").evaluate_all(NAVBAR_LINKS)
    paths = []
    for href in hrefs:
        path = href[len(base):] if href.startswith(base) else href
        if path == "/admin":  # the brand: the same page as « Accueil »
            path = "/admin/"
        if path.startswith("/") and path not in paths:
            paths.append(path)
    return paths


def navbar_wraps(page) -> str | None:
    """None when the navbar's entries sit on one line: every entry starts at the same height
    and none is taller than one line of entry (no label broken in two); else what is wrong."""
    boxes = page.evaluate(NAVBAR_BOXES)
    items = boxes["items"]
    if len(items) < 3:
        return f"only {len(items)} navbar entries visible: {items}"
    line = min(bottom - top for top, bottom, _ in items)
    first = min(top for top, _, _ in items)
    off_line = [text for top, _, text in items if top - first > line / 2]
    broken = [text for top, bottom, text in items if bottom - top > 1.5 * line]
    if off_line or broken:
        height = boxes["nav"][1] - boxes["nav"][0]
        return (f"the navbar wraps at {page.viewport_size['width']} px ({height:.0f} px high, a"
                f" line is {line:.0f} px): on a further line {off_line}, on two lines {broken}")
    return None


@pytest.mark.parametrize("email", list(ROLES))
def test_no_serious_violation_on_any_page_of_the_role(app, live_server, context, screenshots_dir,
                                                      email):
    shots = screenshots_dir / "a11y"
    shots.mkdir(exist_ok=True)
    who = email.split("@")[0]
    audit = Audit(context, live_server, shots, who)
    page = audit.lanes[0]

    for viewport in (DESKTOP, PHONE):
        audit.check("/login", "connexion", viewport)
    audit.finish()
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    assert "/login" not in page.url, f"login failed for {email} ({ROLES[email]})"

    page.set_viewport_size(DESKTOP)
    page.goto(live_server + "/admin/")
    page.screenshot(path=str(shots / f"{who}-1366-navbar.png"))
    wrapped = navbar_wraps(page)
    if wrapped:
        audit.problems.append(f"{who}: {wrapped}")
    paths = _navbar_paths(page, live_server)
    assert "/admin/" in paths, (who, paths)

    dossiers, _ = scope_ids(app, email)
    assert dossiers, f"{who} has no dossier to look at"
    page.goto(f"{live_server}/admin/dossier/{dossiers[0]}/base/")
    tabs = page.locator("ul.sillon-tabs a").evaluate_all(
        "els => els.map(e => [e.getAttribute('href'), e.textContent.trim()])")
    assert len(tabs) >= 4, (who, tabs)

    for viewport in (DESKTOP, PHONE):
        for path in paths:
            audit.check(path, path, viewport)
        for href, label in tabs:
            audit.check(href, f"dossier {dossiers[0]} {label.split()[0]}", viewport)
    audit.finish()

    report = "\n\n".join(audit.problems)
    (shots / f"{who}-violations.txt").write_text(report or "aucune\n", encoding="utf-8")
    print(f"{who}: {audit.visited} pages checked by axe-core {axe.inject(page)}")
    if audit.problems:
        pytest.fail(f"{len(audit.problems)} problems for {who}:\n\n{report}", pytrace=False)
