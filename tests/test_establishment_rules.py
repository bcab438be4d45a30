"""Which establishment a dossier points at, the snapshot that freezes what it shows and prints
from « Validation demandée » on, and the OPCO that follows the IDCC (issue 11), through HTTP on
the demo data: the two findings replayed, the database checked after each refused POST.

Every row a test changes is its own (structures, establishments, dossiers, memberships), removed
afterwards; the demo establishments it reads are compared before / after."""
import html as html_lib
import io
import random
import re
import uuid
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader
from stdnum import luhn

from portal.dossiers import establishments, snapshot
from portal.dossiers.tabs.employeur_fields import REQUEST_WAITING
from portal.extensions import db
from portal.models import (Dossier, DossierHistory, Etablissement, Formation, OutboxEmail,
                           Structure, StructureMembership, User)
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf, csrf_from
from tests.test_dossier_lifecycle import MANUAL, _act, _fill

ACME, GLOBEX, ALICE = "rh@acme.sillon.demo", "rh@globex.sillon.demo", "alice@etu.sillon.demo"
ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
RESP = MANUAL[0]
EMPLOYER_FORM = ("denomination", "adresse_numero", "adresse_voie", "adresse_complement",
                 "code_postal", "commune", "telephone", "email", "type_employeur",
                 "employeur_specifique", "naf", "effectif", "idcc",
                 "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
                 "facturation_commune", "facturation_email", "facturation_siret",
                 "facturation_reference")


# --- helpers -----------------------------------------------------------------------------------

def _uid(email):
    return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


def _site_of(email) -> Etablissement:
    """The first establishment of the structure whose référent is ``email`` (demo data)."""
    return db.session.execute(
        sa.select(Etablissement).join(Structure).join(User, User.id == Structure.referent_id)
        .where(User.email == email, Etablissement.facturation_email.is_not(None))
        .order_by(Etablissement.id)).scalars().first()


def _columns(obj) -> dict:
    return {c.key: getattr(obj, c.key) for c in type(obj).__table__.columns}


def _free_siren(rng) -> str:
    while True:
        digits = "8" + "".join(rng.choices("0123456789", k=7))
        siren = digits + luhn.calc_check_digit(digits)
        if not db.session.execute(sa.select(Structure.id).where(Structure.siren == siren)).first():
            return siren


def _siret(siren, nic="0001"):
    return siren + nic + luhn.calc_check_digit(siren + nic)


def _text(page) -> str:
    return html_lib.unescape(page)


def _pdf_text(data: bytes) -> str:
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def _errors(page, name):
    block = re.search(r'id="field-%s"(.*?)(?=id="field-|</fieldset>)' % name, page, re.S)
    assert block, name
    return [html_lib.unescape(m.strip()) for m in re.findall(
        r'finding-error[^"]*">([^<]+)<', block.group(1))]


def _tab(client, pk, tab="employeur"):
    response = client.get(f"/admin/dossier/{pk}/{tab}/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _post_tab(client, pk, data):
    page = _tab(client, pk)
    payload = dict(data, csrf_token=csrf_from(page),
                   _version=re.search(r'name="_version" value="(\d+)"', page).group(1))
    return client.post(f"/admin/dossier/{pk}/employeur/", data=payload)


def _payload(siret, **changes):
    data = {
        "employeur_siret": siret, "employeur_denomination": "Nom saisi par l'employeur",
        "employeur_adresse_numero": "3", "employeur_adresse_voie": "rue Saisie",
        "employeur_code_postal": "34000", "employeur_commune": "Montpellier",
        "employeur_telephone": "0465001122", "employeur_email": "saisi@exemple.sillon.demo",
        "type_employeur": "12", "employeur_specifique": "0", "naf": "62.02A",
        "employeur_effectif": "210", "idcc": "1486",
        "responsable_nom": "Garnier", "responsable_prenom": "Philippe",
        "responsable_fonction": "DRH", "responsable_email": "p.garnier@acme.sillon.demo",
        "maitre_1_nom": "Établi", "maitre_1_prenom": "Règle",
        "maitre_1_date_naissance": "1979-04-02", "maitre_1_courriel": "r.etabli@acme.sillon.demo",
        "maitre_1_emploi": "Chef de projet", "maitre_1_diplome": "Master Informatique",
        "maitre_1_niveau_diplome": "7", "maitre_1_annees_experience": "10",
        "employeur_attestation_maitre": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _edit_etab(client, etab_id, **changes):
    """POST the Flask-Admin edit form of an establishment with its current values changed."""
    page = client.get(f"/admin/etablissement/edit/?id={etab_id}")
    token = csrf_from(page.get_data(as_text=True)) if page.status_code == 200 else csrf(client)
    with client.application.app_context():
        etab = db.session.get(Etablissement, etab_id)
        data = {name: "" if getattr(etab, name) is None else str(getattr(etab, name))
                for name in EMPLOYER_FORM}
    data.update(changes)
    data["csrf_token"] = token
    return page, client.post(f"/admin/etablissement/edit/?id={etab_id}", data=data)


def _outbox(app):
    with app.app_context():
        return [(r, s) for r, s in db.session.execute(
            sa.select(OutboxEmail.recipients, OutboxEmail.subject).order_by(OutboxEmail.id))]


def _state(app, pk, *etab_ids):
    """Everything a refused POST could have written."""
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        return dict(
            dossier=_columns(dossier),
            maitres=sorted(tuple(_columns(m).items()) for m in dossier.maitres),
            history=db.session.execute(sa.select(sa.func.count()).select_from(DossierHistory)
                                       .where(DossierHistory.dossier_id == pk)).scalar_one(),
            etabs=[_columns(db.session.get(Etablissement, i)) for i in etab_ids],
            memberships=sorted(tuple(_columns(m).items()) for m in db.session.execute(
                sa.select(StructureMembership)).scalars()),
            structures=db.session.execute(sa.select(sa.func.count(Structure.id))).scalar_one(),
            outbox=db.session.execute(sa.select(sa.func.count(OutboxEmail.id))).scalar_one())


class Rows:
    """Dossiers, structures and memberships a test creates; all removed afterwards."""

    def __init__(self, app):
        self.app, self.rng = app, random.Random()
        self.dossiers, self.sirets, self.memberships, self.copies = [], [], [], []

    def structure(self, referent=ACME, **values):
        with self.app.app_context():
            siren = _free_siren(self.rng)
            siret = _siret(siren)
            structure = Structure(siren=siren, raison_sociale="Ateliers de la Règle",
                                  referent_id=_uid(referent) if referent else None)
            etab = Etablissement(structure=structure, siret=siret,
                                 **{"denomination": "Ateliers de la Règle – Lattes",
                                    "adresse_numero": "5", "adresse_voie": "rue des Essais",
                                    "code_postal": "34970", "commune": "Lattes",
                                    "telephone": "0465710901", "type_employeur": "12",
                                    "employeur_specifique": "0", "naf": "28.29B",
                                    "effectif": 120, "idcc": "3248", "opco_code": "OPCO2I",
                                    "email": "contact@regle.sillon.demo", **values})
            db.session.add(etab)
            db.session.commit()
            self.sirets.append(siret)
            return etab.id, siret

    def dossier(self, *, contact=ACME, etab_id=None, state="en_saisie", apprentice=ALICE):
        with self.app.app_context():
            formation = training_copy(db.session.execute(sa.select(Formation).where(
                Formation.intitule == MANUAL[1])).scalars().first(), self.copies)
            etab = db.session.get(Etablissement, etab_id) if etab_id else None
            row = Dossier(formation=formation, state=state, niveau_saisie="complete",
                          dispositif="apprentissage",
                          apprentice_user_id=_uid(apprentice) if apprentice else None,
                          employer_contact_id=_uid(contact) if contact else None,
                          employeur_contact_email=contact, etablissement=etab,
                          employeur_siret=etab.siret if etab else None, apprenti_email=ALICE,
                          apprenti_nom="Perrin", apprenti_prenom="Alice",
                          apprenti_date_naissance=date(2004, 3, 14),
                          date_debut_contrat=date(2026, 9, 1),
                          date_fin_contrat=date(2027, 8, 31),
                          cfa_conseiller_id=_uid(CONSEIL))
            db.session.add(row)
            db.session.commit()
            self.dossiers.append(row.id)
            return row.id

    def cleanup(self):
        drop_training_copies(self.app, self.copies)
        with self.app.app_context():
            for pk in self.dossiers:
                db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
                row = db.session.get(Dossier, pk)
                if row is not None:
                    db.session.delete(row)
            db.session.flush()
            for structure_id, email in self.memberships:
                db.session.execute(sa.delete(StructureMembership).where(
                    StructureMembership.structure_id == structure_id,
                    StructureMembership.user_id == sa.select(User.id).where(
                        User.email == email).scalar_subquery()))
            for siret in self.sirets:
                etab = db.session.execute(sa.select(Etablissement).where(
                    Etablissement.siret == siret)).scalar_one_or_none()
                if etab is not None:
                    structure = etab.structure
                    db.session.delete(etab)
                    db.session.flush()
                    if structure is not None and not structure.etablissements:
                        db.session.delete(structure)
            db.session.commit()


@pytest.fixture()
def rows(app):
    r = Rows(app)
    yield r
    r.cleanup()


# --- 1. another structure's SIRET on L'employeur ------------------------------------------------

def test_typing_another_structures_siret_asks_its_referent_and_shows_nothing(
        app, login, rows, clean_outbox):
    """Finding: ACME's employer typed Globex's public SIRET: the dossier moved to Globex's
    establishment and showed its phone, e-mail and billing data. Now: not re-pointed, an access
    request to Globex's référent, nothing of Globex's establishment shown."""
    with app.app_context():
        acme, globex = _site_of(ACME), _site_of(GLOBEX)
        acme_id, globex_id, globex_siret = acme.id, globex.id, globex.siret
        globex_before = _columns(globex)
        private = [globex.telephone, globex.email, globex.facturation_email,
                   globex.facturation_adresse, globex.adresse_voie, globex.denomination]
        globex_structure = globex.structure_id
    rows.memberships.append((globex_structure, ACME))
    pk = rows.dossier(etab_id=acme_id)
    employer = login(ACME)

    response = _post_tab(employer, pk, _payload(globex_siret))
    assert response.status_code == 302
    page = _tab(employer, pk)
    text = _text(page)
    assert "Une demande d'accès a été envoyée à son référent" in text
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.etablissement_id == acme_id                    # not re-pointed
        assert dossier.etablissement_demande_id == globex_id          # the request, recorded
        assert _columns(db.session.get(Etablissement, globex_id)) == globex_before
        membership = db.session.execute(sa.select(StructureMembership).where(
            StructureMembership.structure_id == globex_structure,
            StructureMembership.user_id == _uid(ACME))).scalar_one()
        assert membership.status == StructureMembership.DEMANDE
        membership_id = membership.id
        assert dossier.maitres[0].nom_naissance == "Établi"           # the dossier's own data
    assert [s for r, s in _outbox(app) if GLOBEX in r.split(",")] == [
        "Nouvelle demande d'accès à votre structure"]
    # Nothing of Globex's establishment in the page: only the SIRET that was typed.
    assert globex_siret in page
    for value in private:
        assert value and value not in text, value
    assert REQUEST_WAITING.format(siret=globex_siret) in _errors(page, "employeur_siret")
    # Its establishment page is still out of reach: it answers like an id that does not exist
    # (Flask-Admin sends back to the list), and leaks nothing there either.
    for door in ("details", "edit"):
        other = employer.get(f"/admin/etablissement/{door}/?id={globex_id}")
        missing = employer.get(f"/admin/etablissement/{door}/?id=987654321")
        assert (other.status_code, other.headers.get("Location")) == (
            missing.status_code, missing.headers.get("Location")), door
        assert other.status_code in (302, 404)
        landing = _text(employer.get(other.headers["Location"]).get_data(as_text=True)) \
            if other.status_code == 302 else _text(other.get_data(as_text=True))
        for value in private:
            assert value not in landing, (door, value)

    # Saving again with that SIRET while the request waits: refused, nothing written, no
    # second e-mail.
    before = _state(app, pk, acme_id, globex_id)
    response = _post_tab(employer, pk, _payload(globex_siret, maitre_1_emploi="Autre emploi"))
    assert response.status_code == 422
    assert REQUEST_WAITING.format(siret=globex_siret) in _errors(
        response.get_data(as_text=True), "employeur_siret")
    assert _state(app, pk, acme_id, globex_id) == before
    # A forged edit of Globex's establishment: refused like a missing row, nothing written.
    _, forged = _edit_etab(employer, globex_id, adresse_voie="rue Pirate")
    assert forged.status_code in (302, 404)
    assert _state(app, pk, acme_id, globex_id) == before

    # Globex's référent approves: the dossier may point at it now.
    referent = login(GLOBEX)
    response = referent.post(f"/admin/ma-structure/membre/{membership_id}/decision", data={
        "csrf_token": csrf(referent), "decision": "approuver", "contact_employeur": "on",
        "beneficiaire": "on"})
    assert response.status_code == 302
    response = _post_tab(employer, pk, _payload(globex_siret))
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert (dossier.etablissement_id, dossier.etablissement_demande_id) == (globex_id, None)
        # An approved member is not its référent: Globex's establishment is not rewritten.
        assert _columns(db.session.get(Etablissement, globex_id)) == globex_before
    assert globex_before["telephone"] in _tab(employer, pk)


def test_an_approved_membership_points_the_waiting_dossiers(app, login, rows, clean_outbox):
    """service.apply_approval (run by the approval): the waiting dossiers of that person, still
    open to the parties, point at the establishment asked for, each a new version with its
    history; others are left alone."""
    from flask_login import login_user

    from portal.accounts import structures
    from portal.dossiers import service
    with app.app_context():
        globex = _site_of(GLOBEX)
        globex_id, globex_siret, globex_structure = globex.id, globex.siret, globex.structure_id
        acme_id = _site_of(ACME).id
    rows.memberships.append((globex_structure, ACME))
    waiting = rows.dossier(etab_id=acme_id)
    frozen = rows.dossier(etab_id=acme_id)
    stranger = rows.dossier(contact=None)
    assert _post_tab(login(ACME), waiting, _payload(globex_siret)).status_code == 302
    with app.app_context():
        # Another dossier of ACME asked too, then moved to « Validation demandée » meanwhile;
        # a third one, without employer contact, asked as well: not ACME's to move.
        row = db.session.get(Dossier, frozen)
        row.etablissement_demande_id, row.state = globex_id, "validation_demandee"
        db.session.get(Dossier, stranger).etablissement_demande_id = globex_id
        db.session.commit()
    with app.test_request_context():
        referent = db.session.execute(sa.select(User).where(User.email == GLOBEX)).scalar_one()
        login_user(referent)
        membership = db.session.execute(sa.select(StructureMembership).where(
            StructureMembership.structure_id == globex_structure,
            StructureMembership.user_id == _uid(ACME))).scalar_one()
        version = db.session.get(Dossier, waiting).version
        structures.decide(referent, membership, True, contact_employeur=True)
        # Only who decides for the structure points the dossiers (policy, door "approval").
        outsider = db.session.execute(sa.select(User).where(
            User.email == "bruno@etu.sillon.demo")).scalar_one()
        with pytest.raises(service.WriteRefused):
            service.apply_approval(membership, by=outsider)
        moved = service.apply_approval(membership, by=referent)
        db.session.commit()
        assert [d.id for d in moved] == [waiting]
    with app.app_context():
        row = db.session.get(Dossier, waiting)
        assert (row.etablissement_id, row.etablissement_demande_id) == (globex_id, None)
        assert row.employeur_siret == globex_siret
        assert row.version > version
        assert any(h.field == establishments.LINKED_ENTRY and h.new_value == globex_siret
                   for h in row.history)
        untouched = db.session.get(Dossier, frozen)
        assert (untouched.etablissement_id, untouched.etablissement_demande_id) == (
            acme_id, globex_id)
        untouched = db.session.get(Dossier, stranger)
        assert (untouched.etablissement_id, untouched.etablissement_demande_id) == (
            None, globex_id)
        # A refused or pending membership moves nothing.
        assert service.apply_approval(None, by=referent) == []


def test_a_refused_request_blocks_that_siret_until_another_is_typed(app, login, rows,
                                                                    clean_outbox):
    with app.app_context():
        globex = _site_of(GLOBEX)
        globex_id, globex_siret, globex_structure = globex.id, globex.siret, globex.structure_id
        acme = _site_of(ACME)
        acme_id, acme_siret = acme.id, acme.siret
    rows.memberships.append((globex_structure, ACME))
    pk = rows.dossier(etab_id=acme_id)
    employer = login(ACME)
    assert _post_tab(employer, pk, _payload(globex_siret)).status_code == 302
    with app.app_context():
        membership_id = db.session.execute(sa.select(StructureMembership.id).where(
            StructureMembership.structure_id == globex_structure,
            StructureMembership.user_id == _uid(ACME))).scalar_one()
    referent = login(GLOBEX)
    response = referent.post(f"/admin/ma-structure/membre/{membership_id}/decision", data={
        "csrf_token": csrf(referent), "decision": "refuser"})
    assert response.status_code == 302
    page = _tab(employer, pk)
    refused = [m for m in _errors(page, "employeur_siret") if "a été refusée" in m]
    assert refused and globex_siret in refused[0]
    before = _state(app, pk, acme_id, globex_id)
    response = _post_tab(employer, pk, _payload(globex_siret))
    assert response.status_code == 422
    assert _state(app, pk, acme_id, globex_id) == before
    # Typing the SIRET of its own establishment again: the request is dropped from the dossier.
    assert _post_tab(employer, pk, _payload(acme_siret)).status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert (dossier.etablissement_id, dossier.etablissement_demande_id,
                dossier.employeur_siret) == (acme_id, None, acme_siret)


def test_a_known_establishment_of_ones_own_structure_is_pointed_at(app, login, rows):
    """ACME's référent moves the dossier to another establishment of ACME: pointed at, and its
    fields written (référent)."""
    etab_id, siret = rows.structure()
    with app.app_context():
        acme_id = _site_of(ACME).id
    pk = rows.dossier(etab_id=acme_id)
    response = _post_tab(login(ACME), pk, _payload(siret, employeur_adresse_voie="rue Neuve"))
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert (dossier.etablissement_id, dossier.etablissement_demande_id) == (etab_id, None)
        etab = db.session.get(Etablissement, etab_id)
        assert etab.adresse_voie == "rue Neuve" and etab.opco_code == "ATLAS"  # IDCC 1486


def test_an_unknown_siret_still_creates_the_pending_establishment(app, login, rows):
    with app.app_context():
        siret = _siret(_free_siren(rows.rng), "0002")
        acme_id = _site_of(ACME).id
    rows.sirets.append(siret)
    pk = rows.dossier(etab_id=acme_id)
    response = _post_tab(login(ACME), pk, _payload(siret, employeur_denomination="Forge Neuve"))
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        etab = dossier.etablissement
        assert (etab.siret, etab.en_attente, etab.denomination) == (siret, True, "Forge Neuve")
        assert etab.structure.siren == siret[:9] and etab.opco_code == "ATLAS"
        assert dossier.etablissement_demande_id is None
        assert any(h.field == establishments.CREATED_ENTRY for h in dossier.history)


# --- 2. "J'ai trouvé un employeur": the employer is the named contact ----------------------------

def _found(client, pk, siret, email):
    page = client.get(f"/admin/dossier/{pk}/employeur/trouve/").get_data(as_text=True)
    return client.post(f"/admin/dossier/{pk}/employeur/trouve/", data={
        "csrf_token": csrf_from(page), "siret": siret, "email": email})


def test_apprentice_naming_another_structures_establishment_makes_a_request(
        app, login, rows, clean_outbox):
    with app.app_context():
        globex = _site_of(GLOBEX)
        globex_id, globex_siret, globex_structure = globex.id, globex.siret, globex.structure_id
        private = [globex.telephone, globex.email, globex.facturation_email, globex.adresse_voie]
    contact = f"rh-{uuid.uuid4().hex[:8]}@exemple.sillon.demo"
    rows.memberships.append((globex_structure, contact))
    pk = rows.dossier(contact=None)
    alice = login(ALICE)
    before = _state(app, pk, globex_id)
    bad = _found(alice, pk, globex_siret[:-1] + str((int(globex_siret[-1]) + 1) % 10), contact)
    assert bad.status_code == 422 and "SIRET n'est pas valide" in _text(bad.get_data(as_text=True))
    assert _state(app, pk, globex_id) == before
    response = _found(alice, pk, globex_siret, contact)
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.etablissement_id is None and dossier.etablissement_demande_id == globex_id
        assert dossier.employer_contact.email == contact
        assert db.session.execute(sa.select(StructureMembership.status).join(
                User, User.id == StructureMembership.user_id).where(
            StructureMembership.structure_id == globex_structure,
            User.email == contact)).scalar_one() == StructureMembership.DEMANDE
        history = [h for h in dossier.history
                       if (h.field or '').startswith("J'ai trouvé un employeur – SIRET")]
        assert len(history) == 1 and "Globex" not in (history[0].comment or "")
    subjects = _outbox(app)
    assert ("rh@globex.sillon.demo", "Nouvelle demande d'accès à votre structure") in subjects
    assert (contact, "Bienvenue sur Sillon") in subjects
    text = _text(_tab(alice, pk))
    for value in private:
        assert value not in text, value


def test_apprentice_naming_a_member_as_contact_points_at_the_establishment(app, login, rows,
                                                                           clean_outbox):
    with app.app_context():
        globex = _site_of(GLOBEX)
        globex_id, globex_siret = globex.id, globex.siret
    pk = rows.dossier(contact=None)
    response = _found(login(ALICE), pk, globex_siret, GLOBEX)   # Globex's own référent
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert (dossier.etablissement_id, dossier.etablissement_demande_id) == (globex_id, None)
    assert not [s for r, s in _outbox(app) if "demande d'accès" in s]


def test_apprentice_naming_an_unknown_siret_creates_the_pending_establishment(app, login, rows,
                                                                              clean_outbox):
    with app.app_context():
        siret = _siret(_free_siren(rows.rng), "0003")
    rows.sirets.append(siret)
    pk = rows.dossier(contact=None)
    contact = f"rh-{uuid.uuid4().hex[:8]}@exemple.sillon.demo"
    response = _found(login(ALICE), pk, siret, contact)
    assert response.status_code == 302
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.etablissement.siret == siret and dossier.etablissement.en_attente
        assert dossier.etablissement_demande_id is None


# --- 3. the snapshot -----------------------------------------------------------------------------

def test_a_locked_dossier_keeps_its_frozen_establishment_after_the_employer_edits_it(
        app, login, rows, clean_outbox):
    """Finding: the employer edited its establishment while a dossier was locked; the dossier
    (and its first CERFA download) showed the new address. Now the CERFA, the tab and the
    Résumé show the values frozen at « Validation demandée »; dossiers in entry follow."""
    etab_id, siret = rows.structure()
    pk = rows.dossier(etab_id=etab_id, state="initialise")
    entry = rows.dossier(etab_id=etab_id)
    alice, acme = _fill(login, pk, siret, "2027-08-31")
    _act(alice, pk, "demander_validation")
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.state == "validation_demandee"
        frozen = dossier.snapshot
        assert frozen["etablissement"]["adresse_voie"] == "avenue des Prés"
        assert frozen["formation"]["intitule"] == MANUAL[1]
        assert frozen["opco"]["code"] == "ATLAS" and frozen["convention"]["idcc"] == "1486"
    _act(login(RESP), pk, "valider_formation")

    page, response = _edit_etab(acme, etab_id, denomination="Ateliers Renommés",
                                adresse_voie="boulevard Nouveau", telephone="0465009999",
                                idcc="3248")
    assert page.status_code == 200 and response.status_code == 302
    with app.app_context():
        etab = db.session.get(Etablissement, etab_id)
        assert (etab.denomination, etab.adresse_voie) == ("Ateliers Renommés",
                                                          "boulevard Nouveau")
        assert (etab.idcc, etab.opco_code) == ("3248", "OPCO2I")
        assert db.session.get(Dossier, pk).snapshot == frozen
    for tab in ("employeur", "resume"):
        text = _text(_tab(acme, pk, tab))
        assert "avenue des Prés" in text and "Ateliers Sillon – Lattes" in text, tab
        assert "boulevard Nouveau" not in text and "Ateliers Renommés" not in text, tab
    assert "figées sur ce dossier" in _text(_tab(acme, pk))
    response = acme.get(f"/admin/dossier/{pk}/documents/cerfa/")
    assert response.status_code == 200
    from tests.test_cerfa_layout import flat  # the CERFA's codes are printed in comb boxes
    cerfa = flat(_pdf_text(response.data))
    assert flat("avenue des Prés") in cerfa and flat("Ateliers Sillon – Lattes") in cerfa
    assert flat("boulevard Nouveau") not in cerfa and "0465009999" not in cerfa
    assert "1486" in cerfa and "ATLAS" in cerfa and "OPCO2I" not in cerfa
    # The dossier still in entry follows the establishment.
    text = _text(_tab(acme, entry))
    assert "boulevard Nouveau" in text and "avenue des Prés" not in text

    # The training is frozen too: a later change of its main site is not printed (the CERFA
    # prints the site's name, UAI, SIRET and address).
    from portal.dossiers.printing import render_html
    with app.test_request_context():
        site = db.session.get(Dossier, pk).formation.etablissement_formation
        lieu = site.nom
        site.nom = "Campus déménagé"
        db.session.commit()
        try:
            html = render_html("cerfa", db.session.get(Dossier, pk))
            assert lieu in _text(html) and "Campus déménagé" not in html
        finally:
            site = db.session.get(Dossier, pk).formation.etablissement_formation
            site.nom = lieu
            db.session.commit()

    # Unlocked for correction: the data follows the establishment again.
    _act(login(ADMIN), pk, "deverrouiller", comment="Adresse à revoir")
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.state == "a_corriger" and dossier.snapshot is None
    text = _text(_tab(acme, pk))
    assert "boulevard Nouveau" in text and "avenue des Prés" not in text


def _transient(state="saisie_complete"):
    """A dossier that is never saved (in the caller's app context), on an ACME site."""
    acme = _site_of(ACME)
    formation = db.session.execute(sa.select(Formation).where(
        Formation.intitule == MANUAL[1])).scalars().first()
    dossier = Dossier(state=state, formation=formation)
    dossier.etablissement = acme
    db.session.expunge(dossier) if dossier in db.session else None
    return dossier, acme, formation


@pytest.mark.parametrize("source,target,expected", [
    ("saisie_complete", "validation_demandee", "taken"),
    ("a_corriger", "validation_demandee", "taken"),
    ("en_saisie", "annule", "taken"),
    ("initialise", "en_saisie", "none"),
    ("validation_demandee", "valide_formation", "kept"),
    ("envoye_opco", "rompu", "kept"),
    ("valide_formation", "a_corriger", "released"),
    ("validation_demandee", "a_corriger", "released"),
])
def test_the_transition_decides_from_the_workflow_table(app, source, target, expected):
    with app.app_context():
        dossier, acme, _ = _transient(source)
        old = {"version": 1, "etablissement": {"adresse_voie": "ancienne"}}
        if source in snapshot.frozen_states():
            dossier.snapshot = old
        dossier.state = target
        snapshot.on_transition(dossier, source, target)
        if expected == "taken":
            assert dossier.snapshot["etablissement"]["adresse_voie"] == acme.adresse_voie
            assert dossier.snapshot_at is not None
        elif expected == "kept":
            assert dossier.snapshot["etablissement"] == {"adresse_voie": "ancienne"}
        else:
            assert dossier.snapshot is None
        db.session.rollback()


def test_a_missing_price_is_completed_later_a_set_one_never_changes(app):
    with app.app_context():
        dossier, _, formation = _transient()
        price = formation.prix
        try:
            formation.prix = None
            dossier.state = "validation_demandee"
            snapshot.on_transition(dossier, "saisie_complete", "validation_demandee")
            assert dossier.snapshot["formation"]["prix"] is None
            formation.prix = Decimal("9100.00")   # the CFA sets it before the economic check
            assert snapshot.formation(dossier).prix == Decimal("9100.00")  # read as it is now
            snapshot.on_transition(dossier, "valide_formation", "economie_validee")
            assert dossier.snapshot["formation"]["prix"] == "9100.00"       # stored now
            assert snapshot.formation(dossier).prix == Decimal("9100.00")
            formation.prix = Decimal("1.00")
            formation.lieu = "Ailleurs"
            snapshot.on_transition(dossier, "economie_validee", "documents_retournes")
            assert snapshot.formation(dossier).prix == Decimal("9100.00")
            assert snapshot.formation(dossier).lieu != "Ailleurs"
            assert snapshot.formation(dossier).date_debut == formation.date_debut  # typed back
        finally:
            db.session.rollback()
            assert db.session.get(Formation, formation.id).prix == price


def test_backfill_freezes_the_demo_dossiers_past_the_request(app):
    with app.app_context():
        frozen_states = snapshot.frozen_states()
        assert "validation_demandee" in frozen_states and "en_saisie" not in frozen_states
        try:
            rows = db.session.execute(sa.select(Dossier).where(
                Dossier.state.in_(frozen_states))).scalars().all()
            assert len(rows) > 10
            for row in rows:                           # as before snapshots existed
                row.snapshot = None
            db.session.flush()
            assert snapshot.backfill(batch=7) == len(rows)
            for row in rows:
                assert row.snapshot is not None, row.id
                if row.etablissement is not None:
                    assert snapshot.etablissement(row).siret == row.etablissement.siret
                assert snapshot.formation(row).intitule == row.formation.intitule
            assert snapshot.backfill() == 0            # idempotent
            entry = db.session.execute(sa.select(Dossier).where(
                Dossier.state == "en_saisie")).scalars().first()
            assert entry.snapshot is None
        finally:
            db.session.rollback()


# --- 4. the OPCO follows the IDCC -----------------------------------------------------------

def test_employers_never_set_the_opco(app, login, rows):
    etab_id, _ = rows.structure()
    acme = login(ACME)
    page = acme.get(f"/admin/etablissement/edit/?id={etab_id}")
    assert page.status_code == 200
    assert 'name="opco_code"' not in page.get_data(as_text=True)
    # A forged opco_code is ignored; the OPCO follows the IDCC.
    _, response = _edit_etab(acme, etab_id, opco_code="AKTO", idcc="1486")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Etablissement, etab_id).opco_code == "ATLAS"
    _, response = _edit_etab(acme, etab_id, opco_code="AKTO")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Etablissement, etab_id).opco_code == "ATLAS"
    _, response = _edit_etab(acme, etab_id, opco_code="AKTO", idcc="9999")
    with app.app_context():
        assert db.session.get(Etablissement, etab_id).opco_code is None
    # The CFA sets it by hand, whatever the IDCC says.
    conseil = login(CONSEIL)
    page = conseil.get(f"/admin/etablissement/edit/?id={etab_id}").get_data(as_text=True)
    assert 'name="opco_code"' in page

    def cfa_save(**changes):
        with app.app_context():
            etab = db.session.get(Etablissement, etab_id)
            data = {name: "" if getattr(etab, name) is None else str(getattr(etab, name))
                    for name in EMPLOYER_FORM}
            data.update(structure=str(etab.structure_id), siret=etab.siret,
                        opco_code=etab.opco_code or "")
            data.update(changes)
        response = conseil.post(f"/admin/etablissement/edit/?id={etab_id}",
                                data=dict(data, csrf_token=csrf(conseil)))
        assert response.status_code == 302
        with app.app_context():
            return db.session.get(Etablissement, etab_id).opco_code

    assert cfa_save(idcc="1486", opco_code="AKTO") == "AKTO"
    # An employer's save then brings it back to the IDCC's OPCO.
    _edit_etab(acme, etab_id, telephone="0465000002")
    with app.app_context():
        assert db.session.get(Etablissement, etab_id).opco_code == "ATLAS"
    # Without a collective agreement (9999), the CFA's OPCO stays through an employer's save.
    assert cfa_save(idcc="9999", opco_code="AKTO") == "AKTO"
    _edit_etab(acme, etab_id, telephone="0465000003")
    with app.app_context():
        assert db.session.get(Etablissement, etab_id).opco_code == "AKTO"


def test_a_monaco_employer_has_no_opco(app, login, rows):
    etab_id, siret = rows.structure()
    pk = rows.dossier(etab_id=etab_id)
    billing = dict(facturation_raison_sociale="Ateliers de la Règle", facturation_adresse="1 quai",
                   facturation_code_postal="98000", facturation_commune="Monaco",
                   facturation_email="factures@regle.sillon.demo")
    response = _post_tab(login(ACME), pk, _payload(siret, employeur_monaco="y",
                                                   employeur_code_postal="98000",
                                                   employeur_commune="Monaco", idcc="3248",
                                                   **billing))
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.get(Etablissement, etab_id)
        assert etab.monaco is True and etab.opco_code is None
