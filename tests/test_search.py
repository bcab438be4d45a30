"""The dossier list's search on the folded search columns (issue 16 §2), through HTTP on
/admin/dossier/?search=…: each searched value finds its dossier, accents and case ignored both
ways, a renamed establishment / structure and a changed OPCO number found by their new value
only, dossiers written by each door (the service, the import's write path, a Core insert)
found, the scope kept; the indexes the search uses (SQLite's plan, PostgreSQL's EXPLAIN).

Each test works on a training, structure and establishment of its own (tests/test_import.py's
fixture helpers) with names unique to the test; what a test changes in the demo data it puts
back."""
from __future__ import annotations

import random
import string
from datetime import date

import pytest
import sqlalchemy as sa

from portal import policy
from portal.extensions import db
from portal.models import Dossier, Etablissement, PriseEnCharge, Structure, User
from portal.rules.search import search_text
from tests.test_dossier_list import listed
from tests.test_import import _drop_training, _make_training

ADMIN = "admin@sillon.demo"
MANAGER = "resp.info@sillon.demo"
EMPLOYERS = ("rh@acme.sillon.demo", "rh@globex.sillon.demo")


@pytest.fixture(scope="module")
def clients(app):
    """One logged-in client per account for the module (a login costs a password hash)."""
    from tests.support.web import login as log_in
    out = {}
    for email in (ADMIN, MANAGER, *EMPLOYERS):
        client = app.test_client()
        assert log_in(client, email).status_code == 302
        out[email] = client
    return out


def _user(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _tag() -> str:
    return "".join(random.choices(string.ascii_lowercase, k=7))


@pytest.fixture()
def world(app):
    """A training of its own with a structure « Société d'Œuvres<tag> », its establishment
    « Boulangerie Dupré<tag> » and one dossier created through the dossier service:
    Lefèvre<tag> Hélène<tag>, h.lefevre.<tag>@exemple.fr, the establishment's SIRET."""
    info = _make_training(app)
    tag = _tag()
    from portal.dossiers import service
    from portal.models import Formation
    with app.app_context():
        site = db.session.get(Etablissement, info["site_id"])
        site.denomination = f"Boulangerie Dupré{tag}"
        site.structure.raison_sociale = f"Société d'Œuvres{tag}"
        db.session.commit()
        formation = db.session.get(Formation, info["id"])
        dossier = service.create_dossier(formation, {
            "apprenti_nom": f"Lefèvre{tag}", "apprenti_prenom": f"Hélène{tag}",
            "apprenti_email": f"h.lefevre.{tag}@{info['domain']}",
            "employeur_siret": info["siret"], "date_debut_contrat": date(2026, 9, 1),
            "date_fin_contrat": date(2028, 8, 31)},
            by=_user(MANAGER), source="create_form", etablissement=site, invite=False)
        db.session.commit()
        info.update(tag=tag, dossier_id=dossier.id)
    yield info
    _drop_training(app, info)


def found(clients, term: str, email: str = ADMIN) -> set[int]:
    return listed(clients[email], search=term)[0]


# --- each searched value, accents and case ignored ----------------------------------------------

VALUES = {
    "nom": lambda w: f"Lefèvre{w['tag']}",
    "nom sans accent": lambda w: f"lefevre{w['tag']}",
    "nom en capitales": lambda w: f"LEFEVRE{w['tag'].upper()}",
    "prénom sans accent": lambda w: f"helene{w['tag']}",
    "prénom en capitales accentuées": lambda w: f"HÉLÈNE{w['tag'].upper()}",
    "e-mail": lambda w: f"h.lefevre.{w['tag']}@",
    "e-mail tapé avec un accent": lambda w: f"h.lefèvre.{w['tag']}",
    "employeur": lambda w: f"dupre{w['tag']}",
    "employeur en capitales accentuées": lambda w: f"DUPRÉ{w['tag'].upper()}",
    "raison sociale": lambda w: f"Œuvres{w['tag']}",
    "raison sociale sans ligature": lambda w: f"oeuvres{w['tag']}",
    "SIRET": lambda w: w["siret"],
    "SIRET espacé": lambda w: " ".join([w["siret"][:3], w["siret"][3:6], w["siret"][6:9],
                                        w["siret"][9:]]),
    "nom et prénom": lambda w: f"Hélène{w['tag']} LEFEVRE{w['tag']}",
}


@pytest.mark.parametrize("key", list(VALUES))
def test_each_searched_value_finds_the_dossier(clients, world, key):
    assert found(clients, VALUES[key](world)) == {world["dossier_id"]}


def test_a_term_found_nowhere_finds_nothing(clients, world):
    assert found(clients, f"lefevre{world['tag']}x") == set()
    # Two values are never read as one: the last name followed by the first name.
    assert found(clients, f"lefevre{world['tag']}helene{world['tag']}") == set()


def test_starts_with_and_equals_keep_flask_admin_meaning(clients, world):
    tag = world["tag"]
    assert found(clients, f"^helene{tag[:3]}") == {world["dossier_id"]}  # a value starts so
    assert found(clients, f"^{tag}") == set()                               # none starts so
    assert found(clients, f"=LEFÈVRE{tag.upper()}") == {world["dossier_id"]}
    assert found(clients, f"=lefevre{tag[:-1]}") == set()


# --- the search columns follow every change -----------------------------------------------------

def test_a_renamed_establishment_is_found_by_its_new_name_only(app, clients, world):
    tag = world["tag"]
    with app.app_context():
        db.session.get(Etablissement, world["site_id"]).denomination = f"Pâtisserie Noël{tag}"
        db.session.commit()
    assert found(clients, f"dupre{tag}") == set()
    assert found(clients, f"patisserie noel{tag}") == {world["dossier_id"]}
    assert found(clients, f"NOËL{tag.upper()}") == {world["dossier_id"]}


def test_a_renamed_structure_is_found_by_its_new_name_only(app, clients, world):
    tag = world["tag"]
    with app.app_context():
        db.session.get(Structure, world["structure_id"]).raison_sociale = f"Forêt{tag} SAS"
        db.session.commit()
        stored = db.session.execute(sa.select(Etablissement.recherche).where(
            Etablissement.id == world["site_id"])).scalar_one()
    assert stored == search_text(f"Boulangerie Dupré{tag}", world["siret"], f"Forêt{tag} SAS")
    assert found(clients, f"oeuvres{tag}") == set()
    assert found(clients, f"foret{tag}") == {world["dossier_id"]}


def test_an_establishment_moved_to_another_structure_takes_its_name(app, clients, world):
    tag = world["tag"]
    with app.app_context():
        site = db.session.get(Etablissement, world["site_id"])
        other = Structure(siren="9" + world["siret"][1:9], raison_sociale=f"Groupe Émile{tag}")
        db.session.add(other)
        old = site.structure
        site.structure = other
        db.session.commit()
        try:
            assert found(clients, f"emile{tag}") == {world["dossier_id"]}
            assert found(clients, f"oeuvres{tag}") == set()
        finally:
            site.structure = old
            db.session.delete(other)
            db.session.commit()
    assert found(clients, f"oeuvres{tag}") == {world["dossier_id"]}


def test_an_apprentice_renamed_through_the_service_is_found_by_the_new_name(app, clients,
                                                                            world):
    from portal.dossiers import service, tabs
    tag = world["tag"]
    with app.app_context():
        dossier = db.session.get(Dossier, world["dossier_id"])
        service.apply_changes(dossier, {"apprenti_nom": f"Ñúñez{tag}"}, by=_user(MANAGER),
                              source="tab", tab=tabs.get_tab("base"))
    assert found(clients, f"lefevre{tag}") == set()
    assert found(clients, f"nunez{tag}") == {world["dossier_id"]}
    assert found(clients, f"helene{tag}") == {world["dossier_id"]}


def _open_pec(app) -> tuple[int, int, str]:
    """(prise en charge id, dossier id, number) of a demo prise en charge whose number the CFA
    may still change."""
    from portal.financing.states import STATES
    with app.app_context():
        for pec in db.session.execute(sa.select(PriseEnCharge).where(
                PriseEnCharge.numero_opco.is_not(None)).order_by(PriseEnCharge.id)).scalars():
            if not STATES[pec.state].amounts_locked:
                return pec.id, pec.dossier_id, pec.numero_opco
    raise AssertionError("the demo has an open prise en charge")


def _set_number(app, pec_id: int, number: str) -> None:
    from portal.financing import service
    with app.app_context():
        pec = db.session.get(PriseEnCharge, pec_id)
        service.update(pec, {"numero_opco": number}, by=_user(ADMIN))


def test_a_changed_opco_number_is_found_by_its_new_value_only(app, clients):
    pec_id, dossier_id, old = _open_pec(app)
    assert dossier_id in found(clients, old)
    new = f"OPCO-{_tag().upper()}-2026"
    _set_number(app, pec_id, new)
    try:
        assert dossier_id not in found(clients, old)
        assert found(clients, new) == {dossier_id}
        assert found(clients, new.lower()) == {dossier_id}
    finally:
        _set_number(app, pec_id, old)
    assert dossier_id in found(clients, old)


# --- every door fills the columns ---------------------------------------------------------------

def test_dossiers_of_the_import_are_found(app, clients, world):
    from portal.dossiers import service
    from portal.models import Formation
    tag = world["tag"]
    with app.app_context():
        formation = db.session.get(Formation, world["id"])
        entries = [({"apprenti_nom": f"Ibáñez{tag}", "apprenti_prenom": f"Zoé{tag}",
                     "apprenti_email": f"zoe.{i}.{tag}@{world['domain']}",
                     "date_debut_contrat": date(2026, 9, 1),
                     "date_fin_contrat": date(2028, 8, 31)}, f"Import de test, ligne {i}")
                   for i in range(3)]
        created = service.create_import_rows(formation, entries, by=_user(MANAGER))
        db.session.commit()
        by_email = {d.apprenti_email: d.id for d in created}
    assert len(by_email) == 3
    assert found(clients, f"IBANEZ{tag.upper()}") == set(by_email.values())
    for email, dossier_id in by_email.items():
        assert found(clients, email.split("@")[0]) == {dossier_id}


def test_a_core_insert_fills_the_column_by_its_default(app, clients, world):
    """The synthetic bench data and any bulk insert: ``insert(table)`` naming no search
    column."""
    tag = world["tag"]
    with app.app_context():
        db.session.execute(sa.insert(Dossier.__table__), [{
            "formation_id": world["id"], "state": "initialise", "dispositif": "apprentissage",
            "niveau_saisie": "simple", "apprenti_nom": f"Gómez{tag}", "apprenti_prenom": "Íris",
            "apprenti_email": f"iris.{tag}@{world['domain']}", "version": 1}])
        db.session.commit()
        dossier_id = db.session.execute(sa.select(Dossier.id).where(
            Dossier.apprenti_email == f"iris.{tag}@{world['domain']}")).scalar_one()
    assert found(clients, f"gomez{tag}") == {dossier_id}


def _stored_and_folded() -> list[tuple[str | None, str]]:
    """(stored search column, search_text of the row's values) of every searched row."""
    rows = db.session.execute(sa.select(
        Dossier.recherche, Dossier.apprenti_nom, Dossier.apprenti_prenom,
        Dossier.apprenti_email, Dossier.employeur_siret)).all()
    rows += db.session.execute(sa.select(
        Etablissement.recherche, Etablissement.denomination, Etablissement.siret,
        Structure.raison_sociale).join(Structure)).all()
    rows += db.session.execute(sa.select(PriseEnCharge.recherche,
                                         PriseEnCharge.numero_opco)).all()
    return [(r[0], search_text(*r[1:])) for r in rows]


def test_every_demo_row_has_its_search_text(app):
    """The demo seeds (ORM) wrote what the folding rule gives, on every searched table."""
    with app.app_context():
        pairs = _stored_and_folded()
        counts = [db.session.execute(sa.select(sa.func.count()).select_from(m)).scalar()
                  for m in (Dossier, Etablissement, PriseEnCharge)]
    assert all(counts) and len(pairs) == sum(counts)
    wrong = [(stored, folded) for stored, folded in pairs if stored != folded]
    assert not wrong, wrong[:5]  # (stored, expected) of the first rows whose column is stale


# --- the scope ---------------------------------------------------------------------------------

def _only_in_scope_of(app, owner: str, other: str) -> tuple[int, str, str]:
    """(id, apprentice e-mail, OPCO number) of a dossier ``owner`` sees with a prise en charge
    they see, which ``other`` does not see."""
    with app.app_context():
        mine, theirs = _user(owner), _user(other)
        query = (sa.select(Dossier.id, Dossier.apprenti_email, PriseEnCharge.numero_opco)
                 .join(PriseEnCharge, PriseEnCharge.dossier_id == Dossier.id)
                 .where(policy.row_filter(Dossier, mine), policy.row_filter(PriseEnCharge, mine),
                        PriseEnCharge.numero_opco.is_not(None),
                        ~Dossier.id.in_(sa.select(Dossier.id).where(
                            policy.row_filter(Dossier, theirs))))
                 .order_by(Dossier.id))
        row = db.session.execute(query).first()
    assert row is not None, f"the demo has a financed dossier of {owner} only"
    return tuple(row)


@pytest.mark.parametrize("owner, other", [EMPLOYERS, tuple(reversed(EMPLOYERS))])
def test_an_employer_never_finds_another_employers_apprentice_or_opco_number(
        app, clients, owner, other):
    dossier_id, email, number = _only_in_scope_of(app, owner, other)
    for term in (email, email.upper(), number, number.lower()):
        assert dossier_id in found(clients, term, owner), "the owner finds it"
        assert found(clients, term, other) == set(), f"{other} finds nothing by {term}"


def test_a_training_manager_never_finds_a_dossier_by_its_opco_number(app, clients):
    """The prise en charge is the CFA's and the employer's (portal.policy)."""
    with app.app_context():
        manager = _user(MANAGER)
        row = db.session.execute(
            sa.select(Dossier.id, PriseEnCharge.numero_opco)
            .join(PriseEnCharge, PriseEnCharge.dossier_id == Dossier.id)
            .where(policy.row_filter(Dossier, manager),
                   PriseEnCharge.numero_opco.is_not(None))).first()
    assert row is not None, "the manager sees a financed dossier"
    assert row[0] in found(clients, row[1], ADMIN)
    assert row[0] not in found(clients, row[1], MANAGER)


def test_an_apprentice_never_finds_their_dossier_by_its_opco_number(app):
    """The apprentice sees their dossier, not its prise en charge (portal.policy): the search
    in their own dossiers (not policy.sees_every_dossier) keeps the prise en charge's filter.
    A financed demo dossier is lent to alice@'s account for the test."""
    from tests.support.web import login as log_in
    email = "alice@etu.sillon.demo"
    with app.app_context():
        dossier_id, number, previous = db.session.execute(
            sa.select(Dossier.id, PriseEnCharge.numero_opco, Dossier.apprentice_user_id)
            .join(PriseEnCharge, PriseEnCharge.dossier_id == Dossier.id)
            .where(PriseEnCharge.numero_opco.is_not(None)).order_by(Dossier.id)).first()
        alice = _user(email)
        assert not policy.financing_follows_dossiers(alice)
        db.session.execute(sa.update(Dossier).where(Dossier.id == dossier_id)
                           .values(apprentice_user_id=alice.id))
        db.session.commit()
    try:
        client = app.test_client()
        assert log_in(client, email).status_code == 302
        assert dossier_id in listed(client)[0], "the apprentice sees the dossier"
        assert listed(client, search=number)[0] == set()
        assert listed(client, search=number.lower())[0] == set()
    finally:
        with app.app_context():
            db.session.execute(sa.update(Dossier).where(Dossier.id == dossier_id)
                               .values(apprentice_user_id=previous))
            db.session.commit()


# --- the indexes the search uses ----------------------------------------------------------------

def _search_sql(term: str):
    from portal.dossiers.listing import search_clause
    return sa.select(sa.func.count()).select_from(Dossier).where(
        search_clause(f"%{term}%", _user(ADMIN)))


def test_the_search_reads_the_search_indexes(app, db_backend):
    """PostgreSQL: the trigram (GIN) index of each searched table, with sequential and plain
    index scans discouraged, as on big tables (the demo's are small). SQLite: the dossiers'
    narrow search index is scanned instead of the table."""
    with app.app_context():
        compiled = _search_sql("lefevre").compile(db.engine, compile_kwargs={
            "literal_binds": True})
        with db.engine.connect() as conn:
            if db_backend == "postgresql":
                with conn.begin():
                    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
                    conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
                    plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
                for index in ("ix_dossiers_recherche", "ix_etablissements_recherche",
                              "ix_prises_en_charge_recherche"):
                    assert f"Bitmap Index Scan on {index}" in plan, plan
            else:
                plan = "\n".join(str(r[-1]) for r in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {compiled}"))
                assert "USING COVERING INDEX ix_dossiers_recherche" in plan, plan
        assert "lower(" not in str(compiled).lower() and "cast(" not in str(compiled).lower()


def test_the_models_declare_the_search_columns_and_indexes_the_migration_made(app):
    """Alembic's autogenerate finds nothing about the search columns to migrate (on this
    session's database: SQLite, or PostgreSQL with its GIN indexes)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    with app.app_context(), db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        indexes = {ix["name"]: ix for ix in sa.inspect(conn).get_indexes("dossiers")}
    assert not [d for d in diff if "recherche" in repr(d)]
    assert indexes["ix_dossiers_recherche"]["column_names"] == ["recherche"]


def test_the_migration_back_fills_existing_rows(tmp_path):
    """Rows written before 0008 (here: the demo data with its columns emptied, then 0008
    undone and done again) get their search text from the migration."""
    from flask_migrate import downgrade, upgrade

    from seeds.demo import load_demo
    from seeds.reference import load_reference
    from tests.conftest import make_app
    app = make_app("sqlite:///" + str(tmp_path / "backfill.db"), str(tmp_path / "instance"))
    with app.app_context():
        upgrade()
        load_reference()
        load_demo()
        for model in (Dossier, Etablissement, PriseEnCharge):
            db.session.execute(sa.update(model).values(recherche=None))
        db.session.commit()
        downgrade(revision="0007")
        assert "recherche" not in {c["name"] for c in sa.inspect(db.engine).get_columns(
            "dossiers")}
        upgrade()
        pairs = _stored_and_folded()
        db.session.remove()
        db.engine.dispose()
    assert len(pairs) > 50 and all(stored == folded for stored, folded in pairs)
