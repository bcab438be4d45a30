"""Financing PDFs (xhtml2pdf) from plain data: the CFA's invoice (to the OPCO or to the
employer) and the récépissé of a reimbursement request. Checked by the text pypdf extracts
(every value of the data contract, the legal mentions of Code de commerce L441-9, L441-10,
D441-5 and CGI art. 261-4-4° a) and by pdffonts (every font embedded)."""
import copy
import io
import re
import subprocess
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from portal.documents.render import render_html, render_pdf
from portal.rules.formatting import eur

DOSSIER = {"id": 4217, "apprenti": "Léa MARCHAND", "formation": "BTS Gestion de la PME",
           "code_rncp": "RNCP38362", "code_diplome": "32031213",
           "date_debut": date(2026, 9, 7), "date_fin": date(2028, 8, 31),
           "employeur": "Boulangerie Éloïse", "employeur_siret": "81234567800019",
           "numero_opco": "DECA-034-2026-118822"}
CONTACT = {"civilite": "Mme", "prenom": "Hélène", "nom": "Garnier",
           "fonction": "Responsable financements", "telephone": "04 67 11 22 33",
           "email": "financements@cfa-lattes.fr"}
CFA = {"nom": "CFA Sillon Lattes", "uai": "0342215K", "siret": "44306184100047",
       "numero_declaration_activite": "76340912334", "adresse": "12 rue des Vignes",
       "code_postal": "34970", "commune": "Lattes", "telephone": "04 67 00 00 01",
       "email": "contact@cfa-lattes.fr", "tva_intracom": "FR12443061841",
       "iban": "FR76 3000 4000 0312 3456 7890 143", "bic": "BNPAFRPPXXX", "contact": CONTACT}
DELEGANT = {"nom": "Organisme Formavenir", "siret": "52998877600021", "uai": "0341234X",
            "numero_declaration_activite": "76341100034"}
LINES = [
    {"designation": "Contrat d'apprentissage – année 1 – avance (40 %)",
     "quantite": Decimal("1"), "prix_unitaire": Decimal("3883.33"),
     "montant": Decimal("3883.33")},
    {"designation": "Déduction de la participation forfaitaire de l'employeur",
     "quantite": None, "prix_unitaire": None, "montant": Decimal("-750")},
    {"designation": "Frais d'hébergement (nuitées)", "quantite": Decimal("14"),
     "prix_unitaire": Decimal("6"), "montant": Decimal("84")},
]
OPCO_CLIENT = {"nom": "OPCO EP", "adresse": "3 rue Saint-Laurent", "code_postal": "75010",
               "commune": "Paris", "siret": None}
EMPLOYER_CLIENT = {"nom": "Boulangerie Éloïse", "adresse": "5 place de la Comédie",
                   "code_postal": "34000", "commune": "Montpellier",
                   "siret": "81234567800019"}


def _invoice_ctx(destinataire="opco", delegant=True, contact=True, bank=True):
    cfa = dict(CFA, contact=CONTACT if contact else None)
    if not bank:
        cfa.update(iban=None, bic=None, tva_intracom=None)
    opco = destinataire == "opco"
    lines = copy.deepcopy(LINES) if opco else [
        {"designation": "Reste à charge : prix de la formation au-delà du NPEC",
         "quantite": Decimal("1.5"), "prix_unitaire": Decimal("1000"),
         "montant": Decimal("1500")},
        {"designation": "Participation forfaitaire (diplôme de niveau 6)",
         "quantite": Decimal("1"), "prix_unitaire": Decimal("750"), "montant": Decimal("750")}]
    return {
        "dossier": dict(DOSSIER), "cfa": cfa, "delegant": DELEGANT if delegant else None,
        "invoice": {"numero": "FA-2026-00042" if opco else "FA-2026-00043",
                    "date": date(2026, 10, 2), "due": date(2026, 11, 1),
                    "destinataire": destinataire,
                    "client": OPCO_CLIENT if opco else EMPLOYER_CLIENT,
                    "objet": "Contrat d'apprentissage – année 1 – avance (40 %)" if opco
                    else "Reste à charge de l'employeur – année 1",
                    "lines": lines, "total": sum(line["montant"] for line in lines)},
        "instalment": {"contract_year": 1, "label": "Avance", "percent": Decimal("40"),
                       "due": date(2026, 9, 17)} if opco else None,
    }


def _receipt_ctx(certificat):
    return {"dossier": dict(DOSSIER), "cfa": dict(CFA), "opco": {"code": "EP", "nom": "OPCO EP"},
            "receipt": {"numero": "R-2026-00042", "date": date(2026, 10, 3),
                        "deposee_le": date(2026, 10, 2), "invoice_numero": "FA-2026-00042",
                        "montant": Decimal("3217.33"), "instalment_label": "Avance (40 %)",
                        "certificat": certificat, "demandeur": "Hélène GARNIER"}}


def _text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _eur(value) -> str:
    return re.sub(r"[ \u00a0\u202f]+", " ", eur(Decimal(value)))


def _render(app, kind, ctx) -> bytes:
    with app.test_request_context():
        return render_pdf(kind, ctx)


def _assert_fonts_embedded(tmp_path, pdf: bytes):
    path = tmp_path / "fonts-check.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                         check=True).stdout.splitlines()[2:]
    fonts = [(line.split()[0], line.split()[-5]) for line in out if line.strip()]
    assert fonts and all(emb == "yes" for _, emb in fonts), fonts


def _save(artifacts_dir, name, pdf: bytes):
    folder = artifacts_dir / "documents"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(pdf)


LEGAL = ["FACTURE", "TVA non applicable – article 261-4-4° a du CGI",
         "Pénalités de retard : trois fois le taux d'intérêt légal",
         "Indemnité forfaitaire pour frais de recouvrement : 40 € "
         "(article D441-5 du Code de commerce)",
         "Pas d'escompte pour paiement anticipé", "Date d'échéance : 01/11/2026"]


def _assert_contract(text):
    for value in ("Apprenti·e Léa MARCHAND", "Formation BTS Gestion de la PME",
                  "RNCP38362 – 32031213", "Contrat du 07/09/2026 au 31/08/2028",
                  "Employeur Boulangerie Éloïse (SIRET 81234567800019)",
                  "N° de dossier OPCO DECA-034-2026-118822", "dossier n° 4217",
                  f"édité le {date.today():%d/%m/%Y}"):
        assert value in text, value


def _assert_invoice_seller(text):
    for value in ("CFA Sillon Lattes 12 rue des Vignes 34970 Lattes",
                  "SIRET : 44306184100047 – UAI : 0342215K",
                  "N° de déclaration d'activité : 76340912334",
                  "Tél. : 04 67 00 00 01 – Courriel : contact@cfa-lattes.fr"):
        assert value in text, value


def test_opco_invoice_shows_every_value_and_mention(app, artifacts_dir, tmp_path):
    pdf = _render(app, "facture", _invoice_ctx("opco"))
    text = _text(pdf)
    for mention in LEGAL:
        assert mention in text, mention
    assert "Facture n° FA-2026-00042 du 02/10/2026 – adressée à l'OPCO" in text
    _assert_contract(text)
    _assert_invoice_seller(text)
    assert "N° de TVA intracommunautaire : FR12443061841" in text
    assert "OPCO EP 3 rue Saint-Laurent 75010 Paris" in text
    assert "Contrat d'apprentissage – année 1 – avance (40 %)" in text
    assert "Avance – année 1 du contrat – 40 % – prévue le 17/09/2026" in text
    assert f"avance (40 %) 1 {_eur('3883.33')} {_eur('3883.33')}" in text
    assert f"l'employeur — — {_eur('-750')}" in text
    assert f"Frais d'hébergement (nuitées) 14 {_eur('6')} {_eur('84')}" in text
    assert f"Total net à payer {_eur('3217.33')}" in text and "3 217,33 €" in text
    assert "IBAN : FR76 3000 4000 0312 3456 7890 143 – BIC : BNPAFRPPXXX" in text
    assert ("Contrat géré pour le compte de : Organisme Formavenir (SIRET 52998877600021, "
            "UAI 0341234X, N° de déclaration d'activité 76341100034)") in text
    assert "Interlocuteur Mme Hélène Garnier" in text
    assert "Responsable financements" in text
    assert "04 67 11 22 33 – financements@cfa-lattes.fr" in text
    _assert_fonts_embedded(tmp_path, pdf)
    _save(artifacts_dir, "facture-opco.pdf", pdf)


def test_employer_invoice_without_optional_blocks(app, artifacts_dir, tmp_path):
    pdf = _render(app, "facture", _invoice_ctx("employeur", delegant=False, contact=False,
                                                bank=False))
    text = _text(pdf)
    for mention in LEGAL:
        assert mention in text, mention
    assert "Facture n° FA-2026-00043 du 02/10/2026 – adressée à l'employeur" in text
    _assert_contract(text)
    _assert_invoice_seller(text)
    assert "5 place de la Comédie 34000 Montpellier SIRET : 81234567800019" in text
    assert f"NPEC 1,50 {_eur('1000')} {_eur('1500')}" in text
    assert f"Total net à payer {_eur('2250')}" in text and "2 250 €" in text
    for absent in ("Contrat géré pour le compte de", "Formavenir", "IBAN", "BIC",
                   "Interlocuteur", "Garnier", "TVA intracommunautaire", "Échéance Avance"):
        assert absent not in text, absent
    _assert_fonts_embedded(tmp_path, pdf)
    _save(artifacts_dir, "facture-employeur.pdf", pdf)


@pytest.mark.parametrize("certificat", ["certificat-realisation-4217-annee1.pdf", None])
def test_receipt_says_what_was_deposited(app, artifacts_dir, tmp_path, certificat):
    pdf = _render(app, "recepisse", _receipt_ctx(certificat))
    text = _text(pdf)
    assert "RÉCÉPISSÉ DE DEMANDE DE REMBOURSEMENT" in text
    assert "Récépissé n° R-2026-00042 du 03/10/2026" in text
    assert ("Le 02/10/2026, Hélène GARNIER, pour le CFA CFA Sillon Lattes, a déposé une "
            "demande de remboursement auprès de OPCO EP (code EP) pour le dossier n° 4217"
            ) in text
    assert "Échéance Avance (40 %)" in text
    assert f"Montant demandé {_eur('3217.33')}" in text
    assert "Facture jointe Facture n° FA-2026-00042" in text
    expected = certificat or "non requis pour la première avance"
    assert f"Certificat de réalisation {expected}" in text
    if certificat:
        assert "non requis" not in text
    assert "Déposée le 02/10/2026" in text and "Déposée par Hélène GARNIER" in text
    assert "le paiement sera enregistré dans Sillon à réception du règlement de l'OPCO" in text
    _assert_contract(text)
    for value in ("SIRET – UAI 44306184100047 – 0342215K",
                  "N° de déclaration d'activité 76340912334",
                  "Adresse 12 rue des Vignes, 34970 Lattes",
                  "Téléphone – courriel 04 67 00 00 01 – contact@cfa-lattes.fr"):
        assert value in text, value
    assert "Interlocuteur Mme Hélène Garnier, Responsable financements" in text
    _assert_fonts_embedded(tmp_path, pdf)
    if certificat:
        _save(artifacts_dir, "recepisse.pdf", pdf)


def _words_past_the_right_margin(tmp_path, pdf: bytes) -> list[str]:
    """Words drawn beyond the page's right margin (1,3 cm), by pdftotext -bbox."""
    path = tmp_path / "bbox.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True,
                         text=True, check=True).stdout
    width = float(re.search(r'<page width="([\d.]+)"', out).group(1))
    limit = width - 1.3 / 2.54 * 72 + 1
    return [word for x_max, word in re.findall(r'xMax="([\d.]+)"[^>]*>([^<]*)</word>', out)
            if float(x_max) > limit]


def test_many_lines_and_a_long_designation_still_render(app, tmp_path):
    ctx = _invoice_ctx("opco")
    reference = "REF-" + "0123456789" * 15  # one word wider than the column: broken, kept
    long = (f"Frais annexes de restauration {reference} "
            + "pour les journées de formation au CFA " * 12)
    lines = [{"designation": f"Repas n° {i:02d}", "quantite": Decimal("1"),
              "prix_unitaire": Decimal("3"), "montant": Decimal("3")} for i in range(1, 81)]
    lines.append({"designation": long.strip(), "quantite": Decimal("2"),
                  "prix_unitaire": Decimal("1234.5"), "montant": Decimal("2469")})
    ctx["invoice"].update(lines=lines, total=Decimal("2709"))
    pdf = _render(app, "facture", ctx)
    text = _text(pdf)
    assert len(PdfReader(io.BytesIO(pdf)).pages) >= 2
    for i in range(1, 81):
        assert f"Repas n° {i:02d} 1 {_eur('3')} {_eur('3')}" in text, i
    assert text.count("pour les journées de formation au CFA") == 12
    assert reference in re.sub(r" (?=\d)", "", text)
    assert _words_past_the_right_margin(tmp_path, pdf) == []
    assert f"{_eur('1234.50')} {_eur('2469')}" in text and "1 234,50 €" in text
    assert f"Total net à payer {_eur('2709')}" in text
    assert "Pas d'escompte pour paiement anticipé" in text
    _assert_fonts_embedded(tmp_path, pdf)


@pytest.mark.parametrize("kind", ["facture", "recepisse"])
def test_markup_in_values_is_printed_as_text(app, kind):
    hostile = "<script>alert(1)</script> Dupont & Fils"
    ctx = _invoice_ctx("employeur") if kind == "facture" else _receipt_ctx(None)
    ctx["dossier"]["employeur"] = hostile
    if kind == "facture":
        ctx["invoice"]["client"] = dict(EMPLOYER_CLIENT, nom=hostile)
        ctx["invoice"]["lines"][0]["designation"] = "<b>gras</b> & <i>italique</i>"
    else:
        ctx["receipt"]["demandeur"] = "<img src=x> Jean & Marie"
    with app.test_request_context():
        html = render_html(kind, ctx)
    for raw in ("<script>", "<img", "<b>gras", "<i>"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Dupont &amp; Fils" in html
    text = _text(_render(app, kind, ctx))
    assert hostile in text
    if kind == "facture":
        assert "<b>gras</b> & <i>italique</i>" in text
    else:
        assert "<img src=x> Jean & Marie" in text


def test_unknown_kind_is_refused(app):
    with app.test_request_context(), pytest.raises(ValueError):
        render_html("avoir", _invoice_ctx())
