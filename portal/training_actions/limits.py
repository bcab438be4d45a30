"""The request limits (SPEC §6) as data the CFA changes: regles_inscription (seeded from
seeds/reference/regles_inscription.csv), with the defaults of portal.models.enrolments.RULES
for a code that has no row."""
from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.models import RegleInscription
from portal.models.enrolments import RULES


def limits() -> dict[str, int]:
    values = {code: default for code, (default, _) in RULES.items()}
    for code, value in db.session.execute(select(RegleInscription.code, RegleInscription.valeur)):
        if code in values:
            values[code] = int(value)
    return values

