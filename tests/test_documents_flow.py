"""Documents through HTTP: availability per state and role, downloads only through the scope,
immutable once locked, the ZIP action, training files, and the CERFA visé (visa on page 1)
e-mailed to the employer with the PDF attached (real SMTP server)."""
import hashlib
import io
import zipfile

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.extensions import db
from portal.models import Dossier, Formation
from tests.support.web import csrf
from tests.test_dossier_lifecycle import (ACME, ALICE, CONSEIL, MANUAL, _act, _fill,  # noqa: F401
                                          _pdf, _upload, world)

ON_DOSSIER = (ALICE, ACME, MANUAL[0], "gest.info@sillon.demo", "admin@sillon.demo", CONSEIL)
OUTSIDERS = ("bruno@etu.sillon.demo", "rh@globex.sillon.demo", "resp.droit@sillon.demo")
FIRST_STATE = {"cerfa": "valide_formation", "devis": "valide_formation",
               "convention": "economie_validee"}
ORDER = ["initialise", "en_saisie", "saisie_complete", "validation_demandee", "valide_formation",
         "economie_validee", "documents_retournes", "documents_valides", "envoye_opco"]


@pytest.fixture()
def complete(app, login, world):  # noqa: F811
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    return pk


def _set_state(app, pk, state):
    with app.app_context():
        db.session.get(Dossier, pk).state = state
        db.session.commit()


@pytest.mark.parametrize("kind", sorted(FIRST_STATE))
def test_availability_per_state_and_role(app, login, complete, kind):
    clients = {account: login(account) for account in ON_DOSSIER + OUTSIDERS}
    for state in ORDER:
        _set_state(app, complete, state)
        available = ORDER.index(state) >= ORDER.index(FIRST_STATE[kind])
        for account in ON_DOSSIER:
            response = clients[account].get(f"/admin/dossier/{complete}/documents/{kind}/")
            if available:
                assert response.status_code == 200, (kind, state, account)
                assert response.data[:5] == b"%PDF-"
                assert "attachment" in response.headers["Content-Disposition"]
            else:
                assert response.status_code == 409, (kind, state, account)
                assert "n&#39;est pas encore disponible" in response.get_data(as_text=True) or \
                    "n'est pas encore disponible" in response.get_data(as_text=True)
        for account in OUTSIDERS:
            assert clients[account].get(
                f"/admin/dossier/{complete}/documents/{kind}/").status_code == 404
    assert clients[ALICE].get(f"/admin/dossier/{complete}/documents/../../etc/").status_code \
        == 404
    assert clients[ALICE].get(f"/admin/dossier/{complete}/documents/facture/").status_code == 404


def test_locked_dossier_documents_are_rendered_once(app, login, complete):
    _set_state(app, complete, "economie_validee")
    client = login(ACME)
    first = client.get(f"/admin/dossier/{complete}/documents/cerfa/").data
    second = client.get(f"/admin/dossier/{complete}/documents/cerfa/").data
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    with app.app_context():
        from portal.models import Document
        stored = db.session.scalars(sa.select(Document).where(
            Document.dossier_id == complete, Document.kind == "cerfa")).all()
        assert len(stored) == 1 and stored[0].sha256 == hashlib.sha256(first).hexdigest()


def test_stamped_cerfa_reaches_the_employer(app, login, complete, smtp, clean_outbox):
    _set_state(app, complete, "economie_validee")
    acme = login(ACME)
    signed = _pdf("CERFA signé")
    _upload(acme, complete, "cerfa_signe", signed, "cerfa.pdf")
    _upload(acme, complete, "convention_signee", _pdf("Convention"), "convention.pdf")
    _act(login(CONSEIL), complete, "valider_documents")
    response = acme.get(f"/admin/dossier/{complete}/documents/cerfa_vise/")
    assert response.status_code == 200
    first_page = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Visé par le CFA" in first_page and "CFA Sillon Sud" in first_page
    to_employer = [m for rcpt, m in smtp.messages if rcpt == [ACME]]
    assert len(to_employer) == 1 and "CERFA visé" in to_employer[0]["Subject"]
    attachments = [part for part in to_employer[0].iter_attachments()]
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == response.data
    # The signed upload itself is kept byte for byte.
    assert acme.get(f"/admin/dossier/{complete}/documents/cerfa_signe/").data == signed


def test_zip_action_bundles_available_documents(app, login, complete):
    _set_state(app, complete, "valide_formation")
    client = login(CONSEIL)
    response = client.post("/admin/dossier/action/", data={
        "action": "telecharger_documents", "rowid": [str(complete)], "csrf_token": csrf(client)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert f"dossier-{complete}/CERFA-FA13-dossier-{complete}-PERRIN.pdf" in names
    assert any(n.startswith(f"dossier-{complete}/Devis") for n in names)
    readme = archive.read("LISEZMOI.txt").decode()
    assert "Convention de formation" in readme and "éléments économiques" in readme


def test_training_files_are_offered_on_its_dossiers(app, login, complete):
    with app.app_context():
        formation_id = db.session.get(Dossier, complete).formation_id
    manager, gest = login(MANUAL[0]), login("gest.info@sillon.demo")
    url = f"/admin/formation/{formation_id}/fichiers/"
    alice = login(ALICE)
    assert alice.get(f"/admin/dossier/{complete}/documents/calendrier/").status_code == 409
    calendar = _pdf("Calendrier")
    for client, expect in ((gest, False), (manager, True)):
        client.post(url, data={"kind": "calendrier", "csrf_token": csrf(client),
                               "fichier": (io.BytesIO(calendar), "calendrier 2026.pdf")},
                    content_type="multipart/form-data")
        with app.app_context():
            doc = db.session.get(Formation, formation_id).latest_document("calendrier")
            assert (doc is not None) == expect
    manager.post(url, data={"kind": "programme", "csrf_token": csrf(manager),
                            "fichier": (io.BytesIO(b"<html>pas un pdf</html>"), "prog.pdf")},
                 content_type="multipart/form-data")
    with app.app_context():
        assert db.session.get(Formation, formation_id).latest_document("programme") is None
    response = alice.get(f"/admin/dossier/{complete}/documents/calendrier/")
    assert response.status_code == 200 and response.data == calendar
    assert login("resp.droit@sillon.demo").get(url).status_code == 404
    with app.app_context():
        from portal.models import Document
        db.session.execute(sa.delete(Document).where(Document.formation_id == formation_id))
        db.session.commit()


# --- the content check of every upload (portal.documents.uploads.check_pdf) -----------------------
# Genuine PDFs from the producers a CFA meets (a scanner, a "print to PDF", a signature tool's
# incremental update, Sillon's own generator) pass; a file that is a PDF *and* something else,
# or a PDF carrying active content, is refused with its French reason. Every file is built here.

def _raw_pdf(*extra: bytes, catalog: bytes = b"", kids: bytes = b"[3 0 R]", count: int = 1,
             header: bytes = b"%PDF-1.7") -> bytes:
    """A classic PDF written byte by byte: 1 catalog (+ ``catalog``), 2 pages, 3 page,
    4 its content, then ``extra`` objects numbered from 5; exact cross-reference."""
    content = b"BT /F1 12 Tf 72 720 Td (CERFA signe) Tj ET"
    bodies = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
              b"<< /Type /Pages /Kids " + kids + b" /Count %d >>" % count,
              b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
              b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content), *extra]
    out = bytearray(header + b"\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(bodies, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(bodies) + 1, xref)
    return bytes(out)


def _packed_pdf(hidden: bytes, catalog: bytes = b"/OpenAction 5 0 R") -> bytes:
    """PDF 1.5: object 5 (``hidden``) compressed inside an object stream (6), found through a
    cross-reference stream (7): its bytes appear nowhere in the file."""
    import zlib
    plain = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
             b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
             b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
             b"<< /Length 5 >>\nstream\nBT ET\nendstream"]
    out, offsets = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"), {}
    for number, body in enumerate(plain, 1):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    packed = zlib.compress(b"5 0 " + hidden)
    offsets[6] = len(out)
    out += (b"6 0 obj\n<< /Type /ObjStm /N 1 /First 4 /Filter /FlateDecode /Length %d >>\n"
            b"stream\n%s\nendstream\nendobj\n" % (len(packed), packed))
    offsets[7] = len(out)
    rows = b"\x00\x00\x00\x00\x00\xff\xff" + b"".join(
        b"\x02" + (6).to_bytes(4, "big") + b"\x00\x00" if n == 5 else
        b"\x01" + offsets[n].to_bytes(4, "big") + b"\x00\x00" for n in range(1, 8))
    out += (b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n"
            b"%s\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % (len(rows), rows, offsets[7]))
    assert hidden not in out
    return bytes(out)


def _reportlab(image: bool = False) -> bytes:
    """"Print to PDF" (text), or a scanner's page: a JPEG drawn on an A4 page."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(595, 842))
    if image:
        page.drawImage(ImageReader(io.BytesIO(_scan_jpeg())), 0, 0, 595, 842)
    page.drawString(72, 760, "CERFA signé – lu et approuvé")
    page.showPage()
    page.save()
    return out.getvalue()


def _scan_jpeg() -> bytes:
    from PIL import Image, ImageDraw
    picture = Image.new("RGB", (1240, 1754), "white")
    ImageDraw.Draw(picture).text((120, 1500), "Signature de l'employeur", fill="black")
    out = io.BytesIO()
    picture.save(out, format="JPEG", quality=75)
    return out.getvalue()


def _pillow_scan() -> bytes:
    """The PDF a scanning tool writes with Pillow: one image per page."""
    from PIL import Image
    out = io.BytesIO()
    Image.open(io.BytesIO(_scan_jpeg())).save(out, format="PDF", resolution=150)
    return out.getvalue()


def _cairo(tmp_path) -> bytes:
    """A PDF rewritten by poppler/cairo (pdftocairo), another everyday producer."""
    import subprocess
    source, target = tmp_path / "source.pdf", tmp_path / "cairo.pdf"
    source.write_bytes(_reportlab())
    subprocess.run(["pdftocairo", "-pdf", str(source), str(target)], check=True)
    return target.read_bytes()


def _incremental() -> bytes:
    """What a signature tool does: an incremental update appended (two %%EOF)."""
    from pypdf import PdfWriter
    writer = PdfWriter(io.BytesIO(_reportlab()), incremental=True)
    writer.add_metadata({"/Title": "CERFA signé"})
    out = io.BytesIO()
    writer.write(out)
    assert out.getvalue().count(b"%%EOF") == 2
    return out.getvalue()


def _encrypted() -> bytes:
    from pypdf import PdfWriter
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_reportlab())))
    writer.encrypt(user_password="", owner_password="proprietaire", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _shifted_xref() -> bytes:
    """The page object 5 bytes away from where the cross-reference says it is."""
    data = _raw_pdf()
    head, _, tail = data.partition(b"xref\n")
    lines = tail.split(b"\n")
    lines[4] = b"%010d 00000 n " % (int(lines[4][:10]) + 5)
    return head + b"xref\n" + b"\n".join(lines)


HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"
JS = b"<< /Type /Action /S /JavaScript /JS (app.alert\\(1\\)) >>"
GENUINE = {
    "pypdf": lambda tmp: _pdf("CERFA signé"),
    "reportlab-texte": lambda tmp: _reportlab(),
    "reportlab-scan-jpeg": lambda tmp: _reportlab(image=True),
    "pillow-scan": lambda tmp: _pillow_scan(),
    "pdftocairo": _cairo,
    "mise-a-jour-incrementale": lambda tmp: _incremental(),
    "ecrit-a-la-main": lambda tmp: _raw_pdf(),
    "objets-compresses": lambda tmp: _packed_pdf(b"<< /S /GoTo /D [3 0 R /Fit] >>"),
    "ouverture-page-1": lambda tmp: _raw_pdf(catalog=b"/OpenAction [3 0 R /Fit]"),
    "lien-web": lambda tmp: _raw_pdf(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                                     b"/A << /S /URI /URI (https://www.service-public.fr/) >> >>",
                                     kids=b"[3 0 R]"),
}


@pytest.mark.parametrize("producer", sorted(GENUINE))
def test_genuine_pdfs_pass_the_content_check(producer, tmp_path):
    from portal.documents.uploads import check_pdf
    check_pdf(GENUINE[producer](tmp_path))


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("cerfa.txt", "pas un PDF")
    return out.getvalue()


def _refused_cases():
    from portal.documents import uploads as u
    pdf = _reportlab()
    return [
        ("page-web-puis-pdf", HTML_PAGE + pdf, u.NOT_AT_START),
        ("blancs-avant-pdf", b"\r\n  " + pdf, u.NOT_AT_START),
        ("bom-avant-pdf", b"\xef\xbb\xbf" + pdf, u.NOT_AT_START),
        ("pdf-puis-page-web", pdf + HTML_PAGE, u.TRAILING),
        ("tronque", pdf[:-120], u.TRAILING),
        ("html-dans-un-commentaire", _raw_pdf(header=b"%PDF-1.7\n%<html><script>alert(1)"
                                                     b"</script></html>"), u.MARKUP),
        ("startxref-faux", pdf.replace(b"startxref\n", b"startxref\n1"), u.BROKEN),
        ("objet-deplace", _shifted_xref(), u.BROKEN),
        ("en-tete-faux", b"%PDF-x" + pdf[6:], u.NOT_PDF),
        ("zip", _zip(), u.NOT_PDF),
        ("zip-contenant-un-pdf", b"PK\x03\x04" + pdf, u.NOT_AT_START),
        ("chiffre", _encrypted(), u.ENCRYPTED),
        ("sans-page", _raw_pdf(kids=b"[]", count=0), u.NO_PAGE),
        ("javascript-ouverture", _raw_pdf(JS, catalog=b"/OpenAction 5 0 R"), u.JAVASCRIPT),
        ("javascript-nom-echappe", _raw_pdf(b"<< /S /J#61vaScript /J#53 (app.alert\\(1\\)) >>",
                                            catalog=b"/OpenAction 5 0 R"), u.JAVASCRIPT),
        ("javascript-document", _raw_pdf(b"<< /Names [(init) 6 0 R] >>", JS,
                                         catalog=b"/Names << /JavaScript 5 0 R >>"), u.JAVASCRIPT),
        ("javascript-compresse", _packed_pdf(JS), u.JAVASCRIPT),
        ("javascript-lien", _raw_pdf(b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A "
                                     b"<< /S /URI /URI (javascript:alert\\(1\\)) >> >>"),
         u.JAVASCRIPT),
        ("javascript-formulaire", _raw_pdf(catalog=b"/AcroForm << /Fields [] /XFA 5 0 R >>"),
         u.JAVASCRIPT),
        ("launch", _raw_pdf(b"<< /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) >> >>",
                            catalog=b"/OpenAction 5 0 R"), u.LAUNCH),
        ("fichier-joint", _raw_pdf(b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nMZ\nendstream",
                                   b"<< /Type /Filespec /F (a.exe) /EF << /F 5 0 R >> >>",
                                   catalog=b"/Names << /EmbeddedFiles << /Names [(a.exe) 6 0 R] "
                                           b">> >>"), u.EMBEDDED),
        ("fichier-joint-compresse", _packed_pdf(b"<< /Type /Filespec /F (a.exe) >>",
                                                catalog=b"/Names << /EmbeddedFiles << /Names "
                                                        b"[(a.exe) 5 0 R] >> >>"), u.EMBEDDED),
        ("vide", b"", "Le fichier est vide."),
        ("trop-gros", _raw_pdf(b"<< /Length %d >>\nstream\n%s\nendstream" % (
            u.MAX_BYTES, b"0" * u.MAX_BYTES)), "Le fichier dépasse 10 Mo."),
    ]


REFUSED = _refused_cases()


@pytest.mark.parametrize("name,data,message", REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_pdfs_get_their_french_reason(name, data, message):
    from portal.documents.uploads import UploadRefused, check_pdf
    with pytest.raises(UploadRefused) as refused:
        check_pdf(data)
    assert str(refused.value) == message, name


def test_a_lenient_parser_reads_the_polyglots():
    """Why the check cannot be "pypdf opens it": the lenient parser reads every polyglot."""
    for name, data, _ in REFUSED:
        if name in ("page-web-puis-pdf", "blancs-avant-pdf", "pdf-puis-page-web",
                    "html-dans-un-commentaire", "objet-deplace", "javascript-compresse"):
            assert len(PdfReader(io.BytesIO(data)).pages) == 1, name


def _document_rows(app, pk):
    with app.app_context():
        from portal.models import Document, DossierHistory
        return (db.session.execute(sa.select(Document.kind, Document.version).where(
                    Document.dossier_id == pk).order_by(Document.id)).all(),
                db.session.get(Dossier, pk).state, db.session.scalar(
                    sa.select(sa.func.count()).select_from(DossierHistory)
                    .where(DossierHistory.dossier_id == pk)))


def _resaved(data: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_metadata({"/Producer": "Un autre logiciel"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _inked(data: bytes) -> bytes:
    """A signature drawn on screen: an ink annotation on the last page."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.annotations import PolyLine
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.add_annotation(page_number=len(writer.pages) - 1, annotation=PolyLine(
        vertices=[(400, 120), (430, 140), (460, 110), (490, 135)]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _drawn_on(data: bytes) -> bytes:
    """A signature drawn into the page itself (as a PDF printer flattens it)."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.pdfgen import canvas
    stroke = io.BytesIO()
    sheet = canvas.Canvas(stroke, pagesize=(595, 842))
    sheet.bezier(400, 120, 430, 160, 460, 90, 490, 135)
    sheet.save()
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.pages[-1].merge_page(PdfReader(io.BytesIO(stroke.getvalue())).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_signed_returns_refuse_polyglots_and_unsigned_copies(app, login, complete):
    import html
    from portal.documents import uploads as u
    _set_state(app, complete, "economie_validee")
    acme = login(ACME)
    generated = {kind: acme.get(f"/admin/dossier/{complete}/documents/{kind}/").data
                 for kind in ("cerfa", "convention", "devis")}
    for kind, data in generated.items():
        u.check_pdf(data)  # Sillon's generator (xhtml2pdf) passes its own check
    cases = {"page-web-puis-pdf": (HTML_PAGE + generated["cerfa"], u.NOT_AT_START),
             "pdf-puis-page-web": (generated["cerfa"] + HTML_PAGE, u.TRAILING),
             "javascript": (_raw_pdf(JS, catalog=b"/OpenAction 5 0 R"), u.JAVASCRIPT),
             "fichier-joint": (_packed_pdf(b"<< /Type /Filespec /F (a.exe) >>",
                                           catalog=b"/Names << /EmbeddedFiles << /Names "
                                                   b"[(a.exe) 5 0 R] >> >>"), u.EMBEDDED)}
    for name, (data, message) in cases.items():
        before = _document_rows(app, complete)
        page = html.unescape(_upload(acme, complete, "cerfa_signe", data, f"{name}.pdf"))
        assert message in page, name
        assert _document_rows(app, complete) == before, name
    # Sillon's own CERFA and convention returned as they were downloaded, or re-saved with
    # nothing drawn on them, are not signed: refused, nothing kept.
    for kind, generated_kind in (("cerfa_signe", "cerfa"), ("convention_signee", "convention")):
        for data in (generated[generated_kind], _resaved(generated[generated_kind])):
            before = _document_rows(app, complete)
            page = html.unescape(_upload(acme, complete, kind, data, "non-signe.pdf"))
            assert "tel que Sillon l'a produit, sans signature" in page, kind
            assert _document_rows(app, complete) == before
    # Signed on screen (an ink annotation) or drawn on and printed to PDF: accepted. The
    # dossier moves on only once both are in (the table's automatic row).
    _upload(acme, complete, "cerfa_signe", _inked(generated["cerfa"]), "cerfa.pdf")
    assert _document_rows(app, complete)[1] == "economie_validee"
    _upload(acme, complete, "convention_signee", _drawn_on(generated["convention"]),
            "convention.pdf")
    kinds, state, _ = _document_rows(app, complete)
    assert ("cerfa_signe", 1) in kinds and ("convention_signee", 1) in kinds
    assert state == "documents_retournes"
    # The CERFA visé made from it passes the same check.
    _act(login(CONSEIL), complete, "valider_documents")
    u.check_pdf(acme.get(f"/admin/dossier/{complete}/documents/cerfa_vise/").data)


def test_training_files_refuse_a_polyglot(app, login, complete):
    import html
    from portal.documents.uploads import NOT_AT_START
    with app.app_context():
        formation_id = db.session.get(Dossier, complete).formation_id
    manager = login(MANUAL[0])
    url = f"/admin/formation/{formation_id}/fichiers/"
    response = manager.post(url, data={
        "kind": "programme", "csrf_token": csrf(manager),
        "fichier": (io.BytesIO(HTML_PAGE + _pdf("Programme")), "programme.pdf")},
        content_type="multipart/form-data")
    assert NOT_AT_START in html.unescape(manager.get(response.headers["Location"])
                                         .get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Formation, formation_id).latest_document("programme") is None
