"""The dossier list in a real chromium, for each demo account: exactly the rows of its scope.

Drives Debian's chromium (/usr/bin/chromium) through pytest-playwright against a live werkzeug
server serving the session's ``app`` (migrated DB, reference + demo data). The ids shown in the
list are compared with the scope computed in SQL by ``portal.policy.row_filter``. A full-page
screenshot per account goes to test-artifacts/browser/dossiers-<account>.png.

Never ``playwright install``: the fixtures below point Playwright at the system chromium.
"""
from __future__ import annotations

import re
import threading

import pytest
from sqlalchemy import delete, select

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--lang=fr-FR",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PASSWORD = "sillon-demo"
PAGE_SIZE = 100  # Flask-Admin 2.2's URL argument is `page_size` (can_set_page_size=True)
LIST_URL = f"/admin/dossier/?page_size={PAGE_SIZE}"

DEMO_ACCOUNTS = [
    "admin@sillon.demo",
    "conseil@sillon.demo",
    "resp.info@sillon.demo",
    "resp.droit@sillon.demo",
    "gest.info@sillon.demo",
    "rh@acme.sillon.demo",
    "rh@globex.sillon.demo",
    "alice@etu.sillon.demo",
    "bruno@etu.sillon.demo",
]

pytestmark = pytest.mark.browser


# --- pytest-playwright overrides (this module only) ----------------------------------------------

@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture()
def browser_page(browser):
    """A fresh browser context (cookies, storage) and page for each test."""
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


# --- live server ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_server(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="sillon-live-server",
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def screenshots_dir(artifacts_dir):
    path = artifacts_dir / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- helpers -------------------------------------------------------------------------------------

def scope_ids(app, email: str) -> tuple[list[int], bool]:
    """The dossier ids the account may see, computed in SQL from the policy (id descending)."""
    from portal import policy
    from portal.extensions import db
    from portal.models import CFA_ROLES, Dossier, User
    with app.app_context():
        user = db.session.execute(select(User).where(User.email == email)).scalar_one()
        ids = db.session.scalars(select(Dossier.id).where(policy.row_filter(Dossier, user))
                                 .order_by(Dossier.id.desc())).all()
        return list(ids), user.has_role(*CFA_ROLES)


def clear_throttle(app, *keys):
    from portal.extensions import db
    from portal.models import ThrottleEvent
    with app.app_context():
        db.session.execute(delete(ThrottleEvent).where(ThrottleEvent.key.in_(keys)))
        db.session.commit()


def browser_login(page, base: str, email: str, password: str = PASSWORD):
    page.goto(f"{base}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")


def listed_ids(page) -> list[int]:
    """The N° column of the list (present for every role, with or without row checkboxes)."""
    cells = page.locator("table.model-list tbody td.col-id").all_inner_texts()
    return [int(text.strip()) for text in cells]


def listed_total(page) -> int:
    """The "Liste (N)" tab: Flask-Admin's count of the (scoped) query."""
    text = page.locator("ul.nav-tabs a.nav-link.active").first.inner_text()
    match = re.search(r"\((\d+)\)", text)
    assert match, f"no count in the list tab: {text!r}"
    return int(match.group(1))


# --- tests ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("email", DEMO_ACCOUNTS)
def test_dossier_list_shows_exactly_the_scope(app, live_server, browser_page, screenshots_dir,
                                              email):
    page = browser_page
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    assert "/login" not in page.url, f"login failed for {email}: {page.url}"
    assert page.locator("#current-user").count() == 1

    response = page.goto(f"{live_server}{LIST_URL}")
    assert response is not None and response.status == 200, f"{email}: list answered {response}"
    page.wait_for_selector("table.model-list")

    expected, is_cfa = scope_ids(app, email)
    shown = listed_ids(page)
    total = listed_total(page)
    page.screenshot(path=str(screenshots_dir / f"dossiers-{email}.png"), full_page=True)

    assert expected, f"{email} should see at least one demo dossier"
    assert len(shown) == len(set(shown)), f"{email}: a dossier is listed twice"
    assert total == len(expected), f"{email}: the list counts {total}, the scope {len(expected)}"
    if len(expected) <= PAGE_SIZE:
        assert sorted(shown) == sorted(expected), (
            f"{email}: shown-only {sorted(set(shown) - set(expected))}, "
            f"missing {sorted(set(expected) - set(shown))}")
    else:
        # More rows than one page (CFA staff on a big base): the count plus the first page,
        # which is the default sort (id descending).
        assert is_cfa, f"{email} has more than {PAGE_SIZE} dossiers but is not CFA staff"
        assert shown == expected[:PAGE_SIZE]


def test_logout_in_the_browser(app, live_server, browser_page):
    page = browser_page
    email = "conseil@sillon.demo"
    clear_throttle(app, f"login:email:{email}")
    browser_login(page, live_server, email)
    assert page.locator("#current-user").count() == 1

    with page.expect_navigation():
        page.get_by_role("button", name="Se déconnecter").click()
    assert re.search(r"/login(\?|$)", page.url), page.url
    assert page.get_by_text("Vous êtes déconnecté·e.").is_visible()

    # The session is gone: the dossier list sends back to the login page.
    page.goto(f"{live_server}{LIST_URL}")
    assert "/login" in page.url
    assert page.locator("table.model-list").count() == 0
    assert page.locator("input[name=password]").is_visible()


def test_wrong_password_shows_the_french_error(app, live_server, browser_page):
    page = browser_page
    email = "resp.droit@sillon.demo"
    keys = (f"login:email:{email}", "login:ip:127.0.0.1")
    clear_throttle(app, *keys)
    try:
        browser_login(page, live_server, email, "pas-le-bon-mot-de-passe")
        error = page.locator("#login-error")
        assert error.is_visible()
        assert error.inner_text().strip() == "Adresse e-mail ou mot de passe incorrect."
        assert "/login" in page.url
        assert page.locator("#current-user").count() == 0
        # Still logged out: the list redirects to the login page.
        page.goto(f"{live_server}{LIST_URL}")
        assert "/login" in page.url
    finally:
        clear_throttle(app, *keys)
