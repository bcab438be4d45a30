"""Helpers to drive the portal through HTTP like a browser would (CSRF tokens included)."""
import re

DEMO_PASSWORD = "sillon-demo"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = DEMO_PASSWORD):
    page = client.get("/login")
    return client.post("/login", data={"email": email, "password": password,
                                       "csrf_token": csrf_from(page.get_data(as_text=True))})


def logout(client):
    page = client.get("/admin/")
    return client.post("/logout", data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def csrf(client) -> str:
    """A valid CSRF token for the client's session (taken from a logged-in page)."""
    return csrf_from(client.get("/admin/").get_data(as_text=True))
