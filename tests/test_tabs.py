"""Dossier tabs through HTTP: each role fills its tabs (valid → saved with a check mark; one bad
field → nothing saved, every error shown), roles cannot post to tabs that are not theirs, the
Résumé lists every anomaly grouped by tab, Suivi – Info shows the state and the history."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (Apprenti, Dossier, DossierHistory, Etablissement, Formation,
                           RepresentantLegal, User)
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf_from

ALICE = "alice@etu.sillon.demo"
BRUNO = "bruno@etu.sillon.demo"
ACME = "rh@acme.sillon.demo"
RESP_INFO = "resp.info@sillon.demo"
GEST_INFO = "gest.info@sillon.demo"
ADMIN = "admin@sillon.demo"


def _user_id(email):
    return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


@pytest.fixture()
def fresh(app):
    """A new dossier (initialise) for Alice at ACME in one of resp.info's trainings; removed
    afterwards so other tests see the demo data unchanged."""
    created, copies = [], []

    def make(*, mission=False, niveau="complete", dispositif="apprentissage", birth=None):
        with app.app_context():
            formation = training_copy(db.session.execute(
                sa.select(Formation).join(Formation.responsables)
                .where(User.email == RESP_INFO, Formation.mission_requise.is_(mission))
            ).scalars().first(), copies)
            etab = db.session.execute(
                sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
                .where(Dossier.employer_contact_id == _user_id(ACME))).scalars().first()
            dossier = Dossier(formation=formation, apprentice_user_id=_user_id(ALICE),
                              employer_contact_id=_user_id(ACME), etablissement=etab,
                              apprenti_email=ALICE, apprenti_nom="Perrin", apprenti_prenom="Alice",
                              apprenti_date_naissance=birth or date(2004, 3, 14),
                              niveau_saisie=niveau, dispositif=dispositif, state="initialise",
                              employeur_siret=etab.siret)
            db.session.add(dossier)
            db.session.commit()
            created.append(dossier.id)
            return dossier.id

    yield make
    with app.app_context():
        for pk in created:
            db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()
    drop_training_copies(app, copies)


def _page(client, dossier_id, tab):
    response = client.get(f"/admin/dossier/{dossier_id}/{tab}/")
    return response, response.get_data(as_text=True)


def _errors_by_field(html):
    """{field name: [error messages]} as rendered next to each field."""
    out = {}
    for block in re.finditer(r'id="field-([a-z0-9_]+)"(.*?)(?=id="field-|</fieldset>)', html, re.S):
        messages = re.findall(r'finding-error">([^<]+)<', block.group(2))
        if messages:
            out[block.group(1)] = [m.strip() for m in messages]
    return out


def _checked_tabs(html):
    return set(re.findall(r'data-tab="([a-z]+)"[^>]*>\s*[^<]*<span class="tab-check"', html))


ALTERNANT_VALID = {
    "apprenti_nom": "Perrin", "apprenti_prenom": "Alice", "sexe": "F",
    "apprenti_date_naissance": "2004-03-14", "commune_naissance": "Nantes",
    "departement_naissance": "44", "nationalite": "1",
    # NIR of a woman born in March 2004 in Loire-Atlantique (44), key computed below.
    "nir": "", "ine": "1234567890A", "adresse_numero": "12", "adresse_voie": "rue des Lilas",
    "code_postal": "44000", "commune": "Nantes", "telephone": "0601020304",
    "apprenti_email": ALICE, "regime_social": "2", "situation_avant_contrat": "3",
    "diplome_plus_eleve": "54", "dernier_diplome_prepare": "54", "derniere_classe": "01",
    "intitule_dernier_diplome": "BTS Services informatiques aux organisations",
}


def _nir(body):
    return body + f"{97 - int(body) % 97:02d}"


def _alternant_data(**changes):
    data = dict(ALTERNANT_VALID, nir=_nir("2040344109012"))
    data.update(changes)
    return data


def _post(client, dossier_id, tab, data):
    _, html = _page(client, dossier_id, tab)
    payload = dict(data, csrf_token=csrf_from(html))
    version = re.search(r'name="_version" value="(\d+)"', html)
    if version:
        payload["_version"] = version.group(1)
    return client.post(f"/admin/dossier/{dossier_id}/{tab}/", data=payload)


def _snapshot(app, dossier_id):
    with app.app_context():
        dossier = db.session.get(Dossier, dossier_id)
        apprenti = dossier.apprenti
        return ({c.key: getattr(dossier, c.key) for c in Dossier.__table__.columns},
                None if apprenti is None else
                {c.key: getattr(apprenti, c.key) for c in Apprenti.__table__.columns},
                db.session.execute(sa.select(sa.func.count()).select_from(DossierHistory)
                                   .where(DossierHistory.dossier_id == dossier_id)).scalar_one())


def test_apprentice_fills_l_alternant_and_gets_the_check_mark(app, login, fresh):
    pk = fresh()
    client = login(ALICE)
    response = _post(client, pk, "alternant", _alternant_data())
    assert response.status_code == 302, _errors_by_field(response.get_data(as_text=True))
    response, html = _page(client, pk, "alternant")
    assert "alternant" in _checked_tabs(html)
    assert "Onglet « L&#39;alternant » enregistré." in html or "enregistré" in html
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.apprenti.commune_naissance == "Nantes"
        assert dossier.apprenti.nir == _nir("2040344109012")
        assert dossier.state == "en_saisie"  # first tab saved, others still incomplete
        kinds = {h.kind for h in dossier.history}
        assert {"field", "transition"} <= kinds


def test_one_bad_field_saves_nothing_and_shows_every_error(app, login, fresh):
    pk = fresh()
    client = login(ALICE)
    before = _snapshot(app, pk)
    data = _alternant_data(nir="2040344109099",  # wrong key
                           code_postal="4400", commune="", ine="XYZ")
    response = _post(client, pk, "alternant", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = _errors_by_field(html)
    assert any("clé" in m for m in errors["nir"])
    assert errors["code_postal"] == ["Code postal invalide : 5 chiffres."]
    assert errors["commune"] == ["Ce champ est obligatoire."]
    assert "ine" in errors
    # The typed input is kept on screen.
    assert 'value="rue des Lilas"' in html
    assert _snapshot(app, pk) == before


def test_nir_must_agree_with_sex_and_birth(app, login, fresh):
    pk = fresh()
    client = login(ALICE)
    response = _post(client, pk, "alternant", _alternant_data(nir=_nir("1040344109012")))
    assert response.status_code == 422
    assert any("sexe" in m for m in _errors_by_field(response.get_data(as_text=True))["nir"])


def test_legal_representative_appears_only_for_a_minor_not_emancipated(app, login, fresh):
    adult = fresh()
    minor = fresh(birth=date(2010, 6, 1))
    client = login(ALICE)
    _, html = _page(client, adult, "alternant")
    assert re.search(r'class="[^"]*d-none[^"]*"\s+id="representant-legal"', html)
    _, html = _page(client, minor, "alternant")
    assert not re.search(r'class="[^"]*d-none[^"]*"\s+id="representant-legal"', html)
    data = _alternant_data(apprenti_date_naissance="2010-06-01", nir=_nir("2100644109012"))
    response = _post(client, minor, "alternant", data)
    assert response.status_code == 422
    errors = _errors_by_field(response.get_data(as_text=True))
    assert errors["representant_nom"] == ["Ce champ est obligatoire."]
    # Emancipated: no representative needed.
    response = _post(client, minor, "alternant", dict(data, emancipe="y"))
    assert response.status_code == 302
    data.update(representant_nom="Perrin", representant_prenom="Claire",
                representant_adresse_voie="rue des Lilas", representant_code_postal="44000",
                representant_commune="Nantes")
    response = _post(client, minor, "alternant", data)
    assert response.status_code == 302
    with app.app_context():
        rep = db.session.execute(sa.select(RepresentantLegal)
                                 .where(RepresentantLegal.dossier_id == minor)).scalar_one()
        assert rep.prenom == "Claire"


def test_formation_fills_donnees_de_base(app, login, fresh):
    pk = fresh()
    client = login(RESP_INFO)
    data = {"niveau_saisie": "complete", "dispositif": "apprentissage", "apprenti_nom": "Perrin",
            "apprenti_prenom": "Alice", "apprenti_date_naissance": "14/03/2004",
            "apprenti_email": ALICE, "employeur_siret": "", "employeur_contact_email": ACME,
            "date_debut_contrat": "2026-09-01", "date_fin_contrat": "2027-08-31"}
    response = _post(client, pk, "base", data)
    assert response.status_code == 302
    _, html = _page(client, pk, "base")
    assert "base" in _checked_tabs(html)
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        assert dossier.date_debut_contrat == date(2026, 9, 1)
    bad = dict(data, employeur_siret="12345678901234", date_fin_contrat="2026-08-01",
               apprenti_email="pas-une-adresse")
    before = _snapshot(app, pk)
    response = _post(client, pk, "base", bad)
    assert response.status_code == 422
    errors = _errors_by_field(response.get_data(as_text=True))
    assert set(errors) >= {"employeur_siret", "date_fin_contrat", "apprenti_email"}
    assert _snapshot(app, pk) == before


@pytest.mark.parametrize("account,tab", [
    (ALICE, "base"), (RESP_INFO, "alternant"), (GEST_INFO, "alternant"), (ACME, "alternant"),
    (ADMIN, "alternant"), (BRUNO, "alternant"), (ALICE, "suivi"), (ALICE, "resume"),
])
def test_a_role_cannot_post_to_a_tab_that_is_not_its_own(app, login, fresh, account, tab):
    pk = fresh()
    client = login(account)
    before = _snapshot(app, pk)
    page = client.get("/admin/")
    data = dict(_alternant_data(), csrf_token=csrf_from(page.get_data(as_text=True)),
                niveau_saisie="simple")
    response = client.post(f"/admin/dossier/{pk}/{tab}/", data=data)
    assert response.status_code in (303, 404, 405)
    assert _snapshot(app, pk) == before


def test_read_only_tab_has_no_save_button(app, login, fresh):
    pk = fresh()
    _, html = _page(login(RESP_INFO), pk, "alternant")
    assert "Enregistrer l'onglet" not in html and "Enregistrer l&#39;onglet" not in html
    assert "rempli par l&#39;alternant·e" in html or "rempli par l'alternant·e" in html
    commune = re.search(r'<input[^>]*name="commune"[^>]*>', html).group(0)
    assert "disabled" in commune


def test_locked_dossier_refuses_the_apprentice(app, login, fresh):
    pk = fresh()
    with app.app_context():
        db.session.get(Dossier, pk).state = "validation_demandee"
        db.session.commit()
    client = login(ALICE)
    before = _snapshot(app, pk)
    response = _post(client, pk, "alternant", _alternant_data())
    assert response.status_code == 303
    assert _snapshot(app, pk) == before
    _, html = _page(client, pk, "alternant")
    assert "La validation a été demandée" in html


def test_simple_entry_level_hides_le_contrat(app, login, fresh):
    pk = fresh(niveau="simple")
    client = login(ACME)
    _, html = _page(client, pk, "base")
    assert 'data-tab="contrat"' not in html
    assert client.get(f"/admin/dossier/{pk}/contrat/").status_code == 404


def test_mission_tab_only_when_required(app, login, fresh):
    without = fresh(mission=False)
    with_mission = fresh(mission=True)
    client = login(ACME)
    assert client.get(f"/admin/dossier/{without}/mission/").status_code == 404
    response = _post(client, with_mission, "mission", {"mission_description": ""})
    assert response.status_code == 422
    assert _errors_by_field(response.get_data(as_text=True))["mission_description"] == [
        "Ce champ est obligatoire."]
    response = _post(client, with_mission, "mission",
                     {"mission_description": "Développer les outils internes."})
    assert response.status_code == 302
    # The apprentice may fill it too.
    response = _post(login(ALICE), with_mission, "mission",
                     {"mission_description": "Développer et tester les outils internes."})
    assert response.status_code == 302


def test_resume_lists_anomalies_grouped_by_tab_with_links(app, login, fresh):
    pk = fresh()
    client = login(ALICE)
    _, html = _page(client, pk, "resume")
    groups = re.findall(r'<section class="resume-group mb-3" data-tab="([a-z]+)"', html)
    assert "alternant" in groups
    assert f'href="/admin/dossier/{pk}/alternant/#field-commune_naissance"' in html
    assert "anomalie" in html
    _post(client, pk, "alternant", _alternant_data())
    _, html = _page(client, pk, "resume")
    groups = re.findall(r'<section class="resume-group mb-3" data-tab="([a-z]+)"', html)
    assert "alternant" not in groups
    assert "Nantes" in html  # the summary shows the saved values


def test_lost_update_is_refused_and_input_kept(app, login, fresh):
    pk = fresh()
    first, second = login(ALICE), login(ALICE)
    _, html_second = _page(second, pk, "alternant")
    assert _post(first, pk, "alternant", _alternant_data()).status_code == 302
    stale_version = re.search(r'name="_version" value="(\d+)"', html_second).group(1)
    data = dict(_alternant_data(commune="Rezé"), csrf_token=csrf_from(html_second),
                _version=stale_version)
    response = second.post(f"/admin/dossier/{pk}/alternant/", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 409  # a conflict: the dossier changed meanwhile
    assert "modifié par une autre personne" in html
    assert 'value="Rezé"' in html
    with app.app_context():
        assert db.session.get(Dossier, pk).apprenti.commune == "Nantes"


def test_suivi_shows_state_next_action_contact_and_history(app, login, fresh):
    pk = fresh()
    client = login(ALICE)
    _post(client, pk, "alternant", _alternant_data())
    _, html = _page(client, pk, "suivi")
    assert "Saisie en cours" in html or "Saisie complète" in html
    assert "Contact au CFA" in html
    assert re.search(r"Initialisé → Saisie (en cours|complète)", html)
    assert "L&#39;alternant – Commune de naissance" in html or "Commune de naissance" in html


def test_other_owners_dossier_tabs_are_404(app, login, fresh):
    pk = fresh()
    for account in (BRUNO, "rh@globex.sillon.demo", "resp.droit@sillon.demo"):
        client = login(account)
        for tab in ("base", "alternant", "resume", "suivi"):
            assert client.get(f"/admin/dossier/{pk}/{tab}/").status_code == 404
    assert login(ALICE).get(f"/admin/dossier/{pk}/nope/").status_code == 404
