"""The CERFA visé: the signed CERFA with the CFA's stamp drawn inside its "Visa du CFA" box.

The box is found by its label (cerfa_layout.VISA_LABEL) in the signed PDF's text; a scan has no
text, so the stamp goes where Sillon's own FA13 prints the box (cerfa_layout.VISA_FALLBACK,
scaled to the scan's page size)."""
from __future__ import annotations

import io

from ..rules.formatting import day as fr_day
from . import cerfa_layout as layout
from .uploads import latest, store


def visa_overlay(width: float, height: float, cfa_name: str, advisor: str, when,
                 origin: tuple[float, float] | None = None, scale: float = 1.0) -> bytes:
    """One page of (width × height) points with the stamp, its bottom-left corner at
    `origin` (default: the bottom-right corner of the page)."""
    from reportlab.pdfgen import canvas

    from .render import FONTS, _register_base_font
    _register_base_font()
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    if "SillonDejaVuBold" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("SillonDejaVuBold", str(FONTS / "DejaVuSans-Bold.ttf")))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height))
    box_w, box_h = layout.STAMP.width, layout.STAMP.height
    x, y = origin if origin is not None else (width - box_w * scale - 24, 24)
    page.translate(x, y)
    page.scale(scale, scale)
    page.setStrokeColorRGB(0.12, 0.23, 0.39)
    page.setLineWidth(1.5)
    page.rect(0, 0, box_w, box_h)
    page.setFillColorRGB(0.12, 0.23, 0.39)
    page.setFont("SillonDejaVuBold", 11)
    page.drawString(8, box_h - 16, "Visé par le CFA")
    page.setFont("SillonDejaVuSans", 8)
    page.drawString(8, box_h - 29, cfa_name[:60])
    page.drawString(8, box_h - 40, f"le {fr_day(when)}")
    page.drawString(8, box_h - 51, f"par {advisor}"[:60])
    page.save()
    return out.getvalue()


def find_visa_label(reader) -> tuple[int, float, float] | None:
    """(page index, x, baseline y) of the visa box's label in a PDF with text, else None."""
    for index, page in enumerate(reader.pages):
        found: list[tuple[float, float]] = []

        def visit(text, cm, tm, font_dict, font_size):
            if not found and layout.VISA_LABEL in (text or ""):
                found.append((tm[4] * cm[0] + tm[5] * cm[2] + cm[4],
                              tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))
        try:
            page.extract_text(visitor_text=visit)
        except Exception:  # noqa: BLE001 - an unreadable text layer is "no text"
            continue
        if found:
            return index, found[0][0], found[0][1]
    return None


def visa_position(reader, form: str = "fa13") -> tuple[int, float, float, float]:
    """(page index, x, y, scale) of the stamp for this signed CERFA (`form`: "fa13" or
    "ej20", whose layout places the box of a scan)."""
    found = find_visa_label(reader)
    if found is not None:
        index, x, y = found
        return (index, *layout.stamp_origin(x, y), 1.0)
    index, x, y = layout.VISA_FALLBACK[form]
    index = min(index, len(reader.pages) - 1)
    box = reader.pages[index].mediabox
    scale = min(float(box.width) / layout.A4[0], float(box.height) / layout.A4[1])
    sx, sy = layout.stamp_origin(x, y)
    return index, float(box.left) + sx * scale, float(box.bottom) + sy * scale, scale


def stamp_pdf(data: bytes, cfa_name: str, advisor: str, when, form: str = "fa13") -> bytes:
    """The signed CERFA's bytes with the stamp in its visa box."""
    from pypdf import PdfReader, PdfWriter
    reader = PdfReader(io.BytesIO(data))
    writer = PdfWriter()
    for page in reader.pages:
        writer.add_page(page)
    index, x, y, scale = visa_position(reader, form)
    target = writer.pages[index]
    width, height = float(target.mediabox.width), float(target.mediabox.height)
    overlay = PdfReader(io.BytesIO(visa_overlay(width, height, cfa_name, advisor, when,
                                                origin=(x, y), scale=scale)))
    target.merge_page(overlay.pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def stamp_cerfa(dossier, user, when):
    """Store and return the CERFA visé made from the latest signed CERFA (no commit)."""
    signed = latest(dossier, "cerfa_signe")
    if signed is None:
        return None
    cfa = dossier.formation.cfa if dossier.formation is not None else None
    form = "ej20" if dossier.dispositif == "professionnalisation" else "fa13"
    data = stamp_pdf(signed.data, cfa.nom if cfa else "CFA", user.full_name, when, form)
    return store(data, kind="cerfa_vise",
                 filename=f"CERFA-vise-dossier-{dossier.id}.pdf", user=user, dossier=dossier)
