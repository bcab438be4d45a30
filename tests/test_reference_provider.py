"""portal.reference_provider: the rules read their figures from the reference tables inside an
app context (cached, invalidated on change) and from the CSV files outside one."""
from datetime import date
from decimal import Decimal

import pytest
from flask import has_app_context
from sqlalchemy import delete, update

from portal import reference_provider
from portal.extensions import db
from portal.models import ConventionCollective, Smic
from portal.rules import reference as reference_module
from portal.rules.reference import get_reference, load_from_csv, set_reference_provider
from portal.rules.remuneration import minimum_schedule

D = date.fromisoformat
NEW_SMIC_DAY = D("2027-01-01")


@pytest.fixture(autouse=True)
def db_provider():
    """The database provider plugged (another test may have reset the global hook), the
    previous provider restored afterwards; the cache starts and ends empty."""
    previous = reference_module._provider
    set_reference_provider(reference_provider.provider)
    reference_provider.invalidate()
    yield
    set_reference_provider(previous)
    reference_provider.invalidate()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield db.session
        db.session.rollback()


def _new_app(uri, instance_path, monkeypatch):
    monkeypatch.setenv("SILLON_INSTANCE_PATH", str(instance_path))
    from portal import create_app
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri, "SERVER_NAME": None,
                       "MAIL_SERVER": None})


def _minimum_2027(birth=D("2007-06-01")):
    """One contract year from 2027-02-01, apprentice aged 19 to 20: 43 % of the SMIC."""
    [period] = minimum_schedule(birth, D("2027-02-01"), D("2027-12-31"))
    assert period.percent == Decimal("43")
    return period


def _drop_test_smic():
    db.session.rollback()
    db.session.execute(delete(Smic).where(Smic.en_vigueur_le == NEW_SMIC_DAY))
    db.session.commit()


def test_create_app_plugs_the_provider(app, database_url, tmp_path, monkeypatch):
    """`app` (migrated, seeded) first; then a second app on the same database."""
    set_reference_provider(None)
    second = _new_app(database_url, tmp_path, monkeypatch)
    assert reference_module._provider is reference_provider.provider
    assert second.extensions["sillon_reference_provider"] is reference_provider.provider
    with second.app_context():
        assert get_reference() is not reference_module._default_provider()
        db.session.remove()
        db.engine.dispose()


def test_outside_app_context_the_csv_default_is_used():
    assert not has_app_context()
    assert get_reference() is reference_module._default_provider()


def test_database_reference_equals_csv(ctx):
    csv = load_from_csv()
    data = reference_provider.build_reference_data()
    assert data is not reference_module._default_provider()
    assert len(data.smic) == len(csv.smic) >= 5
    assert data.smic == csv.smic
    assert data.smic_on(D("2026-06-01")).monthly == Decimal("1823.03")
    assert data.smic_monthly_on(D("2026-06-01"), mayotte=True) == Decimal("1415.05")
    assert data.apprenticeship_grid == csv.apprenticeship_grid
    assert len(data.apprenticeship_grid) == 12
    assert data.professionalisation_grid == csv.professionalisation_grid
    assert data.idcc == csv.idcc
    assert data.idcc["1486"][2] == "ATLAS" and data.idcc["9999"][2] is None
    assert data.employer_aids == csv.employer_aids
    assert len(data.employer_aids) == 12
    # No table for these: taken from the CSV files.
    assert data.employer_participation == csv.employer_participation
    assert data.apprentice_aids == csv.apprentice_aids
    # The provider serves the same figures.
    served = get_reference()
    assert served is not reference_module._default_provider()
    assert served.smic == csv.smic and served.idcc == csv.idcc


def test_added_smic_row_is_used_then_dropped(ctx):
    assert _minimum_2027().monthly_amount == Decimal("783.90")      # 43 % × 1 823,03 €
    cached = get_reference()
    assert get_reference() is cached                                  # cached between calls
    try:
        ctx.add(Smic(en_vigueur_le=NEW_SMIC_DAY, horaire=Decimal("13.19"),
                     mensuel=Decimal("2000.00"), base_legale="test"))
        ctx.commit()
        fresh = get_reference()
        assert fresh is not cached
        assert fresh.smic_on(D("2027-02-01")).monthly == Decimal("2000.00")
        assert get_reference() is fresh                               # cached again
        assert _minimum_2027().monthly_amount == Decimal("860.00")   # 43 % × 2 000 €
        # A period before the new rate keeps the former one.
        [period] = minimum_schedule(D("2007-06-01"), D("2026-02-01"), D("2026-12-31"))
        assert period.monthly_amount == Decimal("783.90")

        ctx.execute(delete(Smic).where(Smic.en_vigueur_le == NEW_SMIC_DAY))  # bulk delete
        ctx.commit()
        assert get_reference() is not fresh
        assert _minimum_2027().monthly_amount == Decimal("783.90")
    finally:
        _drop_test_smic()


def test_orm_delete_invalidates(ctx):
    try:
        row = Smic(en_vigueur_le=NEW_SMIC_DAY, horaire=Decimal("13.19"),
                   mensuel=Decimal("2000.00"))
        ctx.add(row)
        ctx.commit()
        assert _minimum_2027().monthly_amount == Decimal("860.00")
        ctx.delete(row)
        ctx.commit()
        assert _minimum_2027().monthly_amount == Decimal("783.90")
    finally:
        _drop_test_smic()


def test_uncommitted_change_is_seen_by_its_transaction_only(ctx):
    try:
        before = get_reference()
        ctx.add(Smic(en_vigueur_le=NEW_SMIC_DAY, horaire=Decimal("13.19"),
                     mensuel=Decimal("2000.00")))
        ctx.flush()
        assert _minimum_2027().monthly_amount == Decimal("860.00")
        # Not cached while uncommitted.
        assert get_reference() is not get_reference()
        ctx.rollback()
        after = get_reference()
        assert after is not before
        assert _minimum_2027().monthly_amount == Decimal("783.90")
        assert get_reference() is after
    finally:
        _drop_test_smic()


def test_unflushed_change_is_neither_flushed_nor_read(ctx):
    """Building the figures reads the database: pending objects of the session are neither
    autoflushed nor taken from the identity map."""
    row = ctx.scalar(db.select(Smic).filter_by(en_vigueur_le=D("2026-01-01")))
    row.mensuel = Decimal("9999.99")
    pending = Smic(en_vigueur_le=NEW_SMIC_DAY, horaire=Decimal("13.19"),
                   mensuel=Decimal("2000.00"))
    ctx.add(pending)
    reference_provider.invalidate()
    data = get_reference()
    assert data.smic_on(D("2026-06-01")).monthly == Decimal("1823.03")
    assert data.smic_on(D("2027-06-01")).effective == D("2026-01-01")
    assert pending in ctx.new and row in ctx.dirty
    ctx.rollback()


def test_edited_convention_label_shows_in_idcc(ctx):
    cc = ctx.scalar(db.select(ConventionCollective).filter_by(idcc="1486"))
    original = cc.libelle
    assert get_reference().idcc["1486"][0] == original
    try:
        cc.libelle = "Syntec – libellé modifié"
        ctx.commit()
        assert get_reference().idcc["1486"] == ("Syntec – libellé modifié",
                                                cc.branche, "ATLAS")
        ctx.execute(update(ConventionCollective).where(ConventionCollective.idcc == "1486")
                    .values(libelle="Syntec – mise à jour groupée"))
        ctx.commit()
        assert get_reference().idcc["1486"][0] == "Syntec – mise à jour groupée"
    finally:
        ctx.rollback()
        ctx.execute(update(ConventionCollective).where(ConventionCollective.idcc == "1486")
                    .values(libelle=original))
        ctx.commit()
    assert get_reference().idcc["1486"][0] == original


def test_invalidate_and_cache_duration(app, ctx):
    first = get_reference()
    assert get_reference() is first
    reference_provider.invalidate()
    second = get_reference()
    assert second is not first and second.smic == first.smic
    app.config["REFERENCE_CACHE_SECONDS"] = 0
    try:
        assert get_reference() is not get_reference()
    finally:
        app.config["REFERENCE_CACHE_SECONDS"] = reference_provider.DEFAULT_CACHE_SECONDS
    third = get_reference()
    assert get_reference() is third


def test_each_database_has_its_own_figures(app, tmp_path, monkeypatch):
    """Two apps in one process, two databases: separate caches; an empty database falls
    back on the CSV files until its reference tables are loaded."""
    from seeds.reference import load_reference

    other = _new_app("sqlite:///" + str(tmp_path / "other.db"), tmp_path, monkeypatch)
    with other.app_context():
        db.create_all()
        try:
            assert get_reference() is reference_module._default_provider()   # empty tables
            load_reference()
            other_ref = get_reference()
            assert other_ref is not reference_module._default_provider()
            db.session.add(Smic(en_vigueur_le=NEW_SMIC_DAY, horaire=Decimal("14.00"),
                                mensuel=Decimal("2123.38")))
            db.session.commit()
            assert _minimum_2027().monthly_amount == Decimal("913.05")   # 43 % × 2 123,38 €
            with app.app_context():
                assert _minimum_2027().monthly_amount == Decimal("783.90")
                main_ref = get_reference()
            assert get_reference() is not main_ref
            assert _minimum_2027().monthly_amount == Decimal("913.05")
        finally:
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def test_figures_built_across_an_invalidation_are_not_cached(ctx, monkeypatch):
    """A change committed elsewhere while the figures were being read: they may be old, so
    they are served once but not kept."""
    build = reference_provider.build_reference_data
    calls = []

    def build_then_concurrent_change(session=None):
        data = build(session)
        calls.append(data)
        if len(calls) == 1:
            reference_provider.invalidate()
        return data

    monkeypatch.setattr(reference_provider, "build_reference_data", build_then_concurrent_change)
    first = get_reference()
    second = get_reference()
    assert second is not first
    assert get_reference() is second
    assert calls == [first, second]
