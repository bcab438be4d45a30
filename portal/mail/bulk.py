"""Many outbox e-mails of one template at once (the import): each template is rendered once per
*shape* (which optional parts it shows) with tokens in place of the per-person values, then
each e-mail is that rendering with the tokens replaced — the values HTML-escaped in the HTML
part, as Jinja's autoescape would. The rows are added together; portal.tasks enqueues their
ids after the commit, as for portal.mail.outbox.queue. Only for templates whose per-person
values are printed as they are (no filter, no test on them other than the shape)."""
from __future__ import annotations

import re
from types import SimpleNamespace

from flask import current_app, render_template
from markupsafe import escape

from portal.extensions import db
from portal.models import OutboxEmail

_TOKEN = re.compile(r"ZQX([a-z_]+)QXZ")


def token(name: str) -> str:
    return f"ZQX{name}QXZ"


class BulkMail:
    """``add()`` one e-mail per person; ``flush_rows()`` adds the outbox rows to the session."""

    def __init__(self):
        self._rendered: dict[tuple, tuple[str, str]] = {}
        self.rows: list[OutboxEmail] = []

    def _render(self, template: str, shape: tuple, context: dict) -> tuple[str, str]:
        key = (template, shape)
        if key not in self._rendered:
            context = dict(context)
            context.setdefault("base_url",
                               current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/"))
            self._rendered[key] = (render_template(f"mail/{template}.txt", **context),
                                   render_template(f"mail/{template}.html", **context))
        return self._rendered[key]

    def add(self, address: str, template: str, *, shape: tuple, context: dict,
            values: dict[str, str], dossier_id: int | None) -> OutboxEmail:
        """``context``: the template's context with token(name) wherever ``values[name]``
        goes (the same for every e-mail of this shape); ``values['subject']`` the subject."""
        text, html = self._render(template, shape, context)
        plain = {k: str(v) for k, v in values.items()}
        escaped = {k: str(escape(v)) for k, v in plain.items()}
        email = OutboxEmail(recipients=address.strip().lower(), subject=plain["subject"],
                            body_text=_TOKEN.sub(lambda m: plain[m.group(1)], text),
                            body_html=_TOKEN.sub(lambda m: escaped[m.group(1)], html),
                            dossier_id=dossier_id)
        self.rows.append(email)
        return email

    def flush_rows(self) -> list[OutboxEmail]:
        db.session.add_all(self.rows)
        rows, self.rows = self.rows, []
        return rows


def tokens(*names: str) -> SimpleNamespace:
    """An object whose attributes are the tokens of these names (e.g. a person's e-mail)."""
    return SimpleNamespace(**{name: token(name) for name in names})
