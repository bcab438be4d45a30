"""L'employeur tab through HTTP: the employer fills it (valid → saved, check mark; one bad
field → nothing saved, every error in French next to its field), the shared establishment is
only changed by those allowed to, the 2nd maître is all or nothing, billing is required for a
public employer, other roles and locked dossiers cannot post; the IDCC / SIRET look-ups answer
JSON and never leak private data."""
import html as html_lib
import json
import random
import re
import sys
import threading
import types
from datetime import date

import pytest
import sqlalchemy as sa
from stdnum import luhn

from portal.extensions import db
from portal.models import (Contrat, Dossier, DossierHistory, Etablissement, Formation,
                           MaitreApprentissage, Structure, StructureMembership, User)
from portal.rules.contract import MASTER2_FIELDS
from portal.dossiers.tabs.employeur import CREATED_ENTRY, SIRET_MESSAGE
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf_from

ACME = "rh@acme.sillon.demo"
GLOBEX = "rh@globex.sillon.demo"
ALICE = "alice@etu.sillon.demo"
RESP_INFO = "resp.info@sillon.demo"
REQUIRED = "Ce champ est obligatoire."


# --- helpers -----------------------------------------------------------------------------------

def _user_id(email):
    return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


def _new_siren(rng):
    while True:
        digits = "9" + "".join(rng.choices("0123456789", k=7))
        siren = digits + luhn.calc_check_digit(digits)
        taken = db.session.execute(sa.select(Structure.id).where(Structure.siren == siren)).first()
        if not taken:
            return siren


def _siret(siren, nic="0001"):
    return siren + nic + luhn.calc_check_digit(siren + nic)


def _bad_key(siret):
    return siret[:-1] + str((int(siret[-1]) + 1) % 10)


class World:
    """A dedicated structure (référent: ACME's HR contact) with one establishment, and dossiers
    there; everything is removed afterwards so the demo data stays as it was."""

    def __init__(self, app):
        self.app = app
        self.rng = random.Random()
        self.dossiers, self.sirets, self.copies = [], [], []
        with app.app_context():
            siren = _new_siren(self.rng)
            structure = Structure(siren=siren, raison_sociale="Ateliers du Test",
                                  referent_id=_user_id(ACME))
            self.siret = _siret(siren)
            etab = Etablissement(structure=structure, siret=self.siret,
                                 denomination="Ateliers du Test – Lattes",
                                 adresse_numero="5", adresse_voie="rue des Essais",
                                 code_postal="34970", commune="Lattes", telephone="0465710901",
                                 email="contact@ateliers-test.sillon.demo", type_employeur="12",
                                 employeur_specifique="0", naf="28.29B", effectif=120,
                                 idcc="3248", opco_code=None,
                                 facturation_email="factures@ateliers-test.sillon.demo",
                                 facturation_raison_sociale="Ateliers du Test SAS")
            db.session.add(etab)
            db.session.commit()
            self.structure_id, self.etab_id = structure.id, etab.id
            self.sirets.append(self.siret)

    def dossier(self, *, contact=ACME, state="initialise", dispositif="apprentissage",
                niveau="complete", linked=True, conclusion=None):
        with self.app.app_context():
            formation = training_copy(db.session.execute(
                sa.select(Formation).join(Formation.responsables)
                .where(User.email == RESP_INFO, Formation.mission_requise.is_(False))
            ).scalars().first(), self.copies)
            etab = db.session.get(Etablissement, self.etab_id) if linked else None
            dossier = Dossier(formation=formation, apprentice_user_id=_user_id(ALICE),
                              employer_contact_id=_user_id(contact), etablissement=etab,
                              apprenti_email=ALICE, apprenti_nom="Perrin",
                              apprenti_prenom="Alice", apprenti_date_naissance=date(2004, 3, 14),
                              niveau_saisie=niveau, dispositif=dispositif, state=state,
                              employeur_siret=etab.siret if etab else None,
                              date_debut_contrat=date(2026, 9, 1),
                              date_fin_contrat=date(2027, 8, 31))
            if conclusion:
                dossier.contrat = Contrat(date_conclusion=conclusion)
            db.session.add(dossier)
            db.session.commit()
            self.dossiers.append(dossier.id)
            return dossier.id

    def add_master(self, dossier_id, nom, prenom, born):
        with self.app.app_context():
            db.session.add(MaitreApprentissage(dossier_id=dossier_id, rang=1, nom_naissance=nom,
                                               prenom=prenom, date_naissance=born,
                                               eligibilite_attestee=True))
            db.session.commit()

    def cleanup(self):
        drop_training_copies(self.app, self.copies)
        with self.app.app_context():
            for pk in self.dossiers:
                dossier = db.session.get(Dossier, pk)
                if dossier is not None:
                    db.session.delete(dossier)
            db.session.flush()
            for siret in self.sirets:
                etab = db.session.execute(sa.select(Etablissement)
                                          .where(Etablissement.siret == siret)).scalar_one_or_none()
                if etab is not None:
                    structure = etab.structure
                    db.session.delete(etab)
                    db.session.flush()
                    if structure is not None and not structure.etablissements:
                        db.session.delete(structure)
            db.session.commit()


@pytest.fixture()
def world(app):
    w = World(app)
    yield w
    w.cleanup()


def _page(client, dossier_id, tab="employeur"):
    response = client.get(f"/admin/dossier/{dossier_id}/{tab}/")
    return response, response.get_data(as_text=True)


def _post(client, dossier_id, data, tab="employeur"):
    _, page = _page(client, dossier_id, tab)
    payload = dict(data, csrf_token=csrf_from(page))
    version = re.search(r'name="_version" value="(\d+)"', page)
    if version:
        payload["_version"] = version.group(1)
    return client.post(f"/admin/dossier/{dossier_id}/{tab}/", data=payload)


def _errors_by_field(page):
    """{field name: [error messages]} as rendered next to each field."""
    out = {}
    for block in re.finditer(r'id="field-([a-z0-9_]+)"(.*?)(?=id="field-|</fieldset>)', page,
                             re.S):
        messages = re.findall(r'finding-error">([^<]+)<', block.group(2))
        if messages:
            out[block.group(1)] = [html_lib.unescape(m.strip()) for m in messages]
    return out


def _checked_tabs(page):
    return set(re.findall(r'data-tab="([a-z]+)"[^>]*>\s*[^<]*<span class="tab-check"', page))


def _fieldset(page, block_id):
    match = re.search(r'<fieldset class="([^"]*)"[^>]*id="%s"' % block_id, page)
    assert match, f"no fieldset {block_id}"
    return match.group(1)


def _valid(world, **changes):
    data = {
        "employeur_siret": world.siret, "employeur_denomination": "Ateliers du Test – Lattes",
        "employeur_adresse_numero": "7", "employeur_adresse_voie": "avenue des Prés",
        "employeur_code_postal": "34970", "employeur_commune": "Lattes",
        "employeur_telephone": "0465710902", "employeur_email": "accueil@ateliers-test.sillon.demo",
        "type_employeur": "12", "employeur_specifique": "0", "naf": "2829b",
        "employeur_effectif": "120", "idcc": "3248",
        "responsable_nom": "Garnier", "responsable_prenom": "Philippe",
        "responsable_fonction": "Directeur des ressources humaines",
        "responsable_email": "P.Garnier@ateliers-test.sillon.demo",
        "maitre_1_nom": "Delmas", "maitre_1_prenom": "Hélène",
        "maitre_1_date_naissance": "1980-05-12",
        "maitre_1_courriel": "h.delmas@ateliers-test.sillon.demo",
        "maitre_1_telephone": "0465710903", "maitre_1_emploi": "Responsable des développements",
        "maitre_1_diplome": "Master Informatique", "maitre_1_niveau_diplome": "7",
        "maitre_1_annees_experience": "12", "employeur_attestation_maitre": "y",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _snapshot(app, dossier_id):
    """Everything the employer tab could write: dossier, establishments, structures, maîtres,
    history."""
    with app.app_context():
        def rows(model, *where):
            query = sa.select(model).order_by(model.id)
            for clause in where:
                query = query.where(clause)
            return [{c.key: getattr(obj, c.key) for c in model.__table__.columns}
                    for obj in db.session.execute(query).scalars()]
        return dict(dossier=rows(Dossier, Dossier.id == dossier_id),
                    etablissements=rows(Etablissement), structures=rows(Structure),
                    maitres=rows(MaitreApprentissage,
                                 MaitreApprentissage.dossier_id == dossier_id),
                    history=rows(DossierHistory, DossierHistory.dossier_id == dossier_id))


def _flashes(page):
    return html_lib.unescape(page)


# --- the page ----------------------------------------------------------------------------------

def test_page_marks_required_fields_and_hides_billing_for_a_private_apprenticeship(login, world):
    pk = world.dossier()
    response, page = _page(login(ACME), pk)
    assert response.status_code == 200
    for name in ("employeur_siret", "idcc", "naf", "responsable_nom", "maitre_1_nom",
                 "employeur_attestation_maitre"):
        block = re.search(r'id="field-%s".*?</label>' % name, page, re.S).group(0)
        assert "required-mark" in block, name
    for name in ("maitre_2_nom", "maitre_1_nom_usage", "employeur_adresse_complement"):
        block = re.search(r'id="field-%s".*?</label>' % name, page, re.S).group(0)
        assert "required-mark" not in block, name
    assert "d-none" in _fieldset(page, "facturation").split()
    assert "d-none" not in _fieldset(page, "maitre-2").split()
    # The convention's details come from the IDCC table, read-only; the script is included.
    assert "Métallurgie" in re.search(r'id="convention-libelle">([^<]*)<', page).group(1)
    assert re.search(r'id="convention-opco">[^<]*OPCO2I', page)
    assert 'src="/static/js/employeur.js"' in page


def test_employer_fills_the_tab_and_gets_the_check_mark(app, login, world):
    pk = world.dossier()
    client = login(ACME)
    response = _post(client, pk, _valid(world))
    assert response.status_code == 302, _errors_by_field(response.get_data(as_text=True))
    assert response.headers["Location"].endswith(f"/admin/dossier/{pk}/employeur/")
    response, page = _page(client, pk)
    assert "employeur" in _checked_tabs(page)
    assert "Onglet « L'employeur » enregistré." in _flashes(page)
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        etab = dossier.etablissement
        assert etab.id == world.etab_id and dossier.employeur_siret == world.siret
        assert (etab.adresse_numero, etab.adresse_voie) == ("7", "avenue des Prés")
        assert etab.telephone == "0465710902"
        assert etab.naf == "28.29B"                      # stored NN.NNL
        assert etab.effectif == 120 and etab.idcc == "3248"
        assert etab.opco_code == "OPCO2I"                # from the IDCC table, not the page
        assert etab.public is False
        assert etab.facturation_email == "factures@ateliers-test.sillon.demo"  # hidden: kept
        assert (dossier.responsable_nom, dossier.responsable_email) == (
            "Garnier", "p.garnier@ateliers-test.sillon.demo")
        (m1,) = dossier.maitres
        assert (m1.rang, m1.nom_naissance, m1.prenom, m1.date_naissance) == (
            1, "Delmas", "Hélène", date(1980, 5, 12))
        assert (m1.emploi_occupe, m1.niveau_diplome, m1.annees_experience) == (
            "Responsable des développements", "7", 12)
        assert m1.eligibilite_attestee is True
        assert dossier.state == "en_saisie"
        changes = {h.field for h in dossier.history if h.kind == "field"}
        assert "L'employeur – Voie" in changes
        # The billing block is hidden (private apprenticeship): neither written nor logged.
        assert not any(field.startswith("L'employeur – Raison sociale") for field in changes)


def test_a_bad_siret_and_missing_fields_save_nothing_and_show_every_error(app, login, world):
    pk = world.dossier()
    client = login(ACME)
    before = _snapshot(app, pk)
    data = _valid(world, employeur_siret=_bad_key(world.siret), responsable_nom="",
                  maitre_1_prenom="", naf="ABC12", employeur_code_postal="3497",
                  employeur_email="pas-une-adresse", idcc="12", employeur_attestation_maitre=None)
    response = _post(client, pk, data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _snapshot(app, pk) == before
    errors = _errors_by_field(page)
    assert errors["employeur_siret"] == [SIRET_MESSAGE]
    assert errors["responsable_nom"] == [REQUIRED]
    assert errors["maitre_1_prenom"] == [REQUIRED]
    assert errors["naf"] == ["Le code NAF (APE) comporte 4 chiffres et 1 lettre, par exemple "
                             "62.01Z."]
    assert errors["employeur_code_postal"] == ["Code postal invalide : 5 chiffres."]
    assert errors["employeur_email"] == ["Cette adresse e-mail n'est pas valide."]
    assert any("IDCC" in m and "inconnu" in m for m in errors["idcc"])  # '12' → 0012: unknown
    assert any("attester" in m for m in errors["employeur_attestation_maitre"])
    assert "L'onglet n'a pas été enregistré" in _flashes(page)
    # The input is kept for correction.
    assert 'value="pas-une-adresse"' in page


def test_unknown_idcc_blocks_and_9999_is_only_an_information(app, login, world):
    pk = world.dossier()
    client = login(ACME)
    response = _post(client, pk, _valid(world, idcc="0001"))
    assert response.status_code == 422
    assert any("0001 est inconnu" in m for m in
               _errors_by_field(response.get_data(as_text=True))["idcc"])
    response = _post(client, pk, _valid(world, idcc="9999"))
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.get(Etablissement, world.etab_id)
        assert (etab.idcc, etab.opco_code) == ("9999", None)
    _, page = _page(client, pk)
    assert "IDCC 9999 : aucune convention collective" in _flashes(page)


def test_second_maitre_is_all_or_nothing(app, login, world):
    pk = world.dossier()
    client = login(ACME)
    before = _snapshot(app, pk)
    response = _post(client, pk, _valid(world, maitre_2_nom="Caron",
                                        maitre_2_emploi="Chef d'atelier"))
    assert response.status_code == 422
    assert _snapshot(app, pk) == before
    errors = _errors_by_field(response.get_data(as_text=True))
    missing = {f"maitre_2_{key}" for key in MASTER2_FIELDS} - {"maitre_2_nom", "maitre_2_emploi"}
    assert set(errors) == missing
    for name in missing:
        assert len(errors[name]) == 1 and errors[name][0].startswith(
            "Second maître d'apprentissage : renseignez"), errors[name]

    full = {"maitre_2_nom": "Caron", "maitre_2_prenom": "Yanis",
            "maitre_2_date_naissance": "1985-02-03",
            "maitre_2_courriel": "y.caron@test.sillon.demo",
            "maitre_2_emploi": "Chef d'atelier", "maitre_2_diplome": "BTS CRSA",
            "maitre_2_niveau_diplome": "5"}
    assert _post(client, pk, _valid(world, **full)).status_code == 302
    with app.app_context():
        maitres = {m.rang: m for m in db.session.get(Dossier, pk).maitres}
        assert maitres[2].prenom == "Yanis" and maitres[2].niveau_diplome == "5"
    # Emptying the block removes the second maître.
    assert _post(client, pk, _valid(world, **{k: "" for k in full})).status_code == 302
    with app.app_context():
        assert [m.rang for m in db.session.get(Dossier, pk).maitres] == [1]


def test_a_maitre_follows_two_apprentices_at_most(app, login, world):
    born = date(1980, 5, 12)
    for state in ("en_saisie", "valide_formation"):
        other = world.dossier(state=state)
        world.add_master(other, "DELMAS", "Helene", born)   # same person, typed differently
    cancelled = world.dossier(state="annule")
    world.add_master(cancelled, "Delmas", "Hélène", born)   # does not count
    pk = world.dossier()
    client = login(ACME)
    response = _post(client, pk, _valid(world))
    assert response.status_code == 422
    errors = _errors_by_field(response.get_data(as_text=True))
    assert any("suivrait 3 apprentis" in m for m in errors["maitre_1_nom"])
    # Already recorded on the dossier: saving another field is refused as well.
    recorded = world.dossier()
    world.add_master(recorded, "Delmas", "Hélène", born)
    response = _post(client, recorded, _valid(world, employeur_telephone="0465710977"))
    assert response.status_code == 422
    assert any("suivrait 3 apprentis" in m for m in
               _errors_by_field(response.get_data(as_text=True))["maitre_1_nom"])
    # Another maître is fine.
    assert _post(client, pk, _valid(world, maitre_1_date_naissance="1981-05-12")
                 ).status_code == 302


def test_billing_is_required_for_a_public_employer(app, login, world):
    pk = world.dossier()
    client = login(ACME)
    before = _snapshot(app, pk)
    blank_billing = {name: "" for name in (
        "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
        "facturation_commune", "facturation_email", "facturation_siret", "facturation_reference")}
    response = _post(client, pk, _valid(world, type_employeur="28", idcc="9999", **blank_billing))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert _snapshot(app, pk) == before
    assert "d-none" not in _fieldset(page, "facturation").split()
    errors = _errors_by_field(page)
    for name in ("facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
                 "facturation_commune", "facturation_email"):
        assert errors[name] == [REQUIRED], name
    billing = dict(facturation_raison_sociale="Ateliers du Test – Service financier",
                   facturation_adresse="7 avenue des Prés", facturation_code_postal="34970",
                   facturation_commune="Lattes",
                   facturation_email="compta@ateliers-test.sillon.demo",
                   facturation_siret=_bad_key(world.siret), facturation_reference="EJ-2026-17")
    response = _post(client, pk, _valid(world, type_employeur="28", idcc="9999", **billing))
    assert response.status_code == 422
    assert _errors_by_field(response.get_data(as_text=True))["facturation_siret"] == [SIRET_MESSAGE]
    billing["facturation_siret"] = world.siret
    response = _post(client, pk, _valid(world, type_employeur="28", idcc="9999", **billing))
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.get(Etablissement, world.etab_id)
        assert etab.public is True and etab.type_employeur == "28"
        assert (etab.facturation_email, etab.facturation_reference, etab.facturation_siret) == (
            "compta@ateliers-test.sillon.demo", "EJ-2026-17", world.siret)
    _, page = _page(client, pk)
    assert "d-none" not in _fieldset(page, "facturation").split()


def test_billing_is_required_for_professionalisation_and_monaco(login, world):
    client = login(ACME)
    pro = world.dossier(dispositif="professionnalisation")
    _, page = _page(client, pro)
    assert "d-none" not in _fieldset(page, "facturation").split()
    response = _post(client, pro, _valid(world, facturation_email=""))
    assert response.status_code == 422
    assert _errors_by_field(response.get_data(as_text=True))["facturation_email"] == [REQUIRED]

    monaco = world.dossier()
    response = _post(client, monaco, _valid(world, employeur_monaco="y", facturation_email="",
                                            employeur_code_postal="98000",
                                            employeur_commune="Monaco"))
    assert response.status_code == 422
    errors = _errors_by_field(response.get_data(as_text=True))
    assert errors["facturation_email"] == [REQUIRED]
    assert "employeur_code_postal" not in errors    # 980xx is Monaco's


# --- the shared establishment -------------------------------------------------------------------

def test_an_establishment_is_not_overwritten_by_someone_not_allowed(app, login, world):
    """Globex's HR contact names an establishment whose référent is someone else: the dossier
    is linked to it, its data is left as it was, and an information says so."""
    pk = world.dossier(contact=GLOBEX)
    with app.app_context():
        before = {c.key: getattr(db.session.get(Etablissement, world.etab_id), c.key)
                  for c in Etablissement.__table__.columns}
    client = login(GLOBEX)
    response = _post(client, pk, _valid(world, employeur_adresse_voie="rue Usurpée",
                                        employeur_effectif="3"))
    assert response.status_code == 302, _errors_by_field(response.get_data(as_text=True))
    _, page = _page(client, pk)
    assert "est déjà connu de Sillon" in _flashes(page)
    assert 'value="rue des Essais"' in page
    with app.app_context():
        etab = db.session.get(Etablissement, world.etab_id)
        assert {c.key: getattr(etab, c.key) for c in Etablissement.__table__.columns} == before
        dossier = db.session.get(Dossier, pk)
        assert dossier.etablissement_id == world.etab_id
        assert dossier.maitres[0].nom_naissance == "Delmas"   # the dossier's own data is saved
        # The history shows what was saved, not the establishment changes that were refused.
        changes = {h.field: h.new_value for h in dossier.history if h.kind == "field"}
        assert changes["L'employeur – Nom de naissance"] == "Delmas"
        assert "rue Usurpée" not in changes.values() and "3" not in changes.values()


def test_an_unknown_siret_creates_a_pending_establishment_this_dossier_may_complete(app, login,
                                                                                    world):
    with app.app_context():
        siren = _new_siren(world.rng)
    siret = _siret(siren, "0002")
    world.sirets.append(siret)
    pk = world.dossier()
    client = login(ACME)
    response = _post(client, pk, _valid(world, employeur_siret=siret[:3] + " " + siret[3:],
                                        employeur_denomination="Nouvelle Fabrique"))
    assert response.status_code == 302, _errors_by_field(response.get_data(as_text=True))
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        etab = dossier.etablissement
        assert (etab.siret, etab.en_attente, etab.denomination) == (siret, True,
                                                                     "Nouvelle Fabrique")
        assert etab.structure.siren == siren and etab.structure.raison_sociale == (
            "Nouvelle Fabrique")
        # The employer who typed it is the first account of this structure new to Sillon.
        assert etab.structure.referent_id == _user_id(ACME)
        assert etab.opco_code == "OPCO2I" and dossier.employeur_siret == siret
        assert any(h.field == CREATED_ENTRY and h.new_value == siret for h in dossier.history)
    # This dossier created it: it may complete it until the CFA has checked it.
    response = _post(client, pk, _valid(world, employeur_siret=siret,
                                        employeur_denomination="Nouvelle Fabrique SARL"))
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.execute(sa.select(Etablissement)
                                  .where(Etablissement.siret == siret)).scalar_one()
        assert etab.denomination == "Nouvelle Fabrique SARL"
    # Another dossier naming the same pending establishment, whose employer does not belong to
    # its structure: not linked to it, nothing of it written; an access request waits for its
    # référent.
    other = world.dossier(contact=GLOBEX)
    response = _post(login(GLOBEX), other, _valid(world, employeur_siret=siret,
                                                  employeur_denomination="Autre nom"))
    assert response.status_code == 302
    with app.app_context():
        etab = db.session.execute(sa.select(Etablissement)
                                  .where(Etablissement.siret == siret)).scalar_one()
        assert etab.denomination == "Nouvelle Fabrique SARL"
        row = db.session.get(Dossier, other)
        assert row.etablissement_id == world.etab_id and row.etablissement_demande_id == etab.id
        assert db.session.execute(sa.select(StructureMembership.status).where(
            StructureMembership.structure_id == etab.structure_id,
            StructureMembership.user_id == _user_id(GLOBEX))).scalar_one() == "demande"


def _site_of(email):
    """The first establishment (with billing data) of the structure whose référent is
    ``email``, outside the test's own."""
    return db.session.execute(
        sa.select(Etablissement).join(Structure).join(User, User.id == Structure.referent_id)
        .where(User.email == email, Etablissement.facturation_email.is_not(None))
        .order_by(Etablissement.id)).scalars().first()


def test_a_siret_named_elsewhere_shows_nothing_of_another_structure(app, login, world):
    """Données de base names an establishment the dossier does not point at: the tab shows its
    data only when the dossier's employer belongs to its structure; of another structure's,
    nothing at all (no name, address, phone, e-mail or billing)."""
    with app.app_context():
        globex = _site_of(GLOBEX)
        secrets = [globex.denomination, globex.adresse_voie, globex.telephone, globex.email,
                   globex.facturation_email, globex.facturation_raison_sociale]
        globex_siret = globex.siret
        acme = _site_of(ACME)
        acme_siret, acme_values = acme.siret, [acme.denomination, acme.telephone,
                                               acme.facturation_email]
        pk = world.dossier()
        dossier = db.session.get(Dossier, pk)
        dossier.employeur_siret = globex_siret
        dossier.dispositif = "professionnalisation"   # billing block shown
        db.session.commit()
    client = login(ACME)
    _, page = _page(client, pk)
    text = html_lib.unescape(page)
    assert globex_siret in page                       # what was typed, and nothing more
    for value in secrets:
        assert value and value not in text, value
    # The dossier's employer (ACME's référent) belongs to ACME: its establishment is shown.
    with app.app_context():
        db.session.get(Dossier, pk).employeur_siret = acme_siret
        db.session.commit()
    _, page = _page(client, pk)
    text = html_lib.unescape(page)
    for value in acme_values:
        assert value and value in text, value


def test_demo_dossiers_past_the_entry_have_a_valid_employer_tab(app):
    """The seeded dossiers whose employer part was filled satisfy this tab's checks (else the
    workflow would send them back to « Saisie en cours »)."""
    from portal.dossiers import tabs
    with app.app_context():
        filled = db.session.execute(sa.select(Dossier).join(MaitreApprentissage)
                                    .where(Dossier.apprenti_email.like("%@etu.sillon.demo"))
                                    ).scalars().unique().all()
        assert len(filled) > 20
        for dossier in filled:
            errors = [tf.finding for tf in tabs.dossier_findings(dossier)
                      if tf.tab == "employeur" and tf.finding.level == "error"]
            assert errors == [], (dossier.id, errors)


# --- who may post -----------------------------------------------------------------------------

@pytest.mark.parametrize("account", [ALICE, RESP_INFO])
def test_other_roles_cannot_post_to_the_employer_tab(app, login, world, account):
    pk = world.dossier()
    before = _snapshot(app, pk)
    client = login(account)
    response = _post(client, pk, _valid(world, employeur_adresse_voie="rue Pirate"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/dossier/{pk}/employeur/")
    assert _snapshot(app, pk) == before
    _, page = _page(client, pk)
    assert "Cet onglet est rempli par l'employeur : vous le consultez." in _flashes(page)
    assert "Enregistrer l'onglet" not in page


def test_a_locked_dossier_saves_nothing(app, login, world):
    pk = world.dossier(state="valide_formation")
    before = _snapshot(app, pk)
    client = login(ACME)
    response = _post(client, pk, _valid(world, employeur_adresse_voie="rue Tardive"))
    assert response.status_code == 303
    assert _snapshot(app, pk) == before
    _, page = _page(client, pk)
    assert "Le dossier est verrouillé" in _flashes(page)


# --- aids -------------------------------------------------------------------------------------

def test_aids_are_shown_to_the_employer(login, world):
    # Licence professionnelle (level 6), 120 employees, concluded 2026-08-10 (RULES.md §5).
    pk = world.dossier(conclusion=date(2026, 8, 10))
    _, page = _page(login(ACME), pk)
    box = html_lib.unescape(re.search(r'id="employeur-aides".*?</div>', page, re.S).group(0))
    assert "moins de 250 salariés, diplôme de niveau 6 ou 7 : 2\u00a0000\u00a0€" in box
    assert "Participation forfaitaire de l'employeur" in box and "750\u00a0€" in box
    # Without a date of conclusion: what is missing is said.
    _, page = _page(login(ACME), world.dossier())
    assert "Renseignez la date de conclusion" in _flashes(page)
    # Professionalisation: no apprenticeship aid.
    _, page = _page(login(ACME), world.dossier(dispositif="professionnalisation",
                                               conclusion=date(2026, 8, 10)))
    assert 'id="employeur-aides"' not in page


# --- look-ups -----------------------------------------------------------------------------------

def _json(response):
    assert response.mimetype == "application/json", response.get_data(as_text=True)[:200]
    return json.loads(response.get_data(as_text=True))


def test_idcc_lookup(login):
    client = login(ACME)
    body = _json(client.get("/admin/dossier/lookup/idcc/?idcc=3248"))
    assert body["idcc"] == "3248" and "Métallurgie" in body["libelle"]
    assert body["branche"] == "Métallurgie" and body["opco_code"] == "OPCO2I"
    assert body["opco_nom"]
    response = client.get("/admin/dossier/lookup/idcc/?idcc=843")   # leading zero restored
    assert response.status_code == 200 and _json(response)["idcc"] == "0843"
    response = client.get("/admin/dossier/lookup/idcc/?idcc=0001")
    assert response.status_code == 404 and "inconnu" in _json(response)["message"]
    for hostile in ("abc", "<script>alert(1)</script>", "", "1" * 5000, "\x00", "12345",
                    "\u0663\u0662\u0664\u0668"):  # Arabic-Indic digits
        response = client.get("/admin/dossier/lookup/idcc/", query_string={"idcc": hostile})
        assert response.status_code == 400, hostile
        body = _json(response)
        assert body["message"].startswith("Le code IDCC doit comporter exactement 4 chiffres")
        assert "<script>" not in response.get_data(as_text=True)
    assert client.get("/admin/dossier/lookup/idcc/").status_code == 400


def test_lookups_need_a_login(client):
    for url in ("/admin/dossier/lookup/idcc/?idcc=3248",
                "/admin/dossier/lookup/siret/?siret=73282932000074"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


PRIVATE = ("telephone", "email", "facturation_raison_sociale", "facturation_adresse",
           "facturation_code_postal", "facturation_commune", "facturation_email",
           "facturation_siret", "facturation_reference", "opco_code", "structure_id")


def test_siret_lookup_returns_only_public_fields(app, login, world):
    client = login(ALICE)  # anyone with access to dossiers; here an apprentice
    response = client.get(f"/admin/dossier/lookup/siret/?siret={world.siret[:9]} {world.siret[9:]}")
    assert response.status_code == 200
    body = _json(response)
    assert body["source"] == "sillon" and body["siret"] == world.siret
    assert body["denomination"] == "Ateliers du Test – Lattes"
    assert (body["code_postal"], body["naf"], body["idcc"], body["type_employeur"],
            body["effectif"]) == ("34970", "28.29B", "3248", "12", 120)
    assert not set(body) & set(PRIVATE)
    text = response.get_data(as_text=True)
    for secret in ("0465710901", "contact@ateliers-test", "factures@ateliers-test",
                   "Ateliers du Test SAS"):
        assert secret not in text


def _fake_directory(monkeypatch, lookup):
    module = types.ModuleType("portal.services.company_directory")
    module.lookup_from_config = lookup
    monkeypatch.setitem(sys.modules, "portal.services.company_directory", module)


def test_siret_lookup_invalid_unknown_and_directory(app, login, world, monkeypatch):
    client = login(ACME)
    arabic = "".join(chr(0x660 + int(c)) for c in world.siret)
    for hostile in (_bad_key(world.siret), "abc", "<script>", "1" * 5000, "", "123", "\x00",
                    arabic):
        response = client.get("/admin/dossier/lookup/siret/", query_string={"siret": hostile})
        assert response.status_code == 400, hostile
        assert _json(response)["message"] == SIRET_MESSAGE
    with app.app_context():
        unknown = _siret(_new_siren(world.rng), "0003")
    url = f"/admin/dossier/lookup/siret/?siret={unknown}"
    _fake_directory(monkeypatch, lambda siret: None)
    response = client.get(url)
    assert response.status_code == 404
    assert "saisissez ses informations" in _json(response)["message"]

    record = types.SimpleNamespace(siret=unknown, siren=unknown[:9], denomination="Annuaire SA",
                                   adresse_numero="3", adresse_voie="rue du Registre",
                                   code_postal="34000", commune="Montpellier", naf="6201Z",
                                   idcc="16", effectif_tranche="12", public=False)
    _fake_directory(monkeypatch, lambda siret: record if siret == unknown else None)
    body = _json(client.get(url))
    assert body["source"] == "annuaire" and body["denomination"] == "Annuaire SA"
    assert (body["naf"], body["idcc"]) == ("62.01Z", "0016")

    def broken(siret):
        raise TimeoutError("directory down")
    _fake_directory(monkeypatch, broken)
    assert client.get(url).status_code == 404
    monkeypatch.setitem(sys.modules, "portal.services.company_directory", None)  # not installed
    assert client.get(url).status_code == 404


# --- the page's script in a real chromium -------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update"]}


@pytest.fixture(scope="module")
def live_server(app):
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.browser
def test_autofill_and_billing_toggle_in_the_browser(app, world, live_server, browser,
                                                   artifacts_dir):
    from portal.models import ThrottleEvent
    with app.app_context():
        db.session.execute(sa.delete(ThrottleEvent).where(
            ThrottleEvent.key == f"login:email:{ACME}"))
        db.session.commit()
    pk = world.dossier(linked=False)   # nothing known about the employer yet
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{live_server}/login")
        page.fill("input[name=email]", ACME)
        page.fill("input[name=password]", "sillon-demo")
        with page.expect_navigation():
            page.click("form button[type=submit]")
        page.goto(f"{live_server}/admin/dossier/{pk}/employeur/")
        assert page.locator("#facturation").is_hidden()

        # A SIRET with a wrong key: said next to the field, nothing filled.
        page.fill("#employeur_siret", _bad_key(world.siret))
        page.locator("#employeur_siret").blur()
        status = page.locator("#lookup-status-employeur_siret")
        status.filter(has_text="n'est pas valide").wait_for()
        assert page.input_value("#employeur_denomination") == ""

        # A known establishment: only the empty inputs are filled, with public data only.
        page.fill("#employeur_commune", "Ma commune")
        page.fill("#employeur_siret", world.siret[:9] + " " + world.siret[9:])
        page.locator("#employeur_siret").blur()
        status.filter(has_text="Établissement connu de Sillon").wait_for()
        assert page.input_value("#employeur_denomination") == "Ateliers du Test – Lattes"
        assert page.input_value("#employeur_commune") == "Ma commune"
        assert page.input_value("#naf") == "28.29B"
        assert page.input_value("#type_employeur") == "12"
        assert page.input_value("#employeur_effectif") == "120"
        assert page.input_value("#employeur_telephone") == ""
        assert page.input_value("#employeur_email") == ""
        assert page.input_value("#facturation_email") == ""
        # The IDCC it brought is looked up at once: the convention's details appear.
        page.locator("#convention-libelle").filter(has_text="Métallurgie").wait_for()

        # Typing another IDCC (leading zeros restored) updates label, branch and OPCO.
        page.fill("#idcc", "1486")
        page.locator("#idcc").blur()
        page.locator("#convention-libelle").filter(has_text="Syntec").wait_for()
        assert "ATLAS" in page.inner_text("#convention-opco")
        page.fill("#idcc", "1")
        page.locator("#idcc").blur()
        page.locator("#lookup-status-idcc").filter(has_text="inconnu").wait_for()
        assert page.input_value("#idcc") == "0001"
        assert page.inner_text("#convention-libelle").strip() == "—"

        # A public employer needs billing data: the block appears, its fields marked required.
        page.select_option("#type_employeur", "28")
        assert page.locator("#facturation").is_visible()
        assert page.locator('label[for="facturation_email"] .required-mark').count() == 1
        page.select_option("#type_employeur", "12")
        assert page.locator("#facturation").is_hidden()
        page.check("#employeur_monaco")
        assert page.locator("#facturation").is_visible()
        shots = artifacts_dir / "browser"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "employeur-autofill.png"), full_page=True)
        assert errors == []
    finally:
        context.close()
