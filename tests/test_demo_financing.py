"""The demo's OPCO financing (seeds/demo_financing.py): a prise en charge for every dossier sent
to the OPCO, every state of the prise en charge and of the claims, a délégant with two
dossiers, schedules and invoice numbers that add up, dated from the dossiers' timelines,
deterministic and idempotent.

Exact checks run on demo worlds built here (fresh migrated SQLite files, reference + demo data),
not on the session's shared database that other tests change; one check reads that one too."""
import re
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from stdnum import iban
from stdnum.fr import siret

from portal.documents.uploads import check_pdf
from portal.extensions import db
from portal.financing import claims as claims_service
from portal.financing import states
from portal.models import (Cfa, CompteurFacture, DemandeRemboursement, Document, Dossier,
                           DossierHistory, Facture, OrganismeDelegant, Paiement, PriseEnCharge)
from portal.models.financing import CLAIM_STATES, PEC_STATES
from portal.rules.financing import claim_needs_certificate, decision_overdue
from portal.rules.identifiers import uai_letter
from seeds import demo_financing
from seeds.demo_financing import LAST_EVENT
from tests.conftest import make_app

FICTIONAL_PHONE = re.compile(r"0199\d{6}|063998\d{4}")


def _build(tmp_path_factory, name):
    folder = tmp_path_factory.mktemp(name)
    app = make_app(f"sqlite:///{folder / 'demo.db'}", str(folder / "instance"))
    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
        from seeds.demo import load_demo
        from seeds.reference import load_reference
        load_reference()
        app.demo_counts = load_demo()
    return app


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    app = _build(tmp_path_factory, "financing-world")
    with app.app_context():
        yield app
        db.session.remove()


def _all(model, *where):
    return list(db.session.execute(sa.select(model).where(*where)).scalars())


def _pecs():
    return _all(PriseEnCharge)


def _claims():
    return _all(DemandeRemboursement)


def fingerprint() -> list:
    """Every figure and date of the financing, keyed by the apprentices' e-mails."""
    out = []
    for pec in sorted(_pecs(), key=lambda p: p.dossier.apprenti_email):
        out.append((pec.dossier.apprenti_email, pec.numero_opco, pec.opco_code, pec.state,
                    pec.state_date, pec.date_depot, pec.date_complet, pec.date_decision,
                    pec.motif, pec.npec, pec.montant_opco, pec.reste_a_charge,
                    pec.montant_frais_annexes, str(pec.organisme_delegant or ""),
                    [(e.annee_contrat, e.nature, e.montant, e.date_prevue,
                      [(c.state, c.montant, c.montant_paye, c.facture.numero, c.deposee_le,
                        c.payee_le, c.rejetee_le, c.motif_rejet, c.certificat is not None,
                        [(p.date, p.montant, p.reference) for p in c.paiements])
                       for c in e.demandes]) for e in pec.echeances]))
    out.append([(f.numero, f.date_emission, f.destinataire, f.montant,
                 f.prise_en_charge.dossier.apprenti_email)
                for f in _all(Facture)])
    return out


# --- coverage --------------------------------------------------------------------------------

def test_every_dossier_sent_to_the_opco_has_its_prise_en_charge(world):
    sent = _all(Dossier, Dossier.envoye_opco_at.is_not(None))
    assert len(sent) >= 20 and {d.state for d in sent} == {"envoye_opco", "rompu"}
    for dossier in sent:
        assert dossier.etablissement.opco_code, "a public employer has no OPCO: skipped"
        pec = dossier.prise_en_charge
        assert pec is not None, dossier.id
        assert pec.opco_code == dossier.etablissement.opco_code
        assert pec.numero_opco == dossier.contrat.numero_contrat
        assert pec.date_depot == dossier.envoye_opco_at.date()
        assert pec.npec_id is not None and pec.date_conclusion is not None
    never_sent = sa.select(Dossier.id).where(Dossier.envoye_opco_at.is_(None))
    assert not _all(PriseEnCharge, PriseEnCharge.dossier_id.in_(never_sent))


def test_every_state_of_the_prise_en_charge(world):
    pecs = _pecs()
    by_state = {code: [p for p in pecs if p.state == code] for code in PEC_STATES}
    assert all(by_state.values()), {k: len(v) for k, v in by_state.items()}
    assert len(by_state["accorde"]) > len(pecs) / 2
    assert any(p.motif == "Convention de formation non signée par l'employeur"
               for p in by_state["en_attente"])
    for code in ("en_attente", "refuse", "annule"):
        assert all(p.motif for p in by_state[code]), code
    for p in by_state["accorde"] + by_state["refuse"]:
        assert p.date_depot <= p.date_decision == p.state_date <= LAST_EVENT
    waiting = [p for p in pecs if states.STATES[p.state].waiting_decision]
    assert any(decision_overdue(p.date_complet, False, LAST_EVENT) for p in waiting)
    assert any(p.date_complet > p.date_depot for p in waiting)  # answered, clock restarted


def test_every_state_of_the_claims(world):
    claims = _claims()
    assert {c.state for c in claims} == set(CLAIM_STATES)
    assert 10 <= len(claims) <= 60
    late = claims_service.unpaid_since(LAST_EVENT)
    assert any(c.state == "deposee" and not c.montant_paye and c.deposee_le < late
               for c in claims)
    partial = [c for c in claims if c.state == "deposee" and 0 < c.montant_paye < c.montant]
    assert partial and partial[0].state_label == "Partiellement payée"
    rejected = [c for c in claims if c.state == "rejetee"]
    assert rejected and all(c.motif_rejet and c.rejetee_le for c in rejected)
    for claim in rejected:
        again = claim.echeance.active_claim()
        assert again is not None and again.id > claim.id
        assert again.facture.numero != claim.facture.numero
    for claim in claims:
        assert claim.montant == claim.echeance.montant + claim.montant_frais > 0
        assert claim.montant_paye == sum((p.montant for p in claim.paiements), Decimal(0))
        assert (claim.state == "payee") == (claim.montant_paye == claim.montant)
        if claim.state != "brouillon":
            assert claim.recepisse is not None and claim.deposee_le >= claim.facture.date_emission
        if claim.state != "brouillon" and claim_needs_certificate(claim.echeance.nature,
                                                                  claim.echeance.annee_contrat):
            assert claim.certificat is not None, claim.id


def test_certificates_are_real_pdfs(world):
    certificates = _all(Document, Document.kind == "certificat_realisation")
    assert len(certificates) >= 3
    for document in certificates:
        check_pdf(document.data)  # raises when the upload check would refuse it
        assert document.data.startswith(b"%PDF-")


def test_frais_annexes_and_employer_invoices(world):
    pecs = _pecs()
    with_frais = [p for p in pecs if p.montant_frais_annexes]
    assert len(with_frais) >= 3
    assert any(p.frais_premier_equipement for p in with_frais)
    assert any(p.nuits_hebergement for p in with_frais) and \
        any(p.repas_restauration for p in with_frais)
    for pec in with_frais:
        assert (pec.frais_premier_equipement or 0) <= 500
        expected = min(pec.frais_premier_equipement or Decimal(0), Decimal(500)) + \
            6 * (pec.nuits_hebergement or 0) + 3 * (pec.repas_restauration or 0)
        assert pec.montant_frais_annexes == expected
        claimed = sum((c.montant_frais for e in pec.echeances for c in e.demandes
                       if c.state != "rejetee"), Decimal(0))
        assert claimed in (0, pec.montant_frais_annexes)
    employer = _all(Facture, Facture.destinataire == "employeur")
    assert len(employer) >= 3
    for invoice in employer:
        pec = invoice.prise_en_charge
        assert pec.state == "accorde" and invoice.montant == pec.reste_a_charge > 0
        assert invoice.date_emission >= pec.date_decision


def test_one_delegant_with_two_dossiers(world):
    (org,) = _all(OrganismeDelegant)
    assert siret.is_valid(org.siret)
    assert re.fullmatch(r"\d{7}[A-Z]", org.uai) and org.uai[7] == uai_letter(org.uai[:7])
    assert re.fullmatch(r"\d{11}", org.numero_declaration_activite)
    assert org.contact_nom and org.contact_prenom and org.contact_fonction
    assert FICTIONAL_PHONE.fullmatch(org.contact_telephone)
    assert org.contact_email.endswith("sillon.demo")
    pecs = _all(PriseEnCharge, PriseEnCharge.organisme_delegant_id == org.id)
    assert len(pecs) == 2
    for pec in pecs:  # set through service.update, before the OPCO's agreement
        entry = next(h for h in pec.dossier.history if "Organisme délégant" in (h.comment or ""))
        assert entry.kind == "financement" and entry.at.date() < pec.date_decision


def test_cfa_contact_sheet(world):
    cfa = db.session.execute(sa.select(Cfa)).scalar_one()
    assert cfa.contact_civilite and cfa.contact_prenom and cfa.contact_nom
    assert cfa.contact_fonction and FICTIONAL_PHONE.fullmatch(cfa.contact_telephone)
    assert cfa.contact_email.endswith("@cfa-sud.sillon.demo")
    assert cfa.tva_intracom is None and iban.is_valid(cfa.iban) and len(cfa.bic) in (8, 11)


# --- figures ---------------------------------------------------------------------------------

def test_schedules_sum_to_montant_opco(world):
    for pec in _pecs():
        due = [e for e in pec.echeances if not e.hors_echeancier]
        assert sum((e.montant for e in due), Decimal(0)) == pec.montant_opco, pec.id
        if pec.state not in ("refuse", "annule"):
            assert due
        dossier = pec.dossier
        if dossier.state == "rompu":
            assert pec.date_fin == dossier.rupture_date
            assert all(e.date_prevue <= dossier.rupture_date for e in due)
            assert any(h.comment.startswith("Échéancier recalculé après la rupture")
                       for h in dossier.history if h.kind == "financement")


def test_invoice_numbers_follow_their_dates_without_gap(world):
    invoices = _all(Facture)
    for year in {f.annee for f in invoices}:
        rows = sorted((f for f in invoices if f.annee == year), key=lambda f: f.sequence)
        assert [f.sequence for f in rows] == list(range(1, len(rows) + 1))
        assert all(f.numero == f"FA-{year}-{f.sequence:05d}" for f in rows)
        assert [f.date_emission for f in rows] == sorted(f.date_emission for f in rows)
        assert db.session.get(CompteurFacture, year).dernier == len(rows)
    assert {f.annee for f in invoices} == {2026}


def test_everything_is_dated_when_it_happened(world):
    entries = _all(DossierHistory, DossierHistory.kind == "financement")
    assert entries
    for entry in entries:
        assert entry.dossier.envoye_opco_at <= entry.at < datetime.combine(LAST_EVENT,
                                                                           datetime.max.time())
    for invoice in _all(Facture):
        assert invoice.document.created_at.date() == invoice.date_emission
        assert invoice.created_at.date() == invoice.date_emission
    for payment in _all(Paiement):
        assert payment.demande.deposee_le <= payment.date == payment.created_at.date()


# --- build -----------------------------------------------------------------------------------

def test_load_demo_counts_and_idempotence(world):
    counts = world.demo_counts
    assert counts["prises_en_charge"] == len(_pecs()) and counts["organismes_delegants"] == 1
    assert counts["demandes_remboursement"] == len(_claims())
    before = fingerprint()
    from seeds.demo import load_demo
    again = load_demo()
    assert again["created"] == 0
    assert {k: v for k, v in again.items() if k != "created"} == \
        {k: v for k, v in counts.items() if k != "created"}
    assert fingerprint() == before


def test_contact_sheet_typed_by_the_admin_is_kept(world):
    cfa = db.session.execute(sa.select(Cfa)).scalar_one()
    saved = cfa.contact_nom
    cfa.contact_nom = "Nom saisi par l'administrateur"
    db.session.commit()
    try:
        from seeds.demo import load_demo
        assert load_demo()["created"] == 0
        assert db.session.get(Cfa, cfa.id).contact_nom == "Nom saisi par l'administrateur"
    finally:
        cfa.contact_nom = saved
        db.session.commit()


def amounts() -> list:
    """The figures a prise en charge has from its opening on (none depends on a later step)."""
    return sorted((p.dossier.apprenti_email, p.numero_opco, p.opco_code, p.date_depot, p.npec,
                   p.montant_opco, p.reste_a_charge, p.montant_frais_annexes,
                   str(p.organisme_delegant or ""),
                   [(e.annee_contrat, e.nature, e.montant, e.date_prevue) for e in p.echeances])
                  for p in _pecs())


def test_a_second_build_made_earlier_gives_the_same_figures(world, tmp_path_factory,
                                                            monkeypatch):
    """Two builds give the same figures; built on 01/10/2026, the demo holds only the steps up
    to that day, and a later build only adds what happened since."""
    when = date(2026, 10, 1)
    full = amounts(), [(f.numero, f.date_emission, f.montant, f.prise_en_charge.dossier_id)
                       for f in _all(Facture)]
    payments = [(p.date, p.montant, p.reference) for p in _all(Paiement)]

    class Early(date):
        @classmethod
        def today(cls):
            return when

    monkeypatch.setattr(demo_financing, "date", Early)
    early = _build(tmp_path_factory, "financing-early")
    with early.app_context():
        assert amounts() == full[0]
        invoices = [(f.numero, f.date_emission, f.montant, f.prise_en_charge.dossier_id)
                    for f in _all(Facture)]
        assert invoices and invoices == full[1][:len(invoices)] and len(invoices) < len(full[1])
        paid = [(p.date, p.montant, p.reference) for p in _all(Paiement)]
        assert paid == [p for p in payments if p[0] <= when]
        assert all(row[1] <= when for row in invoices)
        assert all(h.at.date() <= when
                   for h in _all(DossierHistory, DossierHistory.kind == "financement"))
        db.session.remove()


def test_a_script_out_of_date_order_is_refused(monkeypatch):
    monkeypatch.setitem(demo_financing.SCRIPTS, "payee", [
        ("depot", 0, "open", {}), ("debut", 3, "claim", {}), ("depot", 5, "accorder", {})])
    dossier = SimpleNamespace(envoye_opco_at=datetime(2026, 5, 4, 10, 0),
                              date_debut_contrat=date(2026, 9, 1))
    plan = dict(script="payee", frais=None, delegant=False, employer=False, dossier=dossier,
                spec={"times": [datetime(2026, 5, 4, 10, 0)]})
    with pytest.raises(ValueError, match="out of date order"):
        demo_financing._steps(plan, 0)


def test_the_session_demo_world_has_the_financing(app):
    """tests/conftest.py loads the demo once for the session: its financing is there."""
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PriseEnCharge)) >= 20
        org = db.session.execute(sa.select(OrganismeDelegant)).scalars().first()
        assert org is not None and org.nom == demo_financing.DELEGANT["nom"]
