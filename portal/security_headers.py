"""HTTP security headers on every response: CSP without inline script, anti-framing, no referrer
outside Sillon, HSTS over HTTPS, and no caching of anything but static files.

One after-request hook rather than Flask-Talisman: Talisman would also redirect to HTTPS and
rewrite the session cookie (both already handled by the proxy and SESSION_COOKIE_SECURE) and
has no notion of "no-store on every dynamic response"; what Sillon needs fits in this module.

Scripts: `script-src 'self'` only. Every script is a file under portal/static/js/ or Flask-Admin's
static folder; templates carry data in data-* attributes (portal/static/js/sillon.js reads them)
and templates/admin/ overrides the few Flask-Admin macros that had inline handlers.

Styles: style sheets and <style> elements from files only (`style-src 'self'`), but style=""
attributes allowed (`style-src-attr 'unsafe-inline'`): the templates size bars and boxes with
them and Flask-Admin's widgets (the date-range filter, select2) build elements from HTML strings
that carry them. An attribute styles one element and has no selectors, so it cannot read a
page's values the way an injected <style> can (input[value^=…] { background: url(…) }).
"""
from __future__ import annotations

from flask import Flask, request

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
HSTS = "max-age=31536000; includeSubDomains"

EVERY_RESPONSE = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate CSP 2
    "Referrer-Policy": "same-origin",  # reset-password and e-mail tokens sit in URLs
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def is_static_file() -> bool:
    """Sillon's static folder or a blueprint's (Flask-Admin serves its own as `admin.static`)."""
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


FRAMED_BY_SAME_ORIGIN = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'",
                                                               "frame-ancestors 'self'"),
    "X-Frame-Options": "SAMEORIGIN",
}


def apply(response):
    for name, value in EVERY_RESPONSE.items():
        response.headers[name] = value
    if getattr(response, "sillon_frame_same_origin", False):
        # A PDF shown inside one of Sillon's own pages (the signer reads the document there).
        response.headers.update(FRAMED_BY_SAME_ORIGIN)
    if request.is_secure:  # behind a proxy, correct once ProxyFix trusts X-Forwarded-Proto
        response.headers["Strict-Transport-Security"] = HSTS
    if not is_static_file():
        # Every page, download and export may carry personal data or a token (login and reset
        # forms carry a CSRF token bound to the session): never kept by the browser or a proxy.
        # Static files keep Flask's conditional caching (ETag / Last-Modified).
        response.headers["Cache-Control"] = "no-store"
        response.headers.pop("Expires", None)
    return response


def init_app(app: Flask) -> None:
    app.after_request(apply)
