"""Employers for the synthetic dossiers of the volume tests (seeds.demo.add_synthetic_dossiers):
one structure with one establishment for every DOSSIERS_PER_EMPLOYER dossiers, as a CFA's
dossiers spread over its employers (a few apprentices each), so that the demo employers keep a
realistic share of the table.

Spreading 100 000 dossiers over the demo's nine establishments gave each of them 11 000
apprentices and each demo employer 11–22 % of the table: no company has that, and it hid what
an employer's scope costs (the planners of both databases read the whole table for a person
with few dossiers; tests/test_query_plans.py).

Valid identifiers (Luhn SIREN and SIRET) from a range the demo does not use; Core bulk inserts.
"""
from __future__ import annotations

from sqlalchemy import insert, select
from stdnum import luhn

from portal.extensions import db
from portal.models import Etablissement, Structure

DOSSIERS_PER_EMPLOYER = 25
DEMO_SHARE = 0.02  # of the synthetic dossiers, given to the demo's own establishments
FIRST_SIREN = 510_000_000  # 8-digit bodies 51000000…: no demo SIREN starts with 51
CITIES = [("Montpellier", "34000"), ("Nîmes", "30000"), ("Béziers", "34500"),
          ("Sète", "34200"), ("Alès", "30100"), ("Perpignan", "66000"), ("Lunel", "34400"),
          ("Carcassonne", "11000"), ("Narbonne", "11100"), ("Agde", "34300")]
TRADES = ["Boulangerie", "Garage", "Cabinet", "Pharmacie", "Menuiserie", "Agence",
          "Transports", "Électricité", "Hôtel", "Imprimerie"]


def _siren(i: int) -> str:
    body = f"{FIRST_SIREN // 10 + i:08d}"
    return body + luhn.calc_check_digit(body)


def _siret(siren: str) -> str:
    body = siren + "0001"
    return body + luhn.calc_check_digit(body)


def add_synthetic_employers(count: int, token: str, rng) -> list[tuple[int, str, int]]:
    """Add ``count`` structures with one establishment each; returns their
    (establishment id, SIRET, structure id). ``token`` keeps the names of one call apart."""
    taken = set(db.session.scalars(select(Structure.siren)))
    start = 0
    while any(_siren(start + k) in taken for k in range(0, count, max(1, count // 50))):
        start += count  # a previous call's range: take the next one
    people = []
    for k in range(count):
        i = start + k
        city, postcode = CITIES[rng.randrange(len(CITIES))]
        people.append({"siren": _siren(i), "city": city, "postcode": postcode,
                       "name": f"{TRADES[rng.randrange(len(TRADES))]} {token[:4]}-{i:05d}"})
    db.session.execute(insert(Structure.__table__), [
        {"siren": p["siren"], "raison_sociale": p["name"], "monaco": False, "public": False}
        for p in people])
    ids = dict(db.session.execute(select(Structure.siren, Structure.id).where(
        Structure.siren.in_([p["siren"] for p in people]))).all())
    db.session.execute(insert(Etablissement.__table__), [
        {"structure_id": ids[p["siren"]], "siret": _siret(p["siren"]),
         "denomination": f"{p['name']} – {p['city']}", "commune": p["city"],
         "code_postal": p["postcode"], "public": False, "monaco": False}
        for p in people])
    return [tuple(row) for row in db.session.execute(
        select(Etablissement.id, Etablissement.siret, Etablissement.structure_id)
        .where(Etablissement.structure_id.in_(list(ids.values()))))]
