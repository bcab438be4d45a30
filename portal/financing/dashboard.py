"""The CFA's finance dashboard (SPEC §5, issue 13): the cash expected from the OPCOs month by
month, the cash received, and what waits for the CFA — instalments due but not claimed, claims
deposited and unpaid after 30 days, decisions overdue (D6224-2: 20 days, silence is a refusal
under CRPA L231-4), balances to claim before they are lost (décret 2025-585: 4 months after
the contract's last day).

Every figure is an SQL aggregate scoped by portal.policy. The rows fetched are bounded by the
number of distinct dates (grouped by due, deposit or payment date, then bucketed per month here)
or by LIST_LIMIT, never by the number of dossiers: a fixed number of statements whatever the
volume. Dates are compared with bounds computed in Python, so the SQL is the same on SQLite and
PostgreSQL (no date arithmetic in SQL)."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import and_, exists, false, func, select

from portal import policy
from portal.extensions import db
from portal.financing.claims import UNPAID_DAYS, unpaid_since
from portal.financing.states import state_label, states_where
from portal.models import (DemandeRemboursement, Dossier, Echeance, Etablissement, Facture,
                           Paiement, PriseEnCharge)
from portal.rules.dates import add_months
from portal.rules.financing import (BALANCE_CLAIM_MONTHS, DECISION_DAYS, balance_claim_deadline,
                                    decision_deadline)
from portal.rules.formatting import round_cents

MONTHS = 12      # forecast: this month and the 11 next; receipts: this month and the 11 before
LIST_LIMIT = 50  # rows shown per block (the count and the total cover them all)
# An OPCO pays a claim within 30 days of its deposit (the same delay flags it unpaid,
# portal.financing.claims.UNPAID_DAYS); an instalment not claimed yet is expected 30 days after
# it falls due.
PAYMENT_DELAY = timedelta(days=UNPAID_DAYS)
DEPOSITED = ("deposee", "payee")  # a draft or a rejected claim brings no money
CLAIMABLE = states_where(claims=True)                     # accorde
WAITING = states_where(claims=False, final=False)         # recu, en_instruction, en_attente
WAITING_DECISION = states_where(waiting_decision=True)    # recu, en_instruction
NOT_FINAL = states_where(final=False)
ZERO = Decimal("0")
FR_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.",
             "oct.", "nov.", "déc.")
SERIES = (("deposees", "Demandes déposées"),
          ("accordees", "Échéances accordées, non déposées"),
          ("probables", "Probables : prises en charge en attente de décision"))


def month_label(day: date) -> str:
    """date(2027, 1, 1) → 'janv. 2027'."""
    return f"{FR_MONTHS[day.month - 1]} {day.year}"


def first_last_day_in_time(today: date) -> date:
    """The earliest contract last day whose balance may still be claimed today
    (balance_claim_deadline(last day) >= today): a contract that ended before it lost its
    balance. The rule's own function decides, month-end clamping included."""
    day = today - timedelta(days=31 * BALANCE_CLAIM_MONTHS + 7)  # surely lost
    while balance_claim_deadline(day) < today:
        day += timedelta(days=1)
    return day


def dashboard(user, today: date | None = None) -> dict:
    """Everything the page shows, in ``user``'s scope (CFA staff: every dossier)."""
    today = today or date.today()
    return {"today": today, "cash": expected_cash(user, today),
            "received": received_cash(user, today),
            "dues": claims_due(user, today), "unpaid": unpaid_claims(user, today),
            "decisions": late_decisions(user, today), "balances": balances_at_risk(user, today),
            "unpaid_days": UNPAID_DAYS, "decision_days": DECISION_DAYS,
            "balance_months": BALANCE_CLAIM_MONTHS}


# --- scope and shared clauses -----------------------------------------------------------------

def _pec_scope(user):
    return policy.row_filter(PriseEnCharge, user)


def _instalment_scope(user):
    return and_(policy.row_filter(PriseEnCharge, user), policy.row_filter(Echeance, user),
                Echeance.hors_echeancier == false())


def _claim_scope(user):
    return and_(policy.row_filter(PriseEnCharge, user),
                policy.row_filter(DemandeRemboursement, user))


def _deposited():
    """The instalment has a claim deposited or paid. `state != 'rejetee'` repeats what the
    partial unique index uq_claims_active is defined on, so that SQLite may use it."""
    return exists().where(DemandeRemboursement.echeance_id == Echeance.id,
                          DemandeRemboursement.state != "rejetee",
                          DemandeRemboursement.state.in_(DEPOSITED))


def _balance_lost(today: date):
    """A balance not claimed within 4 months of the contract's last day is lost."""
    return and_(Echeance.nature == "solde", PriseEnCharge.date_fin < first_last_day_in_time(today))


def _expected_open_instalments(user, today: date):
    """Instalments that will bring money: of a prise en charge agreed or waiting for a decision,
    in the schedule, not deposited (or only in a draft, or rejected), balance not lost."""
    return and_(_instalment_scope(user), PriseEnCharge.state.in_(CLAIMABLE + WAITING),
                ~_deposited(), ~_balance_lost(today))


# --- 1. expected and received cash per month --------------------------------------------------

def _months(today: date) -> list[date]:
    first = today.replace(day=1)
    return [add_months(first, k) for k in range(MONTHS)]


def _bucket(expected: date, months: list[date]) -> int | None:
    """The forecast month of a payment expected on ``expected``: a late one counts in the
    current month; None past the horizon."""
    index = (expected.year - months[0].year) * 12 + expected.month - months[0].month
    return max(index, 0) if index < len(months) else None


def expected_cash(user, today: date) -> dict:
    """Per month of the next 12: the rest due on deposited claims (deposit + 30 days), the
    agreed instalments not deposited (due date + 30 days) and, as 'probables', those of prises
    en charge waiting for a decision. Two grouped statements."""
    months = _months(today)
    before = add_months(months[0], MONTHS) - PAYMENT_DELAY  # later dates land past the horizon
    series = {code: [ZERO] * MONTHS for code, _ in SERIES}
    deposited = (select(DemandeRemboursement.deposee_le,
                        func.sum(DemandeRemboursement.montant - DemandeRemboursement.montant_paye))
                 .join(PriseEnCharge, PriseEnCharge.id == DemandeRemboursement.prise_en_charge_id)
                 .where(_claim_scope(user), DemandeRemboursement.state == "deposee",
                        DemandeRemboursement.deposee_le < before)
                 .group_by(DemandeRemboursement.deposee_le))
    for day, amount in db.session.execute(deposited):
        _add(series["deposees"], _bucket(day + PAYMENT_DELAY, months), amount)
    scheduled = (select(Echeance.date_prevue, PriseEnCharge.state, func.sum(Echeance.montant))
                 .join(PriseEnCharge, PriseEnCharge.id == Echeance.prise_en_charge_id)
                 .where(_expected_open_instalments(user, today), Echeance.date_prevue < before)
                 .group_by(Echeance.date_prevue, PriseEnCharge.state))
    for day, state, amount in db.session.execute(scheduled):
        code = "accordees" if state in CLAIMABLE else "probables"
        _add(series[code], _bucket(day + PAYMENT_DELAY, months), amount)
    return _chart(months, series)


def _add(values: list, index: int | None, amount) -> None:
    if index is not None and amount:
        values[index] += _money(amount)


def _chart(months: list[date], series: dict) -> dict:
    """Rows for the bars and the table: heights in % of the highest month (probables
    included), the sure amount (deposited + agreed) and the total."""
    rows = []
    for k, month in enumerate(months):
        values = {code: series[code][k] for code, _ in SERIES}
        rows.append(dict(values, month=month, label=month_label(month),
                         certain=values["deposees"] + values["accordees"],
                         total=sum(values.values(), ZERO)))
    top = max((row["total"] for row in rows), default=ZERO)
    for row in rows:
        row["pct"] = {code: _pct(row[code], top) for code, _ in SERIES}
    totals = {code: sum((row[code] for row in rows), ZERO) for code, _ in SERIES}
    totals["certain"] = totals["deposees"] + totals["accordees"]
    totals["total"] = totals["certain"] + totals["probables"]
    return {"months": rows, "totals": totals, "series": SERIES}


def _pct(value: Decimal, top: Decimal) -> float:
    return round(float(value * 100 / top), 1) if top else 0.0


def received_cash(user, today: date) -> dict:
    """The OPCOs' payments received per month, this month and the 11 before (one statement
    grouped by payment date)."""
    current = today.replace(day=1)
    months = [add_months(current, k - MONTHS + 1) for k in range(MONTHS)]
    stmt = (select(Paiement.date, func.sum(Paiement.montant))
            .join(DemandeRemboursement, DemandeRemboursement.id == Paiement.demande_id)
            .join(PriseEnCharge, PriseEnCharge.id == DemandeRemboursement.prise_en_charge_id)
            .where(_claim_scope(user), policy.row_filter(Paiement, user),
                   Paiement.date >= months[0], Paiement.date < add_months(current, 1))
            .group_by(Paiement.date))
    amounts = [ZERO] * MONTHS
    for day, amount in db.session.execute(stmt):
        _add(amounts, _bucket(day, months), amount)
    rows = [{"month": m, "label": month_label(m), "amount": a} for m, a in zip(months, amounts)]
    return {"months": rows, "total": sum(amounts, ZERO)}


# --- 2 to 5. what waits for the CFA -----------------------------------------------------------

def _who():
    """The columns naming the dossier: number, apprentice, employer (its establishment)."""
    return (Dossier.id, Dossier.apprenti_nom, Dossier.apprenti_prenom, Dossier.apprenti_email,
            Etablissement.denomination)


def _people(stmt):
    return (stmt.join(Dossier, Dossier.id == PriseEnCharge.dossier_id)
            .outerjoin(Etablissement, Etablissement.id == Dossier.etablissement_id))


def _person(row) -> dict:
    dossier_id, nom, prenom, email, employer = row[:5]
    name = " ".join(p for p in ((nom or "").upper(), prenom or "") if p) or email
    return {"dossier_id": dossier_id, "apprenti": name, "employeur": employer or ""}


def _instalment_label(annee, nature, pourcentage) -> str:
    """Echeance.label from the row's columns (the model's own property, not a copy of it)."""
    return Echeance.label.fget(SimpleNamespace(annee_contrat=annee, nature=nature,
                                               pourcentage=Decimal(str(pourcentage))))


def _summary(base, where, amount=None) -> tuple[int, Decimal | None]:
    """(count, total of ``amount``) of the rows of ``base`` (joined to their prise en charge)
    matching ``where``: one statement."""
    columns = [func.count()] + ([func.sum(amount)] if amount is not None else [])
    stmt = select(*columns).select_from(base)
    if base is not PriseEnCharge:
        stmt = stmt.join(PriseEnCharge, PriseEnCharge.id == base.prise_en_charge_id)
    row = db.session.execute(stmt.where(where)).one()
    return row[0], (_money(row[1]) if amount is not None else None)


def _money(value) -> Decimal:
    """An SQL sum as cents (SQLite sums NUMERIC columns as floats)."""
    return round_cents(Decimal(str(value or 0)))


def _block(count: int, total, rows: list[dict]) -> dict:
    return {"count": count, "total": total, "rows": rows, "more": max(count - len(rows), 0)}


def _instalment_rows(where, order) -> list[dict]:
    stmt = _people(select(*_who(), Echeance.annee_contrat, Echeance.nature,
                          Echeance.pourcentage, Echeance.montant, Echeance.date_prevue,
                          PriseEnCharge.date_fin, PriseEnCharge.state)
                   .select_from(Echeance)
                   .join(PriseEnCharge, PriseEnCharge.id == Echeance.prise_en_charge_id))
    rows = []
    for row in db.session.execute(stmt.where(where).order_by(*order).limit(LIST_LIMIT)):
        annee, nature, pourcentage, montant, due, last_day, state = row[5:]
        rows.append(dict(_person(row), echeance=_instalment_label(annee, nature, pourcentage),
                         montant=_money(montant), date_prevue=due, date_fin=last_day,
                         state=state_label(state),
                         deadline=balance_claim_deadline(last_day) if nature == "solde"
                         else None))
    return rows


def claims_due(user, today: date) -> dict:
    """Demandes dues non déposées: agreed instalments due by today with no claim deposited or
    paid — the ones that can still be claimed (a lost balance cannot, claims.claim_refusal) and
    bring something (an advance the employer's participation took whole is 0 €)."""
    where = and_(_instalment_scope(user), PriseEnCharge.state.in_(CLAIMABLE),
                 Echeance.date_prevue <= today, Echeance.montant > 0, ~_deposited(),
                 ~_balance_lost(today))
    count, total = _summary(Echeance, where, Echeance.montant)
    rows = _instalment_rows(where, (Echeance.date_prevue, Dossier.id, Echeance.rang))
    return _block(count, total, rows)


def balances_at_risk(user, today: date) -> dict:
    """Soldes à risque: balances (not 0 €) of prises en charge not refused nor cancelled, not
    deposited,
    whose contract ended (last day ≤ today) and which may still be claimed (today ≤ last day +
    4 months, décret 2025-585): the most urgent first."""
    where = and_(_instalment_scope(user), PriseEnCharge.state.in_(NOT_FINAL),
                 Echeance.nature == "solde", Echeance.montant > 0, ~_deposited(),
                 PriseEnCharge.date_fin <= today,
                 PriseEnCharge.date_fin >= first_last_day_in_time(today))
    count, total = _summary(Echeance, where, Echeance.montant)
    rows = _instalment_rows(where, (PriseEnCharge.date_fin, Dossier.id))
    return _block(count, total, rows)


def unpaid_claims(user, today: date) -> dict:
    """Déposées et impayées depuis plus de 30 jours: claims deposited before today − 30 days
    and not (fully) paid; the total is what remains due on them."""
    remaining = DemandeRemboursement.montant - DemandeRemboursement.montant_paye
    where = and_(_claim_scope(user), DemandeRemboursement.state == "deposee",
                 DemandeRemboursement.deposee_le < unpaid_since(today))
    count, total = _summary(DemandeRemboursement, where, remaining)
    stmt = _people(select(*_who(), Echeance.annee_contrat, Echeance.nature, Echeance.pourcentage,
                          Facture.numero, DemandeRemboursement.deposee_le,
                          DemandeRemboursement.montant, remaining)
                   .select_from(DemandeRemboursement)
                   .join(PriseEnCharge,
                         PriseEnCharge.id == DemandeRemboursement.prise_en_charge_id)
                   .join(Echeance, Echeance.id == DemandeRemboursement.echeance_id)
                   .outerjoin(Facture, Facture.id == DemandeRemboursement.facture_id))
    stmt = stmt.where(where).order_by(DemandeRemboursement.deposee_le, Dossier.id,
                                      DemandeRemboursement.id).limit(LIST_LIMIT)
    rows = []
    for row in db.session.execute(stmt):
        annee, nature, pourcentage, numero, deposited, amount, rest = row[5:]
        rows.append(dict(_person(row), echeance=_instalment_label(annee, nature, pourcentage),
                         facture=numero or "", deposee_le=deposited, montant=_money(amount),
                         reste=_money(rest), attendu_le=deposited + PAYMENT_DELAY,
                         jours=(today - deposited).days))
    return _block(count, total, rows)


def late_decisions(user, today: date) -> dict:
    """Décisions en retard: prises en charge received or being examined whose 20 days from the
    complete deposit have passed (the deadline day itself is still in time, D6224-2)."""
    where = and_(_pec_scope(user), PriseEnCharge.state.in_(WAITING_DECISION),
                 PriseEnCharge.date_complet < today - timedelta(days=DECISION_DAYS))
    count, _ = _summary(PriseEnCharge, where)
    stmt = _people(select(*_who(), PriseEnCharge.opco_code, PriseEnCharge.numero_opco,
                          PriseEnCharge.state, PriseEnCharge.date_complet)
                   .select_from(PriseEnCharge))
    stmt = stmt.where(where).order_by(PriseEnCharge.date_complet, Dossier.id).limit(LIST_LIMIT)
    rows = []
    for row in db.session.execute(stmt):
        opco, numero, state, complete = row[5:]
        deadline = decision_deadline(complete)
        rows.append(dict(_person(row), opco=opco or "", numero_opco=numero or "",
                         state=state_label(state), date_complet=complete, deadline=deadline,
                         jours=(today - deadline).days))
    return _block(count, None, rows)
