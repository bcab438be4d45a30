"""The dossier list in a real chromium at 390 × 844 (a phone) and 1366 × 900 (issue 15 §3): the
page never scrolls sideways, the table scrolls inside its own box, the list uses the window's
width, the apprentice's name stays in view while the table scrolls, and a filter chosen from
the menu (« Qui doit agir ») and a search work as a person would use them. Screenshots go to
test-artifacts/browser/dossier-list-<role>-<width>.png."""
from __future__ import annotations

import pytest

from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                browser_page, clear_throttle, live_server, screenshots_dir)

pytestmark = pytest.mark.browser

ROLES = {"cfa_admin": "admin@sillon.demo", "employer": "rh@acme.sillon.demo",
         "apprentice": "alice@etu.sillon.demo"}
SIZES = [(390, 844), (1366, 900)]
MEASURE = """() => {
  const box = document.querySelector('.table-responsive');
  const table = box.querySelector('table.model-list');
  return {page: document.documentElement.scrollWidth, inner: window.innerWidth,
          box: box.clientWidth, boxScroll: box.scrollWidth, table: table.scrollWidth,
          container: box.closest('.container, .container-fluid').clientWidth};
}"""


@pytest.fixture()
def sized_page(browser):
    pages = []

    def make(width, height):
        context = browser.new_context(locale="fr-FR", viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        pages.append(context)
        return context.new_page()
    yield make
    for context in pages:
        context.close()


@pytest.mark.parametrize("width,height", SIZES)
@pytest.mark.parametrize("role", list(ROLES))
def test_the_list_fits_the_window(app, live_server, sized_page, screenshots_dir, role, width,
                                  height):
    email = ROLES[role]
    page = sized_page(width, height)
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    response = page.goto(f"{live_server}/admin/dossier/?page_size=50")
    assert response is not None and response.status == 200
    page.wait_for_selector("table.model-list td.col-id")
    size = page.evaluate(MEASURE)
    page.screenshot(path=str(screenshots_dir / f"dossier-list-{role}-{width}.png"),
                    full_page=True)
    assert size["page"] <= size["inner"], f"the page scrolls sideways: {size}"
    assert size["container"] >= width - 40, f"the list does not use the window's width: {size}"
    if width < 600:
        assert size["boxScroll"] > size["box"], f"the table scrolls in its own box: {size}"
        # Scrolled to the far right, the apprentice's name is still on screen.
        page.evaluate("document.querySelector('.table-responsive').scrollLeft = 10000")
        name = page.locator("table.model-list td.col-apprenti").first.bounding_box()
        assert name is not None and 0 <= name["x"] < width and name["x"] + name["width"] <= width
        page.screenshot(path=str(screenshots_dir / f"dossier-list-{role}-{width}-scrolled.png"))
    else:
        assert size["table"] <= size["box"], f"at {width} px the whole table is shown: {size}"


def test_filter_and_search_from_the_menus(app, live_server, sized_page, screenshots_dir):
    page = sized_page(1366, 900)
    email = ROLES["cfa_admin"]
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    page.goto(f"{live_server}/admin/dossier/")
    page.get_by_role("link", name="Ajouter un filtre").click()
    page.locator(".field-filters a.filter", has_text="Qui doit agir").click()
    page.locator("table.filters td .select2-container").last.click()
    page.locator(".select2-drop-active .select2-result-label", has_text="Employeur").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Appliquer").click()
    assert "flt" in page.url and "employeur" in page.url
    actors = page.locator("table.model-list td.col-next_actor").all_inner_texts()
    assert actors and all("Employeur" in a for a in actors)
    page.screenshot(path=str(screenshots_dir / "dossier-list-filter-employeur.png"),
                    full_page=True)

    page.fill("input[name=search]", "ACME")
    with page.expect_navigation():
        page.get_by_role("button", name="Chercher").click()
    employers = page.locator("table.model-list td.col-etablissement").all_inner_texts()
    assert employers and all("ACME" in e for e in employers)
    assert "employeur" in page.url, "the filter stays applied"
