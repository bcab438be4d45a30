"""The one write path of a prise en charge (SPEC §5): opened when the dossier is declared sent
to the OPCO, the OPCO's answers, the amounts the CFA records, the schedule stored and
recomputed (rupture). Who may do it is portal.policy's answer; what a state allows is
portal/financing/states.py's table; the figures are portal.rules.financing's.

Each change is one transaction with its history entry (the dossier's history, kind
"financement"), committed here unless the caller passes ``commit=False`` (the transition that
opens the prise en charge commits it with the dossier's new state)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from portal import policy
from portal.dossiers import signals, snapshot
from portal.dossiers.errors import ALREADY_DONE, AlreadyDone, Stale, WriteRefused  # noqa: F401
from portal.extensions import db
from portal.financing import amounts, states
from portal.models import DossierHistory, Echeance, OrganismeDelegant, PriseEnCharge
from portal.models.people import utcnow
from portal.rules.financing import frais_annexes_findings
from portal.rules.formatting import day as fr_day
from portal.rules.formatting import eur
from portal.rules.opco_deposit import deposit_problems, normalize_number

from portal.npec import ceilings_on

KIND = "financement"


class FinancingRefused(WriteRefused):
    """A financing change that cannot be made (French); nothing was written."""


def history(dossier, user, text: str) -> None:
    db.session.add(DossierHistory(dossier=dossier, user_id=getattr(user, "id", None), kind=KIND,
                                  comment=text, at=utcnow()))


def _check(user, pec=None) -> None:
    reason = policy.financing_refusal(user, pec)
    if reason:
        raise FinancingRefused(reason)


def _version(pec, version: int | None) -> None:
    if version is not None and version != pec.version:
        raise AlreadyDone(ALREADY_DONE)


def hold() -> None:
    """Write the changes made so far, right after the first one: the UPDATE ... WHERE
    version = <read> of a row someone changed meanwhile matches nothing (StaleDataError), a
    unique row already taken raises IntegrityError: either is AlreadyDone, nothing written.
    Once it passed, the row is this transaction's until it ends (no later autoflush can lose
    the race)."""
    try:
        db.session.flush()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None


def _commit(commit: bool) -> None:
    if not commit:
        return
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        raise AlreadyDone(ALREADY_DONE) from None


# --- opening: the dossier is declared sent to the OPCO -------------------------------------------

def open_for(dossier, user, *, numero: str, deposit: date) -> PriseEnCharge:
    """The dossier's prise en charge, created (state « Reçu ») or, when the dossier comes back
    to the OPCO after an unlock, given its new number and date. Inside the transition's
    transaction (no commit)."""
    numero = normalize_number(numero)
    pec = dossier.prise_en_charge
    etab = snapshot.etablissement(dossier)
    opco = snapshot.opco(dossier)
    opco_code = getattr(opco, "code", None) or getattr(etab, "opco_code", None)
    if pec is None:
        pec = PriseEnCharge(dossier=dossier, state="recu", state_date=deposit,
                            date_debut=dossier.date_debut_contrat,
                            date_fin=dossier.date_fin_contrat)
        db.session.add(pec)
        text = (f"Prise en charge ouverte : dossier OPCO n° {numero}, déposé le "
                f"{fr_day(deposit)} ({states.state_label('recu')}).")
    else:
        if states.STATES[pec.state].final:
            pec.state, pec.state_date, pec.motif, pec.date_decision = "recu", deposit, None, None
        text = (f"Nouveau dépôt à l'OPCO : dossier n° {numero}, déposé le {fr_day(deposit)}.")
    pec.opco_code, pec.numero_opco = opco_code, numero
    pec.date_depot = pec.date_complet = deposit
    recompute(pec, dossier)
    history(dossier, user, text)
    return pec


def recompute(pec, dossier=None, *, npec: Decimal | None = None) -> amounts.Amounts:
    """Store the amounts and the schedule computed from the dossier (and ``npec`` when the CFA
    typed the OPCO's figure). Instalments already claimed keep their claim: an instalment the
    new schedule drops (a rupture) stays, marked « hors échéancier »."""
    dossier = dossier or pec.dossier
    if npec is None and pec.npec is not None and pec.npec_id is None:
        npec = pec.npec  # a figure typed by the CFA stays until it is changed
    result = amounts.compute(dossier, pec, npec_override=npec)
    pec.date_conclusion, pec.date_debut = result.concluded, dossier.date_debut_contrat
    pec.date_fin = result.last_day or dossier.date_fin_contrat
    pec.npec_id = result.npec_row.id if (result.npec_row is not None and npec is None) else None
    pec.npec, pec.part_distance = result.npec, result.distance_share
    pec.montant_opco, pec.prix_formation = result.opco_total, result.price
    pec.participation_employeur, pec.reste_a_charge = result.participation, result.remainder
    pec.montant_frais_annexes = result.frais
    _sync_schedule(pec, result.schedule)
    return result


def _sync_schedule(pec, schedule) -> None:
    current = {(e.annee_contrat, e.nature): e for e in pec.echeances}
    wanted = set()
    for rang, item in enumerate(schedule, start=1):
        key = (item.contract_year, item.kind)
        wanted.add(key)
        row = current.get(key)
        if row is None:
            row = Echeance(annee_contrat=item.contract_year, nature=item.kind)
            pec.echeances.append(row)
        row.rang, row.pourcentage, row.montant = rang, item.percent, item.amount
        row.date_prevue, row.hors_echeancier = item.due, False
    for key, row in current.items():
        if key in wanted:
            continue
        if row.active_claim() is not None:
            row.hors_echeancier = True
            row.rang = 100 + row.rang
        else:
            pec.echeances.remove(row)


# --- the OPCO's answers --------------------------------------------------------------------------

def answer(pec, code: str, *, by, on: date | None, reason: str | None = None,
           version: int | None = None, today: date | None = None, commit: bool = True) -> str:
    """Record an answer of the OPCO (states.ANSWERS) dated ``on``. Returns the new state."""
    _check(by, pec)
    today = today or date.today()
    row = states.ANSWERS.get(code)
    if row is None:
        raise FinancingRefused("Réponse de l'OPCO inconnue.")
    _version(pec, version)
    if pec.state not in row.sources:
        raise AlreadyDone(f"« {row.label} » est impossible quand la prise en charge est "
                          f"« {pec.state_label} » : rien n'a été changé (déjà fait ?).")
    reason = (reason or "").strip() or None
    errors = {}
    if on is None:
        errors["date"] = "Indiquez la date de la réponse de l'OPCO (jj/mm/aaaa)."
    elif on > today:
        errors["date"] = f"La date de la réponse ({fr_day(on)}) est dans le futur."
    elif on < pec.date_depot:
        errors["date"] = (f"La date de la réponse ({fr_day(on)}) précède le dépôt à l'OPCO "
                          f"({fr_day(pec.date_depot)}).")
    if row.needs_reason and not reason:
        errors["motif"] = f"{row.reason_label} : ce champ est obligatoire."
    if errors:
        raise FinancingRefused(" ".join(errors.values()), errors)
    source = pec.state
    pec.state, pec.state_date = row.target, on
    hold()
    pec.motif = reason[:2000] if reason else None
    if row.decision:
        pec.date_decision = on
    if row.restarts_clock:
        pec.date_complet = on
    text = (f"Prise en charge : {states.state_label(source)} → {states.state_label(row.target)}"
            f" le {fr_day(on)}" + (f" – {reason}" if reason else "") + ".")
    history(pec.dossier, by, text)
    if row.decision:
        _tell_employer(pec, by, row.target, reason)
    pec.updated_at = utcnow()
    _commit(commit)
    return pec.state


def _tell_employer(pec, by, target, reason) -> None:
    from portal.mail import messages
    if target == "accorde":
        headline = (f"l'OPCO a accordé sa prise en charge ({eur(pec.montant_opco)}). "
                    f"Reste à votre charge : {eur(pec.reste_a_charge)}, facturé par le CFA.")
    else:
        headline = "l'OPCO a refusé la prise en charge du contrat."
    messages.to_employer_financing(pec.dossier, user=by, comment=reason, headline=headline)


# --- what the CFA records: NPEC figure, frais annexes, delegating organisation -------------------

EDITABLE = ("numero_opco", "date_depot", "npec", "frais_premier_equipement",
            "nuits_hebergement", "repas_restauration", "organisme_delegant_id")
LABELS = {"numero_opco": "N° du dossier à l'OPCO", "date_depot": "Date du dépôt",
          "npec": "NPEC annuel", "frais_premier_equipement": "Premier équipement",
          "nuits_hebergement": "Nuitées d'hébergement", "repas_restauration": "Repas",
          "organisme_delegant_id": "Organisme délégant"}


def _decimal(raw, field, errors):
    if raw in (None, ""):
        return None
    try:
        value = Decimal(str(raw).replace(",", ".").replace(" ", "").replace("\u202f", ""))
    except InvalidOperation:
        errors[field] = "Saisissez un montant en euros (par exemple 1234,50)."
        return None
    if not value.is_finite() or value < 0 or value >= Decimal("10000000"):
        errors[field] = "Saisissez un montant positif, inférieur à 10 000 000 €."
        return None
    return value.quantize(Decimal("0.01"))


def _count(raw, field, errors):
    if raw in (None, ""):
        return None
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 5:
        errors[field] = "Saisissez un nombre entier (0 à 99 999)."
        return None
    return int(text)


def _parse(pec, raw: dict, today: date) -> tuple[dict, dict]:
    errors: dict[str, str] = {}
    values: dict = {}
    if "numero_opco" in raw or "date_depot" in raw:
        numero = raw.get("numero_opco", pec.numero_opco)
        deposit = raw.get("date_depot", pec.date_depot)
        errors.update(deposit_problems(numero, deposit, today))
        values["numero_opco"], values["date_depot"] = normalize_number(numero), deposit
    if "npec" in raw:
        values["npec"] = _decimal(raw["npec"], "npec", errors)
    if "frais_premier_equipement" in raw:
        values["frais_premier_equipement"] = _decimal(raw["frais_premier_equipement"],
                                                      "frais_premier_equipement", errors)
    for name in ("nuits_hebergement", "repas_restauration"):
        if name in raw:
            values[name] = _count(raw[name], name, errors)
    if "organisme_delegant_id" in raw:
        pk = raw["organisme_delegant_id"]
        if pk in (None, "", 0):
            values["organisme_delegant_id"] = None
        elif db.session.get(OrganismeDelegant, int(pk)) is None:
            errors["organisme_delegant_id"] = "Choisissez un organisme délégant de la liste."
        else:
            values["organisme_delegant_id"] = int(pk)
    ceilings = ceilings_on(pec.date_debut or today)
    if len(ceilings) == 3 and not errors:
        for finding in frais_annexes_findings(
                equipement=values.get("frais_premier_equipement", pec.frais_premier_equipement),
                nuits=None, repas=None, montant_hebergement=None, montant_restauration=None,
                ceilings=ceilings):
            errors["frais_premier_equipement"] = finding.message
    return values, errors


def _shown(name, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, date):
        return fr_day(value)
    if isinstance(value, Decimal):
        return eur(value)
    if name == "organisme_delegant_id":
        return str(db.session.get(OrganismeDelegant, value) or value)
    return str(value)


def update(pec, raw: dict, *, by, version: int | None = None, today: date | None = None,
           commit: bool = True) -> list[str]:
    """Record what the CFA typed (EDITABLE fields) and recompute the amounts. Refused once the
    OPCO agreed, refused or cancelled (the amounts are then the OPCO's): only its answers change
    the prise en charge. Returns the fields really changed."""
    _check(by, pec)
    _version(pec, version)
    state = states.STATES[pec.state]
    raw = {k: v for k, v in raw.items() if k in EDITABLE}
    if state.amounts_locked:
        raise FinancingRefused(f"La prise en charge est « {pec.state_label} » : ses montants "
                               "ne changent plus (seules les réponses de l'OPCO la modifient).")
    values, errors = _parse(pec, raw, today or date.today())
    if errors:
        raise FinancingRefused("Les informations de financement n'ont pas été enregistrées : "
                               "corrigez les champs signalés.", errors)
    pec.updated_at = utcnow()
    hold()
    changed = []
    for name, value in values.items():
        old = pec.npec if name == "npec" else getattr(pec, name)
        if old == value or (name == "npec" and value is None and pec.npec_id is not None):
            continue
        changed.append(name)
        history(pec.dossier, by, f"Financement – {LABELS[name]} : {_shown(name, old)} → "
                                 f"{_shown(name, value)}")
        if name != "npec":
            setattr(pec, name, value)
    if changed:
        if "date_depot" in changed:
            pec.date_complet = pec.date_depot
        npec = values.get("npec") if "npec" in changed else None
        if "npec" in changed and npec is None:
            pec.npec, pec.npec_id = None, None  # back to the reference table
        recompute(pec, npec=npec)
        pec.updated_at = utcnow()
    _commit(commit)
    return changed


# --- what the dossier's workflow tells us --------------------------------------------------------

def on_transition(code, *, dossier, user, target, inputs, comment, **_):
    """Receiver of portal.dossiers.signals.transition_applied (inside its transaction)."""
    if code == "declarer_envoi_opco":
        open_for(dossier, user, numero=inputs.get("numero_opco"),
                 deposit=inputs.get("date_depot"))
        return
    pec = dossier.prise_en_charge
    if pec is None:
        return
    if target == "rompu":
        recompute(pec, dossier)
        history(dossier, user, f"Échéancier recalculé après la rupture du "
                               f"{fr_day(dossier.rupture_date)} : "
                               f"{eur(pec.montant_opco)} attendus de l'OPCO.")
    elif target == "annule" and not states.STATES[pec.state].final:
        source = pec.state
        pec.state, pec.state_date, pec.motif = "annule", date.today(), \
            f"Dossier annulé : {comment}" if comment else "Dossier annulé."
        history(dossier, user, f"Prise en charge : {states.state_label(source)} → "
                               f"{states.state_label('annule')} (dossier annulé).")


def connect() -> None:
    signals.transition_applied.connect(on_transition, weak=False)
