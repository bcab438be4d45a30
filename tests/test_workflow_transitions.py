"""Every transition refused to every wrong role and from every wrong state (through HTTP, the
database unchanged), and allowed to the right roles from the right states, with its history
entry, its side data and its e-mails in the outbox."""
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, DossierHistory, Etablissement, Formation, OutboxEmail, User
from portal.dossiers.workflow import STATES, TRANSITIONS, manual_transitions
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf

ALICE, ACME, RESP, GEST = ("alice@etu.sillon.demo", "rh@acme.sillon.demo",
                           "resp.info@sillon.demo", "gest.info@sillon.demo")
ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
OUTSIDERS = ("bruno@etu.sillon.demo", "rh@globex.sillon.demo", "resp.droit@sillon.demo")
ON_DOSSIER = (ALICE, ACME, RESP, GEST, ADMIN, CONSEIL)

# SPEC §1 and §3: who triggers what.
ALLOWED = {
    "demander_validation": {ALICE, ACME},
    "valider_formation": {RESP, ADMIN},
    "valider_economie": {ADMIN, CONSEIL},
    "valider_documents": {ADMIN, CONSEIL},
    "declarer_envoi_opco": {ACME, ADMIN, CONSEIL},
    "renvoyer_correction": {RESP, ADMIN, CONSEIL},
    "annuler": {RESP, ADMIN},
    "rompre": {ACME, ADMIN, CONSEIL},
    "deverrouiller": {ADMIN},
}
# A state from which each transition starts and that needs no completeness.
RIGHT_STATE = {
    "demander_validation": "saisie_complete", "valider_formation": "validation_demandee",
    "valider_economie": "valide_formation", "valider_documents": "documents_retournes",
    "declarer_envoi_opco": "documents_valides",
    "renvoyer_correction": "validation_demandee", "annuler": "en_saisie",
    "rompre": "envoye_opco", "deverrouiller": "economie_validee",
}
# The rows a person triggers (the automatic rows are run by the write path: test_write_path.py).
MANUAL = {t.code: t for t in manual_transitions()}
FORM = {"comment": "Un commentaire suffisamment clair.", "rupture_date": "2026-10-15",
        "numero_opco": "DECA-2026-0001", "date_depot": "2026-11-30",
        "confirmation": "oui"}  # the check box of irreversible rows, ticked


def test_tables_agree():
    assert set(ALLOWED) == set(MANUAL) == set(RIGHT_STATE)


@pytest.mark.parametrize("code", sorted(set(TRANSITIONS) - set(MANUAL)))
def test_automatic_rows_cannot_be_asked_for(app, login, dossier, code):
    """An automatic row of the table is not a door: posting its code changes nothing."""
    _set_state(app, dossier, TRANSITIONS[code].sources[0])
    for account in ON_DOSSIER:
        client = login(account)
        before = _snapshot(app, dossier)
        response = _post(client, dossier, code)
        assert response.status_code == 302, account
        assert _snapshot(app, dossier) == before, (code, account)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Action inconnue." in page


@pytest.fixture()
def dossier(app):
    copies = []
    with app.app_context():
        def uid(email):
            return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()
        # A copy of the training: the demo apprentice already has an open dossier in it.
        formation = training_copy(db.session.execute(
            sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
            .where(Formation.mode_validation == "manuelle")
            .order_by(Formation.id)).scalars().first(), copies)
        etab = db.session.execute(
            sa.select(Etablissement).join(Dossier, Dossier.etablissement_id == Etablissement.id)
            .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
        row = Dossier(formation=formation, apprentice_user_id=uid(ALICE),
                      employer_contact_id=uid(ACME), etablissement=etab, apprenti_email=ALICE,
                      apprenti_nom="Transition", apprenti_prenom="Test", state="initialise",
                      date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2028, 8, 31))
        db.session.add(row)
        db.session.commit()
        pk = row.id
    yield pk
    with app.app_context():
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
        db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()
    drop_training_copies(app, copies)


def _set_state(app, pk, state):
    with app.app_context():
        db.session.get(Dossier, pk).state = state
        db.session.commit()


def _snapshot(app, pk):
    with app.app_context():
        row = db.session.get(Dossier, pk)
        return (row.state, row.version, row.correction_commentaire, row.annulation_motif,
                db.session.execute(sa.select(sa.func.count()).select_from(DossierHistory)
                                   .where(DossierHistory.dossier_id == pk)).scalar_one(),
                db.session.execute(sa.select(sa.func.count()).select_from(OutboxEmail)
                                   .where(OutboxEmail.dossier_id == pk)).scalar_one())


def _post(client, pk, code):
    return client.post(f"/admin/dossier/{pk}/transition/{code}/",
                       data=dict(FORM, csrf_token=csrf(client)))


@pytest.mark.parametrize("code", sorted(MANUAL))
def test_wrong_roles_are_refused_in_the_right_state(app, login, dossier, code):
    _set_state(app, dossier, RIGHT_STATE[code])
    for account in ON_DOSSIER:
        if account in ALLOWED[code]:
            continue
        client = login(account)
        before = _snapshot(app, dossier)
        response = _post(client, dossier, code)
        assert response.status_code == 302, account
        assert _snapshot(app, dossier) == before, (code, account)
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "vous n&#39;avez pas le droit" in page or "vous n'avez pas le droit" in page
    for account in OUTSIDERS:
        before = _snapshot(app, dossier)
        assert _post(login(account), dossier, code).status_code == 404
        assert _snapshot(app, dossier) == before


@pytest.mark.parametrize("code", sorted(MANUAL))
def test_right_role_is_refused_from_every_wrong_state(app, login, dossier, code):
    transition = MANUAL[code]
    account = sorted(ALLOWED[code])[0]
    client = login(account)
    for state in STATES:
        if state in transition.sources:
            continue
        _set_state(app, dossier, state)
        before = _snapshot(app, dossier)
        response = _post(client, dossier, code)
        assert response.status_code == 409  # a conflict with the dossier's state
        assert _snapshot(app, dossier) == before, (code, state)


# Guards that need data these tests do not build: covered by the life-cycle tests.
NEEDS_DATA = {"demander_validation", "valider_documents"}


@pytest.mark.parametrize("code", [c for c in sorted(MANUAL) if c not in NEEDS_DATA])
def test_right_role_from_the_right_state_moves_the_dossier(app, login, dossier, code):
    transition = MANUAL[code]
    for account in sorted(ALLOWED[code]):
        _set_state(app, dossier, RIGHT_STATE[code])
        before = _snapshot(app, dossier)
        response = _post(login(account), dossier, code)
        assert response.status_code == 302
        after = _snapshot(app, dossier)
        assert after[0] == transition.target, (code, account)
        # One history entry (declaring the sending also opens the prise en charge: its own).
        assert after[4] == before[4] + (2 if code == "declarer_envoi_opco" else 1)
        if transition.mails:
            assert after[5] > before[5]  # e-mails in the outbox, same transaction
        with app.app_context():
            entry = db.session.execute(
                sa.select(DossierHistory).where(DossierHistory.dossier_id == dossier,
                                                DossierHistory.kind == "transition")
                .order_by(DossierHistory.id.desc())).scalars().first()
            assert (entry.from_state, entry.to_state) == (RIGHT_STATE[code], transition.target)
            if transition.needs_comment:
                assert entry.comment == FORM["comment"]


@pytest.mark.parametrize("code", [c for c, t in sorted(MANUAL.items()) if t.needs_comment])
def test_comment_is_mandatory(app, login, dossier, code):
    _set_state(app, dossier, RIGHT_STATE[code])
    client = login(sorted(ALLOWED[code])[0])
    before = _snapshot(app, dossier)
    response = client.post(f"/admin/dossier/{dossier}/transition/{code}/",
                           data={"comment": "   ", "rupture_date": "2026-10-15",
                                 "csrf_token": csrf(client)})
    assert response.status_code == 302
    assert _snapshot(app, dossier) == before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "est obligatoire" in page


def test_request_validation_is_refused_while_incomplete(app, login, dossier):
    _set_state(app, dossier, "saisie_complete")  # forced: the tabs are empty
    client = login(ALICE)
    before = _snapshot(app, dossier)
    response = _post(client, dossier, "demander_validation")
    assert _snapshot(app, dossier) == before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "La saisie n&#39;est pas complète" in page or "La saisie n'est pas complète" in page


def test_unknown_transition_and_get_are_harmless(app, login, dossier):
    client = login(ADMIN)
    before = _snapshot(app, dossier)
    assert _post(client, dossier, "nope").status_code == 302
    assert client.get(f"/admin/dossier/{dossier}/transition/annuler/").status_code == 405
    assert _snapshot(app, dossier) == before


def test_bulk_validation_reports_each_dossier(app, login, dossier):
    """The manager validates several dossiers at once; refused ones are named with a reason."""
    _set_state(app, dossier, "validation_demandee")
    with app.app_context():
        # Another dossier of this manager's trainings, still being filled in.
        other = db.session.execute(
            sa.select(Dossier.id).join(Formation, Dossier.formation_id == Formation.id)
            .join(Formation.responsables).where(User.email == RESP,
                                                Dossier.state == "en_saisie")
            .order_by(Dossier.id)).scalars().first()
        assert other is not None
    client = login(RESP)
    response = client.post("/admin/dossier/action/", data={
        "action": "valider_formation", "rowid": [str(dossier), str(other)],
        "csrf_token": csrf(client)})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"n° {dossier}" in page and f"Dossier n° {other} refusé" in page
    assert _snapshot(app, dossier)[0] == "valide_formation"
    with app.app_context():
        assert db.session.get(Dossier, other).state == "en_saisie"
    # A gestionnaire does not get the action at all.
    gest = login(GEST)
    _set_state(app, dossier, "validation_demandee")
    gest.post("/admin/dossier/action/", data={"action": "valider_formation",
                                              "rowid": [str(dossier)], "csrf_token": csrf(gest)})
    assert _snapshot(app, dossier)[0] == "validation_demandee"


def test_documents_cannot_be_validated_before_both_signed_returns(app, login, dossier):
    _set_state(app, dossier, "documents_retournes")
    client = login(CONSEIL)
    before = _snapshot(app, dossier)
    response = _post(client, dossier, "valider_documents")
    assert _snapshot(app, dossier) == before
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Il manque le CERFA signé et la convention signée." in page
