"""OPCO financing of an apprenticeship contract (SPEC §5, RULES §6, seed 004). Pure: plain
dates and Decimals in, instalments, dates, amounts and findings out.

Sources: Code du travail L6332-14 (prise en charge, employer participation, frais annexes);
décret 2025-585 of 27/06/2025 (contracts concluded from 01/07/2025: daily prorata,
40/30/20/10 schedule, 750 € participation, C. trav. R6332-25-1); décret 2025-586 (−20 % when
at least 80 % of the training is at distance, C. trav. D6332-82-1); D6332-83 (frais annexes);
D6224-2 and CRPA L231-4 (decision within 20 days, silence is a refusal).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Mapping

from . import ERROR, Finding
from .dates import add_months, add_years
from .formatting import NBSP, round_cents
from .formatting import day as fr_day
from .formatting import percent as fr_percent

REGIME_CHANGE = date(2025, 7, 1)            # décret 2025-585, art. 2
NEW, OLD = "2025", "avant_2025"
OLD_SHORT = "avant_2025_moins_d_un_an"      # old regime, whole contract under one year
REGIME_LABELS = {
    NEW: "Contrat conclu à partir du 01/07/2025 (décret 2025-585)",
    OLD: "Contrat conclu avant le 01/07/2025",
}
LAST_DAY = "dernier jour"                   # due on the contract year's last day
MAX_YEARS = 4
DAYS_BASE = Decimal("365")
DISTANCE_THRESHOLD = Decimal("0.8")         # décret 2025-586: at least 80 % at distance
DISTANCE_FACTOR = Decimal("0.8")            # … NPEC − 20 %
PARTICIPATION = Decimal("750")              # décret 2025-585, C. trav. R6332-25-1
PARTICIPATION_LEVELS = (6, 7)
DECISION_DAYS = 20                          # D6224-2
BALANCE_CLAIM_MONTHS = 4                    # décret 2025-585: balance lost after 4 months
ZERO = Decimal("0")

# (kind, percent of the contract year's amount, months after the year's first day or LAST_DAY)
SCHEDULE_TABLE: dict[str, tuple[tuple[str, Decimal, int | str], ...]] = {
    NEW: (("avance", Decimal("40"), 0), ("mois7", Decimal("30"), 6),
          ("mois10", Decimal("20"), 9), ("solde", Decimal("10"), LAST_DAY)),
    OLD: (("avance", Decimal("40"), 0), ("mois7", Decimal("30"), 6),
          ("mois10", Decimal("30"), 9)),
    OLD_SHORT: (("avance", Decimal("50"), 0), ("solde", Decimal("50"), LAST_DAY)),
}
KINDS = ("avance", "mois7", "mois10", "solde")
KIND_LABELS = {"avance": "Avance", "mois7": "Mois 7", "mois10": "Mois 10", "solde": "Solde"}


@dataclass(frozen=True)
class Instalment:
    contract_year: int
    kind: str
    percent: Decimal
    due: date
    amount: Decimal

    @property
    def label(self) -> str:
        """'Avance (40 %)' (non-breaking space before %)."""
        return f"{KIND_LABELS[self.kind]} ({fr_percent(self.percent)})"

    @property
    def full_label(self) -> str:
        """'Année 1 – Avance (40 %)'."""
        return f"Année {self.contract_year} – {self.label}"


def regime(concluded: date) -> str:
    """'2025' for a contract concluded from 01/07/2025 (décret 2025-585), else 'avant_2025'."""
    return NEW if concluded >= REGIME_CHANGE else OLD


def regime_label(concluded: date) -> str:
    return REGIME_LABELS[regime(concluded)]


def contract_years(start: date, last: date) -> list[tuple[int, date, date, int]]:
    """(year, first day, last day, days) of each contract year of the contract [start, last].

    Year k runs from start + (k−1) years to the day before start + k years (month addition
    clamped: a contract starting on 29/02 has its anniversaries on 28/02), cut at ``last``."""
    if last < start:
        raise ValueError(f"La fin du contrat ({fr_day(last)}) précède son début "
                         f"({fr_day(start)}).")
    if last >= add_years(start, MAX_YEARS):
        raise ValueError(f"Un contrat de plus de {MAX_YEARS} ans ({fr_day(start)} → "
                         f"{fr_day(last)}) ne peut pas être financé.")
    years = []
    for k in range(1, MAX_YEARS + 1):
        first = add_years(start, k - 1)
        if first > last:
            break
        year_last = min(add_years(start, k) - timedelta(days=1), last)
        years.append((k, first, year_last, (year_last - first).days + 1))
    return years


def distance_factor(distance_share: Decimal) -> Decimal:
    """0.8 when at least 80 % of the training hours are at distance (décret 2025-586), else 1."""
    share = Decimal(distance_share)
    if not ZERO <= share <= 1:
        raise ValueError(f"La part de formation à distance ({share}) doit être comprise entre "
                         f"0 et 1.")
    return DISTANCE_FACTOR if share >= DISTANCE_THRESHOLD else Decimal("1")


def contract_last_day(end: date, rupture: date | None = None) -> date:
    """The contract's last day: the rupture when it comes before the planned end."""
    return rupture if rupture is not None and rupture < end else end


def year_amounts(*, start: date, end: date, npec: Decimal,
                 distance_share: Decimal = ZERO,
                 rupture: date | None = None) -> list[tuple[int, Decimal]]:
    """(year, amount) for each contract year: NPEC × distance factor × days ÷ 365, a whole
    contract year (365 or 366 days) counting as one NPEC; rounded to the cent (décret 2025-585:
    prorata per calendar day)."""
    _check(start=start, end=end, npec=npec, participation=ZERO, rupture=rupture)
    base = Decimal(npec) * distance_factor(distance_share)
    last = contract_last_day(end, rupture)
    amounts = []
    for year, first, year_last, days in contract_years(start, last):
        whole = year_last == add_years(start, year) - timedelta(days=1)
        amounts.append((year, round_cents(base if whole else base * days / DAYS_BASE)))
    return amounts


def schedule_key(concluded: date, start: date, last: date) -> str:
    """The SCHEDULE_TABLE row set of a contract: the old regime pays a contract under one
    year (start → last day shorter than one whole contract year) 50 % then the balance."""
    if regime(concluded) == NEW:
        return NEW
    return OLD_SHORT if last < add_years(start, 1) - timedelta(days=1) else OLD


def payment_schedule(*, concluded: date, start: date, end: date, npec: Decimal,
                     distance_share: Decimal = ZERO, participation: Decimal = ZERO,
                     rupture: date | None = None) -> list[Instalment]:
    """The OPCO's instalments to the CFA, by contract year then due date.

    Each instalment is the year's amount × its percent (SCHEDULE_TABLE), rounded to the cent;
    the year's last instalment absorbs the rounding so that a year sums exactly to its amount.
    An instalment due after the contract's last day (``rupture`` when earlier than ``end``)
    falls due on it.

    ``participation`` (the employer's 750 €, décret 2025-585) is deducted from year 1's advance;
    when it exceeds the advance, the advance is 0 and the rest is deducted from year 1's next
    instalments in order. No instalment goes below 0, and what exceeds the whole of year 1 is
    not carried over to later years (the OPCO deducts it from the first payments only)."""
    _check(start=start, end=end, npec=npec, participation=participation, rupture=rupture)
    last = contract_last_day(end, rupture)
    rows = SCHEDULE_TABLE[schedule_key(concluded, start, last)]
    spans = {year: (first, year_last) for year, first, year_last, _ in contract_years(start, last)}
    instalments = []
    for year, amount in year_amounts(start=start, end=end, npec=npec,
                                     distance_share=distance_share, rupture=rupture):
        first, year_last = spans[year]
        amounts = _split(amount, [percent for _, percent, _ in rows])
        if year == 1:
            amounts = _deduct(amounts, Decimal(participation))
        for (kind, percent, offset), value in zip(rows, amounts):
            due = year_last if offset == LAST_DAY else min(add_months(first, offset), last)
            instalments.append(Instalment(year, kind, percent, due, value))
    return sorted(instalments, key=lambda i: (i.contract_year, i.due, KINDS.index(i.kind)))


def _check(*, start: date, end: date, npec: Decimal, participation: Decimal,
           rupture: date | None) -> None:
    if Decimal(npec) < 0:
        raise ValueError("Le niveau de prise en charge (NPEC) ne peut pas être négatif.")
    if Decimal(participation) < 0:
        raise ValueError("La participation de l'employeur ne peut pas être négative.")
    if rupture is not None and rupture < start:
        raise ValueError(f"La date de la rupture ({fr_day(rupture)}) précède le début du "
                         f"contrat ({fr_day(start)}).")
    contract_years(start, end)      # raises when end < start or over 4 years


def _split(amount: Decimal, percents: list[Decimal]) -> list[Decimal]:
    """amount × each percent, to the cent; the last share takes what rounding left."""
    shares = [round_cents(amount * p / 100) for p in percents[:-1]]
    return shares + [amount - sum(shares, ZERO)]


def _deduct(amounts: list[Decimal], participation: Decimal) -> list[Decimal]:
    """Deduct ``participation`` from the amounts in order, none below 0."""
    result = []
    for value in amounts:
        taken = min(value, participation)
        participation -= taken
        result.append(value - taken)
    return result


def participation_due(*, concluded: date, level: int | None,
                      employer_public: bool = False) -> Decimal:
    """The employer's participation (L6332-14, décret 2025-585, R6332-25-1): 750 € for a
    certification of European level 6 or 7 (licence/bachelor, master) in a contract concluded
    from 01/07/2025; 0 otherwise, and for a public employer (outside OPCO financing)."""
    if employer_public or level is None or regime(concluded) != NEW:
        return ZERO
    return PARTICIPATION if int(level) in PARTICIPATION_LEVELS else ZERO


def employer_remainder(*, price: Decimal | None, coverage: Decimal,
                       participation: Decimal) -> Decimal:
    """What the employer is billed (reste à charge): the price above the OPCO's coverage, plus
    the participation. Without a price, the participation only."""
    above = ZERO if price is None else max(Decimal(price) - Decimal(coverage), ZERO)
    return round_cents(above + Decimal(participation))


def decision_deadline(deposit: date) -> date:
    """The OPCO rules within 20 calendar days of a complete deposit (D6224-2); silence past
    that date is a refusal (CRPA L231-4)."""
    return deposit + timedelta(days=DECISION_DAYS)


def decision_overdue(deposit: date, decided: bool, today: date) -> bool:
    """True when no decision was recorded and the 20 days have passed (the deadline day itself
    is still in time)."""
    return not decided and today > decision_deadline(deposit)


def balance_claim_deadline(last_day: date) -> date:
    """The 10 % balance must be claimed within 4 months after the contract's end (décret
    2025-585); past that day it is lost."""
    return add_months(last_day, BALANCE_CLAIM_MONTHS)


def balance_at_risk(last_day: date, today: date, claimed: bool) -> bool:
    """True while the balance can still be claimed but is not: from the contract's last day to
    the claim deadline included. See balance_lost for afterwards."""
    return not claimed and last_day <= today <= balance_claim_deadline(last_day)


def balance_lost(last_day: date, today: date, claimed: bool) -> bool:
    """True when the balance was not claimed and the claim deadline has passed."""
    return not claimed and today > balance_claim_deadline(last_day)


def claim_needs_certificate(kind: str, contract_year: int) -> bool:
    """A reimbursement request joins the invoice and the certificat de réalisation, except for
    the first advance (seed 004: « non nécessaire pour le 1er acompte »)."""
    if kind not in KINDS:
        raise ValueError(f"Échéance inconnue : {kind}.")
    return not (kind == "avance" and contract_year == 1)


# -- Frais annexes (L6332-14, D6332-83): ceilings come from the dated reference table ---------

CEILING_KEYS = ("premier_equipement", "hebergement_nuit", "restauration_repas")


def _eur2(value: Decimal) -> str:
    """500 → '500,00 €' (ceilings are always shown with their cents)."""
    return f"{round_cents(value):,.2f}".replace(",", NBSP).replace(".", ",") + NBSP + "€"


def _ceilings(ceilings: Mapping[str, Decimal]) -> dict[str, Decimal]:
    missing = [key for key in CEILING_KEYS if key not in ceilings]
    if missing:
        raise ValueError(f"Plafonds des frais annexes manquants : {', '.join(missing)}.")
    return {key: Decimal(ceilings[key]) for key in CEILING_KEYS}


def frais_annexes_findings(*, equipement: Decimal | None, nuits: int | None,
                           repas: int | None, montant_hebergement: Decimal | None,
                           montant_restauration: Decimal | None,
                           ceilings: Mapping[str, Decimal]) -> list[Finding]:
    """Errors on the frais annexes asked of the OPCO: negative figures, an amount above its
    ceiling (premier équipement once per contract, hébergement per night, restauration per
    meal), an accommodation or meal amount without its number of nights or meals."""
    caps = _ceilings(ceilings)
    findings = []
    for field, value, what in (("equipement", equipement, "Le premier équipement"),
                               ("nuits", nuits, "Le nombre de nuits"),
                               ("repas", repas, "Le nombre de repas"),
                               ("montant_hebergement", montant_hebergement,
                                "Le montant de l'hébergement"),
                               ("montant_restauration", montant_restauration,
                                "Le montant de la restauration")):
        if value is not None and value < 0:
            findings.append(Finding(ERROR, field, f"{what} ne peut pas être négatif."))
    if findings:
        return findings
    if equipement is not None and equipement > caps["premier_equipement"]:
        findings.append(Finding(ERROR, "equipement", (
            f"Le premier équipement est plafonné à {_eur2(caps['premier_equipement'])} "
            f"par contrat.")))
    findings += _per_unit(("montant_hebergement", "nuits"), montant_hebergement, nuits,
                          caps["hebergement_nuit"], "L'hébergement est plafonné",
                          ("nuit", "nuits"))
    findings += _per_unit(("montant_restauration", "repas"), montant_restauration, repas,
                          caps["restauration_repas"], "La restauration est plafonnée",
                          ("repas", "repas"))
    return findings


def _per_unit(fields: tuple[str, str], amount: Decimal | None, count: int | None,
              cap: Decimal, capped: str, units: tuple[str, str]) -> list[Finding]:
    """An amount paid per night or meal: it needs its number, and at most cap × number."""
    if amount is None or amount == 0:
        return []
    if not count:
        return [Finding(ERROR, fields[1], f"Indiquez le nombre de {units[1]} pour le montant "
                                          f"de {_eur2(amount)}.")]
    ceiling = cap * count
    if amount > ceiling:
        return [Finding(ERROR, fields[0], (
            f"{capped} à {_eur2(cap)} par {units[0]} : {count} {units[count > 1]}, soit "
            f"{_eur2(ceiling)} au plus (montant saisi : {_eur2(amount)})."))]
    return []


def frais_annexes_total(*, equipement: Decimal | None, nuits: int | None, repas: int | None,
                        montant_hebergement: Decimal | None,
                        montant_restauration: Decimal | None,
                        ceilings: Mapping[str, Decimal]) -> Decimal:
    """What the OPCO pays on top of the NPEC: each item capped by its ceiling. Without an
    amount, nights and meals are paid at the flat rate (ceiling × number); an amount without
    its number of nights or meals pays nothing. Negative figures raise ValueError."""
    if any(v is not None and v < 0 for v in (equipement, nuits, repas, montant_hebergement,
                                             montant_restauration)):
        raise ValueError("Les frais annexes ne peuvent pas être négatifs.")
    caps = _ceilings(ceilings)
    total = min(Decimal(equipement or 0), caps["premier_equipement"])
    for amount, count, cap in ((montant_hebergement, nuits, caps["hebergement_nuit"]),
                               (montant_restauration, repas, caps["restauration_repas"])):
        ceiling = cap * (count or 0)
        total += ceiling if amount is None else min(Decimal(amount), ceiling)
    return round_cents(total)


@dataclass(frozen=True)
class ContractFinancing:
    """What a contract costs and who pays it: the OPCO's schedule, its coverage of the
    training (before the participation), the employer's remainder."""

    schedule: list
    coverage: Decimal     # the OPCO's part of the training cost, before the 750 €
    opco_total: Decimal   # what the OPCO pays the CFA (the schedule's sum)
    price_total: Decimal | None
    remainder: Decimal    # billed to the employer: price above the coverage + participation


def contract_financing(*, concluded: date, start: date, end: date, npec: Decimal,
                       price: Decimal | None, distance_share: Decimal = ZERO,
                       participation: Decimal = ZERO,
                       rupture: date | None = None) -> ContractFinancing:
    """The schedule (payment_schedule) and the split between the OPCO and the employer. The
    training's ``price`` is a yearly price, prorated per day like the NPEC."""
    schedule = payment_schedule(concluded=concluded, start=start, end=end, npec=npec,
                                distance_share=distance_share, participation=participation,
                                rupture=rupture)
    coverage = sum((amount for _, amount in year_amounts(
        start=start, end=end, npec=npec, distance_share=distance_share, rupture=rupture)), ZERO)
    price_total = None if price is None else sum((amount for _, amount in year_amounts(
        start=start, end=end, npec=Decimal(price), rupture=rupture)), ZERO)
    return ContractFinancing(schedule=schedule, coverage=coverage,
                             opco_total=sum((i.amount for i in schedule), ZERO),
                             price_total=price_total,
                             remainder=employer_remainder(price=price_total, coverage=coverage,
                                                          participation=participation))
