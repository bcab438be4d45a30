"""Authorization matrix of the OPCO financing (SPEC §5, issue 13): every financing door × every
persona, on the dossier the person is a party to ("own") and on another employer's ("other").

The world (built here, removed at the end): two dossiers « Envoyé à l'OPCO », each in a copy of
a demo training, with a Contrat, its prise en charge opened and agreed through the write path
(portal.financing.service), a délégant, the first advance claimed, with its certificate,
deposited (récépissé), the month-7 instalment claimed (draft, certificate attached), the
month-10 instalment due and not claimed, and the employer's invoice — every document kind.
"own": an ACME establishment, contact CONTACT (member of ACME, not référent), training of
resp.info, apprentice APPRENTI. "other": a GLOBEX establishment, contact rh@globex, training of
resp.droit. The contract started ten months ago, so that three instalments are due whatever
the day the tests run.

How to read the tables: one pytest case per cell (and per row, own / other). A refused write
leaves the database exactly as it was (every financing table of both dossiers, the invoice
counters, délégants, reference tables and the CFA's sheet, read in a fresh session); an
allowed one shows its change, then everything is put back as it was. A row the person may not
see answers like a row that does not exist, with no trace of its data in the body.
"""
from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from portal.extensions import db
from portal.financing import claims, service
from portal.models import (Cfa, CompteurFacture, Contrat, DemandeRemboursement, Document,
                           Dossier, DossierHistory, Echeance, Etablissement, Facture, Formation,
                           NiveauPriseEnCharge, OrganismeDelegant, OutboxEmail, Paiement,
                           PlafondFraisAnnexes, PriseEnCharge, StructureMembership, User,
                           UserRole, utcnow)
from portal.policy import CFA_ONLY
from portal.rules.dates import add_months, add_years
from portal.rules.identifiers import is_valid_siret
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import DEMO_PASSWORD, csrf_from
from tests.support.web import login as web_login

ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
RESP_INFO, GEST_INFO, RESP_DROIT = ("resp.info@sillon.demo", "gest.info@sillon.demo",
                                    "resp.droit@sillon.demo")
REFERENT = "rh@acme.sillon.demo"                 # référent of ACME, not the own's contact
CONTACT = "contact.financement@acme-test.fr"     # the own's contact, member of ACME
MEMBER = "membre.financement@acme-test.fr"       # approved member of ACME, contact of nothing
APPRENTI = "apprenti.financement@etu-test.fr"    # the own dossier's apprentice
ALICE = "alice@etu.sillon.demo"                  # another apprentice
RH_GLOBEX = "rh@globex.sillon.demo"              # the other's contact, référent of GLOBEX
OUTSIDER = "dehors.financement@exemple-test.fr"  # an account with no role at all
ANON = "anonyme"                                 # nobody logged in
PERSONAS = [ADMIN, CONSEIL, RESP_INFO, GEST_INFO, RESP_DROIT, REFERENT, CONTACT, MEMBER,
            APPRENTI, ALICE, RH_GLOBEX, OUTSIDER, ANON]
LABEL = {ADMIN: "admin", CONSEIL: "conseil", RESP_INFO: "resp_info", GEST_INFO: "gest_info",
         RESP_DROIT: "resp_droit", REFERENT: "referent_acme", CONTACT: "contact_acme",
         MEMBER: "membre_acme", APPRENTI: "apprenti", ALICE: "alice", RH_GLOBEX: "rh_globex",
         OUTSIDER: "sans_role", ANON: "anonyme"}

SEE, HIDE = "affichée", "absente"      # the row is in the list / export, or is not at all
FULL, READ = "complet", "lecture"     # the tab with the CFA's forms / read-only, no form
OK = "200"                             # the page or the PDF
W = "écrit"                            # done: the database shows the change
NIL = "rien"                           # 302 back to the list, nothing written
R422 = "422"                           # the French refusal on the page, nothing written
N404 = "404"                           # like a row that does not exist, nothing written
F403 = "403"                           # not a screen of theirs, nothing written
LOGIN = "connexion"                    # sent to the login page, nothing written

# --- the list /admin/financement/: every door below, the own row and the other's --------------
LIST_DOORS = ["liste", "recherche_n_opco", "filtre_etat", "filtre_opco", "filtre_formation",
              "filtre_annee", "filtre_a_suivre", "filtre_delegant", "export_csv", "export_xlsx"]
LIST_SCOPE = [
    # persona     own    other
    (ADMIN,       SEE,   SEE),
    (CONSEIL,     SEE,   SEE),
    (RESP_INFO,   F403,  F403),
    (GEST_INFO,   F403,  F403),
    (RESP_DROIT,  F403,  F403),
    (REFERENT,    SEE,   HIDE),
    (CONTACT,     SEE,   HIDE),
    (MEMBER,      HIDE,  HIDE),   # an employer of nothing: an empty list
    (APPRENTI,    F403,  F403),
    (ALICE,       F403,  F403),
    (RH_GLOBEX,   HIDE,  SEE),
    (OUTSIDER,    F403,  F403),
    (ANON,        LOGIN, LOGIN),
]

# --- Flask-Admin's generic doors on a prise en charge: disabled for everyone (both rows); details
# and edit answer 404 like a missing row (a prise en charge opens on its dossier's tab) ----------
PEC_DOORS = ["details", "creation", "modification", "suppression"]
PEC_GENERIC = [
    # persona     details  creation  modification  suppression
    (ADMIN,       N404,    NIL,      N404,         NIL),
    (CONSEIL,     N404,    NIL,      N404,         NIL),
    (RESP_INFO,   F403,    F403,     F403,         F403),
    (GEST_INFO,   F403,    F403,     F403,         F403),
    (RESP_DROIT,  F403,    F403,     F403,         F403),
    (REFERENT,    N404,    NIL,      N404,         NIL),
    (CONTACT,     N404,    NIL,      N404,         NIL),
    (MEMBER,      N404,    NIL,      N404,         NIL),
    (APPRENTI,    F403,    F403,     F403,         F403),
    (ALICE,       F403,    F403,     F403,         F403),
    (RH_GLOBEX,   N404,    NIL,      N404,         NIL),
    (OUTSIDER,    F403,    F403,     F403,         F403),
    (ANON,        LOGIN,   LOGIN,    LOGIN,        LOGIN),
]

# --- the dossier's Financement tab and its documents ---------------------------------------------
# OUTSIDER opens no dossier screen at all: 403 on every dossier URL, an id that does not exist
# included (as every other dossier door, tests/test_authorization.py).
TAB_DOORS = ["onglet", "facture_opco", "facture_employeur", "certificat", "recepisse"]
TAB_OWN = [
    # persona     onglet  facture_opco  facture_employeur  certificat  recepisse
    (ADMIN,       FULL,   OK,           OK,                OK,         OK),
    (CONSEIL,     FULL,   OK,           OK,                OK,         OK),
    (RESP_INFO,   N404,   N404,         N404,              N404,       N404),
    (GEST_INFO,   N404,   N404,         N404,              N404,       N404),
    (RESP_DROIT,  N404,   N404,         N404,              N404,       N404),
    (REFERENT,    READ,   N404,         OK,                N404,       N404),
    (CONTACT,     READ,   N404,         OK,                N404,       N404),
    (MEMBER,      N404,   N404,         N404,              N404,       N404),
    (APPRENTI,    N404,   N404,         N404,              N404,       N404),
    (ALICE,       N404,   N404,         N404,              N404,       N404),
    (RH_GLOBEX,   N404,   N404,         N404,              N404,       N404),
    (OUTSIDER,    F403,   F403,         F403,              F403,       F403),
    (ANON,        LOGIN,  LOGIN,        LOGIN,             LOGIN,      LOGIN),
]
TAB_OTHER = [
    # persona     onglet  facture_opco  facture_employeur  certificat  recepisse
    (ADMIN,       FULL,   OK,           OK,                OK,         OK),
    (CONSEIL,     FULL,   OK,           OK,                OK,         OK),
    (RESP_INFO,   N404,   N404,         N404,              N404,       N404),
    (GEST_INFO,   N404,   N404,         N404,              N404,       N404),
    (RESP_DROIT,  N404,   N404,         N404,              N404,       N404),  # its training
    (REFERENT,    N404,   N404,         N404,              N404,       N404),
    (CONTACT,     N404,   N404,         N404,              N404,       N404),
    (MEMBER,      N404,   N404,         N404,              N404,       N404),
    (APPRENTI,    N404,   N404,         N404,              N404,       N404),
    (ALICE,       N404,   N404,         N404,              N404,       N404),
    (RH_GLOBEX,   READ,   N404,         OK,                N404,       N404),
    (OUTSIDER,    F403,   F403,         F403,              F403,       F403),
    (ANON,        LOGIN,  LOGIN,        LOGIN,             LOGIN,      LOGIN),
]

# --- every write door of the tab, and the list's two bulk actions -----------------------------
WRITE_DOORS = ["reponse", "montants", "demande", "certificat", "depot", "paiement", "rejet",
               "facture_employeur", "action_factures", "action_deposer"]
_CFA = (W,) * 10
_EMPLOYER = (R422,) * 8 + (NIL, NIL)
_STRANGER_EMPLOYER = (N404,) * 8 + (NIL, NIL)
_NO_LIST = (N404,) * 8 + (F403, F403)
WRITE_OWN = [
    # persona     reponse montants demande certificat depot paiement rejet f_empl act_f act_d
    (ADMIN,       *_CFA),
    (CONSEIL,     *_CFA),
    (RESP_INFO,   *_NO_LIST),
    (GEST_INFO,   *_NO_LIST),
    (RESP_DROIT,  *_NO_LIST),
    (REFERENT,    *_EMPLOYER),
    (CONTACT,     *_EMPLOYER),
    (MEMBER,      *_STRANGER_EMPLOYER),
    (APPRENTI,    *_NO_LIST),
    (ALICE,       *_NO_LIST),
    (RH_GLOBEX,   *_STRANGER_EMPLOYER),
    (OUTSIDER,    *(F403,) * 10),
    (ANON,        *(LOGIN,) * 10),
]
WRITE_OTHER = [
    (ADMIN,       *_CFA),
    (CONSEIL,     *_CFA),
    (RESP_INFO,   *_NO_LIST),
    (GEST_INFO,   *_NO_LIST),
    (RESP_DROIT,  *_NO_LIST),
    (REFERENT,    *_STRANGER_EMPLOYER),
    (CONTACT,     *_STRANGER_EMPLOYER),
    (MEMBER,      *_STRANGER_EMPLOYER),
    (APPRENTI,    *_NO_LIST),
    (ALICE,       *_NO_LIST),
    (RH_GLOBEX,   *_EMPLOYER),
    (OUTSIDER,    *(F403,) * 10),
    (ANON,        *(LOGIN,) * 10),
]

# --- the CFA's own screens: délégants, contact sheet, reference tables, dashboard ---------------
SCREEN_DOORS = ["delegants", "delegant_creation", "delegant_modification",
                "delegant_suppression", "fiche_contact", "fiche_contact_modification", "npec",
                "npec_creation", "plafonds", "plafond_creation", "tableau_de_bord"]
_NONE = (F403,) * 11
SCREENS = [
    # persona     délégants: list new edit delete  fiche: list edit  npec: list new
    #             plafonds: list new  tableau de bord
    (ADMIN,       OK, W, W, W,       OK, W,        OK, W,   OK, W,   OK),
    (CONSEIL,     OK, NIL, NIL, NIL, F403, F403,   F403, F403, F403, F403, OK),
    (RESP_INFO,   *_NONE),
    (GEST_INFO,   *_NONE),
    (RESP_DROIT,  *_NONE),
    (REFERENT,    *_NONE),
    (CONTACT,     *_NONE),
    (MEMBER,      *_NONE),
    (APPRENTI,    *_NONE),
    (ALICE,       *_NONE),
    (RH_GLOBEX,   *_NONE),
    (OUTSIDER,    *_NONE),
    (ANON,        *(LOGIN,) * 11),
]

TODAY = date.today()
START = add_months(TODAY.replace(day=1), -10)   # avance, mois 7 and mois 10 are due
END = add_years(START, 2) - timedelta(days=1)
CONCLUDED, DEPOSIT = START - timedelta(days=15), START - timedelta(days=5)
NUMBERS = {"own": "MATFIN-PROPRE-4711", "other": "MATFIN-AUTRE-5822"}
NAMES = {"own": ("Finmatrice", "Ombeline"), "other": ("Finautre", "Gaspard")}
DELEGANT = "Organisme délégant de la matrice"
MISSING = 987654321
LIST_URL = "/admin/financement/"
FILTERS = {"filtre_etat": "État", "filtre_opco": "OPCO", "filtre_formation": "Formation",
           "filtre_annee": "Année de début du contrat", "filtre_a_suivre": "À suivre",
           "filtre_delegant": "Organisme délégant"}


# ================================================================================================
# The world
# ================================================================================================

def _pdf() -> bytes:
    from pypdf import PdfWriter
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(out)
    return out.getvalue()


def _siret(head: str) -> str:
    """A valid SIRET starting with the 8 digits ``head`` (SIREN and SIRET Luhn keys)."""
    return next(v for a in "0123456789" for b in "0123456789"
                if is_valid_siret(v := f"{head}{a}0001{b}"))


def _one(email) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _user(email, first, last, roles) -> User:
    from flask import current_app
    user = User(email=email, first_name=first, last_name=last, active=True,
                rgpd_accepted_at=utcnow(), rgpd_version=current_app.config["RGPD_TERMS_VERSION"])
    user.set_password(DEMO_PASSWORD)
    user.roles = [UserRole(role=r) for r in roles]
    db.session.add(user)
    return user


def _site_of(email) -> Etablissement:
    return db.session.execute(
        sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
        .where(Dossier.employer_contact_id == _one(email).id)).scalars().first()


def _training_of(email) -> Formation:
    return db.session.execute(sa.select(Formation).join(Formation.responsables).where(
        User.email == email).order_by(Formation.id)).scalars().first()


def _finance(key, dossier, admin, delegant) -> SimpleNamespace:
    """Open, agree and bill the dossier's prise en charge through the write path."""
    pec = service.open_for(dossier, admin, numero=NUMBERS[key], deposit=DEPOSIT)
    db.session.commit()
    raw = {"organisme_delegant_id": delegant.id}
    if pec.npec is None:  # no NPEC of the training × IDCC in seeds/reference/npec.csv
        raw["npec"] = "7000"
    service.update(pec, raw, by=admin)
    if pec.reste_a_charge <= 0:
        service.update(pec, {"npec": "5000"}, by=admin)
    service.answer(pec, "accorder", by=admin, on=DEPOSIT + timedelta(days=7))
    year1 = {e.nature: e for e in pec.echeances if e.annee_contrat == 1}
    advance = claims.create_claim(year1["avance"], by=admin)
    claims.attach_certificate(advance, _pdf(), "certificat-avance.pdf", by=admin)
    claims.deposit(advance, by=admin)
    draft = claims.create_claim(year1["mois7"], by=admin)
    claims.attach_certificate(draft, _pdf(), "certificat-mois7.pdf", by=admin)
    employer = claims.employer_invoice(pec, by=admin)
    assert year1["mois10"].date_prevue <= TODAY and not year1["mois10"].demandes
    assert pec.state == "accorde" and pec.opco_code
    return SimpleNamespace(
        key=key, dossier=dossier.id, pec=pec.id, numero=pec.numero_opco,
        name=dossier.apprenti_nom,
        mois10=year1["mois10"].id, advance_claim=advance.id, draft_claim=draft.id,
        employer_facture=employer.id, employer_invoice=employer.numero,
        opco_invoices=[advance.facture.numero, draft.facture.numero],
        docs={"facture_opco": advance.facture.document_id,
              "facture_employeur": employer.document_id,
              "certificat": advance.certificat_document_id,
              "recepisse": advance.recepisse_document_id},
        filters={"filtre_etat": "accorde", "filtre_opco": pec.opco_code,
                 "filtre_formation": str(dossier.formation_id),
                 "filtre_annee": str(pec.date_debut.year), "filtre_a_suivre": "a_deposer",
                 "filtre_delegant": str(delegant.id)})


def _build(app) -> SimpleNamespace:
    admin = _one(ADMIN)
    counters = dict(db.session.execute(sa.select(CompteurFacture.annee,
                                                 CompteurFacture.dernier)).all())
    copies: list[int] = []
    acme, globex = _site_of(REFERENT), _site_of(RH_GLOBEX)
    contact = _user(CONTACT, "Coralie", "Contact", ["employeur"])
    member = _user(MEMBER, "Maël", "Membre", ["employeur"])
    apprentice = _user(APPRENTI, "Ombeline", "Finmatrice", ["alternant"])
    outsider = _user(OUTSIDER, "Odon", "Dehors", [])
    delegant = OrganismeDelegant(nom=DELEGANT, siret=_siret("90123456"), actif=True)
    db.session.add(delegant)
    db.session.flush()
    for person in (contact, member):
        db.session.add(StructureMembership(
            structure_id=acme.structure_id, user_id=person.id,
            status=StructureMembership.APPROUVE, droit_contact_employeur=True,
            requested_at=utcnow(), decided_at=utcnow()))
    rows = {}
    for key, teacher, site, who, learner in (
            ("own", RESP_INFO, acme, contact, apprentice),
            ("other", RESP_DROIT, globex, _one(RH_GLOBEX), None)):
        training = training_copy(_training_of(teacher), copies)
        last, first = NAMES[key]
        dossier = Dossier(
            formation=training, state="envoye_opco", etablissement=site,
            apprentice_user_id=learner.id if learner else None,
            apprenti_email=f"{first.lower()}.{last.lower()}@etu-test.fr", apprenti_nom=last,
            apprenti_prenom=first, apprenti_date_naissance=date(2004, 5, 6),
            employer_contact_id=who.id, employeur_contact_email=who.email,
            niveau_saisie="complete", dispositif="apprentissage", date_debut_contrat=START,
            date_fin_contrat=END, cfa_conseiller_id=training.conseiller_cfa_id,
            contrat=Contrat(date_conclusion=CONCLUDED))
        db.session.add(dossier)
        db.session.flush()
        rows[key] = _finance(key, dossier, admin, delegant)
    db.session.commit()
    return SimpleNamespace(
        own=rows["own"], other=rows["other"], copies=copies, counters=counters,
        users=[contact.id, member.id, apprentice.id, outsider.id], delegant=delegant.id,
        cfa=db.session.get(Dossier, rows["own"].dossier).formation.cfa_id,
        without_pec=db.session.scalars(sa.select(Dossier.id).where(~Dossier.id.in_(
            sa.select(PriseEnCharge.dossier_id))).order_by(Dossier.id)).first())


def _remove(app, w) -> None:
    with app.app_context():
        pecs = [w.own.pec, w.other.pec]
        demandes = sa.select(DemandeRemboursement.id).where(
            DemandeRemboursement.prise_en_charge_id.in_(pecs))
        db.session.execute(sa.delete(Paiement).where(Paiement.demande_id.in_(demandes)))
        for model in (DemandeRemboursement, Facture, Echeance):
            db.session.execute(sa.delete(model).where(model.prise_en_charge_id.in_(pecs)))
        db.session.execute(sa.delete(PriseEnCharge).where(PriseEnCharge.id.in_(pecs)))
        db.session.execute(sa.delete(Document).where(
            Document.dossier_id.in_([w.own.dossier, w.other.dossier])))
        db.session.commit()
    drop_training_copies(app, w.copies)
    with app.app_context():
        db.session.execute(sa.delete(StructureMembership).where(
            StructureMembership.user_id.in_(w.users)))
        for pk in w.users:
            db.session.delete(db.session.get(User, pk))
        db.session.execute(sa.delete(OrganismeDelegant).where(
            OrganismeDelegant.nom.like(f"{DELEGANT}%")))
        for year, last in db.session.execute(sa.select(CompteurFacture.annee,
                                                       CompteurFacture.dernier)).all():
            if year not in w.counters:
                db.session.execute(sa.delete(CompteurFacture).where(
                    CompteurFacture.annee == year))
            elif last != w.counters[year]:  # the numbers of the invoices removed above
                db.session.execute(sa.update(CompteurFacture).where(
                    CompteurFacture.annee == year).values(dernier=w.counters[year]))
        db.session.commit()


@pytest.fixture(scope="module")
def world(app):
    with app.app_context():
        w = _build(app)
        admin = next(a for a in app.extensions["admin"] if a.name == "Sillon")
        view = next(v for v in admin._views if v.endpoint == "financement")
        w.filter_args = {flt.name: view.get_filter_arg(i, flt)
                         for i, flt in enumerate(view._filters)}
    try:
        yield w
    finally:
        _remove(app, w)


@pytest.fixture(scope="module")
def sessions(app, world):
    """Log each persona in once (password hashing is slow): its cookie and a CSRF token."""
    out = {}
    for email in PERSONAS:
        if email == ANON:
            continue
        client = app.test_client()
        assert web_login(client, email).status_code == 302, email
        token = csrf_from(client.get("/admin/").get_data(as_text=True))
        out[email] = (client.get_cookie("session").value, token)
    return out


@pytest.fixture()
def as_(app, sessions):
    """as_(persona) -> (a fresh client with that persona's session, its CSRF token)."""
    def _client(persona):
        client = app.test_client()
        if persona == ANON:
            return client, csrf_from(client.get("/login").get_data(as_text=True))
        cookie, token = sessions[persona]
        client.set_cookie("session", cookie)
        return client, token
    return _client


# ================================================================================================
# Observing and restoring the database
# ================================================================================================

GLOBAL = (Cfa, OrganismeDelegant, NiveauPriseEnCharge, PlafondFraisAnnexes, CompteurFacture)
ORDER = GLOBAL + (Dossier, PriseEnCharge, Echeance, Document, Facture, DemandeRemboursement,
                  Paiement, DossierHistory, OutboxEmail)  # parents first


def _scoped(rows) -> dict:
    dossiers, pecs = [r.dossier for r in rows], [r.pec for r in rows]
    demandes = sa.select(DemandeRemboursement.id).where(
        DemandeRemboursement.prise_en_charge_id.in_(pecs))
    return {Dossier: Dossier.id.in_(dossiers), PriseEnCharge: PriseEnCharge.id.in_(pecs),
            Echeance: Echeance.prise_en_charge_id.in_(pecs),
            Document: Document.dossier_id.in_(dossiers),
            Facture: Facture.prise_en_charge_id.in_(pecs),
            DemandeRemboursement: DemandeRemboursement.prise_en_charge_id.in_(pecs),
            Paiement: Paiement.demande_id.in_(demandes),
            DossierHistory: DossierHistory.dossier_id.in_(dossiers),
            OutboxEmail: OutboxEmail.dossier_id.in_(dossiers)}


def _key(model) -> str:
    return list(model.__table__.primary_key.columns)[0].name


def observe(app, w, rows=None, with_global=True) -> dict:
    """table → {primary key: row}, as stored (a fresh session)."""
    where = _scoped(rows or (w.own, w.other))
    out = {}
    with app.app_context():
        for model in ORDER:
            if model in GLOBAL and not with_global:
                continue
            stmt = sa.select(model.__table__)
            if model in where:
                stmt = stmt.where(where[model])
            out[model.__tablename__] = {r[_key(model)]: dict(r) for r in
                                        db.session.execute(stmt).mappings()}
    return out


def restore(app, w, base) -> None:
    """Put back every observed row as in ``base``: reset the changed rows, remove the new ones
    (children first), re-insert the removed ones (parents first)."""
    now = observe(app, w)
    with app.app_context():
        for model in ORDER:
            name, table, key = model.__tablename__, model.__table__, _key(model)
            for pk, row in base[name].items():
                if pk in now[name] and now[name][pk] != row:
                    db.session.execute(sa.update(table).where(table.c[key] == pk).values(
                        {k: v for k, v in row.items() if k != key}))
        for model in reversed(ORDER):
            name, table, key = model.__tablename__, model.__table__, _key(model)
            extra = [pk for pk in now[name] if pk not in base[name]]
            if extra:
                db.session.execute(sa.delete(table).where(table.c[key].in_(extra)))
        for model in ORDER:
            missing = [row for pk, row in base[model.__tablename__].items()
                       if pk not in now[model.__tablename__]]
            if missing:
                db.session.execute(sa.insert(model.__table__), missing)
        db.session.commit()
    assert observe(app, w) == base


def _diff(before, after) -> dict:
    return {name: {pk for pk in set(before[name]) | set(after[name])
                   if before[name].get(pk) != after[name].get(pk)}
            for name in before if before[name] != after[name]}


# ================================================================================================
# Answers
# ================================================================================================

def _text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("&#x27;", "'")


def assert_login(response) -> None:
    assert response.status_code == 302, response.status_code
    assert response.headers["Location"].split("?")[0].endswith("/login")


def assert_no_trace(body: str, row, *, typed: str | None = None) -> None:
    """Nothing of the row in the body (but what the person typed: a search echoes it)."""
    low = body.lower()
    for secret in (row.numero, row.name, row.employer_invoice, *row.opco_invoices):
        if secret != typed:
            assert secret.lower() not in low, secret


def assert_like_missing(client, response, missing_url, row) -> None:
    """Answered exactly as an id that does not exist, and nothing of the row in the body."""
    missing = client.get(missing_url)
    assert (response.status_code, response.headers.get("Location")) == \
        (missing.status_code, missing.headers.get("Location"))
    assert_no_trace(_text(response), row)


def _post(client, token, url, data=None, *, upload=None):
    payload = dict(data or {})
    if token is not None:
        payload["csrf_token"] = token
    if upload is not None:
        payload["fichier"] = (io.BytesIO(upload), "certificat-matrice.pdf")
        return client.post(url, data=payload, content_type="multipart/form-data")
    return client.post(url, data=payload)


def _rows(world, which):
    return (world.own, world.other) if which == "own" else (world.other, world.own)


# ================================================================================================
# 0. The tables cover every persona and door; the world is what it claims
# ================================================================================================

def test_every_table_covers_every_persona_and_door():
    for table, doors in ((LIST_SCOPE, ["own", "other"]), (PEC_GENERIC, PEC_DOORS),
                         (TAB_OWN, TAB_DOORS), (TAB_OTHER, TAB_DOORS),
                         (WRITE_OWN, WRITE_DOORS), (WRITE_OTHER, WRITE_DOORS),
                         (SCREENS, SCREEN_DOORS)):
        assert [row[0] for row in table] == PERSONAS
        assert all(len(row) == len(doors) + 1 for row in table)


def test_the_world_is_what_the_tables_assume(app, world):
    with app.app_context():
        own = db.session.get(Dossier, world.own.dossier)
        other = db.session.get(Dossier, world.other.dossier)
        assert own.etablissement.structure.referent.email == REFERENT
        assert own.employer_contact.email == CONTACT and other.employer_contact.email == \
            RH_GLOBEX
        assert other.etablissement.structure.referent.email == RH_GLOBEX
        assert own.apprentice_user.email == APPRENTI
        assert {u.email for u in own.formation.responsables} >= {RESP_INFO}
        assert {u.email for u in own.formation.gestionnaires} >= {GEST_INFO}
        assert {u.email for u in other.formation.responsables} >= {RESP_DROIT}
        assert RESP_DROIT not in {u.email for u in own.formation.responsables}
        assert world.without_pec is not None  # the generic creation aims at it
        for row in (world.own, world.other):
            pec = db.session.get(PriseEnCharge, row.pec)
            assert pec.state == "accorde" and pec.reste_a_charge > 0
            kinds = {db.session.get(Document, pk).kind for pk in row.docs.values()}
            assert kinds == {"facture", "certificat_realisation", "recepisse"}


# ================================================================================================
# 1. The list, its search, filters and exports
# ================================================================================================

def _list_get(client, world, door, row):
    if door == "export_csv":
        return client.get(LIST_URL + "export/csv/")
    if door == "export_xlsx":
        return client.get(LIST_URL + "export/xlsx/")
    args = {"page_size": 100}
    if door == "recherche_n_opco":
        args["search"] = row.numero
    elif door in FILTERS:
        args[f"flt0_{world.filter_args[FILTERS[door]]}"] = row.filters[door]
    return client.get(LIST_URL, query_string=args)


def _listed(door, response) -> tuple[set[int], str]:
    """(the prises en charge's ids in the answer, its text)."""
    if door == "export_csv":
        text = response.get_data().decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
        return {int(r["N°"]) for r in rows}, text
    if door == "export_xlsx":
        sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
        rows = list(sheet.iter_rows(values_only=True))
        column = list(rows[0]).index("N°")
        text = "\n".join(" ".join(str(v) for v in r if v is not None) for r in rows)
        return {int(r[column]) for r in rows[1:]}, text
    text = _text(response)
    return {int(i) for i in re.findall(r'<td class="col-id">\s*(\d+)\s*</td>', text)}, text


def _list_cases():
    for persona, own, other in LIST_SCOPE:
        for door in LIST_DOORS:
            for which, expected in (("own", own), ("other", other)):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


@pytest.mark.parametrize("persona,door,which,expected", list(_list_cases()))
def test_list_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    row = _rows(world, which)[0]
    response = _list_get(client, world, door, row)
    if expected == LOGIN:
        return assert_login(response)
    if expected == F403:
        assert response.status_code == 403
        return assert_no_trace(_text(response), row)
    assert response.status_code == 200
    ids, text = _listed(door, response)
    if not door.startswith("export"):
        assert "Filtre ignoré" not in text
    if door == "liste":  # the bulk actions are offered to the CFA only
        cfa = persona in (ADMIN, CONSEIL)
        assert ('data-model-action="generer_factures"' in text,
                'data-model-action="deposer"' in text) == (cfa, cfa)
    if expected == SEE:
        assert row.pec in ids and row.numero in text
    else:
        assert row.pec not in ids
        assert_no_trace(text, row, typed=row.numero if door == "recherche_n_opco" else None)


@pytest.mark.parametrize("persona", [REFERENT, CONTACT, MEMBER, RH_GLOBEX])
def test_filter_options_of_an_employer_name_no_training_nor_delegant(app, world, as_,
                                                                     persona):
    client, _ = as_(persona)
    page = _text(client.get(LIST_URL))
    groups = json.loads(re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>',
                                  page, re.S).group(1))
    assert not groups["Formation"][0]["options"]
    assert not groups["Organisme délégant"][0]["options"]
    admin_page = _text(as_(ADMIN)[0].get(LIST_URL))
    admin_groups = json.loads(re.search(
        r'<div id="filter-groups-data" class="d-none">(.*?)</div>', admin_page, re.S).group(1))
    # The CFA's menus offer them (the checks above can fail).
    assert [world.delegant, DELEGANT] in [[int(k), v] for k, v in
                                          admin_groups["Organisme délégant"][0]["options"]]
    assert admin_groups["Formation"][0]["options"]


# ================================================================================================
# 2. Flask-Admin's generic doors of a prise en charge
# ================================================================================================

def _pec_knock(client, token, door, row, world):
    if door == "details":
        return client.get(f"{LIST_URL}details/?id={row.pec}")
    if door == "creation":
        with_no_pec = {"dossier": str(world.without_pec), "numero_opco": "PIRATE-1",
                       "state": "accorde", "date_depot": TODAY.isoformat(),
                       "date_complet": TODAY.isoformat(), "state_date": TODAY.isoformat(),
                       "date_debut": START.isoformat(), "date_fin": END.isoformat()}
        return _post(client, token, f"{LIST_URL}new/", with_no_pec)
    if door == "modification":
        return _post(client, token, f"{LIST_URL}edit/?id={row.pec}",
                     {"numero_opco": "PIRATE-2", "state": "refuse", "montant_opco": "1"})
    return _post(client, token, f"{LIST_URL}delete/", {"id": str(row.pec)})


def _pec_cases():
    for persona, *cells in PEC_GENERIC:
        for door, expected in zip(PEC_DOORS, cells):
            for which in ("own", "other"):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


@pytest.mark.parametrize("persona,door,which,expected", list(_pec_cases()))
def test_generic_prise_en_charge_door(app, world, as_, persona, door, which, expected):
    client, token = as_(persona)
    row = _rows(world, which)[0]
    before = observe(app, world)
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(PriseEnCharge))
    response = _pec_knock(client, token, door, row, world)
    after = observe(app, world)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PriseEnCharge)) == count
    if after != before:
        restore(app, world, before)
    assert after == before, _diff(before, after)
    if expected == LOGIN:
        return assert_login(response)
    if expected == NIL:
        assert response.status_code == 302
        assert response.headers["Location"].split("?")[0].endswith(LIST_URL)
        return None
    assert response.status_code == int(expected)
    if door in ("details", "modification"):
        assert_like_missing(client, response, f"{LIST_URL}details/?id={MISSING}", row)


# ================================================================================================
# 3. The Financement tab and its documents
# ================================================================================================

def _tab_url(dossier, door, row) -> str:
    base = f"/admin/dossier/{dossier}/financement/"
    return base if door == "onglet" else f"{base}document/{row.docs[door]}/"


def _tab_cases():
    for which, table in (("own", TAB_OWN), ("other", TAB_OTHER)):
        for persona, *cells in table:
            for door, expected in zip(TAB_DOORS, cells):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


@pytest.mark.parametrize("persona,door,which,expected", list(_tab_cases()))
def test_tab_door(world, as_, persona, door, which, expected):
    client, _ = as_(persona)
    row = _rows(world, which)[0]
    response = client.get(_tab_url(row.dossier, door, row))
    if expected == LOGIN:
        return assert_login(response)
    if expected in (N404, F403):
        assert response.status_code == int(expected)
        missing = (_tab_url(MISSING, door, row) if door == "onglet" else
                   f"/admin/dossier/{row.dossier}/financement/document/{MISSING}/")
        return assert_like_missing(client, response, missing, row)
    assert response.status_code == 200
    if door != "onglet":
        assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
        return None
    page = _text(response)
    assert row.numero in page and row.employer_invoice in page
    cfa_forms = f'action="/admin/dossier/{row.dossier}/financement/'
    if expected == FULL:
        assert f"{cfa_forms}reponse/annuler/" in page and f"{cfa_forms}demande/" in page
        assert all(numero in page for numero in row.opco_invoices)
    else:  # the employer reads its billing: no form of the CFA, none of the claims to the OPCO
        assert cfa_forms not in page and 'name="_version"' not in page
        assert not any(numero in page for numero in row.opco_invoices)
        assert "Générer la facture" not in page and "Réponse de l'OPCO" not in page


# ================================================================================================
# 4. The write doors of the tab and the bulk actions of the list
# ================================================================================================

def _prepare(app, door, row) -> None:
    """Put the row where the door would write if it let the person through."""
    with app.app_context():
        if door == "montants":  # the amounts change only before the OPCO's decision
            db.session.execute(sa.update(PriseEnCharge.__table__).where(
                PriseEnCharge.id == row.pec).values(state="en_instruction"))
        elif door == "facture_employeur":  # one employer invoice per prise en charge
            db.session.execute(sa.delete(Facture).where(Facture.id == row.employer_facture))
        db.session.commit()


def _write_knock(client, token, door, row, target=None):
    """POST the door as the client, on ``row``'s ids under ``target``'s URL (default: row)."""
    tab = f"/admin/dossier/{(target or row).dossier}/financement/"
    today = TODAY.isoformat()
    if door.startswith("action_"):
        name = "generer_factures" if door == "action_factures" else "deposer"
        return _post(client, token, f"{LIST_URL}action/",
                     {"action": name, "rowid": [str(row.pec)]})
    url, data, upload = {
        "reponse": ("reponse/annuler/", {"date": today, "motif": "Essai de la matrice"}, None),
        "montants": ("montants/", {"nuits_hebergement": "3"}, None),
        "demande": (f"echeance/{row.mois10}/demande/", {}, None),
        "certificat": (f"demande/{row.draft_claim}/certificat/", {}, _pdf()),
        "depot": (f"demande/{row.draft_claim}/depot/", {"date": today}, None),
        "paiement": (f"demande/{row.advance_claim}/paiement/",
                     {"date": today, "montant": "10,00", "reference": "VIR-MATRICE"}, None),
        "rejet": (f"demande/{row.advance_claim}/rejet/",
                  {"date": today, "motif": "Rejet d'essai"}, None),
        "facture_employeur": ("facture-employeur/", {}, None),
    }[door]
    return _post(client, token, tab + url, data, upload=upload)


def _written(door, row, before, after) -> bool:
    """The change the door makes, seen in the database."""
    pec = after["prises_en_charge"][row.pec]
    claims_after = after["demandes_remboursement"]
    new_claims = [c for pk, c in claims_after.items()
                  if pk not in before["demandes_remboursement"]]
    draft, advance = claims_after[row.draft_claim], claims_after[row.advance_claim]
    return {
        "reponse": lambda: pec["state"] == "annule",
        "montants": lambda: pec["nuits_hebergement"] == 3,
        "demande": lambda: [c["echeance_id"] for c in new_claims] == [row.mois10],
        "action_factures": lambda: [c["echeance_id"] for c in new_claims] == [row.mois10],
        "certificat": lambda: draft["certificat_document_id"] not in before["documents"],
        "depot": lambda: draft["state"] == "deposee" and draft["recepisse_document_id"],
        "action_deposer": lambda: draft["state"] == "deposee",
        "paiement": lambda: str(advance["montant_paye"]) == "10.00" and len(
            after["paiements"]) == len(before["paiements"]) + 1,
        "rejet": lambda: advance["state"] == "rejetee",
        "facture_employeur": lambda: any(
            f["destinataire"] == "employeur" and f["prise_en_charge_id"] == row.pec
            for pk, f in after["factures"].items() if pk not in before["factures"]),
    }[door]()


def _write_cases():
    for which, table in (("own", WRITE_OWN), ("other", WRITE_OTHER)):
        for persona, *cells in table:
            for door, expected in zip(WRITE_DOORS, cells):
                yield pytest.param(persona, door, which, expected,
                                   id=f"{LABEL[persona]}-{door}-{which}-{expected}")


@pytest.mark.parametrize("persona,door,which,expected", list(_write_cases()))
def test_write_door(app, world, as_, persona, door, which, expected):
    client, token = as_(persona)
    row, bystander = _rows(world, which)
    base = observe(app, world)
    try:
        _prepare(app, door, row)
        before = observe(app, world)
        untouched = observe(app, world, rows=(bystander,), with_global=False)
        response = _write_knock(client, token, door, row)
        after = observe(app, world)
        if expected == W:
            assert response.status_code == (302 if door.startswith("action_") else 303)
            assert _written(door, row, before, after), _diff(before, after)
            assert observe(app, world, rows=(bystander,), with_global=False) == untouched
            return
        assert after == before, _diff(before, after)
        if expected == LOGIN:
            return assert_login(response)
        if expected == NIL:
            assert response.status_code == 302
            assert response.headers["Location"].split("?")[0].endswith(LIST_URL)
            return
        assert response.status_code == int(expected)
        if expected == R422:  # the employer's own page: its refusal, still no claim of the CFA
            text = _text(response)
            assert CFA_ONLY in text
            assert not any(numero in text for numero in row.opco_invoices)
        else:
            assert_no_trace(_text(response), row)
    finally:
        restore(app, world, base)


@pytest.mark.parametrize("door", WRITE_DOORS)
def test_a_post_without_its_csrf_token_is_refused_and_writes_nothing(app, world, as_, door):
    client, _ = as_(ADMIN)
    base = observe(app, world)
    try:
        _prepare(app, door, world.own)
        before = observe(app, world)
        response = _write_knock(client, None, door, world.own)
        assert response.status_code == 400
        assert observe(app, world) == before
    finally:
        restore(app, world, base)


CROSS_DOORS = ["demande", "certificat", "depot", "paiement", "rejet"]


@pytest.mark.parametrize("door", CROSS_DOORS)
def test_an_id_of_the_other_dossier_under_the_own_url_is_404(app, world, as_, door):
    """The CFA may act on both dossiers, but not on the other's instalment or claim through
    the own dossier's URL: 404, nothing written on either."""
    client, token = as_(ADMIN)
    base = observe(app, world)
    try:
        response = _write_knock(client, token, door, world.other, target=world.own)
        assert response.status_code == 404
        assert observe(app, world) == base
    finally:
        restore(app, world, base)


@pytest.mark.parametrize("persona", [ADMIN, REFERENT])
@pytest.mark.parametrize("kind", TAB_DOORS[1:])
def test_a_document_of_the_other_dossier_under_the_own_url_is_404(world, as_, persona, kind):
    client, _ = as_(persona)
    response = client.get(f"/admin/dossier/{world.own.dossier}/financement/document/"
                          f"{world.other.docs[kind]}/")
    assert response.status_code == 404
    assert_no_trace(_text(response), world.other)


# ================================================================================================
# 5. The CFA's screens: délégants, contact sheet, reference tables, finance dashboard
# ================================================================================================

SCREEN_URLS = {"delegants": "/admin/organismes-delegants/", "fiche_contact":
               "/admin/fiche-contact-cfa/", "npec": "/admin/npec/", "plafonds": "/admin/plafond/",
               "tableau_de_bord": "/admin/financement/tableau-de-bord/"}


def _sheet_payload(app, world, **changes) -> dict:
    from admin_views.financing import CfaContactView
    with app.app_context():
        cfa = db.session.get(Cfa, world.cfa)
        data = {name: getattr(cfa, name) or "" for name in CfaContactView.form_columns}
    return dict(data, **changes)


def _screen_prepare(app, door) -> int | None:
    """The délégant a deletion aims at: a throwaway one, used by no prise en charge."""
    if door != "delegant_suppression":
        return None
    with app.app_context():
        org = OrganismeDelegant(nom=f"{DELEGANT} – jetable", siret=_siret("90123457"))
        db.session.add(org)
        db.session.commit()
        return org.id


def _screen_knock(app, world, client, token, door, throwaway):
    """(response, wrote(after) -> bool: the change the door makes, seen in the database)."""
    tag = uuid.uuid4().hex[:6]
    if door in SCREEN_URLS:
        return client.get(SCREEN_URLS[door]), None
    if door == "delegant_creation":
        name = f"{DELEGANT} {tag}"
        response = _post(client, token, "/admin/organismes-delegants/new/",
                         {"nom": name, "siret": _siret("90123458"), "actif": "y"})
        return response, lambda a: any(r["nom"] == name for r in
                                       a["organismes_delegants"].values())
    if door == "delegant_modification":
        name = f"{DELEGANT} renommé {tag}"
        with app.app_context():
            siret = db.session.get(OrganismeDelegant, world.delegant).siret
        response = _post(client, token, f"/admin/organismes-delegants/edit/?id={world.delegant}",
                         {"nom": name, "siret": siret, "actif": "y"})
        return response, lambda a: a["organismes_delegants"][world.delegant]["nom"] == name
    if door == "delegant_suppression":
        response = _post(client, token, "/admin/organismes-delegants/delete/",
                         {"id": str(throwaway)})
        return response, lambda a: throwaway not in a["organismes_delegants"]
    if door == "fiche_contact_modification":
        phone = "0199000111"
        response = _post(client, token, f"/admin/fiche-contact-cfa/edit/?id={world.cfa}",
                         _sheet_payload(app, world, contact_telephone=phone))
        return response, lambda a: a["cfas"][world.cfa]["contact_telephone"] == phone
    if door == "npec_creation":
        response = _post(client, token, "/admin/npec/new/", {
            "code_certification": "RNCP99999", "idcc": "9999", "npec": "1234.00",
            "valable_du": "2099-01-01", "libelle": f"Essai de la matrice {tag}"})
        return response, lambda a: any(r["code_certification"] == "RNCP99999" for r in
                                       a["niveaux_prise_en_charge"].values())
    response = _post(client, token, "/admin/plafond/new/", {
        "nature": "premier_equipement", "montant": "1.00", "valable_du": "2099-01-01",
        "base_legale": f"Essai de la matrice {tag}"})
    return response, lambda a: any(str(r["valable_du"]) == "2099-01-01" for r in
                                   a["plafonds_frais_annexes"].values())


def _screen_cases():
    for persona, *cells in SCREENS:
        for door, expected in zip(SCREEN_DOORS, cells):
            yield pytest.param(persona, door, expected,
                               id=f"{LABEL[persona]}-{door}-{expected}")


@pytest.mark.parametrize("persona,door,expected", list(_screen_cases()))
def test_cfa_screen_door(app, world, as_, persona, door, expected):
    client, token = as_(persona)
    base = observe(app, world)
    try:
        throwaway = _screen_prepare(app, door)
        before = observe(app, world)
        response, wrote = _screen_knock(app, world, client, token, door, throwaway)
        after = observe(app, world)
        if expected == W:
            assert response.status_code == 302
            assert wrote(after), _diff(before, after)
            return
        assert after == before, _diff(before, after)
        if expected == LOGIN:
            assert_login(response)
        elif expected == NIL:
            assert response.status_code == 302
            assert response.headers["Location"].split("?")[0].endswith(
                SCREEN_URLS["delegants"])
        else:
            assert response.status_code == int(expected)
        if expected == OK and door == "delegants":
            assert DELEGANT in _text(response)
    finally:
        restore(app, world, base)


@pytest.mark.parametrize("door", ["delegant_creation", "fiche_contact_modification",
                                  "npec_creation"])
def test_a_cfa_screen_post_without_its_csrf_token_writes_nothing(app, world, as_, door):
    client, _ = as_(ADMIN)
    before = observe(app, world)
    try:
        response, wrote = _screen_knock(app, world, client, None, door, None)
        assert response.status_code == 400
        assert observe(app, world) == before
    finally:
        restore(app, world, before)
