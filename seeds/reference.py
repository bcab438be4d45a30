"""Idempotent loader for the product's own reference data (seeds/reference/*.csv).

Every row is matched on its natural key: new rows are inserted, rows whose values differ are
updated, nothing is ever duplicated or deleted (rows added by a cfa_admin stay untouched, and so
does the ``actif`` flag of a code, which the files do not carry).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from portal.extensions import db
from portal.models import (AideEmployeur, CodeReference, ConventionCollective, GrilleRemuneration,
                           NiveauPriseEnCharge, Opco, PlafondFraisAnnexes, RegleInscription,
                           Smic)

DATA_DIR = Path(__file__).parent / "reference"


# --- value parsers (an empty cell means NULL) -------------------------------------------------

def _str(value: str) -> str | None:
    value = value.strip()
    return value or None


def _decimal(value: str) -> Decimal | None:
    value = value.strip()
    return Decimal(value) if value else None


def _date(value: str) -> date | None:
    value = value.strip()
    return date.fromisoformat(value) if value else None


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value else None


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "oui", "yes"}


@dataclass(frozen=True)
class _Table:
    model: type
    filename: str
    key: tuple[str, ...]
    fields: dict[str, Callable[[str], Any]]  # column -> parser, key columns included


# Order matters: OPCOs before the conventions that reference them.
TABLES: tuple[_Table, ...] = (
    _Table(CodeReference, "codes.csv", ("liste", "code"),
           {"liste": _str, "code": _str, "libelle": _str, "groupe": _str,
            "cerfa_versions": _str}),
    _Table(Smic, "smic.csv", ("en_vigueur_le",),
           {"en_vigueur_le": _date, "horaire": _decimal, "mensuel": _decimal,
            "mayotte_horaire": _decimal, "mayotte_mensuel": _decimal, "base_legale": _str}),
    _Table(GrilleRemuneration, "grilles_remuneration.csv",
           ("dispositif", "tranche_age", "colonne", "valable_du"),
           {"dispositif": _str, "tranche_age": _str, "colonne": _str,
            "pourcentage": _decimal, "valable_du": _date}),
    _Table(Opco, "opco.csv", ("code",), {"code": _str, "nom": _str, "champ": _str}),
    _Table(ConventionCollective, "conventions_collectives.csv", ("idcc",),
           {"idcc": _str, "libelle": _str, "branche": _str, "opco_code": _str}),
    _Table(AideEmployeur, "aides_employeur.csv",
           ("conclu_du", "effectif_min", "niveau_min", "rqth"),
           {"conclu_du": _date, "conclu_au": _date, "effectif_min": _int,
            "effectif_max": _int, "niveau_min": _int, "niveau_max": _int, "rqth": _bool,
            "montant": _decimal, "libelle": _str}),
    # Demo NPEC values (the real ones are France compétences' tables, per branch).
    _Table(NiveauPriseEnCharge, "npec.csv", ("code_certification", "idcc", "valable_du"),
           {"code_certification": _str, "idcc": _str, "npec": _decimal, "valable_du": _date,
            "valable_au": _date, "libelle": _str}),
    _Table(PlafondFraisAnnexes, "frais_annexes.csv", ("nature", "valable_du"),
           {"nature": _str, "montant": _decimal, "valable_du": _date, "valable_au": _date,
            "base_legale": _str}),
    # The limits of the training-action requests (SPEC §6), editable by the cfa_admin.
    _Table(RegleInscription, "regles_inscription.csv", ("code",),
           {"code": _str, "valeur": _int, "libelle": _str}),
)


def _read_rows(table: _Table) -> list[dict[str, Any]]:
    with open(DATA_DIR / table.filename, encoding="utf-8", newline="") as fh:
        return [{col: parse(raw[col] or "") for col, parse in table.fields.items()}
                for raw in csv.DictReader(fh)]


def _same(current: Any, wanted: Any) -> bool:
    # SQLite hands back Numeric columns as Decimal (or float with some drivers): compare as Decimal.
    if isinstance(wanted, Decimal) and current is not None:
        return Decimal(str(current)) == wanted
    return current == wanted


def _load_table(table: _Table) -> int:
    """Upsert one file into its table; return the number of rows inserted or updated."""
    existing = {tuple(getattr(obj, k) for k in table.key): obj
                for obj in db.session.scalars(db.select(table.model))}
    changed = 0
    for values in _read_rows(table):
        key = tuple(values[k] for k in table.key)
        obj = existing.get(key)
        if obj is None:
            obj = table.model(**values)
            db.session.add(obj)
            existing[key] = obj
            changed += 1
            continue
        dirty = False
        for col, value in values.items():
            if not _same(getattr(obj, col), value):
                setattr(obj, col, value)
                dirty = True
        changed += dirty
    db.session.flush()
    return changed


def load_reference() -> dict[str, int]:
    """Load every reference file (inside an app context); commit; return changes per table."""
    try:
        counts = {t.model.__tablename__: _load_table(t) for t in TABLES}
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return counts


def _code_sort_key(code: str) -> tuple[int, int, str]:
    # Numeric order for numeric codes ("2" before "10"), then the others alphabetically.
    return (0, int(code), code) if code.isdigit() else (1, 0, code)


def code_choices(liste: str) -> list[tuple[str, str]]:
    """[(code, "code – libellé")] of the active codes of a CERFA list, for form select fields."""
    rows = db.session.scalars(
        db.select(CodeReference).where(CodeReference.liste == liste,
                                       CodeReference.actif.is_(True))).all()
    return [(r.code, f"{r.code} – {r.libelle}")
            for r in sorted(rows, key=lambda r: _code_sort_key(r.code))]
