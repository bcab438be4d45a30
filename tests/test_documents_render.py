"""Generated PDFs (xhtml2pdf): for a complete dossier of each dispositif, the text extracted from
each PDF (pypdf) shows every value it should; every font is embedded (pdffonts); page 1 renders
to PNG (pdftoppm) as a test artefact."""
import io
import re
import subprocess

import pytest
from pypdf import PdfReader

from portal.extensions import db
from portal.models import Dossier
from tests.test_dossier_lifecycle import AUTOMATIC, MANUAL, _fill, world  # noqa: F401


def _text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _eur(value) -> str:
    from decimal import Decimal

    from portal.rules.formatting import eur
    return re.sub(r"[ \u00a0\u202f]+", " ", eur(Decimal(value)))


def _fonts(tmp_path, pdf: bytes) -> list[tuple[str, str]]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[2:]
    return [(line.split()[0], line.split()[-5]) for line in out if line.strip()]


@pytest.fixture()
def complete(app, login, world):  # noqa: F811
    def make(training, end):
        pk, siret = world(training, end=end)
        _fill(login, pk, siret, end.isoformat())
        return pk, siret
    return make


@pytest.mark.parametrize("kind", ["cerfa", "convention", "devis"])
def test_documents_show_the_dossier(app, complete, artifacts_dir, tmp_path, kind):
    from datetime import date

    from portal.dossiers.printing import render as render_pdf
    pk, siret = complete(MANUAL, date(2027, 8, 31))
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        pdf = render_pdf(kind, dossier)
        periods = [(p.pourcentage, p.montant_mensuel) for p in dossier.remunerations]
    text = _text(pdf)
    if kind == "cerfa":
        # The official form's layout (tests/test_cerfa_layout.py): codes and dates one
        # character per box, so values are compared without spaces nor the boxes' bars.
        from tests.test_cerfa_layout import flat
        text = flat(text)
        assert flat("Ateliers Sillon – Lattes") in text and siret in text
        assert "Alice" in text and "Perrin" in text.title()
        assert "01/09/2026" in text and "31/08/2027" in text
        assert flat("Durée de la formation : 450 heures, dont 60 h à distance") in text
        assert flat("Contrat d'apprentissage") in text and "10103*14" in text
        assert "2040344109012" in text  # NIR
        assert flat("Type d'employeur : 12") in text
        assert "1486" in text and "RNCP30101" in text and "25032611" in text
        assert "Delmas" in text and "Hélène" in text
        for pct, amount in periods:
            assert flat(f"{int(pct)} % du SMIC") in text
            assert flat(_eur(amount)) in text
    else:
        assert "Ateliers Sillon – Lattes" in text and siret in text
        assert "Alice" in text and "Perrin" in text.title()
        assert "01/09/2026" in text and "31/08/2027" in text
        assert "450 h, dont 60 h à distance" in text
    if kind in ("convention", "devis"):
        assert _eur("8500") in text  # the training's yearly price (one whole contract year)
        assert _eur("750") in text  # level 6, concluded from 2025-07-01: participation
        # Expected OPCO coverage: the NPEC of RNCP30101 × IDCC 1486 (seeds/reference/npec.csv);
        # the employer's remainder: 8 500 − 7 600 + 750.
        assert _eur("7600") in text
        assert _eur("1650") in text
    fonts = _fonts(tmp_path, pdf)
    assert fonts and all(emb == "yes" for _, emb in fonts), fonts
    png = artifacts_dir / "documents" / f"{kind}-apprentissage"
    png.parent.mkdir(exist_ok=True)
    (tmp_path / "doc.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "doc.pdf"), str(png)], check=True)
    assert png.with_suffix(".png").stat().st_size > 5000


def test_professionalisation_gets_the_ej20(app, login, complete, artifacts_dir, tmp_path):
    from datetime import date

    from portal.dossiers.printing import filename
    from portal.dossiers.printing import render as render_pdf
    from tests.test_dossier_lifecycle import ACME, _contrat, _save
    pk, siret = complete(MANUAL, date(2027, 8, 31))
    with app.app_context():
        db.session.get(Dossier, pk).dispositif = "professionnalisation"
        db.session.commit()
    _save(login(ACME), pk, "contrat", _contrat("2027-08-31"))  # the pro grid: 70 % at 22
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        periods = [(p.pourcentage, p.montant_mensuel) for p in dossier.remunerations]
        pdf = render_pdf("cerfa", dossier)
        name = filename("cerfa", dossier)
    from tests.test_cerfa_layout import flat  # the official form's boxes (see above)
    text = flat(_text(pdf))
    assert flat("Contrat de professionnalisation") in text and "12434" in text
    assert "LETUTEUR" in text and siret in text and "Delmas" in text
    assert "Alice" in text and "14/03/2004" in text and "2040344109012" in text
    assert "01/09/2026" in text and "31/08/2027" in text
    assert flat("450 heures, dont 60 h à distance") in text and "RNCP30101" in text
    assert periods and all(pct == 70 for pct, _ in periods)
    for pct, amount in periods:
        assert flat(f"{int(pct)} % du SMIC") in text and flat(_eur(amount)) in text
    assert name == f"CERFA-EJ20-dossier-{pk}-PERRIN.pdf"
    assert all(emb == "yes" for _, emb in _fonts(tmp_path, pdf))
    png = artifacts_dir / "documents" / "cerfa-professionnalisation"
    png.parent.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile",
                    str(tmp_path / "doc.pdf"), str(png)], check=True)
    assert png.with_suffix(".png").stat().st_size > 5000


def test_an_incomplete_dossier_still_renders(app):
    from portal.dossiers.printing import render as render_pdf
    with app.test_request_context():
        dossier = db.session.query(Dossier).filter_by(state="initialise").first()
        for kind in ("cerfa", "convention", "devis"):
            assert _text(render_pdf(kind, dossier))
