"""L'employeur (SPEC §2): the establishment (CERFA FA13 « L'employeur »), the signatory of the
convention, the maîtres d'apprentissage and, when needed, the billing information.

The establishment is shared by every dossier of the employer. Which one the dossier points at,
and who may change its fields, is portal.dossiers.establishments' (a SIRET of another
structure makes an access request and shows nothing of it). From ``validation_demandee`` on,
the page shows the establishment as frozen with the dossier (portal.dossiers.snapshot).
Fields: employeur_fields; maîtres: employeur_masters; billing: employeur_billing.
"""
from __future__ import annotations

import re
from typing import Any

from portal.dossiers import establishments, snapshot
from portal.dossiers.establishments import CREATED_ENTRY  # noqa: F401  (tests, history)
from portal.dossiers.tabs import employeur_billing as billing
from portal.dossiers.tabs import employeur_masters as masters
from portal.dossiers.tabs.base import Section, Tab, as_date, blank
from portal.dossiers.tabs.employeur_billing import (billing_required,  # noqa: F401
                                                    is_public_employer)
from portal.dossiers.tabs.employeur_fields import (  # noqa: F401  (names other modules use)
    ACTIVITE_FIELDS, APPRENTISSAGE, ATTESTATION, ETAB_FIELDS, ETABLISSEMENT, FACTURATION, FIELDS,
    FROZEN_NOTE, KNOWN_MESSAGE, MAITRE_1, MAITRE_2, PROFESSIONNALISATION, REQUEST_REFUSED,
    REQUEST_SENT, REQUEST_WAITING, REQUIRED, REQUIRED_BILLING, RESPONSABLE, SIRET_MESSAGE)
from portal.rules import ERROR, Finding
from portal.rules.identifiers import clean_digits, idcc_findings, is_valid_naf, is_valid_siret

master_apprentice_count = masters.apprentice_count


def _notify(message: str) -> None:
    """An information for the person saving the page (only when there is one)."""
    from flask import flash, has_request_context
    if has_request_context():
        flash(message, "info")


def _differs(new: Any, old: Any) -> bool:
    def norm(value):
        if isinstance(value, str):
            return value.strip() or None
        return value
    return norm(new) != norm(old)


def _shown(dossier):
    """(SIRET, establishment-like) the page shows: the frozen one of a frozen dossier, else
    the one the dossier may show for its SIRET (nothing of another structure's)."""
    if snapshot.is_frozen(dossier):
        etab = snapshot.etablissement(dossier)
        return (etab.siret if etab is not None else dossier.employeur_siret), etab
    linked = dossier.etablissement
    siret = dossier.employeur_siret or (linked.siret if linked is not None else None)
    return siret, establishments.shown_establishment(dossier, siret)


def request_finding(data: dict[str, Any], dossier) -> Finding | None:
    """The dossier asked for this SIRET's establishment of another structure and the answer is
    not (or no longer) yes: it cannot point there, and its entry is not complete."""
    demande = dossier.etablissement_demande
    if demande is None or clean_digits(data.get("employeur_siret")) != demande.siret:
        return None
    state = establishments.request_state(dossier)
    if state == establishments.WAITING:
        return Finding(ERROR, "employeur_siret", REQUEST_WAITING.format(siret=demande.siret))
    if state == establishments.REFUSED:
        return Finding(ERROR, "employeur_siret", REQUEST_REFUSED.format(siret=demande.siret))
    return None


class EmployeurTab(Tab):
    code = "employeur"
    label = "L'employeur"
    fields = FIELDS
    template = "admin/dossier/tab_employeur.html"

    def form_class(self, dossier):
        from forms.tabs.employeur import EmployeurForm
        return EmployeurForm

    # --- data ------------------------------------------------------------------------------
    def load(self, dossier) -> dict[str, Any]:
        data: dict[str, Any] = {name: None for name in FIELDS}
        siret, etab = _shown(dossier)
        data["employeur_siret"] = siret
        if etab is not None:
            for name, col in {**ETABLISSEMENT, **FACTURATION}.items():
                data[name] = getattr(etab, col)
        data["employeur_monaco"] = bool(data["employeur_monaco"])
        for name in RESPONSABLE:
            data[name] = getattr(dossier, name)
        masters.load(dossier, data)
        data["_maitre_1_apprentis"] = masters.apprentice_count(
            dossier, siret, data["maitre_1_nom"], data["maitre_1_prenom"],
            data["maitre_1_date_naissance"])
        data["_maitre_1_identite"] = masters.identity(data)
        return data

    def store(self, dossier, data: dict[str, Any], user) -> None:
        from portal.extensions import db
        with db.session.no_autoflush:
            for name in RESPONSABLE:
                if name in data:
                    setattr(dossier, name, data[name])
            if "employeur_siret" in data and not blank(data["employeur_siret"]):
                self._store_establishment(dossier, data, user)
            masters.store(dossier, data)

    @staticmethod
    def _store_establishment(dossier, data, user) -> None:
        with_billing = billing_required({"dispositif": dossier.dispositif, **data}, dossier)
        columns = {**ETABLISSEMENT, **(FACTURATION if with_billing else {})}
        values = {col: data[name] for name, col in columns.items() if name in data}
        result = establishments.link_establishment(dossier, data["employeur_siret"], by=user,
                                                   data=values, billing=with_billing)
        etab = result.etablissement
        if result.requested is not None:
            _notify(REQUEST_SENT.format(siret=result.requested.siret))
        elif not result.may_update and etab is not None and any(
                _differs(value, getattr(etab, col)) for col, value in values.items()):
            _notify(KNOWN_MESSAGE.format(name=etab.denomination, siret=etab.siret))

    # --- checks ----------------------------------------------------------------------------
    def required(self, data, dossier) -> set[str]:
        required = set(REQUIRED)
        dispositif = data.get("dispositif") or dossier.dispositif
        if dispositif == PROFESSIONNALISATION:
            required.add("maitre_1_annees_experience")  # tutor: 2 years' experience (D6325-6)
        if billing_required(data, dossier):
            required |= REQUIRED_BILLING
        return required

    def check(self, data, dossier, labels=None) -> list[Finding]:
        masters.count_again_if_changed(dossier, data)
        return super().check(data, dossier, labels)

    def own_findings(self, data, dossier) -> list[Finding]:
        findings: list[Finding] = []
        value = data.get("employeur_siret")
        if not blank(value) and not is_valid_siret(value):
            findings.append(Finding(ERROR, "employeur_siret", SIRET_MESSAGE))
        else:
            pending = request_finding(data, dossier)
            if pending is not None:
                findings.append(pending)
        findings.extend(idcc_findings(data.get("idcc")))
        naf = data.get("naf")
        if not blank(naf) and not is_valid_naf(naf):
            findings.append(Finding(ERROR, "naf", "Le code NAF (APE) comporte 4 chiffres et "
                                                  "1 lettre, par exemple 62.01Z."))
        monaco = bool(data.get("employeur_monaco"))
        postal = (data.get("employeur_code_postal") or "").strip()
        if postal and not billing.postal_code_ok(postal, monaco):
            findings.append(Finding(ERROR, "employeur_code_postal",
                                    billing.postal_message(monaco)))
        findings.extend(billing.findings(data, dossier))
        findings.extend(masters.findings(data, dossier))
        return findings

    # --- page ------------------------------------------------------------------------------
    def sections(self, dossier, data) -> list[Section]:
        pro = (data.get("dispositif") or dossier.dispositif) == PROFESSIONNALISATION
        master = "Tuteur" if pro else "Maître d'apprentissage"
        return [
            Section("Établissement d'exécution du contrat", ETAB_FIELDS, block_id="etablissement",
                    help="Saisissez le SIRET : les informations connues de Sillon (ou de "
                         "l'annuaire des entreprises) complètent les champs vides."),
            Section("Activité et convention collective", ACTIVITE_FIELDS, block_id="convention"),
            Section("Responsable signataire de la convention de formation", list(RESPONSABLE),
                    block_id="responsable"),
            Section(f"{master} n° 1", list(MAITRE_1), block_id="maitre-1"),
            Section(f"{master} n° 2 (facultatif)", list(MAITRE_2), block_id="maitre-2",
                    help="Renseignez tout le bloc ou laissez-le entièrement vide."),
            Section("Attestation de l'employeur", [ATTESTATION], block_id="attestation"),
            Section("Facturation", list(FACTURATION), block_id="facturation",
                    help="Obligatoire pour un contrat de professionnalisation, un employeur "
                         "public ou une entreprise établie à Monaco.",
                    extra={"hidden": not billing_required(data, dossier),
                           "condition": "facturation"}),
        ]

    def extra_context(self, dossier, data) -> dict[str, Any]:
        from portal.rules.aids import employer_aid, employer_participation
        from portal.rules.formatting import eur
        convention, convention_opco = self._convention(dossier, data.get("idcc"))
        dispositif = data.get("dispositif") or dossier.dispositif
        formation = snapshot.formation(dossier)
        level = getattr(formation, "niveau", None)
        conclusion = as_date(data.get("date_conclusion"))
        if conclusion is None and dossier.contrat is not None:
            conclusion = dossier.contrat.date_conclusion
        effectif = data.get("employeur_effectif")
        aid = participation = None
        if dispositif == APPRENTISSAGE:
            aid = employer_aid(conclusion, effectif if isinstance(effectif, int) else None,
                               level, bool(data.get("rqth")))[1]
            amount = employer_participation(conclusion, level, dispositif)
            if amount:
                participation = (f"Participation forfaitaire de l'employeur au coût de la "
                                 f"formation (diplôme de niveau {level}) : {eur(amount)}, "
                                 "déduite du premier versement de l'OPCO au CFA.")
        frozen_note = None
        if snapshot.is_frozen(dossier) and dossier.snapshot_at is not None:
            frozen_note = FROZEN_NOTE.format(day=dossier.snapshot_at.strftime("%d/%m/%Y"))
        return {
            "convention": convention,
            "convention_opco": convention_opco,
            "billing_required": billing_required(data, dossier),
            "dispositif": dispositif,
            "aid_text": aid,
            "participation_text": participation,
            "frozen_note": frozen_note,
        }

    @staticmethod
    def _convention(dossier, idcc):
        """The collective agreement (and its OPCO) shown under the IDCC: frozen with the
        dossier, else read from the IDCC table."""
        if snapshot.is_frozen(dossier):
            convention, opco = snapshot.convention(dossier), snapshot.opco(dossier)
            if convention is not None and opco is not None and opco.code != convention.opco_code:
                opco = None
            return convention, opco
        from portal.extensions import db
        from portal.models import ConventionCollective
        if not (isinstance(idcc, str) and re.fullmatch(r"[0-9]{4}", idcc)):
            return None, None
        with db.session.no_autoflush:
            convention = db.session.execute(
                db.select(ConventionCollective).where(ConventionCollective.idcc == idcc)
            ).scalars().first()
        return convention, (convention.opco if convention is not None else None)
