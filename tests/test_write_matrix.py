"""Authorization matrix of the write doors, with the awkward personas: every write door of a
dossier × persona → allowed or refused, the database checked after each POST.

The dossier under test belongs to the training "informatique" of resp.info, to an ACME
establishment, to an apprentice who has a second dossier in another training, and its employer
contact is a member of ACME who is not its référent (rh@acme is the référent). Around it:
a plain member of ACME who is not the contact, the manager of one other training only, and an
outsider who has an account but no role.
"""
from __future__ import annotations

import io
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (Document, Dossier, DossierHistory, Etablissement, Formation,
                           OutboxEmail, StructureMembership, User, UserRole, utcnow)
from portal.models.signatures import SignatureRequest
from tests.support.web import DEMO_PASSWORD, csrf
from tests.support.web import login as web_login

ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
RESP_INFO, GEST_INFO, RESP_DROIT = ("resp.info@sillon.demo", "gest.info@sillon.demo",
                                    "resp.droit@sillon.demo")
REFERENT = "rh@acme.sillon.demo"            # référent of ACME, not the dossier's contact
CONTACT = "contact.matrice@acme-test.fr"       # the dossier's contact, member of ACME, not référent
MEMBER = "membre.matrice@acme-test.fr"         # approved member of ACME, contact of nothing
TWO = "deux.dossiers@etu-test.fr"              # the apprentice, with a second dossier elsewhere
ALICE = "alice@etu.sillon.demo"             # another apprentice
OUTSIDER = "dehors.matrice@exemple-test.fr"    # an account with no role at all
PERSONAS = [ADMIN, CONSEIL, RESP_INFO, GEST_INFO, RESP_DROIT, REFERENT, CONTACT, MEMBER, TWO,
            ALICE, OUTSIDER]
Y, n = "autorisé", "refusé"

# door: the state of the dossier it is knocked on in
DOORS = {"base_tab": "en_saisie", "employer_found": "en_saisie", "cancel": "en_saisie",
         "advisor": "valide_formation", "upload": "economie_validee", "pencil": "en_saisie",
         "other_dossier_tab": "en_saisie", "sign_start": "economie_validee",
         "sign_cancel": "economie_validee"}

MATRIX = [
    # persona    base_tab employer_found cancel advisor upload pencil other_dossier_tab
    #                                                                    sign_start sign_cancel
    (ADMIN,      Y,       n,             Y,     Y,      n,     n,     Y,     Y,     Y),
    (CONSEIL,    Y,       n,             n,     Y,      n,     n,     Y,     Y,     Y),
    (RESP_INFO,  Y,       n,             Y,     n,      n,     n,     n,     n,     n),
    (GEST_INFO,  Y,       n,             n,     n,      n,     n,     n,     n,     n),
    (RESP_DROIT, n,       n,             n,     n,      n,     n,     Y,     n,     n),
    (REFERENT,   Y,       n,             n,     n,      Y,     n,     n,     n,     n),
    (CONTACT,    Y,       n,             n,     n,      Y,     n,     n,     n,     n),
    (MEMBER,     n,       n,             n,     n,      n,     n,     n,     n,     n),
    (TWO,        n,       Y,             n,     n,      n,     n,     n,     n,     n),
    (ALICE,      n,       n,             n,     n,      n,     n,     n,     n,     n),
    (OUTSIDER,   n,       n,             n,     n,      n,     n,     n,     n,     n),
]
COLUMNS = list(DOORS)


def _user(email, first, last, roles):
    from flask import current_app
    user = User(email=email, first_name=first, last_name=last, active=True,
                rgpd_accepted_at=utcnow(),
                rgpd_version=current_app.config["RGPD_TERMS_VERSION"])
    user.set_password(DEMO_PASSWORD)
    user.roles = [UserRole(role=r) for r in roles]
    db.session.add(user)
    return user


@pytest.fixture(scope="module")
def world(app):
    """The personas and the two dossiers of the apprentice; removed at the end."""
    with app.app_context():
        def one(email):
            return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        info = db.session.execute(sa.select(Formation).join(Formation.responsables)
                                  .where(User.email == RESP_INFO)).scalars().first()
        droit = db.session.execute(sa.select(Formation).join(Formation.responsables)
                                   .where(User.email == RESP_DROIT)).scalars().first()
        acme = one(REFERENT)
        site = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == acme.id)).scalars().first()
        contact = _user(CONTACT, "Coline", "Contact", ["employeur"])
        member = _user(MEMBER, "Marc", "Membre", ["employeur"])
        two = _user(TWO, "Deniz", "Deuxdossiers", ["alternant"])
        outsider = _user(OUTSIDER, "Olga", "Dehors", [])
        advisor = _user("second.conseil@exemple-test.fr", "Sacha", "Conseil",
                        ["cfa_conseiller"])
        globex = one("rh@globex.sillon.demo")
        globex_site = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == globex.id)).scalars().first()
        db.session.flush()
        for person in (contact, member):
            db.session.add(StructureMembership(
                structure_id=site.structure_id, user_id=person.id,
                status=StructureMembership.APPROUVE, droit_contact_employeur=True,
                droit_beneficiaire=True, requested_at=utcnow(), decided_at=utcnow()))
        ids = {}
        for key, formation, where, who in (("own", info, site, contact),
                                           ("other", droit, globex_site, globex)):
            dossier = Dossier(formation=formation, state="en_saisie", etablissement=where,
                              apprentice_user_id=two.id, apprenti_email=TWO,
                              apprenti_nom="Deuxdossiers", apprenti_prenom="Deniz",
                              apprenti_date_naissance=date(2004, 3, 2),
                              employer_contact_id=who.id, employeur_contact_email=who.email,
                              # the employer's signatory of an electronic signature (sign_*)
                              responsable_nom="Signataire", responsable_prenom="Sacha",
                              responsable_email="signataire.matrice@acme-test.fr",
                              niveau_saisie="complete", dispositif="apprentissage",
                              date_debut_contrat=date(2026, 9, 1),
                              date_fin_contrat=date(2028, 8, 31),
                              cfa_conseiller_id=formation.conseiller_cfa_id)
            db.session.add(dossier)
            db.session.flush()
            ids[key] = dossier.id
            ids[f"{key}_site"] = where.id
        db.session.commit()
        created_users = [contact.id, member.id, two.id, outsider.id, advisor.id]
    yield ids
    with app.app_context():
        for pk in (ids["own"], ids["other"]):
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
            db.session.delete(db.session.get(Dossier, pk))
        db.session.execute(sa.delete(StructureMembership).where(
            StructureMembership.user_id.in_(created_users)))
        for pk in created_users:
            db.session.delete(db.session.get(User, pk))
        db.session.commit()


@pytest.fixture(scope="module")
def clients(app, world):
    out = {}
    for email in PERSONAS:
        client = app.test_client()
        assert web_login(client, email).status_code == 302, email
        out[email] = client
    return out


SITES = {}


def _state(app, pk, state, *, contact=True):
    """Put the dossier back in ``state`` with its own establishment (and contact)."""
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        dossier.state = state
        dossier.etablissement_id = SITES.setdefault(pk, dossier.etablissement_id)
        dossier.employeur_siret = None
        if not contact:
            dossier.employer_contact_id, dossier.employeur_contact_email = None, None
        elif dossier.employeur_contact_email is None:
            dossier.employer_contact_id = db.session.execute(
                sa.select(User.id).where(User.email == CONTACT)).scalar_one()
            dossier.employeur_contact_email = CONTACT
        db.session.commit()


def observe(app, pk) -> dict:
    with app.app_context():
        db.session.expire_all()
        row = db.session.get(Dossier, pk)
        count = lambda model: db.session.scalar(  # noqa: E731
            sa.select(sa.func.count()).select_from(model).where(model.dossier_id == pk))
        running = db.session.scalar(sa.select(sa.func.count()).select_from(SignatureRequest)
                                    .where(SignatureRequest.dossier_id == pk,
                                           SignatureRequest.status == "en_cours"))
        return {**{c.name: getattr(row, c.name) for c in Dossier.__table__.columns},
                "history": count(DossierHistory), "outbox": count(OutboxEmail),
                "documents": count(Document), "signatures": count(SignatureRequest),
                "signatures_running": running}


def _pdf() -> bytes:
    from pypdf import PdfWriter
    out = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(out)
    return out.getvalue()


def _advisor(app, pk):
    with app.app_context():
        from portal.policy import cfa_advisors
        current = db.session.get(Dossier, pk).cfa_conseiller_id
        return next(u.id for u in cfa_advisors() if u.id != current)


def knock(app, client, door, world):
    """POST the door as the client; returns the dossier's id it aimed at."""
    pk = world["other"] if door == "other_dossier_tab" else world["own"]
    _state(app, pk, DOORS[door], contact=door != "employer_found")
    token = csrf(client)
    if door in ("base_tab", "other_dossier_tab"):
        client.post(f"/admin/dossier/{pk}/base/", data={
            "csrf_token": token, "niveau_saisie": "complete", "dispositif": "apprentissage",
            "apprenti_nom": f"Matrice{uuid.uuid4().hex[:6]}", "apprenti_prenom": "Deniz",
            "apprenti_date_naissance": "2004-03-02", "apprenti_email": TWO,
            "employeur_contact_email": observe(app, pk)["employeur_contact_email"],
            "date_debut_contrat": "2026-09-01",
            "date_fin_contrat": "2028-08-31"})
    elif door == "employer_found":
        client.post(f"/admin/dossier/{pk}/employeur/trouve/", data={
            "csrf_token": token, "siret": "73282932000074",
            "email": f"rh.{uuid.uuid4().hex[:6]}@exemple-test.fr"})
    elif door == "cancel":
        client.post(f"/admin/dossier/{pk}/transition/annuler/", data={
            "csrf_token": token, "comment": "Essai de la matrice des écritures.",
            "confirmation": "oui"})
    elif door == "advisor":
        client.post(f"/admin/dossier/{pk}/conseiller/", data={
            "csrf_token": token, "cfa_conseiller_id": str(_advisor(app, pk))})
    elif door == "upload":
        client.post(f"/admin/dossier/{pk}/retour/cerfa_signe/", data={
            "csrf_token": token, "fichier": (io.BytesIO(_pdf()), "cerfa-signe.pdf")},
            content_type="multipart/form-data")
    elif door == "sign_start":
        client.post(f"/admin/dossier/{pk}/signature/lancer/", data={"csrf_token": token})
    elif door == "sign_cancel":
        client.post(f"/admin/dossier/{pk}/signature/annuler/", data={
            "csrf_token": token, "motif": "Essai de la matrice des écritures."})
    elif door == "pencil":
        client.post(f"/admin/dossier/edit/?id={pk}", data={
            "csrf_token": token, "apprenti_nom": "Générique", "employeur_contact_email":
            "pirate@exemple-test.fr"})
    return pk


def _cases():
    for persona, *cells in MATRIX:
        for door, expected in zip(COLUMNS, cells):
            yield pytest.param(persona, door, expected,
                               id=f"{persona.split('@')[0]}-{door}-{expected}")


def test_matrix_covers_every_persona_and_door():
    assert [row[0] for row in MATRIX] == PERSONAS
    assert all(len(row) == len(COLUMNS) + 1 for row in MATRIX)


@pytest.mark.parametrize("persona,door,expected", list(_cases()))
def test_write_door(app, world, clients, persona, door, expected):
    pk = world["other"] if door == "other_dossier_tab" else world["own"]
    _state(app, pk, DOORS[door], contact=door != "employer_found")
    _signatures_for(app, pk, door)
    before = observe(app, pk)
    knock(app, clients[persona], door, world)
    after = observe(app, pk)
    if expected == n:
        assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    elif door.startswith("sign_"):  # the signature's own rows, and a line of history
        assert after["history"] > before["history"]
        if door == "sign_start":
            assert (after["signatures_running"], before["signatures_running"]) == (2, 0)
        else:
            assert (after["signatures_running"], before["signatures_running"]) == (0, 2)
    else:
        assert after["version"] > before["version"]
        assert after["history"] > before["history"]


def _signatures_for(app, pk, door):
    """No request before « sign_start »; the two of a started signature before « sign_cancel »
    (started by the CFA's admin through the service)."""
    with app.app_context():
        db.session.execute(sa.delete(SignatureRequest).where(SignatureRequest.dossier_id == pk))
        db.session.commit()
    if door != "sign_cancel":
        return
    from portal.signatures import service
    with app.test_request_context():
        admin = db.session.execute(sa.select(User).where(User.email == ADMIN)).scalar_one()
        service.start(db.session.get(Dossier, pk), by=admin)


def test_the_apprentices_other_dossier_is_untouched_by_a_write_on_the_first(app, world,
                                                                             clients):
    other = observe(app, world["other"])
    knock(app, clients[CONTACT], "base_tab", world)
    assert observe(app, world["other"]) == other


@pytest.mark.parametrize("persona", [MEMBER, TWO, ALICE, OUTSIDER, REFERENT, CONTACT])
def test_creation_is_refused_to_the_parties_and_outsiders(app, world, clients, persona):
    client = clients[persona]
    email = f"creation.{uuid.uuid4().hex[:8]}@exemple-test.fr"
    with app.app_context():
        info = db.session.get(Dossier, world["own"]).formation_id
    response = client.post("/admin/dossier/new/", data={
        "csrf_token": csrf(client), "formation": str(info), "apprenti_email": email,
        "niveau_saisie": "complete", "dispositif": "apprentissage"})
    assert response.status_code in (302, 403)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Dossier).where(
            Dossier.apprenti_email == email)) == 0


# Données de base by state, for the personas who may write it in entry (SPEC §3: from
# validation_demandee the parties no longer change the dossier; from valide_formation nobody).
BY_STATE = [
    # persona    a_corriger  validation_demandee  valide_formation  annule
    (ADMIN,      Y,          Y,                   n,                n),
    (CONSEIL,    Y,          Y,                   n,                n),
    (RESP_INFO,  Y,          Y,                   n,                n),
    (GEST_INFO,  Y,          Y,                   n,                n),
    (REFERENT,   Y,          n,                   n,                n),
    (CONTACT,    Y,          n,                   n,                n),
    (MEMBER,     n,          n,                   n,                n),
    (TWO,        n,          n,                   n,                n),
]
STATES_TRIED = ["a_corriger", "validation_demandee", "valide_formation", "annule"]


@pytest.mark.parametrize("persona,state,expected", [
    pytest.param(p, s, e, id=f"{p.split('@')[0]}-{s}-{e}")
    for p, *cells in BY_STATE for s, e in zip(STATES_TRIED, cells)])
def test_base_tab_by_state(app, world, clients, persona, state, expected, monkeypatch):
    monkeypatch.setitem(DOORS, "base_tab", state)
    pk = world["own"]
    _state(app, pk, state)
    before = observe(app, pk)
    knock(app, clients[persona], "base_tab", world)
    after = observe(app, pk)
    if expected == n:
        assert after == before
    else:
        assert after["version"] > before["version"] and after["state"] == state


def test_an_advisor_who_also_manages_a_training_gets_only_the_managers_form(app, world):
    """The form is not chosen by a "main role" that widens: a CFA advisor who also manages a
    training gets the manager's few fields, never the price or the people."""
    email = "conseil.responsable@exemple-test.fr"
    with app.app_context():
        person = _user(email, "Camille", "Double", ["cfa_conseiller", "formation_responsable"])
        formation = db.session.get(Dossier, world["own"]).formation
        formation.responsables.append(person)
        db.session.commit()
        fid, pid = formation.id, person.id
    try:
        client = app.test_client()
        assert web_login(client, email).status_code == 302
        page = client.get(f"/admin/formation/edit/?id={fid}").get_data(as_text=True)
        assert 'name="lieu"' in page
        for name in ("prix", "responsables", "conseiller_cfa", "intitule"):
            assert f'name="{name}"' not in page, name
    finally:
        with app.app_context():
            formation = db.session.get(Formation, fid)
            formation.responsables = [u for u in formation.responsables if u.id != pid]
            db.session.delete(db.session.get(User, pid))
            db.session.commit()


@pytest.mark.parametrize("persona", [REFERENT, CONTACT])
@pytest.mark.parametrize("state", ["en_saisie", "valide_formation", "documents_valides"])
def test_signed_returns_only_in_the_states_of_the_table(app, world, clients, persona, state,
                                                        monkeypatch):
    """The employer returns signed documents only where the workflow table says so
    (signed_returns): elsewhere the upload stores nothing."""
    monkeypatch.setitem(DOORS, "upload", state)
    pk = world["own"]
    _state(app, pk, state)
    before = observe(app, pk)
    knock(app, clients[persona], "upload", world)
    assert observe(app, pk) == before


@pytest.mark.parametrize("persona", [REFERENT, CONTACT, RESP_INFO])
def test_base_tab_posted_as_a_browser_does_keeps_the_disabled_fields(app, world, clients,
                                                                    persona):
    """A browser does not post disabled inputs: the fields the person may not change keep
    their stored value and the rest of the page is saved."""
    pk = world["own"]
    _state(app, pk, "en_saisie")
    before = observe(app, pk)
    client = clients[persona]
    name = f"Navigateur{uuid.uuid4().hex[:6]}"
    payload = {"csrf_token": csrf(client), "niveau_saisie": "complete",
               "dispositif": "apprentissage", "apprenti_nom": name, "apprenti_prenom": "Deniz",
               "apprenti_date_naissance": "2004-03-02", "date_debut_contrat": "2026-09-01",
               "date_fin_contrat": "2028-08-31"}
    if persona == RESP_INFO:  # the training sees both e-mails as live fields
        payload.update(apprenti_email=TWO, employeur_contact_email=CONTACT)
    response = client.post(f"/admin/dossier/{pk}/base/", data=payload)
    assert response.status_code == 302
    after = observe(app, pk)
    assert after["apprenti_nom"] == name
    assert (after["apprenti_email"], after["employeur_contact_email"],
            after["employer_contact_id"]) == (before["apprenti_email"],
                                              before["employeur_contact_email"],
                                              before["employer_contact_id"])


EVIDENCE = {ADMIN: 200, CONSEIL: 200, RESP_INFO: 403, GEST_INFO: 403, RESP_DROIT: 404,
            REFERENT: 200, CONTACT: 200, MEMBER: 404, TWO: 200, ALICE: 404, OUTSIDER: 403}


def test_the_evidence_file_is_for_the_cfa_and_the_parties(app, world, clients):
    """The evidence file (JSON and PDF) of the dossier's signature: the CFA and the parties
    (the employer's contact and référent, the apprentice); the training's staff may see the
    dossier, not this; anyone else does not see the dossier at all. Another dossier's
    request number on this dossier's address answers 404 to everyone."""
    pk = world["own"]
    _state(app, pk, "economie_validee")
    _signatures_for(app, pk, "sign_cancel")
    with app.app_context():
        request_id = db.session.scalars(sa.select(SignatureRequest.id).where(
            SignatureRequest.dossier_id == pk)).first()
    assert set(EVIDENCE) == set(PERSONAS)
    for persona, expected in EVIDENCE.items():
        for ext in ("json", "pdf"):
            response = clients[persona].get(
                f"/admin/dossier/{pk}/signature/{request_id}/preuve.{ext}")
            assert response.status_code == expected, (persona, ext, response.status_code)
            if expected == 200:
                assert response.data[:5] == b"%PDF-" if ext == "pdf" else \
                    b'"source_sha256"' in response.data
        assert clients[persona].get(
            f"/admin/dossier/{world['other']}/signature/{request_id}/preuve.json"
        ).status_code in (403, 404)
        assert clients[persona].get(
            f"/admin/dossier/{pk}/signature/{2**31}/preuve.json").status_code in (403, 404)
