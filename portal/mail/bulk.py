"""Many outbox e-mails of one template at once (the import): each template is rendered once per
*shape* (which optional parts it shows) with tokens in place of the per-person values, then
each e-mail is that rendering with the tokens replaced — the values HTML-escaped in the HTML
part, as Jinja's autoescape would. The rows are inserted together by the caller (a Core
insert of ``take_rows()``), which hands their ids to ``queued``: portal.tasks enqueues them
after the commit, as for portal.mail.outbox.queue. Only for templates whose per-person
values are printed as they are (no filter, no test on them other than the shape)."""
from __future__ import annotations

import re
from types import SimpleNamespace

from flask import current_app, render_template
from markupsafe import escape

from portal.extensions import db

# Session.info key: the outbox ids written in this transaction, enqueued by portal.tasks after
# the commit (the ORM's flushes fill it too).
PENDING_OUTBOX = "sillon_outbox_ids"

_TOKEN = re.compile(r"ZQX([a-z_]+)QXZ")


def token(name: str) -> str:
    return f"ZQX{name}QXZ"


def queued(ids) -> None:
    """Outbox rows inserted outside the ORM (``ids``): sent after the commit, as the ORM's."""
    if ids:
        db.session.info.setdefault(PENDING_OUTBOX, set()).update(ids)


class Email(SimpleNamespace):
    """One e-mail of a BulkMail: the columns of its outbox row."""


class BulkMail:
    """``add()`` one e-mail per person; ``take_rows()`` the outbox rows (column → value) to
    insert."""

    def __init__(self):
        self._rendered: dict[tuple, tuple[list, list]] = {}
        self.rows: list[Email] = []

    def _render(self, template: str, shape: tuple, context: dict) -> tuple[list, list]:
        """The text and HTML renderings of this shape, split at their tokens (see _fill)."""
        key = (template, shape)
        if key not in self._rendered:
            context = dict(context)
            context.setdefault("base_url",
                               current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/"))
            self._rendered[key] = (
                _TOKEN.split(render_template(f"mail/{template}.txt", **context)),
                _TOKEN.split(render_template(f"mail/{template}.html", **context)))
        return self._rendered[key]

    def add(self, address: str, template: str, *, shape: tuple, context: dict,
            values: dict[str, str], dossier_id: int | None) -> Email:
        """``context``: the template's context with token(name) wherever ``values[name]``
        goes (the same for every e-mail of this shape); ``values['subject']`` the subject."""
        text, html = self._render(template, shape, context)
        plain = {k: str(v) for k, v in values.items()}
        escaped = {k: str(escape(v)) for k, v in plain.items()}
        email = Email(recipients=address.strip().lower(), subject=plain["subject"],
                      body_text=_fill(text, plain), body_html=_fill(html, escaped),
                      dossier_id=dossier_id)
        self.rows.append(email)
        return email

    def take_rows(self) -> list[dict]:
        rows, self.rows = [dict(vars(email)) for email in self.rows], []
        return rows


def _fill(parts: list[str], values: dict[str, str]) -> str:
    """A rendering split by _TOKEN.split (text, token name, text, …) with the values put in:
    what _TOKEN.sub would give, without a regular expression per e-mail."""
    filled = parts[:]
    for index in range(1, len(parts), 2):
        filled[index] = values[parts[index]]
    return "".join(filled)


def tokens(*names: str) -> SimpleNamespace:
    """An object whose attributes are the tokens of these names (e.g. a person's e-mail)."""
    return SimpleNamespace(**{name: token(name) for name in names})
