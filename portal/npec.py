"""The dated reference tables of the OPCO financing (editable by the cfa_admin): the NPEC of a
certification in a branch, the ceilings of the frais annexes."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import or_, select

from portal.extensions import db
from portal.models import NiveauPriseEnCharge, PlafondFraisAnnexes


def _valid_on(model, on: date):
    return (model.valable_du <= on, or_(model.valable_au.is_(None), model.valable_au >= on))


def npec_for(codes, idcc: str | None, on: date) -> NiveauPriseEnCharge | None:
    """The NPEC row of the first of ``codes`` (RNCP code, then diploma code) known for this
    IDCC on this date (the contract's conclusion), the latest valid one."""
    codes = [c for c in codes if c]
    if not codes or not idcc:
        return None
    rows = db.session.scalars(
        select(NiveauPriseEnCharge).where(NiveauPriseEnCharge.code_certification.in_(codes),
                                          NiveauPriseEnCharge.idcc == idcc, *_valid_on(
                                              NiveauPriseEnCharge, on))
        .order_by(NiveauPriseEnCharge.valable_du.desc())).all()
    for code in codes:
        for row in rows:
            if row.code_certification == code:
                return row
    return None


def ceilings_on(on: date) -> dict[str, Decimal]:
    """nature → ceiling valid on ``on`` (the latest row of each nature)."""
    rows = db.session.scalars(select(PlafondFraisAnnexes).where(
        *_valid_on(PlafondFraisAnnexes, on)).order_by(PlafondFraisAnnexes.valable_du)).all()
    return {row.nature: Decimal(row.montant) for row in rows}
