"""Guards the rest of the suite did not notice (issue 11), each knocked on through its door:

- "Valider les éléments économiques" needs the training's price, and the employer's billing
  data when the contract is a professionalisation one, the employer public (type 21–30) or
  from Monaco (transition POST and list action);
- "Déclarer une rupture" needs a rupture date between the contract's start and today
  (portal.rules.rupture, a table; then the transition POST);
- the lock covers every part of the dossier (Contrat among them): a change to a part of a
  locked dossier, made in a request by a person the lock applies to, is refused at flush;
- the establishment form re-checks the scope after the form populated the row: a forged
  structure id changes nothing.

Every dossier here is made by the write path (portal.dossiers.service.create_dossier) on an
establishment of its own (fresh SIRET); its state is then set directly, as seed data would be.
After each refused POST the database is read again: nothing changed.
"""
from __future__ import annotations

import html
import random
import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from stdnum import luhn

from portal.extensions import db
from portal.models import (EMPLOYEUR, FORMATION_RESPONSABLE, Apprenti, Contrat, Dossier,
                           DossierHistory, Etablissement, Formation, MaitreApprentissage,
                           Mission, OutboxEmail, PeriodeRemuneration, RepresentantLegal,
                           Structure, StructureMembership, User, UserRole, utcnow)
from portal.rules.rupture import rupture_date_problem
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf, csrf_from

ADMIN, CONSEIL = "admin@sillon.demo", "conseil@sillon.demo"
ALICE, ACME = "alice@etu.sillon.demo", "rh@acme.sillon.demo"
TRAINING = "Licence professionnelle Métiers de l'informatique"
START, END = date(2026, 9, 1), date(2028, 8, 31)
BILLING_MISSING = "Les informations de facturation de l'employeur sont obligatoires ici."
NO_PRICE = "Le prix de la formation (NPEC) n'est pas renseigné sur la formation."
_rng = random.Random()


# --- building what the tests act on -------------------------------------------------------------

def _uid(email: str) -> int:
    return db.session.execute(sa.select(User.id).where(User.email == email)).scalar_one()


def _fresh_siret() -> str:
    while True:
        body = f"{_rng.randrange(10 ** 7, 10 ** 8)}"
        siren = body + luhn.calc_check_digit(body)
        head = siren + f"{_rng.randrange(1, 10 ** 4):04d}"
        if not db.session.execute(sa.select(Structure.id).where(Structure.siren == siren)).first():
            return head + luhn.calc_check_digit(head)


@pytest.fixture()
def made(app):
    """Factories for structures, people and dossiers, all removed after the test."""
    dossiers, structures, users, copies = [], [], [], []

    def structure(referent: str | None = None, **etab_fields) -> tuple[int, int]:
        with app.app_context():
            siret = _fresh_siret()
            row = Structure(siren=siret[:9], raison_sociale=f"Garde {siret[:9]} SAS")
            etab = Etablissement(structure=row, siret=siret, denomination=row.raison_sociale,
                                 **{"type_employeur": "11", **etab_fields})
            db.session.add_all([row, etab])
            if referent:
                row.referent_id = _uid(referent)
                db.session.add(StructureMembership(
                    structure=row, user_id=row.referent_id, status=StructureMembership.APPROUVE,
                    droit_contact_employeur=True, droit_beneficiaire=True))
            db.session.commit()
            structures.append(row.id)
            return row.id, etab.id

    def user(*roles: str) -> str:
        email = f"garde-{uuid.uuid4().hex[:8]}@test.sillon.demo"
        with app.app_context():
            row = User(email=email, first_name="Camille", last_name="Garde", active=True,
                       rgpd_version=app.config["RGPD_TERMS_VERSION"], rgpd_accepted_at=utcnow())
            row.set_password("sillon-demo")
            row.roles = [UserRole(role=r) for r in roles]
            db.session.add(row)
            db.session.commit()
            users.append(row.id)
        return email

    def dossier(state: str, *, dispositif: str = "apprentissage", start: date = START,
                **etab_fields) -> int:
        _, etab_id = structure(ACME, **etab_fields)
        from portal.dossiers.service import create_dossier
        with app.app_context():
            formation = training_copy(db.session.execute(sa.select(Formation).where(
                Formation.intitule == TRAINING)).scalars().first(), copies)
            row = create_dossier(formation, {
                "dispositif": dispositif, "apprenti_nom": "Garde", "apprenti_prenom": "Test",
                "apprenti_email": ALICE, "employeur_contact_email": ACME,
                "date_debut_contrat": start, "date_fin_contrat": END},
                by=db.session.get(User, _uid(ADMIN)), source="create_form",
                etablissement=db.session.get(Etablissement, etab_id))
            db.session.flush()
            row.state = state  # as seed data would be: the test starts in this state
            db.session.commit()
            dossiers.append(row.id)
            return row.id

    yield type("Made", (), {"structure": staticmethod(structure), "user": staticmethod(user),
                            "dossier": staticmethod(dossier)})
    with app.app_context():
        for pk in dossiers:
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
            row = db.session.get(Dossier, pk)
            if row is not None:
                db.session.delete(row)
        db.session.flush()
        for pk in structures:
            db.session.execute(sa.delete(StructureMembership).where(
                StructureMembership.structure_id == pk))
            db.session.execute(sa.delete(Etablissement).where(Etablissement.structure_id == pk))
            db.session.execute(sa.delete(Structure).where(Structure.id == pk))
        for pk in users:
            db.session.execute(sa.delete(UserRole).where(UserRole.user_id == pk))
            db.session.execute(sa.delete(User).where(User.id == pk))
        db.session.commit()
    drop_training_copies(app, copies)


def _snapshot(app, pk: int) -> tuple:
    """What a refused transition must leave as it was."""
    with app.app_context():
        row = db.session.get(Dossier, pk)
        return (row.state, row.version, row.economie_validee_at, row.rupture_date,
                row.rupture_cause,
                db.session.scalar(sa.select(sa.func.count()).select_from(DossierHistory)
                                  .where(DossierHistory.dossier_id == pk)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)
                                  .where(OutboxEmail.dossier_id == pk)))


def _transition(client, pk: int, code: str, **form) -> str:
    """POST the transition with the CSRF token; the page it leads to, unescaped."""
    response = client.post(f"/admin/dossier/{pk}/transition/{code}/",
                           data=dict(form, csrf_token=csrf(client), confirmation="oui"))
    assert response.status_code == 302, response.status_code
    return html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _set_etab(app, pk: int, **values) -> None:
    with app.app_context():
        etab = db.session.get(Dossier, pk).etablissement
        for name, value in values.items():
            setattr(etab, name, value)
        db.session.commit()


# --- valider_economie: billing data and the training's price -------------------------------------

# (dispositif, type d'employeur, Monaco) → billing data required (SPEC §2).
BILLING_CASES = [
    ("professionnalisation", "11", False, True),
    ("apprentissage", "21", False, True),
    ("apprentissage", "26", False, True),
    ("apprentissage", "30", False, True),
    ("apprentissage", "11", True, True),
    ("apprentissage", "16", False, False),
    ("apprentissage", "11", False, False),
]


@pytest.mark.parametrize("dispositif,kind,monaco,required", BILLING_CASES)
def test_economic_validation_needs_billing_data_when_required(app, login, made, dispositif,
                                                              kind, monaco, required):
    pk = made.dossier("valide_formation", dispositif=dispositif, type_employeur=kind,
                      monaco=monaco)
    client = login(CONSEIL)
    if required:
        # Nothing, then half of it: refused both times, nothing changed.
        for billing in ({}, {"facturation_raison_sociale": "Ville de Lattes – Finances"}):
            _set_etab(app, pk, **billing)
            before = _snapshot(app, pk)
            page = _transition(client, pk, "valider_economie")
            assert BILLING_MISSING in page
            assert _snapshot(app, pk) == before, (dispositif, kind, monaco, billing)
        _set_etab(app, pk, facturation_adresse="Place de la Mairie, 34970 Lattes")
    page = _transition(client, pk, "valider_economie")
    assert BILLING_MISSING not in page
    after = _snapshot(app, pk)
    assert after[0] == "economie_validee" and after[2] is not None


def test_economic_validation_needs_the_training_price(app, login, made):
    pk = made.dossier("valide_formation")
    other = made.dossier("valide_formation")
    with app.app_context():  # each dossier of Alice is in a training of its own
        formations = [db.session.get(Dossier, d).formation for d in (pk, other)]
        saved = [(formation.id, formation.prix) for formation in formations]
        for formation in formations:
            formation.prix = None
        db.session.commit()
    try:
        client = login(CONSEIL)
        before = _snapshot(app, pk)
        page = _transition(client, pk, "valider_economie")
        assert NO_PRICE in page
        assert _snapshot(app, pk) == before
        # The list action runs the same guard for each selected dossier.
        before_other = _snapshot(app, other)
        response = client.post("/admin/dossier/action/", data={
            "action": "valider_economie", "rowid": [str(pk), str(other)],
            "csrf_token": csrf(client)})
        assert response.status_code == 302
        page = html.unescape(client.get(response.headers["Location"]).get_data(as_text=True))
        assert f"Dossier n° {pk} refusé : {NO_PRICE}" in page
        assert f"Dossier n° {other} refusé : {NO_PRICE}" in page
        assert _snapshot(app, pk) == before and _snapshot(app, other) == before_other
    finally:
        with app.app_context():
            for formation_id, price in saved:
                db.session.get(Formation, formation_id).prix = price
            db.session.commit()
    assert all(price is not None and price > Decimal("0") for _, price in saved)
    _transition(login(CONSEIL), pk, "valider_economie")
    assert _snapshot(app, pk)[0] == "economie_validee"


# --- rompre: the rupture date ---------------------------------------------------------------------

TODAY = date(2026, 12, 1)
RUPTURE_TABLE = [
    # (start, rupture, end) → a part of the refusal, or None when accepted
    (START, START, END, None),
    (START, TODAY, END, None),
    (START, date(2026, 10, 15), None, None),
    (START, START - timedelta(days=1), END, "ne peut pas précéder le début d'exécution du "
                                            "contrat (01/09/2026)"),
    (START, date(2025, 1, 10), END, "La date de la rupture (10/01/2025)"),
    (START, TODAY + timedelta(days=1), END, "est dans le futur"),
    (START, date(2027, 3, 1), END, "au plus tard aujourd'hui, 01/12/2026"),
    (date(2025, 9, 1), date(2026, 9, 1), date(2026, 8, 31), "postérieure à la fin du contrat "
                                                            "(31/08/2026)"),
    (date(2025, 9, 1), date(2026, 8, 31), date(2026, 8, 31), None),
    (START, None, END, "Indiquez la date de la rupture"),
    (None, TODAY, END, "qu'après le début d'exécution du contrat"),
    (TODAY + timedelta(days=1), TODAY, None, "qu'après le début d'exécution du contrat"),
]


@pytest.mark.parametrize("start,rupture,end,expected", RUPTURE_TABLE,
                         ids=[f"{s}-{r}-{e}" for s, r, e, _ in RUPTURE_TABLE])
def test_rupture_date_rule(start, rupture, end, expected):
    problem = rupture_date_problem(start, rupture, TODAY, end)
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


@pytest.mark.parametrize("account", [ACME, CONSEIL])
def test_rupture_before_the_contract_start_or_in_the_future_is_refused(app, login, made,
                                                                       account):
    """Through the transition POST: a rupture dated before the start of the contract, or after
    today, is refused with the rule's message and nothing changes; the start itself is fine."""
    pk = made.dossier("envoye_opco")
    client = login(account)
    today = date.today()
    for rupture, start in ((START - timedelta(days=1), START),
                           (date(2020, 1, 6), START),
                           (today + timedelta(days=1), START)):
        expected = rupture_date_problem(start, rupture, today, END)
        before = _snapshot(app, pk)
        page = _transition(client, pk, "rompre", comment="Rupture d'un commun accord",
                           rupture_date=rupture.isoformat())
        assert expected in page, rupture
        assert _snapshot(app, pk) == before, rupture
    _transition(client, pk, "rompre", comment="Rupture d'un commun accord",
                rupture_date=START.isoformat())
    after = _snapshot(app, pk)
    assert (after[0], after[3]) == ("rompu", START)


# --- the lock covers every part of a dossier -----------------------------------------------------

def _add_parts(app, pk: int) -> None:
    """One row of each part (as seed data would be: no request, nothing checked)."""
    with app.app_context():
        row = db.session.get(Dossier, pk)
        db.session.add_all([
            Apprenti(dossier=row, nom_naissance="Garde", commune="Montpellier"),
            RepresentantLegal(dossier=row, nom="Garde", commune="Montpellier"),
            MaitreApprentissage(dossier=row, rang=1, nom_naissance="Delmas",
                                emploi_occupe="Développeuse"),
            Contrat(dossier=row, type_contrat="11", duree_hebdo_heures=35),
            PeriodeRemuneration(dossier=row, rang=1, annee_contrat=1, date_debut=START,
                                date_fin=END, pourcentage=Decimal("53"),
                                montant_mensuel=Decimal("955.00"),
                                pourcentage_minimum=Decimal("53"),
                                montant_minimum=Decimal("955.00")),
            Mission(dossier=row, description="Développer l'outil de suivi."),
        ])
        db.session.commit()


# Each part of the dossier, and one column a tab would change on it.
PART_CHANGES = [
    (Apprenti, "commune", "Sète"),
    (RepresentantLegal, "commune", "Sète"),
    (MaitreApprentissage, "emploi_occupe", "Directrice technique"),
    (Contrat, "duree_hebdo_heures", 20),
    (PeriodeRemuneration, "montant_mensuel", Decimal("1200.00")),
    (Mission, "description", "Une autre mission."),
]


def _part_values(app, pk: int) -> dict:
    with app.app_context():
        return {model.__name__: sorted(
            tuple(getattr(r, c.key) for c in model.__table__.columns)
            for r in db.session.scalars(sa.select(model).where(model.dossier_id == pk)))
            for model, _, _ in PART_CHANGES}


def _flush_as(app, email: str, pk: int, change) -> Exception | None:
    """Apply ``change(session, dossier_id)`` in a request of ``email`` and flush; the
    exception the flush raised (nothing is ever committed)."""
    from flask_login import login_user
    with app.test_request_context("/admin/"):
        login_user(db.session.get(User, _uid(email)))
        try:
            change(db.session, pk)
            db.session.flush()
        except Exception as exc:  # noqa: BLE001 - the test looks at which one
            return exc
        finally:
            db.session.rollback()
    return None


def _modify(model, column, value):
    def change(session, pk):
        row = session.scalars(sa.select(model).where(model.dossier_id == pk)).first()
        setattr(row, column, value)
    return change


def _remove(model):
    def change(session, pk):
        session.delete(session.scalars(sa.select(model).where(model.dossier_id == pk)).first())
    return change


def _add_second(model):
    def change(session, pk):
        dossier = session.get(Dossier, pk)
        if model is MaitreApprentissage:
            session.add(MaitreApprentissage(dossier=dossier, rang=2, nom_naissance="Durand"))
        else:
            session.add(PeriodeRemuneration(
                dossier=dossier, rang=2, annee_contrat=2, date_debut=END, date_fin=END,
                pourcentage=Decimal("61"), montant_mensuel=Decimal("1100.00"),
                pourcentage_minimum=Decimal("61"), montant_minimum=Decimal("1100.00")))
    return change


CHANGES = ([(f"modify {m.__name__}", _modify(m, c, v)) for m, c, v in PART_CHANGES]
           + [(f"delete {m.__name__}", _remove(m)) for m, _, _ in PART_CHANGES]
           + [(f"add {m.__name__}", _add_second(m))
              for m in (MaitreApprentissage, PeriodeRemuneration)])


@pytest.mark.parametrize("label,change", CHANGES, ids=[label for label, _ in CHANGES])
def test_every_part_of_a_locked_dossier_is_locked(app, made, label, change):
    from portal.dossiers.locking import DossierLocked
    locked = made.dossier("valide_formation")
    for_parties = made.dossier("validation_demandee")
    open_ = made.dossier("en_saisie")
    for pk in (locked, for_parties, open_):
        _add_parts(app, pk)
    # Locked for everyone in valide_formation (the CFA's economic exception is a Dossier
    # column, never a part); locked for the parties from validation_demandee.
    for email, pk, message in ((ACME, locked, "verrouillé"), (CONSEIL, locked, "verrouillé"),
                               (ACME, for_parties, "La validation a été demandée")):
        before = _part_values(app, pk)
        refused = _flush_as(app, email, pk, change)
        assert isinstance(refused, DossierLocked), (label, email, refused)
        assert message in str(refused)
        assert _part_values(app, pk) == before
    # The same change on an open dossier goes through (the test can tell both apart).
    assert _flush_as(app, ACME, open_, change) is None, label
    assert _flush_as(app, CONSEIL, for_parties, change) is None, label


# --- the establishment form: the scope is checked again after the form populated the row -------

def _etab_form(app, etab_id: int, structure_id: int) -> dict:
    """Every field of the establishment's edit form with its stored value, and the structure
    select forged to ``structure_id``."""
    with app.app_context():
        etab = db.session.get(Etablissement, etab_id)
        data = {name: getattr(etab, name) or "" for name in (
            "siret", "denomination", "adresse_numero", "adresse_voie", "adresse_complement",
            "code_postal", "commune", "telephone", "email", "type_employeur",
            "employeur_specifique", "naf", "effectif", "idcc", "opco_code",
            "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
            "facturation_commune", "facturation_email", "facturation_siret",
            "facturation_reference")}
    data["structure"] = str(structure_id)
    return {k: str(v) for k, v in data.items()}


def _etab_row(app, etab_id: int) -> tuple:
    with app.app_context():
        etab = db.session.get(Etablissement, etab_id)
        return tuple(getattr(etab, c.key) for c in Etablissement.__table__.columns)


def test_forged_structure_on_the_establishment_form_changes_nothing(app, login, made):
    """An employer (référent), and one who also manages a training (whose "main role" is not
    employeur), post another structure's id with their establishment: it stays where it was.
    Three layers stand in the way: the employer's form has no structure field, the select
    only offers structures in scope, and on_model_change re-checks the scope (tested alone
    below, since the first two hide it on this door)."""
    other_structure, _ = made.structure()  # a structure the employer has nothing to do with
    _, etab_id = made.structure(ACME)
    two_roles = made.user(EMPLOYEUR, FORMATION_RESPONSABLE)
    _, etab2_id = made.structure(two_roles)
    for email, pk in ((ACME, etab_id), (two_roles, etab2_id)):
        client = login(email)
        url = f"/admin/etablissement/edit/?id={pk}"
        page = client.get(url)
        assert page.status_code == 200, email
        assert 'name="structure"' not in page.get_data(as_text=True), email
        before = _etab_row(app, pk)
        response = client.post(url, data=dict(_etab_form(app, pk, other_structure),
                                              csrf_token=csrf_from(page.get_data(as_text=True))))
        assert response.status_code in (200, 302)
        assert _etab_row(app, pk) == before, email
        with app.app_context():
            assert db.session.get(Etablissement, pk).structure_id != other_structure


def test_scope_is_checked_again_once_the_form_populated_the_row(app, made):
    """SecureModelView.on_model_change: an establishment re-pointed to a structure outside the
    person's scope (whatever let the value through) is refused, in French, before commit."""
    from flask_login import login_user
    other_structure, _ = made.structure()
    mine, etab_id = made.structure(ACME)
    view = next(v for v in app.extensions["admin"][0]._views
                if getattr(v, "model", None) is Etablissement)
    with app.test_request_context("/admin/etablissement/edit/"):
        login_user(db.session.get(User, _uid(ACME)))
        etab = db.session.get(Etablissement, etab_id)
        etab.telephone = "0400000000"
        view.on_model_change(None, etab, False)  # in scope: accepted
        etab.structure_id = other_structure
        with pytest.raises(PermissionError) as refused:
            view.on_model_change(None, etab, False)
        assert "qui n'est pas le vôtre" in str(refused.value)
        db.session.rollback()
    with app.app_context():
        row = db.session.get(Etablissement, etab_id)
        assert (row.structure_id, row.telephone) == (mine, None)
