"""The OPCO financing through HTTP (SPEC §5, seed 004): the employer declares the sending with
the OPCO's number → prise en charge « Reçu » → the CFA records the agreement → the first invoice
→ its deposit and récépissé → the payments; a refusal; a rupture; what the employer sees; bad
input answered next to its field with nothing written; gap-free invoice numbers."""
from __future__ import annotations

import io
import re
import threading
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.extensions import db
from portal.models import (CompteurFacture, DemandeRemboursement, Dossier, DossierHistory,
                           Facture, OutboxEmail, PriseEnCharge)
from tests.support.web import csrf
from tests.test_dossier_lifecycle import ACME, ALICE, CONSEIL, MANUAL, _fill, _pdf, world  # noqa

ADMIN = "admin@sillon.demo"
OUTSIDERS = ("bruno@etu.sillon.demo", "rh@globex.sillon.demo", "resp.info@sillon.demo")
TODAY = date.today()


def _text(pdf: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return _plain(text)


@pytest.fixture()
def stamped(app, login, world):  # noqa: F811
    """A complete dossier whose CERFA the CFA has just stamped (documents_valides)."""
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        dossier.state, dossier.documents_valides_at = "documents_valides", datetime(2026, 9, 2)
        db.session.commit()
    return pk


def _post(client, url, **form):
    return client.post(url, data=dict(form, csrf_token=csrf(client)),
                       content_type="multipart/form-data" if "fichier" in form else None)


def _declare(client, pk, **form):
    return _post(client, f"/admin/dossier/{pk}/transition/declarer_envoi_opco/",
                 **dict(form, confirmation="oui"))  # the irreversible row, confirmed


def _pec(app, pk):
    with app.app_context():
        pec = db.session.execute(sa.select(PriseEnCharge).where(
            PriseEnCharge.dossier_id == pk)).scalar_one_or_none()
        if pec is None:
            return None
        return {"id": pec.id, "state": pec.state, "numero": pec.numero_opco,
                "version": pec.version, "total": pec.montant_opco, "remainder": pec.reste_a_charge,
                "end": pec.date_fin, "motif": pec.motif,
                "schedule": [(e.annee_contrat, e.nature, e.montant, e.date_prevue, e.id)
                             for e in pec.echeances]}


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ").replace("&#39;", "'")


def _version(page: str) -> str:
    return re.search(r'name="_version" value="(\d+)"', page).group(1)


def _fin(client, pk) -> str:
    response = client.get(f"/admin/dossier/{pk}/financement/")
    assert response.status_code == 200
    return _plain(response.get_data(as_text=True))


def _declared(app, login, pk):
    response = _declare(login(ACME), pk, numero_opco="deca 2026 123456",
                        date_depot="2026-09-03")
    assert response.status_code == 302
    return _pec(app, pk)


def test_declaring_the_sending_needs_the_number_and_date(app, login, stamped):
    acme = login(ACME)
    number, day = "opco-error", "opco-date-error"
    cases = [({"date_depot": "2026-09-03"}, "Indiquez le numéro du dossier à l", number),
             ({"numero_opco": "DECA-1", "date_depot": ""}, "Indiquez la date du dépôt", day),
             ({"numero_opco": "DECA-1", "date_depot": "2099-01-01"}, "dans le futur", day),
             ({"numero_opco": "DECA-1", "date_depot": "2026-08-01"}, "précède le visa", day),
             ({"numero_opco": "<b>x</b>", "date_depot": "2026-09-03"}, "de 3 à 50 caractères",
              number)]
    for form, message, where in cases:
        response = _declare(acme, stamped, **form)
        page = response.get_data(as_text=True)
        assert response.status_code == 422, form
        assert message in page.replace("&#39;", "'"), form
        # Next to its own field only.
        field = re.search(rf'id="{where}"[^>]*>([^<]*)<', page)
        assert field and message in _plain(field.group(1)), form
        assert {number, day} - {where} & set(re.findall(r'id="(opco-[a-z-]+)"', page)) == set()
        if form.get("numero_opco"):
            assert f'value="{form["numero_opco"]}"' in page.replace("&lt;", "<").replace(
                "&gt;", ">")  # the typed value is kept
        with app.app_context():
            assert db.session.get(Dossier, stamped).state == "documents_valides"
        assert _pec(app, stamped) is None
    pec = _declared(app, login, stamped)
    assert pec["state"] == "recu" and pec["numero"] == "DECA 2026 123456"
    with app.app_context():
        assert db.session.get(Dossier, stamped).state == "envoye_opco"
        history = db.session.scalars(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == stamped, DossierHistory.kind == "financement")).all()
    assert history == ["Prise en charge ouverte : dossier OPCO n° DECA 2026 123456, déposé le "
                       "03/09/2026 (Reçu)."]


def _figures(app):
    """(received this year, claims due and not deposited, decisions overdue) of the CFA's
    finance dashboard, as the admin sees it."""
    from portal.financing.dashboard import dashboard
    from portal.models import User
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
        board = dashboard(admin)
        return board["received"]["total"], board["dues"]["count"], board["dues"]["total"]


def test_agreement_invoice_deposit_payment(app, login, stamped):
    start = _figures(app)
    pec = _declared(app, login, stamped)
    # RNCP30101 × IDCC 1486 concluded on 20/08/2026: 7 600 € a year (seeds/reference/npec.csv),
    # one whole year, level 6 → 750 € taken from the advance; price 8 500 €.
    assert pec["schedule"] == [
        (1, "avance", Decimal("2290.00"), date(2026, 9, 1), pec["schedule"][0][4]),
        (1, "mois7", Decimal("2280.00"), date(2027, 3, 1), pec["schedule"][1][4]),
        (1, "mois10", Decimal("1520.00"), date(2027, 6, 1), pec["schedule"][2][4]),
        (1, "solde", Decimal("760.00"), date(2027, 8, 31), pec["schedule"][3][4])]
    assert pec["total"] == Decimal("6850.00") and pec["remainder"] == Decimal("1650.00")
    cfa = login(CONSEIL)
    page = _fin(cfa, stamped)
    assert "Reçu" in page and "7 600 €" in page
    # The CFA records the agreement.
    response = _post(cfa, f"/admin/dossier/{stamped}/financement/reponse/accorder/",
                     date="2026-09-10", _version=_version(page))
    assert response.status_code == 303
    assert _pec(app, stamped)["state"] == "accorde"
    # The employer is told, with what remains at its charge.
    with app.app_context():
        mail = db.session.execute(sa.select(OutboxEmail).where(
            OutboxEmail.dossier_id == stamped,
            OutboxEmail.subject.like("%financement par l'OPCO%"))).scalars().all()
        assert [m.recipients for m in mail] == [ACME]
        assert "1 650 €" in _plain(mail[0].body_text)
        assert f"/admin/dossier/{stamped}/financement/" in mail[0].body_text
    # The dashboard now counts the first advance as due and not deposited.
    received, dues, due_total = _figures(app)
    assert (received, dues, due_total) == (start[0], start[1] + 1, start[2] + Decimal("2290"))
    # Amounts are locked once agreed.
    page = _fin(cfa, stamped)
    response = _post(cfa, f"/admin/dossier/{stamped}/financement/montants/", npec="9000",
                     _version=_version(page))
    assert response.status_code == 422
    assert _pec(app, stamped)["total"] == Decimal("6850.00")
    # The first advance: its invoice.
    advance = pec["schedule"][0][4]
    response = _post(cfa, f"/admin/dossier/{stamped}/financement/echeance/{advance}/demande/")
    assert response.status_code == 303
    with app.app_context():
        claim = db.session.execute(sa.select(DemandeRemboursement).where(
            DemandeRemboursement.echeance_id == advance)).scalar_one()
        claim_id, numero, doc = claim.id, claim.facture.numero, claim.facture.document_id
        assert claim.state == "brouillon" and claim.montant == Decimal("2290.00")
    assert re.fullmatch(rf"FA-{TODAY.year}-\d{{5}}", numero)
    invoice = cfa.get(f"/admin/dossier/{stamped}/financement/document/{doc}/")
    assert invoice.status_code == 200
    text = _text(invoice.data)
    for expected in ("FACTURE", numero, "2 290 €", "DECA 2026 123456",
                     "TVA non applicable", "Année 1 – Avance (40 %)"):
        assert expected in text, expected
    # Twice: already done (409), nothing more.
    again = _post(cfa, f"/admin/dossier/{stamped}/financement/echeance/{advance}/demande/")
    assert again.status_code in (409, 422)
    # Deposit: no certificate needed for the first advance; the receipt is produced.
    page = _fin(cfa, stamped)
    response = _post(cfa, f"/admin/dossier/{stamped}/financement/demande/{claim_id}/depot/",
                     date=TODAY.isoformat())
    assert response.status_code == 303
    with app.app_context():
        claim = db.session.get(DemandeRemboursement, claim_id)
        assert claim.state == "deposee" and claim.recepisse is not None
        receipt = claim.recepisse_document_id
    text = _text(cfa.get(f"/admin/dossier/{stamped}/financement/document/{receipt}/").data)
    assert "RÉCÉPISSÉ" in text and numero in text and "non requis" in text
    # A payment above what is due is refused next to the amount; a partial one, then the rest.
    url = f"/admin/dossier/{stamped}/financement/demande/{claim_id}/paiement/"
    bad = _post(cfa, url, date=TODAY.isoformat(), montant="5000")
    assert bad.status_code == 422 and "dépasse ce qui reste dû" in bad.get_data(as_text=True)
    assert _post(cfa, url, date=TODAY.isoformat(), montant="1000,00",
                 reference="VIR-1").status_code == 303
    with app.app_context():
        claim = db.session.get(DemandeRemboursement, claim_id)
        assert claim.state == "deposee" and claim.state_label == "Partiellement payée"
    assert _post(cfa, url, date=TODAY.isoformat(), montant="1290").status_code == 303
    with app.app_context():
        claim = db.session.get(DemandeRemboursement, claim_id)
        assert claim.state == "payee" and claim.montant_paye == Decimal("2290.00")
    # The dashboard's figures moved: 2 290 € received, the advance no longer waits.
    assert _figures(app) == (start[0] + Decimal("2290"), start[1], start[2])
    board = _plain(cfa.get("/admin/financement/tableau-de-bord/").get_data(as_text=True))
    from portal.rules.formatting import eur
    assert _plain(eur(start[0] + Decimal("2290"))) in board
    # The employer's invoice for what remains at its charge.
    assert _post(cfa, f"/admin/dossier/{stamped}/financement/facture-employeur/"
                 ).status_code == 303
    with app.app_context():
        employer = db.session.execute(sa.select(Facture).where(
            Facture.prise_en_charge_id == pec["id"], Facture.destinataire == "employeur")
        ).scalar_one()
        employer_doc, employer_no = employer.document_id, employer.numero
        mail = db.session.execute(sa.select(OutboxEmail).where(
            OutboxEmail.dossier_id == stamped, OutboxEmail.body_text.like(
                f"%{employer_no}%"))).scalar_one()
        assert mail.recipients == ACME and mail.attachment_document_ids == str(employer_doc)
    assert int(employer_no[-5:]) == int(numero[-5:]) + 1
    # The employer reads its billing, not the claims; downloads its invoice, not the OPCO's.
    acme = login(ACME)
    page = _fin(acme, stamped)
    assert "1 650 €" in page and employer_no in page
    assert "Générer la facture" not in page and numero not in page
    assert acme.get(f"/admin/dossier/{stamped}/financement/document/{employer_doc}/"
                    ).status_code == 200
    for document in (doc, receipt):
        assert acme.get(f"/admin/dossier/{stamped}/financement/document/{document}/"
                        ).status_code == 404
    text = _text(acme.get(f"/admin/dossier/{stamped}/financement/document/{employer_doc}/").data)
    assert "1 650 €" in text and "Participation forfaitaire" in text
    # The employer cannot act: refused, nothing changed.
    before = _pec(app, stamped)
    response = _post(acme, f"/admin/dossier/{stamped}/financement/reponse/annuler/",
                     date=TODAY.isoformat(), motif="x")
    assert response.status_code == 422
    assert _pec(app, stamped) == before


def test_refusal_needs_its_reason(app, login, stamped):
    _declared(app, login, stamped)
    cfa = login(CONSEIL)
    url = f"/admin/dossier/{stamped}/financement/reponse/refuser/"
    response = _post(cfa, url, date="2026-09-12", motif="")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Motif du refus : ce champ est obligatoire" in page
    assert 'id="err-answer-refuser-motif"' in page
    assert _pec(app, stamped)["state"] == "recu"
    assert _post(cfa, url, date="2026-09-12", motif="Convention collective erronée"
                 ).status_code == 303
    pec = _pec(app, stamped)
    assert pec["state"] == "refuse" and pec["motif"] == "Convention collective erronée"
    # No claim after a refusal; the same answer twice is "already done".
    claim = _post(cfa, f"/admin/dossier/{stamped}/financement/echeance/"
                  f"{pec['schedule'][0][4]}/demande/")
    assert claim.status_code == 422 and "après l'accord de l'OPCO" in \
        claim.get_data(as_text=True).replace("&#39;", "'")
    assert _post(cfa, url, date="2026-09-12", motif="bis").status_code == 409


def test_rupture_recomputes_the_schedule(app, login, stamped):
    _declared(app, login, stamped)
    cfa = login(CONSEIL)
    _post(cfa, f"/admin/dossier/{stamped}/financement/reponse/accorder/", date="2026-09-10")
    response = _post(cfa, f"/admin/dossier/{stamped}/transition/rompre/",
                     rupture_date="2026-11-30", comment="Démission de l'apprenti",
                     confirmation="oui")
    assert response.status_code == 302
    pec = _pec(app, stamped)
    # 91 days (01/09 → 30/11/2026) of 7 600 €: 1 894,79 €; 40/30/20/10, the 750 € off the
    # advance; every instalment after the rupture falls due on it.
    assert pec["end"] == date(2026, 11, 30)
    assert [(k, m, d) for _, k, m, d, _ in pec["schedule"]] == [
        ("avance", Decimal("7.92"), date(2026, 9, 1)),
        ("mois7", Decimal("568.44"), date(2026, 11, 30)),
        ("mois10", Decimal("378.96"), date(2026, 11, 30)),
        ("solde", Decimal("189.47"), date(2026, 11, 30))]
    assert pec["total"] == Decimal("1144.79")


def test_who_sees_the_financing_tab(app, login, stamped):
    _declared(app, login, stamped)
    for account in (CONSEIL, ADMIN, ACME):
        page = login(account).get(f"/admin/dossier/{stamped}/base/").get_data(as_text=True)
        assert 'data-tab="financement"' in page, account
    alice = login(ALICE)
    assert 'data-tab="financement"' not in alice.get(
        f"/admin/dossier/{stamped}/base/").get_data(as_text=True)
    assert alice.get(f"/admin/dossier/{stamped}/financement/").status_code == 404
    for account in OUTSIDERS:
        assert login(account).get(f"/admin/dossier/{stamped}/financement/").status_code == 404


def test_invoice_numbers_have_no_gap_under_concurrency(app):
    """10 transactions take a number at once; 3 roll back: the committed numbers follow each
    other, with neither gap nor duplicate (the counter row is locked until commit)."""
    from portal.financing.invoices import next_number
    year = 2099
    with app.app_context():
        db.session.execute(sa.delete(CompteurFacture).where(CompteurFacture.annee == year))
        db.session.commit()
    taken, errors = [], []
    barrier = threading.Barrier(10)

    def take(i):
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                sequence, numero = next_number(year)
                if i % 3 == 2:
                    db.session.rollback()
                    return
                db.session.commit()
                taken.append(numero)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(taken) == [f"FA-{year}-{n:05d}" for n in range(1, 8)]
    with app.app_context():
        assert db.session.get(CompteurFacture, year).dernier == 7
        db.session.execute(sa.delete(CompteurFacture).where(CompteurFacture.annee == year))
        db.session.commit()


def _agreed(app, login, pk):
    pec = _declared(app, login, pk)
    cfa = login(CONSEIL)
    assert _post(cfa, f"/admin/dossier/{pk}/financement/reponse/accorder/",
                 date="2026-09-10").status_code == 303
    return pec


def test_certificate_rejection_and_a_new_claim(app, login, stamped):
    """Month 7 (01/03/2027): its claim needs the certificat de réalisation, checked like the
    signed returns; the OPCO rejects it; the instalment is claimed again with a new invoice."""
    import time_machine
    pec = _agreed(app, login, stamped)
    month7 = pec["schedule"][1][4]
    with time_machine.travel(datetime(2027, 3, 5, 9, 0), tick=True):
        cfa = login(CONSEIL)
        assert _post(cfa, f"/admin/dossier/{stamped}/financement/echeance/{month7}/demande/"
                     ).status_code == 303
        with app.app_context():
            claim = db.session.execute(sa.select(DemandeRemboursement).where(
                DemandeRemboursement.echeance_id == month7)).scalar_one()
            claim_id, first_invoice = claim.id, claim.facture.numero
        base = f"/admin/dossier/{stamped}/financement/demande/{claim_id}"
        response = _post(cfa, f"{base}/depot/", date="2027-03-05")
        assert response.status_code == 422
        assert "Joignez le certificat de réalisation" in _plain(response.get_data(as_text=True))
        for data, name in ((b"not a pdf at all", "certificat.pdf"), (b"", "vide.pdf")):
            response = cfa.post(f"{base}/certificat/", data={
                "csrf_token": csrf(cfa), "fichier": (io.BytesIO(data), name)},
                content_type="multipart/form-data")
            page = response.get_data(as_text=True)
            assert response.status_code == 422, name
            assert f'id="err-claim-{claim_id}-certificat-fichier"' in page
        with app.app_context():
            assert db.session.get(DemandeRemboursement, claim_id).certificat is None
        response = cfa.post(f"{base}/certificat/", data={
            "csrf_token": csrf(cfa), "fichier": (io.BytesIO(_pdf("Certificat")), "cert.pdf")},
            content_type="multipart/form-data")
        assert response.status_code == 303
        assert _post(cfa, f"{base}/depot/", date="2027-03-05").status_code == 303
        assert _post(cfa, f"{base}/rejet/", date="2027-03-05", motif="").status_code == 422
        assert _post(cfa, f"{base}/rejet/", date="2027-03-05",
                     motif="Certificat non signé").status_code == 303
        with app.app_context():
            claim = db.session.get(DemandeRemboursement, claim_id)
            assert claim.state == "rejetee" and claim.motif_rejet == "Certificat non signé"
        page = _fin(cfa, stamped)
        assert f"Facture {first_invoice} rejetée le 05/03/2027 : Certificat non signé" in page
        assert _post(cfa, f"/admin/dossier/{stamped}/financement/echeance/{month7}/demande/"
                     ).status_code == 303
        with app.app_context():
            states = sorted(db.session.scalars(sa.select(DemandeRemboursement.state).where(
                DemandeRemboursement.echeance_id == month7)))
        assert states == ["brouillon", "rejetee"]


def test_bulk_actions_report_per_dossier(app, login, stamped):
    pec = _agreed(app, login, stamped)
    cfa = login(CONSEIL)
    response = _post(cfa, "/admin/financement/action/", action="generer_factures",
                     rowid=str(pec["id"]))
    assert response.status_code == 302
    page = _plain(cfa.get(response.headers["Location"]).get_data(as_text=True))
    assert f"dossier n° {stamped} : facture FA-" in page
    with app.app_context():
        claims = db.session.scalars(sa.select(DemandeRemboursement).where(
            DemandeRemboursement.prise_en_charge_id == pec["id"])).all()
        assert [(c.echeance.nature, c.state) for c in claims] == [("avance", "brouillon")]
    # Again: nothing is due without a claim any more — said, nothing created.
    response = _post(cfa, "/admin/financement/action/", action="generer_factures",
                     rowid=str(pec["id"]))
    page = _plain(cfa.get(response.headers["Location"]).get_data(as_text=True))
    assert f"Dossier n° {stamped} : aucune échéance due sans demande." in page
    response = _post(cfa, "/admin/financement/action/", action="deposer",
                     rowid=str(pec["id"]))
    with app.app_context():
        assert db.session.scalars(sa.select(DemandeRemboursement.state).where(
            DemandeRemboursement.prise_en_charge_id == pec["id"])).all() == ["deposee"]
    # The employer may not run them.
    acme = login(ACME)
    response = _post(acme, "/admin/financement/action/", action="generer_factures",
                     rowid=str(pec["id"]))
    with app.app_context():
        assert len(db.session.scalars(sa.select(DemandeRemboursement.id).where(
            DemandeRemboursement.prise_en_charge_id == pec["id"])).all()) == 1


def test_list_search_filters_and_xlsx_export(app, login, stamped):
    import openpyxl
    _agreed(app, login, stamped)
    cfa = login(CONSEIL)
    page = _plain(cfa.get("/admin/financement/?search=DECA+2026+123456").get_data(as_text=True))
    assert "DECA 2026 123456" in page and "PERRIN Alice" in page
    page = _plain(cfa.get("/admin/financement/?search=nothing-like-it").get_data(as_text=True))
    assert "DECA 2026 123456" not in page
    response = cfa.get("/admin/financement/export/xlsx/?search=DECA+2026+123456")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["N°", "Alternant·e", "Employeur"]
    assert any("DECA 2026 123456" in [str(v) for v in row] for row in rows[1:])
    # The employer sees its own row; another employer does not.
    assert "DECA 2026 123456" in _plain(login(ACME).get("/admin/financement/").get_data(
        as_text=True))
    assert "DECA 2026 123456" not in _plain(login("rh@globex.sillon.demo").get(
        "/admin/financement/").get_data(as_text=True))
    assert login(ALICE).get("/admin/financement/").status_code == 403


def test_cancelling_the_dossier_cancels_its_prise_en_charge(app, login, stamped):
    _declared(app, login, stamped)
    response = _post(login(ADMIN), f"/admin/dossier/{stamped}/transition/annuler/",
                     comment="Contrat jamais exécuté", confirmation="oui")
    assert response.status_code == 302
    pec = _pec(app, stamped)
    assert pec["state"] == "annule"
    assert pec["motif"] == "Dossier annulé : Contrat jamais exécuté"
    page = _fin(login(CONSEIL), stamped)
    assert "Annulé / supprimé" in page and 'data-answer=' not in page
