"""The financing under races (issue 13): a real gunicorn with several workers on the session's
database (SQLite file or PostgreSQL: --db); six people press the same button at once. Exactly
one applies; the others get the French "déjà fait / modifié entre-temps" page (409) — never a
500, never a second claim, never an invoice number taken for nothing."""
from __future__ import annotations

import html
from datetime import date

import sqlalchemy as sa

from portal.dossiers.errors import CONFLICT_TITLE
from portal.extensions import db
from portal.models import (CompteurFacture, DemandeRemboursement, Dossier, DossierHistory,
                           Facture, PriseEnCharge, User)
from tests.support.gunicorn import form_fields
from tests.test_concurrency import (ADMIN, RACERS, at_once, make_dossier,  # noqa: F401
                                    no_tracebacks, racers, server, smtp_server)

CONSEIL = "conseil@sillon.demo"


def _conflict(response) -> bool:
    page = html.unescape(response.text)
    return response.status == 409 and CONFLICT_TITLE in page and (
        "déjà" in page or "modifié par une autre personne" in page)


def _sent_to_the_opco(app, pk, *, agreed: bool) -> int:
    """The dossier declared sent (through the write path), its prise en charge agreed."""
    from portal.dossiers import service
    from portal.financing import service as financing
    with app.app_context():
        admin = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
        dossier = db.session.get(Dossier, pk)
        service.run_transition("declarer_envoi_opco", dossier, admin, inputs={
            "numero_opco": f"RACE-{pk}", "date_depot": date(2026, 9, 3)}, confirmed=True)
        pec = dossier.prise_en_charge
        if not pec.echeances:
            financing.update(pec, {"npec": "7000"}, by=admin)
        if agreed:
            financing.answer(pec, "accorder", by=admin, on=date(2026, 9, 10))
        return pec.id


def test_the_opco_agreement_recorded_six_times_at_once(app, server, make_dossier,
                                                       no_tracebacks):
    pk = make_dossier("documents_valides")
    pec_id = _sent_to_the_opco(app, pk, agreed=False)
    action = f"/admin/dossier/{pk}/financement/reponse/accorder/"
    clients, pages = racers(server, [CONSEIL, ADMIN] * (RACERS // 2),
                            f"/admin/dossier/{pk}/financement/")
    forms = [dict(form_fields(page, action), date="2026-09-10") for page in pages]
    answers = at_once([lambda c=c, f=f: c.post(action, f) for c, f in zip(clients, forms)])
    statuses = sorted(a.status for a in answers)
    assert statuses == [303] + [409] * (RACERS - 1), statuses
    assert all(_conflict(a) for a in answers if a.status != 303)
    with app.app_context():
        assert db.session.get(PriseEnCharge, pec_id).state == "accorde"
        entries = db.session.scalars(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == pk, DossierHistory.kind == "financement",
            DossierHistory.comment.like("%→ En cours%"))).all()
    assert len(entries) == 1, entries


def test_the_first_invoice_generated_six_times_at_once(app, server, make_dossier,
                                                       no_tracebacks):
    pk = make_dossier("documents_valides")
    pec_id = _sent_to_the_opco(app, pk, agreed=True)
    with app.app_context():
        advance = db.session.execute(sa.select(PriseEnCharge).where(
            PriseEnCharge.id == pec_id)).scalar_one().echeances[0].id
        year = date.today().year
        counter = db.session.get(CompteurFacture, year)
        before = counter.dernier if counter else 0
    action = f"/admin/dossier/{pk}/financement/echeance/{advance}/demande/"
    clients, pages = racers(server, [CONSEIL, ADMIN] * (RACERS // 2),
                            f"/admin/dossier/{pk}/financement/")
    forms = [form_fields(page, action) for page in pages]
    answers = at_once([lambda c=c, f=f: c.post(action, f) for c, f in zip(clients, forms)])
    statuses = sorted(a.status for a in answers)
    assert statuses == [303] + [409] * (RACERS - 1), statuses
    assert all(_conflict(a) for a in answers if a.status != 303)
    with app.app_context():
        claims = db.session.scalars(sa.select(DemandeRemboursement).where(
            DemandeRemboursement.echeance_id == advance)).all()
        assert len(claims) == 1
        invoices = db.session.scalars(sa.select(Facture.sequence).where(
            Facture.prise_en_charge_id == pec_id)).all()
        # One invoice, and the year's counter moved by one: no number lost to the losers.
        assert len(invoices) == 1
        assert db.session.get(CompteurFacture, year).dernier == before + 1 == invoices[0]
