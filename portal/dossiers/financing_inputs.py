"""What a dossier's financing is computed from, as its documents print it (its snapshot:
training, establishment): the contract's dates, the NPEC of the certification in the branch on
the conclusion date, the share of distance training, the employer's participation, the price.
Read by the devis (printing.py) and by the OPCO follow-up (portal/financing/amounts.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from portal.dossiers import snapshot
from portal.npec import npec_for
from portal.rules.aids import employer_participation
from portal.rules.financing import contract_financing

ZERO = Decimal("0")


@dataclass(frozen=True)
class FinancingInputs:
    concluded: date | None
    start: date | None
    end: date | None
    rupture: date | None
    npec_row: object | None
    distance_share: Decimal
    participation: Decimal
    price: Decimal | None

    def financing(self, npec: Decimal | None = None):
        """portal.rules.financing.contract_financing with these inputs and the reference NPEC
        (or ``npec``); None when the dates or the NPEC are missing."""
        npec = npec if npec is not None else (self.npec_row.npec if self.npec_row else None)
        if npec is None or not (self.concluded and self.start and self.end):
            return None
        return contract_financing(concluded=self.concluded, start=self.start, end=self.end,
                                  npec=npec, price=self.price,
                                  distance_share=self.distance_share,
                                  participation=self.participation, rupture=self.rupture)


def distance_share(formation) -> Decimal:
    total = getattr(formation, "heures_total", None) or 0
    distance = getattr(formation, "heures_distance", None) or 0
    if total <= 0:
        return ZERO
    return min(Decimal(distance) / Decimal(total), Decimal("1")).quantize(Decimal("0.0001"))


def inputs(dossier) -> FinancingInputs:
    formation = snapshot.formation(dossier)
    etab = snapshot.etablissement(dossier)
    contrat = dossier.contrat
    concluded = (contrat.date_conclusion if contrat is not None else None) \
        or dossier.date_debut_contrat
    level = getattr(formation, "niveau", None)
    participation = employer_participation(concluded, level, dossier.dispositif) \
        if concluded and level else ZERO
    row = npec_for((getattr(formation, "code_rncp", None),
                    getattr(formation, "code_diplome", None)),
                   getattr(etab, "idcc", None), concluded) if concluded else None
    return FinancingInputs(
        concluded=concluded, start=dossier.date_debut_contrat, end=dossier.date_fin_contrat,
        rupture=dossier.rupture_date if dossier.state == "rompu" else None, npec_row=row,
        distance_share=distance_share(formation), participation=participation,
        price=getattr(formation, "prix", None))
