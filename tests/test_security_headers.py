"""Security headers (portal/security_headers.py) on pages, downloads, exports, the login and
reset pages and static files; HSTS only over HTTPS; and no inline script anywhere a page comes
from: the template sources Sillon renders (its own and Flask-Admin's, after the overrides in
templates/admin/) and the HTML every role actually receives."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa
from jinja2 import meta

from tests.support.web import csrf, csrf_from
from tests.test_import import _csv, _upload, _valid_row, training  # noqa: F401

ADMIN = "admin@sillon.demo"
ACME = "rh@acme.sillon.demo"
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response.headers.get("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {response.request.path}"
    directives = {}
    for part in policy.split(";"):
        name, *values = part.split()
        assert name not in directives, f"{name} twice in the CSP"
        directives[name] = values
    return directives


def assert_security_headers(response):
    """The headers every answer carries (and HSTS only over HTTPS, here plain HTTP)."""
    csp = csp_directives(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["style-src"] == ["'self'"]
    assert csp["style-src-attr"] == ["'unsafe-inline'"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers


def assert_not_stored(response):
    assert_security_headers(response)
    assert response.headers.get("Cache-Control") == "no-store", (
        response.request.path, response.headers.get("Cache-Control"))


# --- the policy itself -----------------------------------------------------------------------------

def test_script_src_allows_no_inline_script(client):
    csp = csp_directives(client.get("/login"))
    for directive in ("script-src", "default-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:",
                    "http:", "https:"} & set(csp[directive]), directive
    assert "script-src-attr" not in csp and "script-src-elem" not in csp
    # Style elements and sheets from files only; attributes are the one inline allowance.
    assert "'unsafe-inline'" not in csp["style-src"]


# --- pages, downloads, exports: never stored -------------------------------------------------------

def test_authenticated_page(login):
    response = login(ADMIN).get("/admin/")
    assert response.status_code == 200
    assert_not_stored(response)


@pytest.fixture()
def reset_link(app):
    """A valid password-reset link of a demo account (its token removed afterwards)."""
    from portal.accounts import invitations as accounts
    from portal.extensions import db
    from portal.models import AuthToken
    with app.app_context():
        user = accounts.find_user("bruno@etu.sillon.demo")
        raw = accounts.create_token(user, "reset", lifetime=accounts.RESET_LIFETIME)
        db.session.commit()
    yield f"/reinitialiser/{raw}"
    with app.app_context():
        db.session.execute(sa.delete(AuthToken).where(
            AuthToken.token_hash == accounts._digest(raw)))
        db.session.commit()


def test_login_and_password_pages_with_tokens(client, reset_link):
    for url in ("/login", "/mot-de-passe-oublie", "/inscription", reset_link):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert 'csrf_token"' in response.get_data(as_text=True), url  # a token: never cached
        assert_not_stored(response)
    # The login answer itself (a redirect that sets the session cookie).
    page = client.get("/login")
    response = client.post("/login", data={
        "email": "personne@sillon.demo", "password": "faux",
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert_not_stored(response)


def _downloadable_dossier(app) -> int:
    from portal.dossiers.documents import why_not
    from portal.extensions import db
    from portal.models import Dossier
    with app.app_context():
        for dossier in db.session.execute(sa.select(Dossier).where(
                Dossier.state == "envoye_opco").order_by(Dossier.id)).scalars():
            if why_not("cerfa", dossier) is None:
                return dossier.id
    raise AssertionError("the demo data has no dossier whose CERFA can be downloaded")


def test_pdf_download(app, login):
    pk = _downloadable_dossier(app)
    response = login(ADMIN).get(f"/admin/dossier/{pk}/documents/cerfa/")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.data[:5] == b"%PDF-"
    assert_not_stored(response)


def test_zip_of_documents(app, login):
    pk = _downloadable_dossier(app)
    client = login(ADMIN)
    response = client.post("/admin/dossier/action/", data={
        "action": "telecharger_documents", "rowid": [str(pk)], "csrf_token": csrf(client)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert_not_stored(response)


def test_csv_export_of_the_dossier_list(login):
    response = login(ADMIN).get("/admin/dossier/export/csv/")
    assert response.status_code == 200
    assert "attachment" in response.headers.get("Content-Disposition", "")
    assert_not_stored(response)


def test_import_template_and_preview(login, training):  # noqa: F811
    client = login("resp.info@sillon.demo")
    for ext in ("csv", "xlsx"):
        response = client.get(f"/admin/formation/{training['id']}/import/modele.{ext}")
        assert response.status_code == 200, ext
        assert_not_stored(response)
    response = _upload(client, training, _csv([_valid_row(training, 1)]), "alternants.csv")
    assert response.status_code == 302
    assert_not_stored(response)
    preview = client.get(response.headers["Location"])
    assert preview.status_code == 200 and "Nom1" in preview.get_data(as_text=True)
    assert_not_stored(preview)
    scan = PageScan()  # a page the crawl below cannot reach (it follows an upload)
    scan.feed(preview.get_data(as_text=True))
    assert scan.problems == []


def test_error_pages(client, login):
    assert_not_stored(client.get("/admin/nulle-part/"))
    assert_not_stored(login(ACME).get("/admin/dossier/999999999/base/"))


# --- static files keep their caching ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["/static/js/sillon.js", "/static/css/sillon.css",
                                 "/admin/static/admin/js/actions.js"])
def test_static_files_are_cached(client, login, url):
    for who in (client, login(ADMIN)):  # logged in or not
        response = who.get(url)
        assert response.status_code == 200, url
        assert "no-store" not in response.headers.get("Cache-Control", ""), url
        assert response.headers.get("ETag") and response.headers.get("Last-Modified"), url
        assert_security_headers(response)
        again = who.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert again.status_code == 304, url  # the browser's copy is reused


# --- HSTS: only when the request is secure --------------------------------------------------------

HSTS = "max-age=31536000; includeSubDomains"


def test_hsts_only_over_https(app):
    client = app.test_client()
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://sillon.example")
    assert secure.headers["Strict-Transport-Security"] == HSTS
    # A client's own X-Forwarded-Proto is not believed without a trusted proxy.
    spoofed = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers


def test_hsts_behind_a_trusted_proxy(database_url, tmp_path):
    """TRUSTED_PROXIES=1 (the README's production set-up, ProxyFix): the proxy's
    X-Forwarded-Proto tells whether the visitor came over HTTPS."""
    from tests.conftest import make_app
    behind_proxy = make_app(database_url, str(tmp_path / "instance"), TRUSTED_PROXIES=1)
    client = behind_proxy.test_client()
    response = client.get("/login", headers={"X-Forwarded-Proto": "https",
                                             "X-Forwarded-For": "203.0.113.7"})
    assert response.headers["Strict-Transport-Security"] == HSTS
    response = client.get("/login", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in response.headers


# --- no inline script in the template sources Sillon renders --------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.I)
HANDLER = re.compile(r"(?<![\w-])on[a-z]+\s*=", re.I)
JS_URL = re.compile(r"javascript:", re.I)
# Flask-Admin's placeholder links, left in its unmodified templates: sillon.js cancels a click
# on them (the browser test clicks some and counts the CSP violations).
PLACEHOLDER = 'href="javascript:void(0)"'
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
JINJA_TAG = re.compile(r"\{%-?\s*(if|endif)\b[^%]*%\}")


def without_maps_branch(source: str) -> str:
    """Flask-Admin's lib.html writes inline script only under `{% if config.FLASK_ADMIN_MAPS %}`
    (maps widgets, which Sillon does not use: the test checks the setting is off)."""
    out, pos, depth, skipping = [], 0, 0, False
    for tag in JINJA_TAG.finditer(source):
        if not skipping:
            if tag.group(1) == "if" and "FLASK_ADMIN_MAPS" in tag.group(0):
                out.append(source[pos:tag.start()])
                skipping, depth = True, 1
        elif tag.group(1) == "if":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                skipping, pos = False, tag.end()
    out.append(source[pos:] if not skipping else "")
    return "".join(out)


def rendered_templates(app) -> dict[str, tuple[str, str]]:
    """name -> (file, source) for every template Sillon may render: its own templates, the
    templates its Flask-Admin views are configured with, the theme's base, and everything they
    extend, import or include, resolved through the app's loader as at run time."""
    env = app.jinja_env
    admin = app.extensions["admin"][0]
    roots = {p.relative_to(TEMPLATES).as_posix() for p in TEMPLATES.rglob("*.html")}
    roots |= {admin.theme.base_template, admin.index_view._template}
    for view in admin._views:
        for kind in ("list", "create", "edit", "details"):
            roots.add(getattr(view, f"{kind}_template", None))
            if kind != "list" and getattr(view, f"{kind}_modal", False):
                roots.add(getattr(view, f"{kind}_modal_template"))
        if getattr(view, "inline_models", None):
            roots.add("admin/model/inline_field_list.html")
    seen, todo = {}, [name for name in roots if name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        source, filename, _ = env.loader.get_source(env, name)
        seen[name] = (filename, source)
        todo.extend(ref for ref in meta.find_referenced_templates(env.parse(source))
                    if ref)  # `{% extends admin_base_template %}` is the theme base (a root)
    return seen


def test_no_inline_script_in_the_templates(app):
    assert not app.config.get("FLASK_ADMIN_MAPS")
    import flask_admin
    # templates/admin/actions.html, model/layout.html and model/row_actions.html are copies of
    # Flask-Admin 2.2.1's with the inline handlers taken out, and admin/sillon_base.html a copy
    # of its admin/base.html (lang, landmarks): copy them again on an upgrade.
    assert flask_admin.__version__ == "2.2.1"

    templates = rendered_templates(app)
    flask_admin_files = {n for n, (f, _) in templates.items() if "flask_admin" in f}
    overridden = {"admin/actions.html", "admin/model/layout.html", "admin/model/row_actions.html"}
    for name in overridden:
        assert str(TEMPLATES) in templates[name][0], f"{name} is not Sillon's override"
    assert {"admin/master.html", "admin/model/list.html", "admin/lib.html",
            "admin/model/create.html", "admin/model/edit.html",
            "admin/model/details.html"} <= flask_admin_files  # the closure reached them
    problems = []
    for name, (_, source) in sorted(templates.items()):
        text = without_maps_branch(source) if name in flask_admin_files else source
        if name in flask_admin_files:
            text = text.replace(PLACEHOLDER, "")
        for label, pattern in (("inline <script>", INLINE_SCRIPT), ("on…= handler", HANDLER),
                               ("javascript: URL", JS_URL)):
            problems += [f"{name}: {label} {m.group(0)!r}" for m in pattern.finditer(text)]
        if not name.startswith("pdf/") and STYLE_ELEMENT.search(text):
            problems.append(f"{name}: <style> element (style-src 'self')")
    assert not problems, "\n".join(problems)


def test_the_scan_sees_flask_admin_handlers(app):
    """The scan is not blind: Flask-Admin's own row_actions.html (the one Sillon overrides)
    has an inline handler the patterns find."""
    import flask_admin
    original = Path(flask_admin.__file__).parent / "templates/bootstrap4/admin/model/row_actions.html"
    assert HANDLER.search(original.read_text())
    lib = (Path(flask_admin.__file__).parent / "templates/bootstrap4/admin/lib.html").read_text()
    assert INLINE_SCRIPT.search(lib) and not INLINE_SCRIPT.search(without_maps_branch(lib))


# --- no inline script in the HTML each role receives ------------------------------------------------

def _same_site(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


class PageScan(HTMLParser):
    """Feed it a page: `problems` lists inline scripts and handlers, script URLs, <style>
    elements and scripts or sheets from elsewhere; Flask-Admin's placeholders are counted."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self.scripts, self.placeholders = [], [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action", "formaction") and value and \
                    value.strip().lower().startswith("javascript:"):
                if tag == "a" and value == "javascript:void(0)":
                    self.placeholders += 1
                else:
                    self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            src = attrs.get("src")
            if not src:
                self.problems.append("inline <script>")
            elif not _same_site(src):
                self.problems.append(f"script from elsewhere: {src}")
            else:
                self.scripts.append(src.split("?")[0])
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "") and \
                not _same_site(attrs.get("href") or ""):
            self.problems.append(f"style sheet from elsewhere: {attrs.get('href')}")


LINK = re.compile(r'href="(/(?:admin|compte)[^"#]*)"')
SKIP = re.compile(r"/(export|documents|modele\.|logout)")  # files, not pages
CRAWL_LIMIT = 200


def crawl(client, start: list[str], limit: int = CRAWL_LIMIT) -> dict[str, PageScan]:
    """GET every kind of page reachable from `start`: one URL per path shape (ids replaced) and
    set of query keys, so each screen is seen once, whatever the number of rows."""
    from urllib.parse import parse_qsl, urlsplit
    scans, seen, todo = {}, set(), list(start)
    while todo and len(scans) < limit:
        url = todo.pop(0).replace("&amp;", "&")
        parts = urlsplit(url)
        key = (re.sub(r"/\d+", "/N", parts.path),
               tuple(sorted({k for k, _ in parse_qsl(parts.query)})))
        if key in seen or SKIP.search(parts.path):
            continue
        seen.add(key)
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        if response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        scan = PageScan()
        scan.feed(html)
        scans[url] = scan
        todo.extend(LINK.findall(html))
    return scans


@pytest.mark.parametrize("email", [ADMIN, "resp.info@sillon.demo", ACME,
                                   "alice@etu.sillon.demo"])
def test_no_inline_script_in_the_pages_each_role_gets(login, email):
    scans = crawl(login(email), ["/admin/", "/compte"])
    assert 8 <= len(scans) < CRAWL_LIMIT, f"{email}: {len(scans)} pages"  # all, not the first N
    problems = [f"{url}: {p}" for url, scan in scans.items() for p in scan.problems]
    assert not problems, "\n".join(problems)
    for url, scan in scans.items():
        if scan.placeholders:
            assert "/static/js/sillon.js" in scan.scripts, f"{url}: placeholders without sillon.js"


def test_no_inline_script_in_the_public_pages(client, reset_link):
    scans = {}
    for url in ("/login", "/mot-de-passe-oublie", "/inscription", "/inscription/structure",
                "/rgpd/conditions", "/reinitialiser/jeton-invalide", reset_link):
        response = client.get(url)
        assert response.status_code < 500, url
        if response.mimetype == "text/html":
            scan = PageScan()
            scan.feed(response.get_data(as_text=True))
            scans[url] = scan
    assert len(scans) >= 3
    problems = [f"{url}: {p}" for url, scan in scans.items() for p in scan.problems]
    assert not problems, "\n".join(problems)


def test_the_favicon_is_served_to_everyone_and_linked_from_every_layout(client, login):
    """No 404 in the browser's console on every page: /favicon.ico is a real icon, public."""
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.data[:4] == b"\x00\x00\x01\x00"          # the ICO file signature
    assert_security_headers(response)
    for page in (client.get("/login"), login(ADMIN).get("/admin/")):
        assert page.status_code == 200
        assert '<link rel="icon" href="/favicon.ico">' in page.get_data(as_text=True)
