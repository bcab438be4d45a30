"""The maîtres d'apprentissage (tuteurs) of L'employeur: how they are stored, how many
apprentices a maître already follows at the establishment (R6223-6) and the C12 checks of
portal.rules the page owns."""
from __future__ import annotations

import re
import unicodedata
from typing import Any

from portal.dossiers import establishments
from portal.dossiers.tabs.base import as_date, blank
from portal.dossiers.tabs.employeur_fields import (ATTESTATION, MAITRE_1, MAITRE_2,
                                                   PROFESSIONNALISATION)
from portal.dossiers.workflow import FINAL_STATES
from portal.rules import Finding
from portal.rules.contract import MASTER2_FIELDS, ContractFacts, check_masters
from portal.rules.identifiers import clean_digits


def name_key(value: Any) -> str:
    """Case- and accent-insensitive form of a name, the same on SQLite and PostgreSQL."""
    text = unicodedata.normalize("NFKD", str(value or ""))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def identity(data: dict[str, Any]) -> tuple:
    """Who maître 1 is, and where: when it changes, the count is made again."""
    return (clean_digits(data.get("employeur_siret")), name_key(data.get("maitre_1_nom")),
            name_key(data.get("maitre_1_prenom")), as_date(data.get("maitre_1_date_naissance")))


def apprentice_count(dossier, siret: str | None, nom: Any, prenom: Any,
                     birth: Any) -> int | None:
    """Dossiers (neither cancelled nor broken off) whose maître 1 is this person (same name,
    first name and birth date) at the establishment of this SIRET, this dossier included
    (R6223-6: 2 apprentices at most). 1 for an establishment Sillon does not know yet; None
    when the maître is incomplete, or there is neither a SIRET nor a linked establishment."""
    from portal.extensions import db
    from portal.models import Dossier, MaitreApprentissage
    birth = as_date(birth)
    if blank(nom) or blank(prenom) or birth is None:
        return None
    if re.fullmatch(r"[0-9]{14}", clean_digits(siret)):
        etab = establishments.find(siret)
        if etab is None:
            return 1
    else:
        etab = dossier.etablissement
        if etab is None:
            return None
    with db.session.no_autoflush:
        rows = db.session.execute(
            db.select(Dossier.id, MaitreApprentissage.nom_naissance, MaitreApprentissage.prenom)
            .join(MaitreApprentissage, MaitreApprentissage.dossier_id == Dossier.id)
            .where(MaitreApprentissage.rang == 1, MaitreApprentissage.date_naissance == birth,
                   Dossier.etablissement_id == etab.id, Dossier.state.not_in(FINAL_STATES),
                   Dossier.id != dossier.id)).all()
    same = {pk for pk, n, p in rows
            if name_key(n) == name_key(nom) and name_key(p) == name_key(prenom)}
    return len(same) + 1


def load(dossier, data: dict[str, Any]) -> None:
    maitres = {m.rang: m for m in dossier.maitres}
    first, second = maitres.get(1), maitres.get(2)
    for name, col in MAITRE_1.items():
        data[name] = getattr(first, col) if first is not None else None
    for name, col in MAITRE_2.items():
        data[name] = getattr(second, col) if second is not None else None
    # None until a maître is recorded: "required"; then the box as ticked (C12).
    data[ATTESTATION] = bool(first.eligibilite_attestee) if first is not None else None


def count_again_if_changed(dossier, data: dict[str, Any]) -> None:
    """The cross-tab rules (C12) read the maître's number of apprentices from the data: when
    the page changes the maître or the establishment, count again for the new ones."""
    if data.get("_maitre_1_identite") != identity(data):
        data["_maitre_1_apprentis"] = apprentice_count(
            dossier, data.get("employeur_siret"), data.get("maitre_1_nom"),
            data.get("maitre_1_prenom"), data.get("maitre_1_date_naissance"))
        data["_maitre_1_identite"] = identity(data)


def store(dossier, data: dict[str, Any]) -> None:
    from portal.models import MaitreApprentissage
    maitres = {m.rang: m for m in dossier.maitres}
    first = maitres.get(1)
    if first is None:
        first = MaitreApprentissage(rang=1)
        dossier.maitres.append(first)
    for name, col in MAITRE_1.items():
        if name in data:
            setattr(first, col, data[name])
    if ATTESTATION in data:
        first.eligibilite_attestee = bool(data[ATTESTATION])
    second_data = {name: data.get(name) for name in MAITRE_2}
    second = maitres.get(2)
    if all(blank(value) for value in second_data.values()):
        if second is not None:
            dossier.maitres.remove(second)  # delete-orphan: the emptied block is removed
    else:
        if second is None:
            second = MaitreApprentissage(rang=2)
            dossier.maitres.append(second)
        for name, col in MAITRE_2.items():
            setattr(second, col, second_data[name])


def findings(data: dict[str, Any], dossier) -> list[Finding]:
    """C12 of portal.rules (2nd maître all or nothing, the employer's attestation, and for
    an apprenticeship the maître's age and number of apprentices), as this page's own
    checks: they block its saving whatever the entry level."""
    from portal.dossiers.tabs import FIELD_ALIASES
    attestation = data.get(ATTESTATION)
    facts = ContractFacts(
        master2={key: data.get(f"maitre_2_{key}") for key in MASTER2_FIELDS},
        employer_attests_master_eligibility=None if attestation is None else bool(
            attestation))
    dispositif = data.get("dispositif") or dossier.dispositif
    if dispositif != PROFESSIONNALISATION:
        facts.master1_birth = as_date(data.get("maitre_1_date_naissance"))
        facts.start = as_date(data.get("date_debut_contrat"))
        facts.master_apprentice_count = data.get("_maitre_1_apprentis")
    return [Finding(f.level, FIELD_ALIASES.get(f.field, f.field), f.message)
            for f in check_masters(facts)]
