"""The CERFA visé: the signed CERFA with the CFA's visa block overlaid on its first page."""
from __future__ import annotations

import io

from ..rules.formatting import day as fr_day
from .uploads import latest, store


def visa_overlay(width: float, height: float, cfa_name: str, advisor: str, when) -> bytes:
    from reportlab.pdfgen import canvas

    from .render import FONTS, _register_base_font
    _register_base_font()
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if "SillonDejaVuBold" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("SillonDejaVuBold", str(FONTS / "DejaVuSans-Bold.ttf")))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height))
    box_w, box_h = 230, 64
    x, y = width - box_w - 24, 24
    page.setStrokeColorRGB(0.12, 0.23, 0.39)
    page.setLineWidth(1.5)
    page.rect(x, y, box_w, box_h)
    page.setFillColorRGB(0.12, 0.23, 0.39)
    page.setFont("SillonDejaVuBold", 11)
    page.drawString(x + 8, y + box_h - 18, "Visé par le CFA")
    page.setFont("SillonDejaVuSans", 8)
    page.drawString(x + 8, y + box_h - 32, cfa_name[:60])
    page.drawString(x + 8, y + box_h - 44, f"le {fr_day(when)}")
    page.drawString(x + 8, y + box_h - 56, f"par {advisor}"[:60])
    page.save()
    return out.getvalue()


def stamp_cerfa(dossier, user, when):
    """Store and return the CERFA visé made from the latest signed CERFA (no commit)."""
    from pypdf import PdfReader, PdfWriter
    signed = latest(dossier, "cerfa_signe")
    if signed is None:
        return None
    reader = PdfReader(io.BytesIO(signed.data))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    first = writer.pages[0]
    width, height = float(first.mediabox.width), float(first.mediabox.height)
    cfa = dossier.formation.cfa if dossier.formation is not None else None
    overlay = PdfReader(io.BytesIO(visa_overlay(width, height, cfa.nom if cfa else "CFA",
                                                user.full_name, when)))
    first.merge_page(overlay.pages[0])
    out = io.BytesIO()
    writer.write(out)
    return store(out.getvalue(), kind="cerfa_vise",
                 filename=f"CERFA-vise-dossier-{dossier.id}.pdf", user=user, dossier=dossier)
