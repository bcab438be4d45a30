"""The CERFA FA13 laid out as the official form (n° 10103, reference/cerfa_layout): on complete
demo dossiers, the text extracted from the PDF (pypdf) carries every label of the form, on the
page the form puts it, and every value of the dossier; exactly two A4 pages, no section split
across them; both pages rendered to PNG (pdftoppm) as artefacts; the CFA's stamp lands inside
the "Visa du CFA" box, found in the rendered pixels, for a signed PDF and for a scan of it."""
import io
import re
import subprocess
from decimal import Decimal

import pytest
import sqlalchemy as sa
from PIL import Image
from pypdf import PdfReader

from portal.extensions import db
from portal.models import Dossier, PeriodeRemuneration
from portal.models.financing import PriseEnCharge
from tests.test_dossier_lifecycle import world  # noqa: F401  (fixture)

# The official form's labels, page by page (fa13_10103-12_page-1.png / -2.png).
PAGE_1 = [
    "Contrat d'apprentissage", "Mode contractuel de l'apprentissage", "L'EMPLOYEUR",
    "employeur privé", "employeur « public »", "Nom et prénom ou dénomination",
    "N° SIRET de l'établissement d'exécution du contrat",
    "Adresse de l'établissement d'exécution du contrat", "N° :", "Voie :", "Complément :",
    "Code postal :", "Commune :", "Téléphone :", "Courriel :", "Type d'employeur :",
    "Employeur spécifique :", "Code activité de l'entreprise (NAF) :",
    "Effectif total salariés de l'entreprise :",
    "Code IDCC de la convention collective applicable :",
    "Pour les employeurs du secteur public, adhésion de l'apprenti au régime spécifique "
    "d'assurance chômage", "L'APPRENTI(E)", "Nom de naissance de l'apprenti(e)",
    "Nom d'usage", "Le premier prénom de l'apprenti(e) selon l'état civil",
    "NIR de l'apprenti(e) :", "Adresse de l'apprenti(e) :", "Date de naissance :", "Sexe :",
    "Département de naissance :", "Commune de naissance :", "Nationalité :",
    "Régime social :", "Déclare être inscrit sur la liste des sportifs de haut niveau :",
    "Déclare bénéficier de la reconnaissance travailleur handicapé :",
    "Situation avant ce contrat :", "Dernier diplôme ou titre préparé :",
    "Dernière classe / année suivie :",
    "Intitulé précis du dernier diplôme ou titre préparé :",
    "Diplôme ou titre le plus élevé obtenu :",
    "Déclare avoir un projet de création ou de reprise d'entreprise :", "Représentant légal",
    "(à renseigner si l'apprenti est mineur non émancipé)", "Nom de naissance et prénom :",
    "Adresse du représentant légal :", "LE MAÎTRE D'APPRENTISSAGE",
    "Maître d'apprentissage n°1", "Maître d'apprentissage n°2", "Nom de naissance :",
    "Prénom :", "Emploi occupé :", "Niveau de diplôme ou titre le plus élevé obtenu :",
    "L'employeur atteste sur l'honneur que le maître d'apprentissage répond à l'ensemble des "
    "critères d'éligibilité à cette fonction.",
]
PAGE_2 = [
    "LE CONTRAT", "Type de contrat ou d'avenant :", "Type de dérogation :",
    "à renseigner si une dérogation existe pour ce contrat",
    "Numéro du contrat précédent ou du contrat sur lequel porte l'avenant :",
    "Date de conclusion :", "(Date de signatures du présent contrat)",
    "Date de début d'exécution du contrat :",
    "Date de début de formation pratique chez l'employeur :", "Si avenant, date d'effet :",
    "Date de fin du contrat ou de la période d'apprentissage :",
    "Durée hebdomadaire du travail :", "heures", "minutes",
    "Travail sur machines dangereuses ou exposition à des risques particuliers :",
    "Rémunération", "Indiquer SMIC ou SMC (salaire minimum conventionnel)", "1re année",
    "2e année", "3e année", "4e année", "Salaire brut mensuel à l'embauche",
    "Caisse de retraite complémentaire :", "Avantages en nature, le cas échéant :",
    "Nourriture :", "/ repas", "Logement :", "/ mois", "Autre :", "LA FORMATION",
    "CFA d'entreprise :", "Dénomination du CFA responsable :", "N° UAI du CFA :",
    "N° SIRET CFA :", "Adresse du CFA responsable :",
    "Si le CFA responsable est le lieu de formation principal cochez la case ci-contre",
    "Visa du CFA (cachet et signature du directeur)", "Diplôme ou titre visé par l'apprenti :",
    "Intitulé précis :", "Code du diplôme :", "Code RNCP :",
    "Organisation de la formation en CFA", "Date de début de formation en CFA :",
    "Date prévue de fin des épreuves ou examens :", "Durée de la formation :",
    "Lieu principal de réalisation de la formation si différent du CFA responsable :",
    "Dénomination du lieu de formation principal :", "N° UAI :", "N° SIRET :",
    "Adresse du lieu de formation principal :",
    "L'employeur atteste disposer de l'ensemble des pièces justificatives nécessaires au "
    "dépôt du contrat", "Fait à :", "Signature de l'employeur", "Signature de l'apprenti(e)",
    "Signature du représentant légal de l'apprenti(e) mineur(e)",
    "CADRE RÉSERVÉ À L'ORGANISME EN CHARGE DU DÉPÔT DU CONTRAT", "Nom de l'organisme :",
    "N° SIRET de l'organisme :", "Date de réception du dossier complet :",
    "Date de la décision :", "N° de dépôt :", "Numéro d'avenant :",
    "notice FA 14",
]
SECTIONS_1 = ("L'EMPLOYEUR", "L'APPRENTI(E)", "LE MAÎTRE D'APPRENTISSAGE")
SECTIONS_2 = ("LE CONTRAT", "LA FORMATION", "CADRE RÉSERVÉ À L'ORGANISME")


def flat(text) -> str:
    """Text without spaces nor the comb boxes' bars: a value printed one character per box
    reads as the value."""
    return re.sub(r"[\s\u00a0\u202f\u2007│]+", "", str(text))


def _pages(pdf: bytes) -> list[str]:
    return [flat(page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def _day(value) -> str:
    return value.strftime("%d/%m/%Y")


def _demo(app, *, with_rep=False, decided=False, pro=False) -> int:
    """A complete demo dossier (CERFA available)."""
    with app.app_context():
        query = sa.select(Dossier.id).where(
            Dossier.dispositif == ("professionnalisation" if pro else "apprentissage"),
            Dossier.niveau_saisie == "complete",
            Dossier.state.in_(("documents_valides", "envoye_opco")))
        if with_rep:
            from portal.models import RepresentantLegal
            query = query.join(RepresentantLegal)
        if decided:
            query = query.join(PriseEnCharge).where(PriseEnCharge.date_decision.is_not(None))
        return db.session.scalars(query.order_by(Dossier.id)).first()


def _expected(dossier) -> tuple[list[str], list[str]]:
    """Every value of the dossier the form prints, by page, read from the database."""
    from portal.dossiers import snapshot
    from portal.dossiers.printing import context
    ctx = context(dossier)
    f, cfa, lieu = ctx["formation"], ctx["cfa"], ctx["lieu"]
    etab = snapshot.etablissement(dossier)
    a, m1 = dossier.apprenti, ctx["m1"]
    naf = etab.naf.replace(".", "")
    page1 = [etab.denomination, etab.siret, etab.adresse_numero, etab.adresse_voie,
             etab.code_postal, etab.commune, re.sub(r"\D", "", etab.telephone), etab.email,
             etab.type_employeur, etab.employeur_specifique, naf, str(etab.effectif),
             etab.idcc, snapshot.convention(dossier).libelle,
             "☒employeurprivé" if not etab.public else "☒employeur«public»",
             a.nom_naissance, a.prenom, a.nir, _day(a.date_naissance), f"☒{a.sexe}",
             a.departement_naissance, a.commune_naissance, a.nationalite, a.regime_social,
             a.situation_avant_contrat, a.diplome_plus_eleve, a.dernier_diplome_prepare,
             a.derniere_classe, a.intitule_dernier_diplome, a.adresse_numero, a.adresse_voie,
             a.code_postal, a.commune, re.sub(r"\D", "", a.telephone), a.email,
             m1.nom_naissance, m1.prenom, _day(m1.date_naissance), m1.email, m1.emploi_occupe,
             m1.diplome, m1.niveau_diplome, "☒L'employeuratteste", ctx["mode_label"]]
    rep = dossier.representant_legal
    if rep is not None:
        page1 += [f"{rep.nom}{rep.prenom}", rep.adresse_numero, rep.adresse_voie,
                  rep.code_postal, rep.commune, rep.email]
    c = dossier.contrat
    page2 = [c.type_contrat, _day(c.date_conclusion), _day(dossier.date_debut_contrat),
             _day(c.date_debut_formation_pratique), _day(dossier.date_fin_contrat),
             f"{c.duree_hebdo_heures}heures{c.duree_hebdo_minutes:02d}minutes",
             c.caisse_retraite_complementaire, cfa.nom, cfa.uai, cfa.siret, cfa.code_postal,
             cfa.commune, f.diplome_vise, f.intitule, f.code_diplome, f.code_rncp,
             _day(c.date_debut_formation_cfa), _day(f.date_fin_examens),
             f"{f.heures_total}heures"]
    for row in ctx["rows"]:
        page2 += [f"du{_day(row['start'])}au{_day(row['end'])}",
                  flat(ctx_percent(row["percent"])) + "du" + row["base"],
                  flat(ctx_eur(row["monthly_amount"]))]
    if lieu is not None:
        page2 += [lieu.nom, lieu.uai, lieu.siret, lieu.code_postal, lieu.commune]
    pec = dossier.prise_en_charge
    if pec is not None:
        page2 += [ctx["cadre"].nom, pec.numero_opco, _day(pec.date_complet)]
        if pec.date_decision:
            page2.append(_day(pec.date_decision))
    # « Fait à … le » (the date of signature is the date de conclusion), the attestation.
    page2 += [f"Faità:{c.lieu_signature}le:{_day(c.date_conclusion)}",
              "☒L'employeurattestedisposerdel'ensembledespiècesjustificatives",
              "CFAd'entreprise:" + ("☒oui☐non" if cfa.cfa_entreprise else "☐oui☒non")]
    assert c.lieu_signature and c.attestation_pieces  # the demo fills them
    # the first line of the first period is the salary at hiring
    page2.append("Salairebrutmensuelàl'embauche:" + flat(ctx_eur(ctx["rows"][0]["monthly_amount"])))
    return [flat(v) for v in page1 if v], [flat(v) for v in page2 if v]


def ctx_eur(value):
    from portal.rules.formatting import eur
    return eur(value)


def ctx_percent(value):
    from portal.rules.formatting import percent
    return percent(value)


def _render(app, pk) -> bytes:
    from portal.dossiers.printing import render
    with app.test_request_context():
        return render("cerfa", db.session.get(Dossier, pk))


def _png(pdf: bytes, tmp_path, stem, page: int, dpi: int = 72) -> Image.Image:
    path = tmp_path / f"{stem}.pdf"
    path.write_bytes(pdf)
    out = tmp_path / f"{stem}-p{page}"
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(page), "-l", str(page),
                    "-singlefile", str(path), str(out)], check=True)
    return Image.open(out.with_suffix(".png")).convert("RGB")


@pytest.mark.parametrize("case", ["opco_decided", "minor_with_representative"])
def test_fa13_carries_every_label_and_every_value(app, artifacts_dir, tmp_path, case):
    pk = _demo(app, decided=case == "opco_decided", with_rep=case != "opco_decided")
    assert pk is not None
    pdf = _render(app, pk)
    pages = _pages(pdf)
    assert len(pages) == 2
    reader = PdfReader(io.BytesIO(pdf))
    assert all(round(float(p.mediabox.width)) == 595 and round(float(p.mediabox.height)) == 842
               for p in reader.pages)  # A4
    for label in PAGE_1:
        assert flat(label) in pages[0], label
    for label in PAGE_2:
        assert flat(label) in pages[1], label
    # No section across the break: each title is on one page only, with all its labels.
    for title in SECTIONS_1:
        assert flat(title) in pages[0] and flat(title) not in pages[1], title
    for title in SECTIONS_2:
        assert flat(title) in pages[1] and flat(title) not in pages[0], title
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        values_1, values_2 = _expected(dossier)
    for value in values_1:
        assert value in pages[0], value
    for value in values_2:
        assert value in pages[1], value
    folder = artifacts_dir / "cerfa_layout"
    folder.mkdir(exist_ok=True)
    for page in (1, 2):
        image = _png(pdf, tmp_path, "fa13", page, dpi=110)
        image.save(folder / f"fa13-{case}-page-{page}.png")
        assert image.size[0] > 800


def _visa_box(image: Image.Image, label_x: float, label_y: float, page_height: float):
    """The visa box's frame (left, top, right, bottom pixels at 72 dpi), found under its label
    in the rendered page: the first dark line below the label, then its two sides."""
    dark = lambda px: sum(px) < 300  # noqa: E731
    x, y0 = int(label_x + 40), int(page_height - label_y) + 2
    rows = [y for y in range(y0, y0 + 140) if dark(image.getpixel((x, y)))]
    top, bottom = rows[0], rows[-1]
    middle = (top + bottom) // 2
    cols = [c for c in range(int(label_x) - 8, int(label_x) + 300)
            if dark(image.getpixel((c, middle)))]
    assert len(cols) >= 2 and bottom - top > 60, (rows, cols)
    return cols[0], top, cols[-1], bottom


def _stamp_pixels(image: Image.Image):
    """Pixels of the stamp's navy ink (nothing else on the form is that colour)."""
    width, height = image.size
    return [(x, y) for y in range(height) for x in range(width)
            if (lambda r, g, b: b > 70 and b - r > 40 and r < 80)(*image.getpixel((x, y)))]


@pytest.mark.parametrize("form", ["fa13", "ej20"])
@pytest.mark.parametrize("scanned", [False, True])
def test_the_stamp_sits_in_the_visa_box(app, artifacts_dir, tmp_path, scanned, form):
    from datetime import date

    from portal.documents import cerfa_layout
    from portal.documents.stamp import find_visa_label, stamp_pdf
    pk = _demo(app, decided=form == "fa13", pro=form == "ej20")
    pdf = _render(app, pk)
    page_index, label_x, label_y = find_visa_label(PdfReader(io.BytesIO(pdf)))
    assert page_index == 1
    signed = pdf
    if scanned:  # a paper CERFA signed and scanned: pictures of its pages, no text
        images = [_png(pdf, tmp_path, "src", n, dpi=100) for n in (1, 2)]
        buffer = io.BytesIO()
        images[0].save(buffer, "PDF", resolution=100, save_all=True, append_images=images[1:])
        signed = buffer.getvalue()
        assert find_visa_label(PdfReader(io.BytesIO(signed))) is None
    stamped = stamp_pdf(signed, "CFA Sillon Sud", "Claire Conseil", date(2026, 9, 3), form)
    reader = PdfReader(io.BytesIO(stamped))
    assert len(reader.pages) == 2
    assert "Visé par le CFA" not in reader.pages[0].extract_text()
    assert "Visé par le CFA" in reader.pages[1].extract_text()
    page_height = float(reader.pages[1].mediabox.height)
    scale = page_height / cerfa_layout.A4[1]
    box = _visa_box(_png(pdf, tmp_path, "blank", 2), label_x, label_y, cerfa_layout.A4[1])
    image = _png(stamped, tmp_path, "stamped", 2, dpi=round(72 * 1 / scale))
    ink = _stamp_pixels(image)
    assert len(ink) > 200
    xs, ys = [x for x, _ in ink], [y for _, y in ink]
    left, top, right, bottom = box
    assert left < min(xs) and max(xs) < right and top < min(ys) and max(ys) < bottom, \
        (box, (min(xs), min(ys), max(xs), max(ys)))
    folder = artifacts_dir / "cerfa_layout"
    folder.mkdir(exist_ok=True)
    image.save(folder / f"{form}-stamped-{'scan' if scanned else 'pdf'}-page-2.png")


def test_stored_pay_below_the_current_minimum_prints_the_minimum_flagged(app):
    """A grid stored before a SMIC revaluation (or with a rate now under the band's minimum)
    prints the legal minimum, marked, never the stored amount."""
    from portal.dossiers.printing import context
    from portal.dossiers.tabs.contract_tab import schedule_for
    pk = _demo(app, decided=True)
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        clean = _pages(_render(app, pk))
        assert "minimumlégal‡" not in clean[1]
        ctx = context(dossier)
        periods = schedule_for(ctx["d"])
        assert periods
        low = periods[0].monthly_amount - Decimal("25.00")
        try:
            for rang, period in enumerate(periods, start=1):
                db.session.add(PeriodeRemuneration(
                    dossier_id=pk, rang=rang, annee_contrat=period.contract_year,
                    date_debut=period.start, date_fin=period.end, pourcentage=period.percent,
                    base=period.base, pourcentage_minimum=period.percent,
                    montant_minimum=period.monthly_amount,
                    montant_mensuel=low if rang == 1 else period.monthly_amount))
            db.session.flush()
            db.session.expire(dossier)
            pages = _pages(_render(app, pk))
            rows = context(db.session.get(Dossier, pk))["rows"]
        finally:
            db.session.rollback()
    assert rows[0]["flagged"] and rows[0]["monthly_amount"] == periods[0].monthly_amount
    assert flat(ctx_eur(periods[0].monthly_amount)) + "(minimumlégal‡)" in pages[1]
    assert flat(ctx_eur(low)) not in pages[1]
    assert flat("‡ Le montant enregistré sur le dossier est inférieur au minimum légal") in pages[1]


EJ20_PAGE_1 = [
    "Contrat de professionnalisation", "L'EMPLOYEUR", "employeur privé", "employeur public",
    "Nom et prénom ou dénomination", "N° SIRET de l'établissement d'exécution du contrat",
    "Adresse de l'établissement d'exécution du contrat", "Type d'employeur :",
    "Code activité de l'entreprise (NAF) :", "Effectif salarié de l'entreprise :",
    "Code IDCC de la convention collective applicable :", "OPCO de l'entreprise :",
    "LE SALARIÉ", "Nom de naissance du salarié", "Nom d'usage",
    "Le premier prénom du salarié selon l'état civil", "NIR du salarié :",
    "Adresse du salarié :", "Date de naissance :", "Sexe :", "Département de naissance :",
    "Commune de naissance :", "Nationalité :",
    "Reconnaissance de la qualité de travailleur handicapé :", "Situation avant ce contrat :",
    "Diplôme ou titre le plus élevé obtenu :",
    "Titulaire d'un bac professionnel ou d'un diplôme professionnel de niveau 4 ou plus :",
    "LE TUTEUR", "Nom de naissance :", "Prénom :", "Emploi occupé :",
    "Années d'expérience professionnelle :",
    "L'employeur atteste que le tuteur remplit les conditions pour exercer cette fonction",
]
EJ20_PAGE_2 = [
    "LE CONTRAT", "Nature et type du contrat :", "Date de conclusion :",
    "Date de début du contrat :",
    "Date de fin du contrat ou de l'action de professionnalisation :",
    "Durée hebdomadaire du travail :", "Salaire brut mensuel à l'embauche",
    "Rémunération", "1re année", "2e année", "3e année", "4e année", "LA FORMATION",
    "Dénomination de l'organisme de formation :", "N° UAI :", "N° SIRET :",
    "N° de déclaration d'activité :", "Adresse de l'organisme de formation :",
    "Visa du CFA (cachet et signature du directeur)", "Qualification visée :",
    "Intitulé précis :", "Code du diplôme :", "Code RNCP :",
    "Date de début du cycle de formation :", "Date prévue de fin des épreuves ou examens :",
    "Durée totale des actions d'évaluation, d'accompagnement et des enseignements :",
    "Lieu principal de la formation si différent de l'organisme :",
    "L'employeur atteste disposer de l'ensemble des pièces justificatives nécessaires au "
    "dépôt du contrat", "Fait à :", "Signature de l'employeur", "Signature du salarié",
    "CADRE RÉSERVÉ À L'OPCO", "Nom de l'OPCO :", "Date de réception du dossier complet :",
    "Date de la décision :", "N° de dépôt :",
]


def test_ej20_carries_every_label_and_every_value(app, artifacts_dir, tmp_path):
    from portal.dossiers import snapshot
    from portal.dossiers.printing import context
    pk = _demo(app, pro=True)
    assert pk is not None
    pdf = _render(app, pk)
    pages = _pages(pdf)
    assert len(pages) == 2
    for label in EJ20_PAGE_1:
        assert flat(label) in pages[0], label
    for label in EJ20_PAGE_2:
        assert flat(label) in pages[1], label
    for title in ("LESALARIÉ", "LETUTEUR"):
        assert title in pages[0] and title not in pages[1]
    for title in ("LECONTRAT", "LAFORMATION", "CADRERÉSERVÉÀL'OPCO"):
        assert title in pages[1] and title not in pages[0]
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        ctx = context(dossier)
        etab, a, m1 = snapshot.etablissement(dossier), dossier.apprenti, ctx["m1"]
        f, cfa, c, lieu = ctx["formation"], ctx["cfa"], dossier.contrat, ctx["lieu"]
        page1 = [etab.denomination, etab.siret, etab.adresse_voie, etab.code_postal,
                 etab.commune, etab.naf.replace(".", ""), str(etab.effectif), etab.idcc,
                 ctx["cadre"].nom, a.nom_naissance, a.prenom, a.nir, _day(a.date_naissance),
                 a.departement_naissance, a.commune_naissance, a.adresse_voie, a.code_postal,
                 a.commune, a.email, a.situation_avant_contrat, a.diplome_plus_eleve,
                 m1.nom_naissance, m1.prenom, _day(m1.date_naissance), m1.emploi_occupe,
                 m1.diplome, str(m1.annees_experience)]
        page2 = [c.type_contrat, _day(c.date_conclusion), _day(dossier.date_debut_contrat),
                 _day(dossier.date_fin_contrat), cfa.nom, cfa.uai, cfa.siret,
                 cfa.numero_declaration_activite, f.intitule, f.code_diplome, f.code_rncp,
                 _day(f.date_fin_examens), f"{f.heures_total}heures",
                 f"Faità:{c.lieu_signature}le:{_day(c.date_conclusion)}"]
        page2 += [flat(ctx_eur(row["monthly_amount"])) for row in ctx["rows"]]
        if lieu is not None:
            page2 += [lieu.nom, lieu.uai, lieu.code_postal, lieu.commune]
    for value in page1:
        assert flat(value) in pages[0], value
    for value in page2:
        assert flat(value) in pages[1], value
    folder = artifacts_dir / "cerfa_layout"
    folder.mkdir(exist_ok=True)
    for page in (1, 2):
        _png(pdf, tmp_path, "ej20", page, dpi=110).save(folder / f"ej20-page-{page}.png")


def test_the_contract_tab_fills_the_last_boxes(app, login, world):  # noqa: F811
    """« Fait à », the attestation of the supporting documents and a public employer's
    adhesion to the unemployment insurance are typed on Le contrat (employer) and printed."""
    from tests.test_dossier_lifecycle import ACME, MANUAL, _contrat, _fill, _save
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    before = _pages(_render(app, pk))[1]
    assert "☐L'employeuratteste" in before and "Faità:le:" in before
    _save(login(ACME), pk, "contrat", dict(_contrat("2027-08-31"), lieu_signature="Lattes",
                                            attestation_pieces="y",
                                            adhesion_assurance_chomage="y"))
    with app.app_context():
        contrat = db.session.get(Dossier, pk).contrat
        assert contrat.lieu_signature == "Lattes" and contrat.attestation_pieces is True
        assert contrat.adhesion_assurance_chomage is True  # printed for a public employer only
    after = _pages(_render(app, pk))
    assert "☒L'employeuratteste" in after[1] and "Faità:Lattesle:20/08/2026" in after[1]
    assert "d'assurancechômage:☐" in after[0]  # a private employer: the box stays empty
