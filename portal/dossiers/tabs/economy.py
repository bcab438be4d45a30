"""The economic elements the CFA validates (SPEC §3 `valide_formation` → `economie_validee`):
the training's price, the NPEC, the OPCO's expected coverage and what remains for the employer,
taken from the same computation the devis prints (portal/dossiers/financing_inputs.py through
portal.rules.financing), never recomputed here."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from portal.dossiers import financing_inputs, snapshot
from portal.rules.financing import DISTANCE_THRESHOLD


@dataclass(frozen=True)
class EconomyFigures:
    price: Decimal | None          # the training's yearly price
    price_total: Decimal | None    # over the contract's days (the devis's "coût … au prorata")
    npec: Decimal | None           # the reference NPEC (yearly), before the distance reduction
    distance_reduced: bool         # −20 % (at least 80 % of the hours at distance)
    coverage: Decimal | None       # the OPCO's expected coverage over the contract
    participation: Decimal         # the employer's 750 € when due (inside the remainder)
    remainder: Decimal | None      # billed to the employer
    opco: str | None
    problem: str | None            # why the coverage is unknown, in French


def economy_figures(dossier) -> EconomyFigures:
    given = financing_inputs.inputs(dossier)
    problem = None
    try:
        money = given.financing()
    except ValueError as exc:
        money, problem = None, str(exc)
    if money is None and problem is None:
        problem = ("Aucun NPEC n'est connu pour cette certification et cette convention "
                   "collective à la date de conclusion." if given.npec_row is None else
                   "Les dates du contrat (conclusion, début, fin) ne sont pas renseignées.")
    opco = snapshot.opco(dossier)
    return EconomyFigures(
        price=given.price, price_total=money.price_total if money else None,
        npec=given.npec_row.npec if given.npec_row is not None else None,
        distance_reduced=given.distance_share >= DISTANCE_THRESHOLD,
        coverage=money.coverage if money else None, participation=given.participation,
        remainder=money.remainder if money else None,
        opco=getattr(opco, "nom", None), problem=problem)
