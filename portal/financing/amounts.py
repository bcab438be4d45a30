"""A prise en charge's amounts and schedule: the dossier's financing inputs
(portal/dossiers/financing_inputs.py: dates, NPEC, distance, participation, price) through
portal.rules.financing, plus the frais annexes recorded on the prise en charge. Writes nothing:
the service stores what this returns."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from portal.dossiers.financing_inputs import inputs
from portal.npec import ceilings_on
from portal.rules.financing import Instalment, contract_last_day, frais_annexes_total

ZERO = Decimal("0")
CEILINGS = ("premier_equipement", "hebergement_nuit", "restauration_repas")


@dataclass
class Amounts:
    concluded: date | None
    start: date | None
    last_day: date | None
    npec_row: object | None
    npec: Decimal | None
    distance_share: Decimal
    participation: Decimal
    price: Decimal | None
    schedule: list[Instalment] = field(default_factory=list)
    coverage: Decimal = ZERO        # what the OPCO pays for the training, before the 750 €
    opco_total: Decimal = ZERO      # the schedule's sum (the 750 € deducted)
    remainder: Decimal = ZERO       # billed to the employer
    frais: Decimal = ZERO
    problem: str | None = None      # why no schedule could be computed, in French


def compute(dossier, pec, *, npec_override: Decimal | None = None) -> Amounts:
    """Everything the financing tab shows and the service stores, for this dossier and the
    frais annexes recorded on ``pec``."""
    given = inputs(dossier)
    row = given.npec_row
    npec = npec_override if npec_override is not None else (row.npec if row else None)
    out = Amounts(concluded=given.concluded, start=given.start, npec_row=row, npec=npec,
                  last_day=contract_last_day(given.end, given.rupture) if given.end else None,
                  distance_share=given.distance_share, participation=given.participation,
                  price=given.price)
    ceilings = ceilings_on(given.start or date.today())
    if all(k in ceilings for k in CEILINGS):
        out.frais = frais_annexes_total(
            equipement=pec.frais_premier_equipement, nuits=pec.nuits_hebergement,
            repas=pec.repas_restauration, montant_hebergement=None,
            montant_restauration=None, ceilings=ceilings)
    if not (given.start and given.end and given.concluded):
        out.problem = "Les dates du contrat (conclusion, début, fin) ne sont pas renseignées."
        return out
    if npec is None:
        out.problem = ("Aucun NPEC n'est connu pour cette certification et cette convention "
                       "collective à la date de conclusion : renseignez-le ci-dessous ou dans "
                       "les données de référence.")
        return out
    try:
        money = given.financing(npec)
    except ValueError as exc:
        out.problem = str(exc)
        return out
    out.schedule, out.coverage, out.opco_total = money.schedule, money.coverage, money.opco_total
    out.remainder = money.remainder
    return out
