"""Trainings for the synthetic dossiers of the volume tests (seeds.demo.add_synthetic_dossiers):
one more group of a demo training (same diploma, calendar, CFA advisor and prices; no manager,
no access code) for every DOSSIERS_PER_TRAINING dossiers, so that a training's manager keeps a
realistic share of the table.

Spreading 100 000 dossiers over the demo's four trainings gave each of them 25 000 apprentices
and resp.info@ 50 000 to count on every list page (2.7 ms of SQLite for the index range alone):
no training has that; a large CFA's has a few hundred to two thousand over its campaigns.
"""
from __future__ import annotations

from sqlalchemy import insert, select

from portal.extensions import db
from portal.models import Formation

DOSSIERS_PER_TRAINING = 2000
# Copied from the demo training the group belongs to (the rest: the model's defaults).
_COPIED = ("cfa_id", "etablissement_formation_id", "code_diplome", "code_rncp", "diplome_vise",
           "niveau", "heures_total", "heures_distance", "date_debut", "date_fin",
           "date_fin_examens", "annee_campagne", "lieu", "conseiller_cfa_id", "mission_requise",
           "mode_validation", "prix")


def add_synthetic_trainings(count: int, token: str) -> list[tuple]:
    """Add ``count`` groups of the existing trainings (round robin); returns their
    (id, date_debut, date_fin, conseiller_cfa_id). ``token`` keeps the titles of one call
    apart."""
    table = Formation.__table__
    models = db.session.execute(select(table.c.intitule, *(table.c[c] for c in _COPIED))
                                .order_by(table.c.id)).all()
    if not models or count < 1:
        return []
    titles = []
    rows = []
    for k in range(count):
        model = models[k % len(models)]
        title = f"{model.intitule} – groupe {token[:4]}-{k + 1:03d}"
        titles.append(title)
        rows.append({"intitule": title, "access_code_enabled": False,
                     **{c: getattr(model, c) for c in _COPIED}})
    db.session.execute(insert(table), rows)
    return [tuple(row) for row in db.session.execute(
        select(table.c.id, table.c.date_debut, table.c.date_fin, table.c.conseiller_cfa_id)
        .where(table.c.intitule.in_(titles)))]
