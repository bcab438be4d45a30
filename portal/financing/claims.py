"""The write path of the reimbursement requests (seed 004: « Saisir une demande de
remboursement ») and of the employer's invoice: for an instalment that is due, the CFA's
invoice (numbered, PDF), the certificat de réalisation (not for the first advance), the deposit
with its récépissé, the OPCO's payments (partial ones allowed) or its rejection.

Each step is one transaction with its history entry; a step already done, or done meanwhile by
someone else, is answered AlreadyDone (409) with nothing written."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from portal.documents.uploads import UploadRefused, check_pdf, safe_name, store
from portal.dossiers.errors import ALREADY_DONE, AlreadyDone
from portal.extensions import db
from portal.financing import invoices, states
from portal.financing.service import FinancingRefused, _check, _commit, history, hold
from portal.models import DemandeRemboursement, Paiement
from portal.rules.financing import (balance_claim_deadline, balance_lost,
                                    claim_needs_certificate)
from portal.rules.formatting import day as fr_day
from portal.rules.formatting import eur

ZERO = Decimal("0")
UNPAID_DAYS = 30  # a deposited claim unpaid after 30 days shows on the dashboard


def _version(obj, version):
    if version is not None and version != obj.version:
        raise AlreadyDone(ALREADY_DONE)


def claim_refusal(echeance, today: date) -> str | None:
    """Why this instalment cannot be claimed now (French), None when it can."""
    pec = echeance.prise_en_charge
    if not states.STATES[pec.state].claims:
        return (f"La prise en charge est « {pec.state_label} » : une demande de remboursement "
                "n'est possible qu'après l'accord de l'OPCO.")
    if echeance.hors_echeancier:
        return "Cette échéance ne fait plus partie de l'échéancier (rupture du contrat)."
    if echeance.active_claim() is not None:
        return f"Une demande de remboursement existe déjà pour « {echeance.label} »."
    if not echeance.montant:
        return ("Rien à demander : cette échéance est de 0 € (participation de l'employeur "
                "déduite).")
    if echeance.date_prevue > today:
        return (f"L'échéance « {echeance.label} » n'est due que le "
                f"{fr_day(echeance.date_prevue)}.")
    if echeance.nature == "solde" and balance_lost(pec.date_fin, today, claimed=False):
        return (f"Le solde devait être demandé au plus tard le "
                f"{fr_day(balance_claim_deadline(pec.date_fin))} (4 mois après la fin du "
                "contrat) : il est perdu.")
    return None


def _unclaimed_frais(pec) -> Decimal:
    claimed = sum((c.montant_frais for e in pec.echeances for c in e.demandes
                   if c.state != "rejetee"), ZERO)
    return max(Decimal(pec.montant_frais_annexes or 0) - claimed, ZERO)


def create_claim(echeance, *, by, today: date | None = None,
                 commit: bool = True) -> DemandeRemboursement:
    """The reimbursement request of a due instalment, with its invoice to the OPCO (the frais
    annexes not claimed yet join it). The partial unique index uq_claims_active keeps one
    active request per instalment whatever happens at once."""
    pec = echeance.prise_en_charge
    _check(by, pec)
    today = today or date.today()
    reason = claim_refusal(echeance, today)
    if reason:
        if echeance.active_claim() is not None:
            raise AlreadyDone(reason)
        raise FinancingRefused(reason)
    frais = _unclaimed_frais(pec)
    lines = [{"designation": f"Contrat d'apprentissage – {echeance.label} – dossier OPCO "
                             f"n° {pec.numero_opco}", "quantite": Decimal("1"),
              "prix_unitaire": echeance.montant, "montant": echeance.montant}]
    if frais:
        lines.append({"designation": "Frais annexes (premier équipement, hébergement, "
                                     "restauration)", "quantite": Decimal("1"),
                      "prix_unitaire": frais, "montant": frais})
    try:
        invoice = invoices.issue(pec, recipient="opco", lines=lines, by=by, today=today,
                                 objet=f"Demande de remboursement – {echeance.label}",
                                 instalment=echeance)
        claim = DemandeRemboursement(prise_en_charge=pec, echeance=echeance,
                                     montant=echeance.montant + frais, montant_frais=frais,
                                     state="brouillon", facture=invoice,
                                     created_by_id=getattr(by, "id", None))
        db.session.add(claim)
        history(pec.dossier, by, f"Demande de remboursement « {echeance.label} » : facture "
                                 f"{invoice.numero} de {eur(claim.montant)}.")
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise AlreadyDone(f"Une demande de remboursement existe déjà pour cette échéance. "
                          f"{ALREADY_DONE}") from None
    _commit(commit)
    return claim


def attach_certificate(claim, data: bytes, filename: str | None, *, by,
                       version: int | None = None, commit: bool = True):
    """The certificat de réalisation of a request not deposited yet: one real PDF."""
    _check(by, claim.prise_en_charge)
    _version(claim, version)
    if claim.state != "brouillon":
        raise AlreadyDone("La demande a déjà été déposée : le certificat ne change plus.")
    try:
        check_pdf(data)
    except UploadRefused as exc:
        raise FinancingRefused(str(exc), {"fichier": str(exc)}) from None
    dossier = claim.prise_en_charge.dossier
    document = store(data, kind="certificat_realisation", user=by, dossier=dossier,
                     filename=safe_name(filename, "certificat_realisation", dossier.id))
    claim.certificat = document
    hold()
    history(dossier, by, f"Certificat de réalisation joint à la facture "
                         f"{claim.facture.numero} ({document.filename}).")
    _commit(commit)
    return document


def deposit(claim, *, by, on: date | None = None, today: date | None = None,
            version: int | None = None, commit: bool = True):
    """The request deposited on the OPCO's platform: dated, with its récépissé."""
    _check(by, claim.prise_en_charge)
    _version(claim, version)
    today = today or date.today()
    on = on or today
    if claim.state != "brouillon":
        raise AlreadyDone(f"La demande de la facture {claim.facture.numero} est déjà "
                          f"« {claim.state_label} ».")
    echeance = claim.echeance
    if claim_needs_certificate(echeance.nature, echeance.annee_contrat) and \
            claim.certificat is None:
        raise FinancingRefused("Joignez le certificat de réalisation avant de déposer la "
                               "demande (il n'est pas demandé pour la première avance).",
                               {"fichier": "Le certificat de réalisation est obligatoire."})
    if on > today or on < claim.facture.date_emission:
        raise FinancingRefused(f"La date du dépôt ({fr_day(on)}) doit être comprise entre la "
                               f"facture ({fr_day(claim.facture.date_emission)}) et aujourd'hui.",
                               {"date": "Date du dépôt invalide."})
    claim.state, claim.deposee_le, claim.deposee_par_id = "deposee", on, getattr(by, "id", None)
    hold()
    claim.recepisse = invoices.receipt(claim, by=by, today=today)
    history(claim.prise_en_charge.dossier, by, f"Demande de remboursement déposée le "
                                               f"{fr_day(on)} (facture {claim.facture.numero}).")
    _commit(commit)
    return claim


def parse_amount(raw) -> Decimal | None:
    try:
        value = Decimal(str(raw or "").replace(",", ".").replace(" ", "").replace("\u202f", ""))
    except InvalidOperation:
        return None
    return value.quantize(Decimal("0.01")) if value.is_finite() else None


def record_payment(claim, *, by, on: date | None, amount, reference: str | None = None,
                   today: date | None = None, version: int | None = None,
                   commit: bool = True) -> Paiement:
    """A payment of the OPCO for a deposited request; the request is « Payée » once the
    payments reach its amount."""
    _check(by, claim.prise_en_charge)
    _version(claim, version)
    today = today or date.today()
    if claim.state == "payee":
        raise AlreadyDone(f"La facture {claim.facture.numero} est déjà payée.")
    if claim.state != "deposee":
        raise FinancingRefused("Un paiement s'enregistre sur une demande déposée.")
    value = parse_amount(amount)
    rest = claim.montant - claim.montant_paye
    errors = {}
    if value is None or value <= 0:
        errors["montant"] = "Saisissez le montant reçu, en euros (par exemple 1234,50)."
    elif value > rest:
        errors["montant"] = (f"Le montant reçu ({eur(value)}) dépasse ce qui reste dû sur la "
                             f"facture ({eur(rest)}).")
    if on is None:
        errors["date"] = "Indiquez la date du paiement (jj/mm/aaaa)."
    elif on > today or on < claim.deposee_le:
        errors["date"] = (f"La date du paiement ({fr_day(on)}) doit être comprise entre le "
                          f"dépôt ({fr_day(claim.deposee_le)}) et aujourd'hui.")
    if errors:
        raise FinancingRefused(" ".join(errors.values()), errors)
    payment = Paiement(demande=claim, date=on, montant=value,
                       reference=(reference or "").strip()[:100] or None,
                       created_by_id=getattr(by, "id", None))
    db.session.add(payment)
    claim.montant_paye = claim.montant_paye + value
    hold()
    if claim.montant_paye >= claim.montant:
        claim.state, claim.payee_le = "payee", on
    history(claim.prise_en_charge.dossier, by,
            f"Paiement de l'OPCO reçu le {fr_day(on)} : {eur(value)} (facture "
            f"{claim.facture.numero}, {claim.state_label.lower()}).")
    _commit(commit)
    return payment


def reject(claim, *, by, on: date | None, reason: str | None, today: date | None = None,
           version: int | None = None, commit: bool = True):
    """The OPCO rejected a deposited request (with its reason): the instalment may be claimed
    again with a new invoice."""
    _check(by, claim.prise_en_charge)
    _version(claim, version)
    today = today or date.today()
    if claim.state == "rejetee":
        raise AlreadyDone("La demande a déjà été rejetée.")
    if claim.state != "deposee" or claim.montant_paye:
        raise FinancingRefused("Seule une demande déposée et non payée peut être rejetée.")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["motif"] = "Indiquez le motif du rejet donné par l'OPCO."
    if on is None or on > today or on < claim.deposee_le:
        errors["date"] = "La date du rejet doit être comprise entre le dépôt et aujourd'hui."
    if errors:
        raise FinancingRefused(" ".join(errors.values()), errors)
    claim.state, claim.rejetee_le, claim.motif_rejet = "rejetee", on, reason[:2000]
    hold()
    history(claim.prise_en_charge.dossier, by, f"Demande de remboursement rejetée le "
                                               f"{fr_day(on)} (facture {claim.facture.numero})"
                                               f" : {reason}")
    _commit(commit)
    return claim


def employer_invoice(pec, *, by, today: date | None = None, commit: bool = True):
    """The employer's invoice for what remains at its charge (price above the OPCO's coverage,
    plus the 750 € participation when due): one per prise en charge (uq_factures_employeur)."""
    _check(by, pec)
    today = today or date.today()
    if invoices.invoices_of(pec, "employeur"):
        raise AlreadyDone("La facture de l'employeur a déjà été émise.")
    if not states.STATES[pec.state].claims:
        raise FinancingRefused("La facture de l'employeur s'émet après l'accord de l'OPCO.")
    if not pec.reste_a_charge or pec.reste_a_charge <= 0:
        raise FinancingRefused("Rien ne reste à la charge de l'employeur.")
    above = pec.reste_a_charge - pec.participation_employeur
    lines = []
    if above > 0:
        lines.append({"designation": "Coût pédagogique au-delà de la prise en charge de "
                                     "l'OPCO", "quantite": Decimal("1"), "prix_unitaire": above,
                      "montant": above})
    if pec.participation_employeur:
        lines.append({"designation": "Participation forfaitaire de l'employeur (contrat "
                                     "d'apprentissage, certification de niveau 6 ou 7)",
                      "quantite": Decimal("1"), "prix_unitaire": pec.participation_employeur,
                      "montant": pec.participation_employeur})
    try:
        invoice = invoices.issue(pec, recipient="employeur", lines=lines, by=by, today=today,
                                 objet="Reste à charge de l'employeur – formation en "
                                       "apprentissage")
        history(pec.dossier, by, f"Facture de l'employeur {invoice.numero} : "
                                 f"{eur(invoice.montant)}, échéance le "
                                 f"{fr_day(invoice.date_echeance)}.")
        db.session.flush()
        from portal.mail import messages
        messages.to_employer_financing(
            pec.dossier, user=by, comment=None, attachments=[invoice.document],
            headline=f"facture n° {invoice.numero} de {eur(invoice.montant)} pour le reste à "
                     f"votre charge, à régler au plus tard le {fr_day(invoice.date_echeance)} "
                     "(jointe à ce message).")
    except IntegrityError:
        db.session.rollback()
        raise AlreadyDone("La facture de l'employeur a déjà été émise.") from None
    _commit(commit)
    return invoice


def unpaid_since(today: date) -> date:
    return today - timedelta(days=UNPAID_DAYS)
