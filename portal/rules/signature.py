"""Who signs a dossier's CERFA and convention, in which order (SPEC §8, issue 17). Pure.

The employer's signatory (« le responsable » of L'employeur, or the employer contact when the
dossier names none), then the apprentice, then their legal representative when the apprentice
is a minor not emancipated on the day the contract is concluded (Code du travail L6222-1;
the same fact as contract_age.check_legal_representative), and the CFA's visa last."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .dates import age_on

EMPLOYER, APPRENTICE, LEGAL_REP, CFA = "employeur", "alternant", "representant_legal", "cfa"
ORDER = (EMPLOYER, APPRENTICE, LEGAL_REP, CFA)
ROLE_LABELS = {EMPLOYER: "Employeur (signataire)", APPRENTICE: "Alternant·e",
               LEGAL_REP: "Représentant·e légal·e", CFA: "CFA (visa)"}
ROLE_NAMES = {EMPLOYER: "l'employeur", APPRENTICE: "l'alternant·e",
              LEGAL_REP: "le représentant légal", CFA: "le CFA"}


@dataclass(frozen=True)
class Person:
    role: str
    first_name: str
    last_name: str
    email: str
    user_id: int | None = None


def needs_legal_representative(birth: date | None, conclusion: date | None,
                               emancipated: bool) -> bool:
    """A minor not emancipated on the day the contract is concluded signs with their legal
    representative."""
    if birth is None or conclusion is None or emancipated:
        return False
    return age_on(birth, conclusion) < 18


def signer_plan(people: dict[str, Person | None], *, minor: bool) -> tuple[list[Person],
                                                                           list[str]]:
    """(the signers in order, what is missing in French). ``people`` maps each role of ORDER
    to the person who signs for it (None when unknown); the legal representative signs only
    for a ``minor``."""
    plan, missing = [], []
    for role in ORDER:
        if role == LEGAL_REP and not minor:
            continue
        person = people.get(role)
        if person is None or not (person.email or "").strip():
            missing.append(f"l'adresse e-mail de {ROLE_NAMES[role]}")
            continue
        if not (person.first_name or person.last_name):
            missing.append(f"le nom de {ROLE_NAMES[role]}")
            continue
        plan.append(person)
    return plan, missing
