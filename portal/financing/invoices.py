"""The CFA's invoices and receipts: gap-free numbering per calendar year, and the plain data
the PDFs print (templates/pdf/facture.html, recepisse.html; rendered by portal/documents).

Numbering (CGI art. 242 nonies A: one continuous chronological series): the year's counter row
is incremented by an UPDATE in the transaction that stores the invoice. The UPDATE locks the row
until that transaction ends (PostgreSQL row lock; SQLite's single writer), so two invoices never
get one number; a transaction rolled back gives its number back, so no number is skipped."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update

from portal.documents.render import render_pdf
from portal.documents.uploads import store
from portal.dossiers import snapshot
from portal.extensions import database_kind, db
from portal.models import CompteurFacture, Facture

PAYMENT_DAYS = 30  # the payment term printed on invoices (L441-10 Code de commerce: ≤ 60 days)


def next_number(year: int) -> tuple[int, str]:
    """(sequence, number) of the next invoice of ``year``; locks the counter until commit."""
    dialect = database_kind()
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    db.session.execute(dialect_insert(CompteurFacture).values(annee=year, dernier=0)
                       .on_conflict_do_nothing(index_elements=["annee"]))
    sequence = db.session.execute(
        update(CompteurFacture).where(CompteurFacture.annee == year)
        .values(dernier=CompteurFacture.dernier + 1).returning(CompteurFacture.dernier)
    ).scalar_one()
    return sequence, f"FA-{year}-{sequence:05d}"


def _cfa(dossier):
    cfa = dossier.formation.cfa if dossier.formation is not None else None
    frozen = snapshot.cfa(dossier) or cfa
    if frozen is None:
        return {}
    out = {k: getattr(frozen, k, None) for k in (
        "nom", "uai", "siret", "numero_declaration_activite", "adresse", "code_postal",
        "commune", "telephone", "email")}
    live = cfa or frozen
    out.update({k: getattr(live, k, None) for k in ("tva_intracom", "iban", "bic")})
    contact = {k: getattr(live, f"contact_{k}", None)
               for k in ("civilite", "prenom", "nom", "fonction", "telephone", "email")}
    out["contact"] = contact if contact.get("nom") else None
    return out


def dossier_data(dossier, pec) -> dict:
    formation = snapshot.formation(dossier)
    etab = snapshot.etablissement(dossier)
    apprenti = " ".join(p for p in (dossier.apprenti_prenom, (dossier.apprenti_nom or "").upper())
                        if p)
    return {"id": dossier.id, "apprenti": apprenti,
            "formation": getattr(formation, "intitule", None),
            "code_rncp": getattr(formation, "code_rncp", None),
            "code_diplome": getattr(formation, "code_diplome", None),
            "date_debut": pec.date_debut, "date_fin": pec.date_fin,
            "employeur": getattr(etab, "denomination", None),
            "employeur_siret": getattr(etab, "siret", None), "numero_opco": pec.numero_opco}


def _delegant(pec):
    org = pec.organisme_delegant
    if org is None:
        return None
    return {k: getattr(org, k) for k in ("nom", "siret", "uai", "numero_declaration_activite")}


def _client(pec, recipient: str) -> dict:
    if recipient == "opco":
        opco = pec.opco
        return {"nom": opco.nom if opco else (pec.opco_code or "OPCO"),
                "adresse": getattr(opco, "adresse", None),
                "code_postal": getattr(opco, "code_postal", None),
                "commune": getattr(opco, "commune", None), "siret": None}
    etab = snapshot.etablissement(pec.dossier)
    billing = getattr(etab, "facturation_raison_sociale", None)
    if billing:
        return {"nom": billing, "adresse": etab.facturation_adresse,
                "code_postal": etab.facturation_code_postal,
                "commune": etab.facturation_commune,
                "siret": etab.facturation_siret or etab.siret}
    address = " ".join(p for p in (getattr(etab, "adresse_numero", None),
                                   getattr(etab, "adresse_voie", None),
                                   getattr(etab, "adresse_complement", None)) if p)
    return {"nom": getattr(etab, "denomination", None), "adresse": address or None,
            "code_postal": getattr(etab, "code_postal", None),
            "commune": getattr(etab, "commune", None), "siret": getattr(etab, "siret", None)}


def issue(pec, *, recipient: str, lines: list[dict], objet: str, by, today: date,
          instalment=None) -> Facture:
    """Number, render and store one invoice (no commit: the caller's transaction holds the
    counter's lock until it commits)."""
    total = sum((line["montant"] for line in lines), start=type(lines[0]["montant"])(0))
    sequence, numero = next_number(today.year)
    due = today + timedelta(days=PAYMENT_DAYS)
    dossier = pec.dossier
    ctx = {
        "dossier": dossier_data(dossier, pec), "cfa": _cfa(dossier), "delegant": _delegant(pec),
        "invoice": {"numero": numero, "date": today, "due": due, "destinataire": recipient,
                    "client": _client(pec, recipient), "objet": objet, "lines": lines,
                    "total": total},
        "instalment": None if instalment is None else {
            "contract_year": instalment.annee_contrat, "label": instalment.label,
            "percent": instalment.pourcentage, "due": instalment.date_prevue},
    }
    pdf = render_pdf("facture", ctx)
    document = store(pdf, kind="facture", filename=f"Facture-{numero}.pdf", user=by,
                     dossier=dossier)
    invoice = Facture(numero=numero, annee=today.year, sequence=sequence,
                      destinataire=recipient, prise_en_charge=pec, montant=total,
                      date_emission=today, date_echeance=due, document=document,
                      created_by_id=getattr(by, "id", None))
    db.session.add(invoice)
    return invoice


def receipt(claim, *, by, today: date):
    """The récépissé of a deposited claim, stored (no commit)."""
    pec = claim.prise_en_charge
    dossier = pec.dossier
    opco = pec.opco
    who = getattr(by, "full_name", None) or getattr(by, "email", None)
    ctx = {
        "dossier": dossier_data(dossier, pec), "cfa": _cfa(dossier),
        "opco": {"code": opco.code, "nom": opco.nom} if opco else None,
        "receipt": {"numero": f"R-{claim.facture.numero[3:]}", "date": today,
                    "deposee_le": claim.deposee_le, "invoice_numero": claim.facture.numero,
                    "montant": claim.montant, "instalment_label": claim.echeance.label,
                    "certificat": claim.certificat.filename if claim.certificat else None,
                    "demandeur": who},
    }
    pdf = render_pdf("recepisse", ctx)
    return store(pdf, kind="recepisse", filename=f"Recepisse-{claim.facture.numero}.pdf",
                 user=by, dossier=dossier)


def invoices_of(pec, recipient: str | None = None) -> list[Facture]:
    stmt = select(Facture).where(Facture.prise_en_charge_id == pec.id)
    if recipient:
        stmt = stmt.where(Facture.destinataire == recipient)
    return list(db.session.scalars(stmt.order_by(Facture.id)))

