"""What a dossier shows and prints about its establishment, its employer and its training,
frozen with it from ``validation_demandee`` on (SPEC §3: once validation is asked, what was
validated is what is printed).

The transition executor calls ``on_transition(dossier, source, target)`` after every state
change; from the workflow table it decides:

- entering a state locked for the parties (``STATES[target].locked_for_parties``) from one that
  is not: ``take`` — the values of the establishment, its structure, its collective agreement
  and OPCO, the training and its CFA are stored on the dossier (``Dossier.snapshot``, JSON);
- going back to a state open to the parties (``a_corriger``): ``release`` — the data follows
  the establishment and the training again;
- between two frozen states: the snapshot stays; only a value listed in ``COMPLETED_LATER``
  that was missing when it was taken is completed (the training's price, economic data the CFA
  may still set until it validates the economic elements).

Readers (``etablissement``, ``structure``, ``formation``, ``cfa``, ``convention``, ``opco``)
return the frozen values of a frozen dossier (a ``COMPLETED_LATER`` value still missing reads as
it is now), the live rows otherwise: the L'employeur tab, the Résumé and the generated documents
read through them, so a later edit of the establishment or of the training changes only the
dossiers still in entry.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import (Cfa, ConventionCollective, Dossier, Etablissement,
                           EtablissementFormation, Formation, Opco, Structure)
from portal.models.people import utcnow

VERSION = 1

# What is frozen: part → (model, columns).
PARTS: dict[str, tuple[type, tuple[str, ...]]] = {
    "etablissement": (Etablissement, (
        "siret", "denomination", "adresse_numero", "adresse_voie", "adresse_complement",
        "code_postal", "commune", "telephone", "email", "type_employeur",
        "employeur_specifique", "naf", "effectif", "idcc", "opco_code", "public", "monaco",
        "facturation_raison_sociale", "facturation_adresse", "facturation_code_postal",
        "facturation_commune", "facturation_email", "facturation_siret",
        "facturation_reference")),
    "structure": (Structure, ("siren", "raison_sociale", "public", "monaco")),
    "convention": (ConventionCollective, ("idcc", "libelle", "branche", "opco_code")),
    "opco": (Opco, ("code", "nom")),
    "formation": (Formation, (
        "intitule", "code_diplome", "code_rncp", "diplome_vise", "niveau", "heures_total",
        "heures_distance", "date_debut", "date_fin", "date_fin_examens", "lieu",
        "annee_campagne", "prix")),
    "cfa": (Cfa, ("nom", "uai", "siret", "numero_declaration_activite", "adresse",
                  "code_postal", "commune", "telephone", "email", "signataire_visa",
                  "cfa_entreprise")),
    # The training's main site (the CERFA's « lieu principal de réalisation de la formation »).
    "lieu_formation": (EtablissementFormation, ("nom", "uai", "siret", "adresse", "code_postal",
                                                "commune")),
}
# Values a frozen dossier still receives while they are missing (never changed once set).
COMPLETED_LATER = {"formation": ("prix",)}


# --- encoding ----------------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(model, name: str, value: Any) -> Any:
    if value is None:
        return None
    kind = model.__table__.c[name].type
    if isinstance(kind, sa.DateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, sa.Date):
        return date.fromisoformat(value)
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
        return Decimal(value)
    return value


def _row(model, obj) -> dict[str, Any] | None:
    if obj is None:
        return None
    names = next(columns for m, columns in PARTS.values() if m is model)
    return {name: _encode(getattr(obj, name)) for name in names}


# --- the live rows --------------------------------------------------------------------------------

def _convention_row(idcc):
    if not idcc:
        return None
    with db.session.no_autoflush:
        return db.session.execute(sa.select(ConventionCollective)
                                  .where(ConventionCollective.idcc == idcc)).scalars().first()


def _opco_row(code):
    if not code:
        return None
    with db.session.no_autoflush:
        return db.session.execute(sa.select(Opco).where(Opco.code == code)).scalars().first()


def _live_part(dossier, part: str):
    """The live row of one part of the dossier (None when there is none)."""
    if part in ("formation", "cfa", "lieu_formation"):
        formation = dossier.formation
        if part == "formation" or formation is None:
            return formation
        return formation.cfa if part == "cfa" else formation.etablissement_formation
    etab = dossier.etablissement
    if etab is None:
        return None
    if part == "etablissement":
        return etab
    if part == "structure":
        return etab.structure
    if part == "convention":
        return _convention_row(etab.idcc)
    return _opco_row(etab.opco_code)


def build(dossier, parts=None) -> dict[str, Any]:
    """The snapshot of the dossier's establishment, employer and training as they are now."""
    out: dict[str, Any] = {"version": VERSION}
    for part in parts or PARTS:
        out[part] = _row(PARTS[part][0], _live_part(dossier, part))
    return out


# --- taking and releasing ---------------------------------------------------------------------

def take(dossier) -> None:
    dossier.snapshot = build(dossier)
    dossier.snapshot_at = utcnow()


def release(dossier) -> None:
    dossier.snapshot = None
    dossier.snapshot_at = None


def complete(dossier) -> bool:
    """Fill the COMPLETED_LATER values missing from the snapshot; True when one was filled."""
    frozen = dossier.snapshot
    if not frozen:
        return False
    updated = {part: dict(values) if isinstance(values, dict) else values
               for part, values in frozen.items()}
    filled = False
    for part, names in COMPLETED_LATER.items():
        values, row = updated.get(part), _live_part(dossier, part)
        if not values or row is None:
            continue
        for name in names:
            if values.get(name) is None and getattr(row, name) is not None:
                values[name] = _encode(getattr(row, name))
                filled = True
    if filled:
        dossier.snapshot = updated  # a new object: the JSON column sees the change
    return filled


def _frozen_state(code: str | None) -> bool:
    state = STATES.get(code or "")
    return bool(state is not None and state.locked_for_parties)


def on_transition(dossier, source: str, target: str) -> None:
    """Called by the transition executor after every state change (manual or automatic)."""
    frozen_before, frozen_after = _frozen_state(source), _frozen_state(target)
    if frozen_after:
        if not frozen_before or not dossier.snapshot:
            take(dossier)
        else:
            complete(dossier)
    elif dossier.snapshot is not None or frozen_before:
        release(dossier)


def frozen_states() -> tuple[str, ...]:
    return tuple(code for code in STATES if _frozen_state(code))


def backfill(batch: int = 500) -> int:
    """Take the snapshot of every dossier in a frozen state that has none (dossiers created
    before snapshots existed, the demo data). Returns how many; the caller commits."""
    count = 0
    last = 0
    employer_parts = ("etablissement", "structure", "convention", "opco")
    training_parts = ("formation", "cfa", "lieu_formation")
    by_etab: dict[int | None, dict] = {}
    by_formation: dict[int | None, dict] = {}
    while True:
        rows = db.session.execute(
            sa.select(Dossier).where(Dossier.state.in_(frozen_states()),
                                     Dossier.snapshot.is_(None), Dossier.id > last)
            .order_by(Dossier.id).limit(batch)).scalars().all()
        if not rows:
            return count
        for dossier in rows:
            if dossier.etablissement_id not in by_etab:
                by_etab[dossier.etablissement_id] = build(dossier, employer_parts)
            if dossier.formation_id not in by_formation:
                by_formation[dossier.formation_id] = build(dossier, training_parts)
            dossier.snapshot = {**by_etab[dossier.etablissement_id],
                                **by_formation[dossier.formation_id]}
            dossier.snapshot_at = utcnow()
            last = dossier.id
            count += 1
        db.session.flush()


# --- readers -------------------------------------------------------------------------------------

def is_frozen(dossier) -> bool:
    return bool(getattr(dossier, "snapshot", None))


def _view(part: str, values: dict[str, Any] | None):
    if values is None:
        return None
    model, names = PARTS[part]
    return SimpleNamespace(frozen=True, **{name: _decode(model, name, values.get(name))
                                           for name in names})


def _read(dossier, part: str):
    if not is_frozen(dossier):
        return _live_part(dossier, part)
    view = _view(part, dossier.snapshot.get(part))
    missing = [name for name in COMPLETED_LATER.get(part, ()) if view is not None
               and getattr(view, name) is None]
    if missing:
        # Still missing when frozen: read as it is now, until a transition stores it.
        row = _live_part(dossier, part)
        for name in missing:
            setattr(view, name, getattr(row, name) if row is not None else None)
    return view


def etablissement(dossier):
    return _read(dossier, "etablissement")


def structure(dossier):
    return _read(dossier, "structure")


def convention(dossier):
    return _read(dossier, "convention")


def opco(dossier):
    return _read(dossier, "opco")


def formation(dossier):
    return _read(dossier, "formation")


def cfa(dossier):
    return _read(dossier, "cfa")


def lieu_formation(dossier):
    """The training's main site; a snapshot taken before it was frozen reads it as it is now."""
    if is_frozen(dossier) and "lieu_formation" not in dossier.snapshot:
        return _live_part(dossier, "lieu_formation")
    return _read(dossier, "lieu_formation")
