"""Generated PDFs (xhtml2pdf): the CERFA FA13 (10103*14) or EJ20 (12434), the convention de
formation and the quote. French with accents and € through an embedded DejaVu font shipped in
portal/documents/fonts (xhtml2pdf may only read that folder: no other local or remote file).

Rendering only: the values come as plain data (portal.dossiers.printing.context, which reads
the dossier as the tabs and its snapshot show it); missing data prints "—". What a
dossier prints about its establishment, its employer and its training (the CFA included) is read
through portal.dossiers.snapshot: frozen with the dossier from ``validation_demandee`` on.
"""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask import render_template

from ..rules.formatting import day as fr_day
from ..rules.formatting import eur, percent
from . import cerfa_layout

FONTS = Path(__file__).resolve().parent / "fonts"
KINDS = {"cerfa": "CERFA", "convention": "Convention de formation", "devis": "Devis",
         "facture": "Facture", "recepisse": "Récépissé",
         # training actions (portal/training_actions/documents.py)
         "convocation": "Convocation", "emargement": "Feuille d'émargement",
         "attestation_formation": "Attestation de fin de formation",
         "convention_action": "Convention de formation (action)"}


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, date):
        return fr_day(value)
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def render_html(kind: str, ctx: dict) -> str:
    """The document's HTML from plain data (portal.dossiers.printing.context builds it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind: {kind!r}")
    labels = ctx.get("code_labels") or {}

    def code(liste, value):
        if not value:
            return "—"
        label = labels.get((liste, value))
        return f"{value} – {label}" if label else value

    def label(liste, value):
        """The code's label alone (printed next to its boxes on the CERFA), "" if unknown."""
        return labels.get((liste, value), "") if value else ""

    template = ("pdf/cerfa_ej20.html" if ctx["pro"] else "pdf/cerfa_fa13.html") \
        if kind == "cerfa" else f"pdf/{kind}.html"
    return render_template(template, **ctx, t=_text, eur=eur, percent=percent, code=code,
                           label=label, digits=cerfa_layout.digits,
                           compact=cerfa_layout.compact, visa_label=cerfa_layout.VISA_LABEL,
                           visa_box=cerfa_layout.VISA_BOX, fonts=FONTS.as_posix(),
                           today=date.today())


_BASE_FONT = "SillonDejaVuSans"


def _register_base_font() -> None:
    """ReportLab's page preamble and a few xhtml2pdf internals (blank and anchor fragments)
    name Helvetica, which is never embedded. Our embedded DejaVu answers to that name too, so
    every font of every PDF is embedded (checked with pdffonts in the tests) — even when
    something in the process drew with ReportLab's standard Helvetica first (registerFont
    never replaces a name already known: the standard font is dropped first)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if _BASE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_BASE_FONT, str(FONTS / "DejaVuSans.ttf")))
    if not isinstance(pdfmetrics._fonts.get("Helvetica"), TTFont):
        pdfmetrics._fonts.pop("Helvetica", None)
        pdfmetrics.registerFont(TTFont("Helvetica", str(FONTS / "DejaVuSans.ttf")))
    rl_config.canvas_basefontname = _BASE_FONT


def _default_css() -> str:
    """xhtml2pdf's default style sheet with its Helvetica (never embedded) replaced."""
    from xhtml2pdf.default import DEFAULT_CSS
    return DEFAULT_CSS.replace("font-family: Helvetica;", "font-family: DejaVu;")


def render_pdf(kind: str, ctx: dict) -> bytes:
    """The document as PDF, from plain data (never reads the database or the workflow)."""
    try:
        return html_to_pdf(render_html(kind, ctx))
    except RuntimeError as exc:
        raise RuntimeError(f"PDF rendering failed for {kind}: {exc}") from None


def html_to_pdf(html: str) -> bytes:
    """HTML (a template of templates/pdf/) as PDF, its fonts embedded, no file read but the
    fonts folder."""
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    _register_base_font()
    out = io.BytesIO()
    policy = ResourceAccessPolicy(base_dir=FONTS, allow_remote=False)
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=policy,
                            default_css=_default_css())
    if result.err:
        raise RuntimeError(str(result.err))
    return out.getvalue()
