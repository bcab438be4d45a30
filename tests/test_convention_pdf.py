"""The convention de formation of a complete demo dossier: its contractual articles (object,
duration, hours incl. distance, price and financing, obligations, termination), the place and
date lines of both signatories, and full addresses (the employer's street number included), read
from the PDF's text (pypdf); both pages saved as PNG artefacts."""
import io
import re
import subprocess

from pypdf import PdfReader

from portal.extensions import db
from portal.models import Dossier
from tests.test_cerfa_layout import _demo, ctx_eur

ARTICLES = ["ARTICLE 1 – OBJET", "ARTICLE 2 – DURÉE",
            "ARTICLE 3 – DURÉE DE LA FORMATION, ORGANISATION ET LIEU",
            "ARTICLE 4 – PRIX ET FINANCEMENT", "ARTICLE 5 – OBLIGATIONS DES PARTIES",
            "ARTICLE 6 – RÉSILIATION"]


def _text(pdf: bytes) -> str:
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _norm(value) -> str:
    return re.sub(r"[\s\u00a0\u202f]+", " ", str(value))


def test_convention_has_its_articles_place_date_and_addresses(app, artifacts_dir, tmp_path):
    from portal.dossiers import snapshot
    from portal.dossiers.printing import context, render
    pk = _demo(app, decided=True)
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        pdf = render("convention", dossier)
        ctx = context(dossier)
        etab, cfa, f, lieu = (snapshot.etablissement(dossier), ctx["cfa"], ctx["formation"],
                              ctx["lieu"])
        a = dossier.apprenti
        expected = [
            # full addresses, the employer's street number first
            f"SIRET {etab.siret} Adresse {etab.adresse_numero} {etab.adresse_voie}, "
            f"{etab.code_postal} {etab.commune}",
            f"{cfa.adresse}, {cfa.code_postal} {cfa.commune}",
            f"{a.adresse_numero} {a.adresse_voie}, {a.code_postal} {a.commune}",
            # object, duration, hours incl. distance
            f"{f.intitule}", f"{f.code_diplome} – {f.code_rncp}",
            f"du {dossier.date_debut_contrat:%d/%m/%Y} au {dossier.date_fin_contrat:%d/%m/%Y}",
            f"{f.heures_total} heures, dont {f.heures_distance} heures de formation à distance",
            f"{f.heures_total} h, dont {f.heures_distance} h à distance",
            # price and financing
            _norm(ctx_eur(ctx["price"])), _norm(ctx_eur(ctx["remainder"])),
            f"Représenté par {dossier.responsable_prenom} {dossier.responsable_nom}",
        ]
        if lieu is not None:
            expected.append(f"{lieu.nom}, {lieu.adresse}, {lieu.code_postal} {lieu.commune}")
    text = _text(pdf)
    for title in ARTICLES:
        assert title in text, title
    for value in expected:
        assert value in text, value
    # Place and date lines for each signatory.
    assert text.count("Fait à :") == 2 and text.count("le : ……… / ……… / ………………") == 2
    assert "Pour le CFA" in text and "Pour l'employeur" in text
    assert "prend fin de plein droit à la rupture du contrat" in text
    folder = artifacts_dir / "convention"
    folder.mkdir(exist_ok=True)
    path = tmp_path / "convention.pdf"
    path.write_bytes(pdf)
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    for page in range(1, pages + 1):
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", str(page), "-l", str(page),
                        "-singlefile", str(path), str(folder / f"convention-page-{page}")],
                       check=True)
        assert (folder / f"convention-page-{page}.png").stat().st_size > 5000
