"""Reference data loader (seeds/reference.py): content and idempotence."""
from datetime import date
from decimal import Decimal

import pytest
from flask import Flask

from portal.extensions import db
from portal.models import (CodeReference, ConventionCollective, GrilleRemuneration, Opco,
                           Smic)
from seeds.reference import code_choices, load_reference


@pytest.fixture
def ref_app(tmp_path, monkeypatch):
    """A Flask app on a fresh SQLite file, independent of the shared conftest fixtures."""
    uri = "sqlite:///" + str(tmp_path / "ref.db")
    monkeypatch.setenv("DATABASE_URL", uri)
    monkeypatch.setenv("SECRET_KEY", "test")
    try:
        from portal import create_app
    except ImportError:
        create_app = None
    if create_app is not None:
        try:
            app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri})
        except TypeError:
            app = create_app()
            app.config.update(TESTING=True)
    else:
        app = Flask(__name__)
        app.config.update(TESTING=True, SQLALCHEMY_DATABASE_URI=uri)
        db.init_app(app)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == uri
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


def _row_counts():
    return {m.__tablename__: db.session.scalar(db.select(db.func.count()).select_from(m))
            for m in (CodeReference, Smic, GrilleRemuneration, Opco, ConventionCollective)}


def test_load_is_idempotent(ref_app):
    first = load_reference()
    counts = _row_counts()
    assert first["codes_reference"] == counts["codes_reference"] > 100
    assert all(n > 0 for n in first.values())
    second = load_reference()
    assert _row_counts() == counts
    assert set(second) == set(first)
    assert all(n == 0 for n in second.values())


def test_reference_content(ref_app):
    load_reference()
    smic = db.session.scalar(db.select(Smic).filter_by(en_vigueur_le=date(2026, 1, 1)))
    assert Decimal(str(smic.mensuel)) == Decimal("1823.03")
    assert Decimal(str(smic.mayotte_mensuel)) == Decimal("1415.05")

    assert db.session.scalar(db.select(CodeReference).filter_by(liste="type_contrat", code="11"))
    assert db.session.scalar(db.select(CodeReference).filter_by(liste="diplome", code="13"))
    # Leading zeros are kept.
    assert db.session.scalar(db.select(CodeReference).filter_by(liste="derniere_classe", code="01"))

    cc = db.session.scalar(db.select(ConventionCollective).filter_by(idcc="1486"))
    assert cc.opco_code == "ATLAS" and cc.opco.code == "ATLAS"
    assert db.session.scalar(db.select(ConventionCollective).filter_by(idcc="0016")).opco_code \
        == "MOBILITES"
    assert db.session.scalar(db.select(ConventionCollective).filter_by(idcc="9999")).opco_code \
        is None

    grid = db.session.scalars(db.select(GrilleRemuneration).filter_by(
        dispositif="apprentissage")).all()
    assert len(grid) == 12
    cell = next(g for g in grid if g.tranche_age == "18_20" and g.colonne == "annee_1")
    assert Decimal(str(cell.pourcentage)) == 43


def test_reload_restores_modified_value(ref_app):
    load_reference()
    code = db.session.scalar(db.select(CodeReference).filter_by(liste="type_contrat", code="11"))
    original = code.libelle
    code.libelle = "Modifié à la main"
    db.session.commit()

    counts = load_reference()
    assert counts["codes_reference"] == 1
    assert sum(counts.values()) == 1
    db.session.expire_all()
    code = db.session.scalar(db.select(CodeReference).filter_by(liste="type_contrat", code="11"))
    assert code.libelle == original


def test_code_choices(ref_app):
    load_reference()
    choices = code_choices("situation_avant_contrat")
    assert [c for c, _ in choices] == [str(n) for n in range(1, 13)]
    assert choices[0] == ("1", "1 – Scolaire")
    code = db.session.scalar(db.select(CodeReference).filter_by(liste="nationalite", code="3"))
    code.actif = False
    db.session.commit()
    assert [c for c, _ in code_choices("nationalite")] == ["1", "2"]
    # The files carry no "actif" flag: a reload leaves an admin's deactivation alone.
    assert sum(load_reference().values()) == 0
    assert [c for c, _ in code_choices("nationalite")] == ["1", "2"]
