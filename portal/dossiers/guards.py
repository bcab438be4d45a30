"""The guards named in the workflow table (portal/dossiers/workflow.py): each takes the dossier
(and, for a few, what the person typed) and returns a French refusal, or None when the
transition may happen. The data they read is the dossier's as the tabs see it."""
from __future__ import annotations

from datetime import date

from portal.rules.opco_deposit import deposit_problems
from portal.rules.rupture import rupture_date_problem


def _entry_problem(dossier) -> str | None:
    from portal.dossiers.tabs import dossier_findings
    errors = [tf for tf in dossier_findings(dossier) if tf.finding.level == "error"]
    if errors:
        return (f"La saisie n'est pas complète : {len(errors)} anomalie"
                f"{'s' if len(errors) > 1 else ''} à corriger (voir l'onglet Résumé).")
    formation = dossier.formation
    if formation is not None and formation.mission_requise and (
            dossier.mission is None or dossier.mission.status != "validee"):
        return "La mission doit être validée par le responsable de la formation."
    return None


def complete(dossier, **_) -> str | None:
    """Every required tab complete and valid, the mission validated when required (SPEC §3)."""
    return _entry_problem(dossier)


def entry_complete(dossier, **_) -> str | None:
    return _entry_problem(dossier)


def incomplete(dossier, **_) -> str | None:
    return None if _entry_problem(dossier) else "La saisie est complète."


def billing_required(dossier) -> bool:
    """Billing data is required for a professionalisation contract, a public employer (type
    21–30) or a company from Monaco (SPEC §2). Read as the dossier will print it (its
    snapshot once frozen)."""
    from portal.dossiers import snapshot
    etab = snapshot.etablissement(dossier)
    if etab is None:
        return dossier.dispositif == "professionnalisation"
    kind = (etab.type_employeur or "0").strip()
    public = kind.isdigit() and int(kind) >= 21
    return dossier.dispositif == "professionnalisation" or bool(etab.monaco) or public


def economy(dossier, **_) -> str | None:
    """The economic check reads what the documents will print (the snapshot once frozen)."""
    from portal.dossiers import snapshot
    formation = snapshot.formation(dossier)
    if formation is None or formation.prix is None:
        return "Le prix de la formation (NPEC) n'est pas renseigné sur la formation."
    etab = snapshot.etablissement(dossier)
    if etab is None:
        return "L'établissement employeur n'est pas renseigné."
    if billing_required(dossier) and not (etab.facturation_raison_sociale
                                          and etab.facturation_adresse):
        return "Les informations de facturation de l'employeur sont obligatoires ici."
    return None


def rupture(dossier, *, rupture_date=None, today: date | None = None, **_) -> str | None:
    """A rupture after the contract's start, dated between its start and today, not after its
    end (portal.rules.rupture)."""
    return rupture_date_problem(dossier.date_debut_contrat, rupture_date, today or date.today(),
                                dossier.date_fin_contrat)


def opco_deposit(dossier, *, numero_opco=None, date_depot=None, today: date | None = None,
                 **_) -> str | None:
    """Declaring the sending to the OPCO names its dossier number and the deposit date
    (SPEC §5), the date between the CERFA's visa and today (portal.rules.opco_deposit)."""
    visa = dossier.documents_valides_at.date() if dossier.documents_valides_at else None
    problems = deposit_problems(numero_opco, date_depot, today or date.today(), visa)
    return " ".join(problems.values()) or None


def signed_documents(dossier, **_) -> str | None:
    from portal.extensions import db
    from portal.models import Document
    kinds = set(db.session.execute(
        db.select(Document.kind).where(Document.dossier_id == dossier.id,
                                       Document.kind.in_(("cerfa_signe", "convention_signee")))
    ).scalars())
    missing = [label for kind, label in (("cerfa_signe", "le CERFA signé"),
                                         ("convention_signee", "la convention signée"))
               if kind not in kinds]
    if missing:
        return "Il manque " + " et ".join(missing) + "."
    return None


def automatic_validation(dossier, **_) -> str | None:
    formation = dossier.formation
    if formation is not None and formation.mode_validation == "automatique":
        return None
    return "La formation valide ses dossiers elle-même."


# Guards that check what the person types with the button (a date, a number): the page shows
# the button usable and the server checks them when it is pressed.
TYPED = frozenset({"rupture", "opco_deposit"})


def opco_deposit_problems(dossier, *, numero_opco=None, date_depot=None,
                          today: date | None = None, **_) -> dict[str, str]:
    """Field → French message (what opco_deposit refuses), for the page."""
    visa = dossier.documents_valides_at.date() if dossier.documents_valides_at else None
    return deposit_problems(numero_opco, date_depot, today or date.today(), visa)


GUARDS = {"complete": complete, "entry_complete": entry_complete, "incomplete": incomplete,
          "economy": economy, "rupture": rupture, "signed_documents": signed_documents,
          "opco_deposit": opco_deposit,
          "automatic_validation": automatic_validation}
