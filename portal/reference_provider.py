"""Database-backed provider for the pure rules' reference figures (portal.rules.reference).

`init_app(app)` plugs `provider` with `set_reference_provider()`. Inside an application
context the rules then read the SMIC history, the remuneration grids, the IDCC table and the
employer aids from the reference tables (portal/models/reference.py), so that the rows a
cfa_admin adds or edits are used. Outside an application context (pure unit tests, scripts)
the provider returns the CSV default of portal.rules.reference.

Parts without a table (participation_employeur.csv, the apprentice aids) still come from the
CSV default.

Cache: the built `ReferenceData` is kept per database (engine URL) in this process and
dropped
- whenever a session flushes an insert, update or delete of a reference row (or runs a bulk
  ORM UPDATE / DELETE / INSERT on a reference model), and again when that transaction ends,
  whether committed or rolled back;
- when `invalidate()` is called (e.g. after raw SQL on those tables);
- after `REFERENCE_CACHE_SECONDS` (app config, default 60; 0 disables the cache): other
  worker processes do not see this process's session events, so this bounds how long they
  may serve figures older than a change made elsewhere.
While a session holds flushed but uncommitted reference changes, the provider builds fresh
figures for it without caching them.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from .extensions import db
from .models.reference import AideEmployeur, ConventionCollective, GrilleRemuneration, Opco, Smic
from .rules import reference as rules_reference
from .rules.reference import (DEFAULT_PRO_SMC_PERCENT, PRO_SMC, AidRule, ReferenceData,
                              SmicRate, _latest_by_key, set_reference_provider)

log = logging.getLogger(__name__)

# Models whose rows feed ReferenceData (Opco is watched too: it is part of the IDCC table's
# meaning even though only its code is kept).
WATCHED_MODELS: tuple[type, ...] = (Smic, GrilleRemuneration, ConventionCollective,
                                    AideEmployeur, Opco)
DEFAULT_CACHE_SECONDS = 60
# session.info key: the session's current transaction changed reference rows.
_PENDING = "sillon_reference_changed"


@dataclass(frozen=True)
class _Entry:
    data: ReferenceData
    built_at: float      # time.monotonic()
    generation: int


_cache: dict[str, _Entry] = {}
_generation = 0
_lock = threading.Lock()
_listeners_installed = False


# --- building -----------------------------------------------------------------------------

def build_reference_data(session: Session | None = None) -> ReferenceData:
    """Build the rules' ReferenceData from the reference tables (inside an app context when
    `session` is omitted). Reads committed rows plus the session's own flushed changes,
    never its unflushed ones (no autoflush, column selects rather than identity-map objects).
    Participation rules and apprentice aids come from the CSV default."""
    session = session if session is not None else db.session()
    csv_default = _csv_default()
    with session.no_autoflush:
        smic = [SmicRate(effective=r.en_vigueur_le, hourly=r.horaire, monthly=r.mensuel,
                         mayotte_monthly=r.mayotte_mensuel, mayotte_hourly=r.mayotte_horaire,
                         legal_basis=r.base_legale or "")
                for r in session.execute(select(
                    Smic.en_vigueur_le, Smic.horaire, Smic.mensuel, Smic.mayotte_mensuel,
                    Smic.mayotte_horaire, Smic.base_legale).order_by(Smic.en_vigueur_le))]

        # As with the CSV: the latest `valable_du` of each cell wins (`valable_au` is not
        # used, ReferenceData grids are not dated).
        apprenticeship, professionalisation = [], []
        for r in session.execute(select(
                GrilleRemuneration.dispositif, GrilleRemuneration.tranche_age,
                GrilleRemuneration.colonne, GrilleRemuneration.pourcentage,
                GrilleRemuneration.valable_du).order_by(GrilleRemuneration.id)):
            band, column = r.tranche_age.strip(), r.colonne.strip()
            if r.dispositif.strip() == "apprentissage":
                apprenticeship.append(((band, int(column.removeprefix("annee_"))),
                                       r.valable_du, r.pourcentage))
            else:
                professionalisation.append(((band, column), r.valable_du, r.pourcentage))

        aids = [AidRule(concluded_from=r.conclu_du, concluded_until=r.conclu_au,
                        employees_min=r.effectif_min or 0, employees_max=r.effectif_max,
                        level_min=r.niveau_min, level_max=r.niveau_max, rqth=bool(r.rqth),
                        amount=r.montant, label=r.libelle or "")
                for r in session.execute(select(
                    AideEmployeur.conclu_du, AideEmployeur.conclu_au,
                    AideEmployeur.effectif_min, AideEmployeur.effectif_max,
                    AideEmployeur.niveau_min, AideEmployeur.niveau_max, AideEmployeur.rqth,
                    AideEmployeur.montant, AideEmployeur.libelle,
                ).order_by(AideEmployeur.conclu_du, AideEmployeur.id))]

        idcc = {r.idcc.strip(): (r.libelle.strip(), (r.branche or "").strip() or None,
                                 (r.opco_code or "").strip() or None)
                for r in session.execute(select(
                    ConventionCollective.idcc, ConventionCollective.libelle,
                    ConventionCollective.branche, ConventionCollective.opco_code,
                ).order_by(ConventionCollective.idcc))}

    professionalisation_grid = _latest_by_key(professionalisation)
    professionalisation_grid.setdefault(("26_et_plus", PRO_SMC), DEFAULT_PRO_SMC_PERCENT)
    return ReferenceData(
        smic=smic,
        apprenticeship_grid=_latest_by_key(apprenticeship),
        professionalisation_grid=professionalisation_grid,
        employer_aids=aids,
        idcc=idcc,
        employer_participation=list(csv_default.employer_participation),
        apprentice_aids=list(csv_default.apprentice_aids),
    )


def _csv_default() -> ReferenceData:
    # The rules module's own default (CSV files, loaded once per process).
    return rules_reference._default_provider()


# --- provider and cache ---------------------------------------------------------------------

def _cache_key() -> str:
    engine = db.engine
    url = engine.url
    key = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        key += f"#{id(engine)}"   # each in-memory database is its own
    return key


def provider() -> ReferenceData:
    """The reference data for the current context: the database's inside an application
    context, the CSV default outside one (or while the reference tables are still empty)."""
    if not has_app_context():
        return _csv_default()
    session = db.session()
    if session.info.get(_PENDING):
        # Uncommitted reference changes in this transaction: fresh figures, not shared.
        return _build_or_default(session)

    ttl = current_app.config.get("REFERENCE_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    key = _cache_key()
    with _lock:
        entry, generation = _cache.get(key), _generation
    now = time.monotonic()
    if entry is not None and entry.generation == generation and ttl and now - entry.built_at < ttl:
        return entry.data

    data = _build_or_default(session)
    if ttl and data is not _csv_default():
        with _lock:
            # Not stored if an invalidation happened while building (the rows read may be old).
            if _generation == generation:
                _cache[key] = _Entry(data, now, generation)
    return data


def _build_or_default(session: Session) -> ReferenceData:
    data = build_reference_data(session)
    if not data.smic:
        log.warning("Reference tables are empty (no SMIC row): the rules use the CSV files "
                    "of seeds/reference. Load them with the reference seed.")
        return _csv_default()
    return data


def invalidate() -> None:
    """Drop every cached ReferenceData of this process."""
    global _generation
    with _lock:
        _generation += 1
        _cache.clear()


# --- change detection ---------------------------------------------------------------------

def _touches_reference(objects) -> bool:
    return any(isinstance(obj, WATCHED_MODELS) for obj in objects)


def _after_flush(session: Session, flush_context) -> None:
    # Still the pre-flush new / dirty / deleted collections here.
    if (_touches_reference(session.new) or _touches_reference(session.dirty)
            or _touches_reference(session.deleted)):
        session.info[_PENDING] = True
        invalidate()


def _do_orm_execute(state) -> None:
    # Bulk ORM statements (update(Smic)..., delete(...), insert(...)) bypass the flush.
    if state.is_update or state.is_delete or state.is_insert:
        mapper = state.bind_mapper
        if mapper is not None and issubclass(mapper.class_, WATCHED_MODELS):
            state.session.info[_PENDING] = True
            invalidate()


def _after_transaction_end(session: Session, transaction) -> None:
    # Outermost transaction committed, rolled back or closed: others may now see the new rows
    # (or the rolled back figures must not survive).
    if transaction.parent is None and session.info.pop(_PENDING, False):
        invalidate()


def _install_listeners() -> None:
    global _listeners_installed
    with _lock:
        if _listeners_installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "do_orm_execute", _do_orm_execute)
        event.listen(Session, "after_transaction_end", _after_transaction_end)
        _listeners_installed = True


def init_app(app: Flask) -> None:
    """Make the rules read the reference figures from the database inside app contexts."""
    app.config.setdefault("REFERENCE_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
    _install_listeners()
    set_reference_provider(provider)
    app.extensions["sillon_reference_provider"] = provider
