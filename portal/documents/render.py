"""Generated PDFs (xhtml2pdf): the CERFA FA13 (10103*14) or EJ20 (12434), the convention de
formation and the quote. French with accents and € through an embedded DejaVu font shipped in
portal/documents/fonts (xhtml2pdf may only read that folder: no other local or remote file).

Every value comes from the dossier as the tabs see it (portal.dossiers.tabs.dossier_data) and from
portal.rules (remuneration schedule, employer participation); missing data prints "—".
"""
from __future__ import annotations

import io
import re
import unicodedata
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask import render_template

from ..rules.formatting import day as fr_day
from ..rules.formatting import eur, percent

FONTS = Path(__file__).resolve().parent / "fonts"
KINDS = {"cerfa": "CERFA", "convention": "Convention de formation", "devis": "Devis"}


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


def _code_labels() -> dict[tuple[str, str], str]:
    from ..extensions import db
    from ..models import CodeReference
    return {(liste, code): label for liste, code, label in db.session.query(
        CodeReference.liste, CodeReference.code, CodeReference.libelle)}


def context(dossier) -> dict:
    """Everything the templates print, computed once."""
    from ..rules.aids import employer_participation
    from portal.dossiers.tabs import dossier_data
    from portal.dossiers.tabs.contract_tab import merge_rows, schedule_for
    data = dossier_data(dossier)
    formation = dossier.formation
    cfa = formation.cfa if formation is not None else None
    etab = dossier.etablissement
    rows = merge_rows(schedule_for(data), data.get("remuneration") or [], floor=True)
    contrat = dossier.contrat
    conclusion = contrat.date_conclusion if contrat is not None else None
    level = formation.niveau if formation is not None else None
    participation = employer_participation(conclusion, level, dossier.dispositif) \
        if conclusion and level else Decimal("0")
    price = formation.prix if formation is not None else None
    opco = None
    if etab is not None and etab.opco_code:
        from ..models import Opco
        opco = Opco.query.filter_by(code=etab.opco_code).first()
    labels = _code_labels()

    def code(liste, value):
        if not value:
            return "—"
        label = labels.get((liste, value))
        return f"{value} – {label}" if label else value

    masters = {m.rang: m for m in dossier.maitres}
    return dict(
        d=data, dossier=dossier, formation=formation, cfa=cfa, etab=etab, contrat=contrat,
        apprenti=dossier.apprenti, rep=dossier.representant_legal, m1=masters.get(1),
        m2=masters.get(2), rows=rows, participation=participation, price=price, opco=opco,
        remainder=participation, opco_coverage=(price - participation) if price else None,
        t=_text, eur=eur, percent=percent, code=code, fonts=FONTS.as_posix(),
        today=date.today(), pro=dossier.dispositif == "professionnalisation",
    )


def render_html(kind: str, dossier) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown document kind: {kind!r}")
    ctx = context(dossier)
    template = "pdf/cerfa_ej20.html" if kind == "cerfa" and ctx["pro"] else f"pdf/{kind}.html"
    if kind == "cerfa" and not ctx["pro"]:
        template = "pdf/cerfa_fa13.html"
    return render_template(template, **ctx)


_BASE_FONT = "SillonDejaVuSans"


def _register_base_font() -> None:
    """ReportLab's page preamble and a few xhtml2pdf internals (blank and anchor fragments)
    name Helvetica, which is never embedded. Our embedded DejaVu answers to that name too, so
    every font of every PDF is embedded (checked with pdffonts in the tests)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if _BASE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_BASE_FONT, str(FONTS / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont("Helvetica", str(FONTS / "DejaVuSans.ttf")))
    rl_config.canvas_basefontname = _BASE_FONT


def _default_css() -> str:
    """xhtml2pdf's default style sheet with its Helvetica (never embedded) replaced."""
    from xhtml2pdf.default import DEFAULT_CSS
    return DEFAULT_CSS.replace("font-family: Helvetica;", "font-family: DejaVu;")


def render_pdf(kind: str, dossier) -> bytes:
    from xhtml2pdf import pisa
    from xhtml2pdf.config.resources import ResourceAccessPolicy
    html = render_html(kind, dossier)
    _register_base_font()
    out = io.BytesIO()
    policy = ResourceAccessPolicy(base_dir=FONTS, allow_remote=False)
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", resource_policy=policy,
                            default_css=_default_css())
    if result.err:
        raise RuntimeError(f"PDF rendering failed for {kind}: {result.err}")
    return out.getvalue()


def filename(kind: str, dossier) -> str:
    name = unicodedata.normalize("NFKD", dossier.apprenti_nom or "dossier")
    name = re.sub(r"[^A-Za-z0-9]+", "-", name.encode("ascii", "ignore").decode()).strip("-")
    prefix = {"cerfa": "CERFA-EJ20" if dossier.dispositif == "professionnalisation"
              else "CERFA-FA13", "convention": "Convention", "devis": "Devis"}[kind]
    return f"{prefix}-dossier-{dossier.id}-{name.upper() or 'DOSSIER'}.pdf"
