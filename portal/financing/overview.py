"""What the dossier's Financement tab shows, for one person: CFA staff everything (the OPCO's
answers, amounts, schedule, claims, payments, invoices), an employer what it will be billed and
when. Reads only; the decisions on what may be done are portal.policy's and the write paths'."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from portal import policy
from portal.extensions import db
from portal.financing import claims, invoices, states
from portal.models import DossierHistory
from portal.rules.financing import (balance_claim_deadline, claim_needs_certificate,
                                    decision_deadline, decision_overdue)


@dataclass
class InstalmentRow:
    echeance: object
    claims: list = field(default_factory=list)   # every claim, newest last
    active: object | None = None
    refusal: str | None = None                   # why no claim can be made now
    needs_certificate: bool = True


def documents_of(pec) -> dict[int, str]:
    """document id → what it is, for the documents of this prise en charge: "facture_opco",
    "facture_employeur", "certificat", "recepisse" (policy.financing_document_allowed decides
    who downloads which)."""
    out: dict[int, str] = {}
    for invoice in invoices.invoices_of(pec):
        if invoice.document_id:
            out[invoice.document_id] = f"facture_{invoice.destinataire}"
    for echeance in pec.echeances:
        for claim in echeance.demandes:
            if claim.certificat_document_id:
                out[claim.certificat_document_id] = "certificat"
            if claim.recepisse_document_id:
                out[claim.recepisse_document_id] = "recepisse"
    return out


def overview(pec, user, today: date | None = None) -> dict:
    today = today or date.today()
    state = states.STATES[pec.state]
    cfa = policy.may_see_amounts_of(user)
    employer_invoices = invoices.invoices_of(pec, "employeur")
    data = {
        "pec": pec, "pec_state": state, "cfa": cfa, "today": today,
        "deadline": decision_deadline(pec.date_complet) if state.waiting_decision else None,
        "overdue": state.waiting_decision and pec.state != "en_attente" and decision_overdue(
            pec.date_complet, False, today),
        "employer_invoice": employer_invoices[0] if employer_invoices else None,
        "balance_deadline": balance_claim_deadline(pec.date_fin),
    }
    if not cfa:
        return data
    rows = []
    for echeance in pec.echeances:
        row = InstalmentRow(echeance, claims=list(echeance.demandes),
                            active=echeance.active_claim(),
                            needs_certificate=claim_needs_certificate(echeance.nature,
                                                                     echeance.annee_contrat))
        row.refusal = claims.claim_refusal(echeance, today)
        rows.append(row)
    data.update(
        rows=rows, answers=states.answers_from(pec.state) if policy.financing_refusal(
            user, pec) is None else [],
        editable=not state.amounts_locked and policy.financing_refusal(user, pec) is None,
        can_bill_employer=(not employer_invoices and state.claims and pec.reste_a_charge > 0),
        history=db.session.scalars(
            select(DossierHistory).where(DossierHistory.dossier_id == pec.dossier_id,
                                         DossierHistory.kind == "financement")
            .order_by(DossierHistory.at.desc(), DossierHistory.id.desc()).limit(100)).all(),
        paid=sum((c.montant_paye for r in rows for c in r.claims), type(pec.montant_opco)(0)),
    )
    return data
