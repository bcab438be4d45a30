"""The dashboards in a real chromium (portal/static/js/charts.js, the vendored Chart.js): as the
CFA's administrator, a training manager, a gestionnaire and an apprentice, at 1366 × 900 and
390 × 844, every chart is drawn (its canvas has coloured pixels), a click on a bar opens the
list it counts, nothing overflows the window, no console error and no CSP violation; axe-core
finds no critical or serious violation; full-page screenshots are saved."""
from __future__ import annotations

import pytest

from tests.support import axe
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_browser_csp import Watched

pytestmark = pytest.mark.browser

VIEWPORTS = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}
# Account, the charts its dashboard draws.
ACCOUNTS = {
    "admin@sillon.demo": ("chart-actors", "chart-states", "chart-deadlines"),
    "resp.info@sillon.demo": ("chart-promotions", "chart-states", "chart-deadlines"),
    "gest.info@sillon.demo": ("chart-promotions", "chart-states", "chart-deadlines"),
    "alice@etu.sillon.demo": (),
}
# How many pixels of a canvas are drawn (alpha > 0): 0 for a canvas Chart.js never drew on.
DRAWN_PIXELS = """canvas => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] > 0) { n += 1; } }
  return n;
}"""


def _console_error(errors, message):
    """Chromium's console errors, but the favicon it asks for by itself: Sillon has none
    (every page gets that 404, nothing the dashboards load)."""
    url = message.location.get("url") or ""
    if message.type == "error" and not url.endswith("/favicon.ico"):
        errors.append(f"{message.text} ({url})")


@pytest.fixture()
def visitor(browser):
    made = []

    def _open(viewport):
        context = browser.new_context(locale="fr-FR", viewport=viewport)
        context.set_default_timeout(15_000)
        watched = Watched(context)
        watched.errors = []
        watched.page.on("console", lambda m: _console_error(watched.errors, m))
        watched.page.on("pageerror", lambda e: watched.errors.append(str(e)))
        made.append(context)
        return watched
    yield _open
    for context in made:
        context.close()


@pytest.mark.parametrize("size", VIEWPORTS)
@pytest.mark.parametrize("account,charts", ACCOUNTS.items())
def test_dashboard_charts_render_under_the_csp(app, live_server, screenshots_dir, visitor,
                                              account, charts, size):
    clear_throttle(app, f"login:email:{account}")
    watched = visitor(VIEWPORTS[size])
    page = watched.page
    browser_login(page, live_server, account)
    watched.go(live_server, "/admin/")
    assert sorted(page.eval_on_selector_all("figure.sillon-chart", "fs => fs.map(f => f.id)")) \
        == sorted(charts)
    for chart_id in charts:
        canvas = page.locator(f"#{chart_id} canvas")
        canvas.wait_for()
        page.wait_for_function("c => c.getAttribute('data-rendered') !== null",
                               arg=canvas.element_handle())
        assert canvas.get_attribute("data-rendered") == "1", chart_id
        assert canvas.evaluate(DRAWN_PIXELS) > 500, f"{chart_id} is blank"
        box = canvas.bounding_box()
        assert box["width"] > 100 and box["height"] > 100, (chart_id, box)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"
    if account == "alice@etu.sillon.demo":
        assert page.locator("article.dossier-card").count() == 1
        assert page.locator("article.dossier-card .dossier-next a").is_visible()
    name = account.split("@")[0].replace(".", "-")
    page.screenshot(path=str(screenshots_dir / f"dashboard-{name}-{size}.png"), full_page=True)
    axe.start(page)
    violations = axe.results(page)
    assert violations == [], violations
    watched.assert_no_violation()
    assert watched.errors == [], watched.errors


def test_a_click_on_a_bar_opens_the_list_it_counts(app, live_server, visitor):
    account = "admin@sillon.demo"
    clear_throttle(app, f"login:email:{account}")
    watched = visitor(VIEWPORTS["1366"])
    page = watched.page
    browser_login(page, live_server, account)
    watched.go(live_server, "/admin/")
    canvas = page.locator("#chart-states canvas")
    page.wait_for_function("c => c.getAttribute('data-rendered') === '1'",
                           arg=canvas.element_handle())
    # The first bar's centre, as Chart.js laid it out, and the count and link it stands for.
    bar = canvas.evaluate("""c => {
      const chart = Chart.getChart(c), el = chart.getDatasetMeta(0).data[0];
      const spec = JSON.parse(c.getAttribute('data-chart'));
      const centre = el.getCenterPoint();
      return {x: centre.x, y: centre.y, count: spec.datasets[0].data[0],
              url: spec.datasets[0].links[0]};
    }""")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()  # in the viewport's coordinates, as the mouse's
    with page.expect_navigation():
        page.mouse.click(box["x"] + bar["x"], box["y"] + bar["y"])
    assert page.url == live_server + bar["url"]
    tab = page.locator("ul.nav-tabs a.nav-link.active").first.inner_text()
    assert tab == f"Liste ({bar['count']})"
    assert watched.errors == [], watched.errors
