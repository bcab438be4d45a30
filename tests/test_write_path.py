"""The one write path, as a table: (who, state, door, changes) → the history entries written,
the e-mails queued, the new state and version — or the French refusal, with nothing written.

Each case runs portal.dossiers.service.apply_changes on a fresh dossier (training of
resp.info, establishment of ACME, apprentice alice, employer contact rh@acme) inside a request
as that person, then reads the database back in a fresh session.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa
from flask_login import login_user

from portal.dossiers import service, tabs
from portal.extensions import db
from portal.models import (Dossier, DossierHistory, Etablissement, Formation, OutboxEmail,
                           User)
from tests.support.trainings import drop_training_copies, training_copy

ALICE, ACME, GLOBEX = "alice@etu.sillon.demo", "rh@acme.sillon.demo", "rh@globex.sillon.demo"
RESP, GEST, ADMIN, CONSEIL = ("resp.info@sillon.demo", "gest.info@sillon.demo",
                              "admin@sillon.demo", "conseil@sillon.demo")
NEW_CONTACT = "nouveau.contact.{tag}@exemple-test.fr"
REFUSED = "refusé"


@pytest.fixture()
def fresh(app):
    """A dossier of the demo's owners, removed afterwards with what it queued."""
    created, copies = [], []

    def make(state, *, contact=True):
        with app.app_context():
            def uid(email):
                return db.session.execute(sa.select(User.id).where(User.email == email)
                                          ).scalar_one()
            # A copy of the training: the demo apprentice already has an open dossier in it.
            formation = training_copy(db.session.execute(
                sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
                .where(Formation.mode_validation == "manuelle")
                .order_by(Formation.id)).scalars().first(), copies)
            etab = db.session.execute(
                sa.select(Etablissement).join(Dossier, Dossier.etablissement_id ==
                                              Etablissement.id)
                .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
            row = Dossier(formation=formation, apprentice_user_id=uid(ALICE), state=state,
                          employer_contact_id=uid(ACME) if contact else None,
                          employeur_contact_email=ACME if contact else None,
                          etablissement=etab, apprenti_email=ALICE, apprenti_nom="Chemin",
                          apprenti_prenom="Écriture", niveau_saisie="complete",
                          dispositif="apprentissage", date_debut_contrat=date(2026, 9, 1),
                          date_fin_contrat=date(2028, 8, 31),
                          cfa_conseiller_id=formation.conseiller_cfa_id)
            db.session.add(row)
            db.session.commit()
            created.append(row.id)
            return row.id
    yield make
    with app.app_context():
        for pk in created:
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
            obj = db.session.get(Dossier, pk)
            if obj is not None:
                db.session.delete(obj)
        db.session.commit()
    drop_training_copies(app, copies)


@contextmanager
def acting(app, email):
    """A request of ``email`` (the lock and the policy read the person from it)."""
    with app.test_request_context("/admin/"):
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        login_user(user)
        yield user
        db.session.rollback()


def observe(app, pk) -> dict:
    with app.app_context():
        db.session.expire_all()
        row = db.session.get(Dossier, pk)
        fields = [h.field for h in db.session.scalars(
            sa.select(DossierHistory).where(DossierHistory.dossier_id == pk,
                                            DossierHistory.kind == "field")
            .order_by(DossierHistory.id))]
        moves = [(h.from_state, h.to_state) for h in db.session.scalars(
            sa.select(DossierHistory).where(DossierHistory.dossier_id == pk,
                                            DossierHistory.kind == "transition")
            .order_by(DossierHistory.id))]
        mails = sorted(e.recipients for e in db.session.scalars(
            sa.select(OutboxEmail).where(OutboxEmail.dossier_id == pk)))
        columns = {c.name: getattr(row, c.name) for c in Dossier.__table__.columns}
        return {"state": row.state, "version": row.version, "fields": fields, "moves": moves,
                "mails": mails, "row": columns}


def other_advisor(app, pk):
    with app.app_context():
        current = db.session.get(Dossier, pk).cfa_conseiller_id
        staff = db.session.scalars(sa.select(User.id).where(User.email.in_((CONSEIL, ADMIN))))
        return next(pk for pk in staff if pk != current)


# who, state, door (tab code or a door of its own), changes, expected:
#   REFUSED with the words of the French message, or
#   (history field labels, e-mail recipients, state after)
CASES = [
    # The training writes Données de base in entry; the dossier moves along the entry states.
    (RESP, "initialise", "base", {"apprenti_nom": "Nouveau"},
     (["Données de base – Nom de l'alternant·e"], [], "en_saisie")),
    (GEST, "en_saisie", "base", {"apprenti_prenom": "Aïcha"},
     (["Données de base – Prénom de l'alternant·e"], [], "en_saisie")),
    # The employer contact is set by the training or the CFA: the new person is invited.
    (RESP, "en_saisie", "base", {"employeur_contact_email": NEW_CONTACT},
     (["Données de base – E-mail du contact employeur"], [NEW_CONTACT], "en_saisie")),
    (ADMIN, "a_corriger", "base", {"employeur_contact_email": NEW_CONTACT},
     (["Données de base – E-mail du contact employeur"], [NEW_CONTACT], "a_corriger")),
    # …never by the employer or the apprentice, whatever the door.
    (ACME, "en_saisie", "base", {"employeur_contact_email": NEW_CONTACT},
     (REFUSED, "contact employeur du dossier est désigné par la formation")),
    (ACME, "en_saisie", "base", {"apprenti_email": NEW_CONTACT},
     (REFUSED, "L'e-mail de l'alternant·e est modifié par la formation ou le CFA")),
    (ALICE, "en_saisie", "alternant", {"apprenti_email": NEW_CONTACT},
     (REFUSED, "L'e-mail de l'alternant·e est modifié par la formation ou le CFA")),
    (ALICE, "en_saisie", "employer_found", {"employeur_contact_email": NEW_CONTACT},
     (REFUSED, "Le contact employeur est déjà renseigné")),
    # A tab is filled by the roles SPEC §2 names, on this dossier.
    (ALICE, "en_saisie", "base", {"apprenti_nom": "Changé"},
     (REFUSED, "Cet onglet est rempli par la formation, l'employeur ou le CFA")),
    (ACME, "en_saisie", "base", {"apprenti_nom": "Changé"},
     (["Données de base – Nom de l'alternant·e"], [], "en_saisie")),
    (GLOBEX, "en_saisie", "base", {"apprenti_nom": "Changé"},
     (REFUSED, "n'existe pas ou ne vous est pas accessible")),
    # From validation_demandee the parties can no longer change it; from valide_formation
    # nobody can, except the CFA contact, which the table leaves to CFA staff.
    (ACME, "validation_demandee", "base", {"apprenti_nom": "Changé"},
     (REFUSED, "La validation a été demandée")),
    (RESP, "validation_demandee", "base", {"apprenti_nom": "Changé"},
     (["Données de base – Nom de l'alternant·e"], [], "validation_demandee")),
    (RESP, "valide_formation", "base", {"apprenti_nom": "Changé"},
     (REFUSED, "Le dossier est verrouillé")),
    (CONSEIL, "valide_formation", "conseiller", {"cfa_conseiller_id": "other advisor"},
     (["Suivi – Info – Contact au CFA"], [], "valide_formation")),
    (CONSEIL, "economie_validee", "conseiller", {"cfa_conseiller_id": "other advisor"},
     (REFUSED, "Le dossier est verrouillé")),
    (RESP, "en_saisie", "conseiller", {"cfa_conseiller_id": "other advisor"},
     (REFUSED, "Le contact au CFA est choisi par l'équipe du CFA")),
    # Nothing outside the tabs' fields is writable: no door sets a state or a stamp.
    (ADMIN, "en_saisie", None, {"state": "envoye_opco"},
     (REFUSED, "Ce champ ne se modifie pas")),
    (ADMIN, "en_saisie", "conseiller", {"apprenti_nom": "Changé"},
     (REFUSED, "Ce champ ne se renseigne pas ici")),
]


def _resolve(app, pk, changes, tag):
    out = {}
    for key, value in changes.items():
        if value == "other advisor":
            value = other_advisor(app, pk)
        elif isinstance(value, str):
            value = value.format(tag=tag)
        out[key] = value
    return out


@pytest.mark.parametrize("who,state,door,changes,expected", CASES,
                         ids=[f"{c[0].split('@')[0]}-{c[1]}-{c[2]}-{'-'.join(c[3])}"
                              for c in CASES])
def test_write_path(app, fresh, who, state, door, changes, expected):
    tag = uuid.uuid4().hex[:8]
    pk = fresh(state, contact=not (door == "employer_found" and expected[0] != REFUSED))
    changes = _resolve(app, pk, changes, tag)
    before = observe(app, pk)
    refusal = None
    with acting(app, who) as user:
        dossier = db.session.get(Dossier, pk)
        tab = tabs.get_tab(door) if door in tabs.TAB_BY_CODE else None
        source = "tab" if tab is not None else (door or "tab")
        try:
            service.apply_changes(dossier, changes, by=user, source=source, tab=tab)
        except service.WriteRefused as exc:
            refusal = str(exc) + " " + " ".join(exc.errors.values())
    after = observe(app, pk)
    if expected[0] == REFUSED:
        assert refusal is not None, "the change went through"
        assert expected[1] in refusal
        assert after == before  # nothing written: row, history, e-mails
        return
    assert refusal is None, refusal
    fields, mails, state_after = expected
    assert after["fields"][len(before["fields"]):] == fields
    assert after["mails"] == sorted(before["mails"] + [m.format(tag=tag) for m in mails])
    assert after["state"] == state_after
    if state_after != state:
        # One more version for the automatic transition the change brought.
        assert after["moves"][len(before["moves"]):] == [(state, state_after)]
        assert after["version"] == before["version"] + 2
    else:
        assert after["version"] == before["version"] + 1
    for key, value in changes.items():
        assert after["row"].get(key, value) == value


def test_a_stale_version_is_refused_and_nothing_changes(app, fresh):
    pk = fresh("en_saisie")
    before = observe(app, pk)
    with acting(app, RESP) as user:
        dossier = db.session.get(Dossier, pk)
        with pytest.raises(service.Stale) as caught:
            service.apply_changes(dossier, {"apprenti_nom": "Tard"}, by=user, source="tab",
                                  tab=tabs.get_tab("base"), version=dossier.version - 1)
    assert "modifié par une autre personne" in str(caught.value)
    assert observe(app, pk) == before


def test_a_blocking_anomaly_refuses_the_whole_change(app, fresh):
    pk = fresh("en_saisie")
    before = observe(app, pk)
    base = tabs.get_tab("base")
    with acting(app, RESP) as user:
        dossier = db.session.get(Dossier, pk)
        with pytest.raises(service.WriteRefused) as caught:
            service.apply_changes(
                dossier, {"apprenti_nom": "Valide", "date_fin_contrat": date(2025, 1, 1)},
                by=user, source="tab", tab=base,
                findings=lambda d, ch: tabs.blocking_findings(base, d, ch))
    assert caught.value.errors["date_fin_contrat"] == \
        "La fin du contrat doit être postérieure à son début."
    assert observe(app, pk) == before


def test_history_prints_values_with_one_formatter(app, fresh):
    pk = fresh("en_saisie")
    with acting(app, RESP) as user:
        dossier = db.session.get(Dossier, pk)
        service.apply_changes(dossier, {"date_debut_contrat": date(2026, 9, 15)}, by=user,
                              source="tab", tab=tabs.get_tab("base"))
    with app.app_context():
        entry = db.session.scalars(sa.select(DossierHistory).where(
            DossierHistory.dossier_id == pk, DossierHistory.kind == "field")).one()
        assert (entry.old_value, entry.new_value) == ("01/09/2026", "15/09/2026")


def test_a_blank_field_is_stored_as_null(app, fresh):
    pk = fresh("en_saisie")
    with app.app_context():
        db.session.get(Dossier, pk).employeur_siret = "73282932000074"
        db.session.commit()
    with acting(app, RESP) as user:
        dossier = db.session.get(Dossier, pk)
        service.apply_changes(dossier, {"employeur_siret": "   "}, by=user, source="tab",
                              tab=tabs.get_tab("base"))
    assert observe(app, pk)["row"]["employeur_siret"] is None


def test_the_same_transition_twice_at_once_applies_once(app, fresh):
    """Two people validate the same dossier at the same time: the second, working on the
    version it read, is told in French that it was done meanwhile; one history entry."""
    pk = fresh("validation_demandee")
    with app.app_context():  # a session of its own: the first person's request
        with acting(app, ADMIN) as first:
            stale = db.session.get(Dossier, pk)
            assert stale.state == "validation_demandee"
            with app.app_context():  # the second person's request, done in between
                with acting(app, RESP) as second:
                    service.run_transition("valider_formation", db.session.get(Dossier, pk),
                                           second)
            with pytest.raises(service.TransitionRefused) as caught:
                service.run_transition("valider_formation", stale, first)
    assert "modifié par une autre personne" in str(caught.value)
    seen = observe(app, pk)
    assert seen["state"] == "valide_formation"
    assert seen["moves"].count(("validation_demandee", "valide_formation")) == 1
