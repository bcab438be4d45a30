"""Dated reference figures used by the rules (RULES.md §1, §2, §5), as plain dataclasses.

The rules never hold a SMIC, a percentage or an aid amount in code: they read them from a
`ReferenceData`. By default it is loaded once from the product's CSV files
(`seeds/reference/*.csv`); the application may plug a database-backed provider with
`set_reference_provider()` so that figures added by a cfa_admin are used.

Pure module: no Flask, no SQLAlchemy.
"""
from __future__ import annotations

import csv
import threading
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Callable, Iterable

DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "seeds" / "reference"

# Age bands, as spelled in grilles_remuneration.csv (tranche_age).
APPRENTICESHIP_BANDS = ("moins_de_18", "18_20", "21_25", "26_et_plus")
PROFESSIONALISATION_BANDS = ("moins_de_21", "21_25", "26_et_plus")
# Professionalisation columns (grilles_remuneration.csv, colonne).
PRO_BASE, PRO_QUALIFIED = "base", "qualifie_niveau_4"
# Professionalisation from 26: at least the SMIC or, if higher, 85 % of the SMC (D6325-18).
# grilles_remuneration.csv has no row for the SMC share yet (it would be
# `professionnalisation,26_et_plus,smc,85,…`); this value is used only when the row is missing.
PRO_SMC = "smc"
DEFAULT_PRO_SMC_PERCENT = Decimal("85")


@dataclass(frozen=True)
class SmicRate:
    """SMIC in force from `effective` (monthly = 35 h × 52 / 12 = 151.67 h)."""

    effective: date
    hourly: Decimal
    monthly: Decimal
    mayotte_monthly: Decimal | None = None
    mayotte_hourly: Decimal | None = None
    legal_basis: str = ""


@dataclass(frozen=True)
class AidRule:
    """One row of aides_employeur.csv: employer aid by date of conclusion (RULES.md §5).

    `employees_max` is exclusive (0–250 means fewer than 250 employees); None = no bound.
    `concluded_until` is inclusive; None = still in force."""

    concluded_from: date
    concluded_until: date | None
    employees_min: int
    employees_max: int | None
    level_min: int
    level_max: int
    rqth: bool
    amount: Decimal
    label: str

    def matches(self, conclusion: date, employees: int, level: int, rqth: bool) -> bool:
        if conclusion < self.concluded_from:
            return False
        if self.concluded_until is not None and conclusion > self.concluded_until:
            return False
        if employees < self.employees_min:
            return False
        if self.employees_max is not None and employees >= self.employees_max:
            return False
        if not self.level_min <= level <= self.level_max:
            return False
        return self.rqth == rqth


@dataclass(frozen=True)
class ParticipationRule:
    """One row of participation_employeur.csv: the employer's flat participation in the
    training cost of an apprenticeship contract (décret 2025-1031), by date of conclusion
    and diploma level (inclusive bounds). A later row supersedes an earlier one."""

    concluded_from: date
    level_min: int
    level_max: int
    amount: Decimal


@dataclass(frozen=True)
class ApprenticeAidRule:
    """An aid shown to the apprentice (RULES.md §5, "Apprentice").

    `age_min` / `age_below`: eligibility by age (inclusive minimum, exclusive maximum);
    `pay_min_percent_smic`: minimum monthly pay in percent of the SMIC (prime d'activité)."""

    code: str
    name: str
    amount: str
    where: str
    age_min: int | None = None
    age_below: int | None = None
    pay_min_percent_smic: Decimal | None = None
    note: str = ""


# Apprentice aids of RULES.md §5. They are not dated and have no CSV in seeds/reference yet:
# `load_from_csv` reads `aides_apprenti.csv` when it exists (same columns as the fields above,
# in French: code,libelle,montant,ou_demander,age_min,age_max_exclu,salaire_min_pct_smic,note)
# and otherwise uses this table. A database-backed provider can replace it as well.
DEFAULT_APPRENTICE_AIDS: tuple[ApprenticeAidRule, ...] = (
    ApprenticeAidRule(
        "permis_b", "Aide au permis de conduire B", "500 €",
        "auprès du CFA, qui la demande à l'Agence de services et de paiement (ASP)",
        age_min=18,
        note="apprenti d'au moins 18 ans, engagé dans la préparation du permis B"),
    ApprenticeAidRule(
        "mobili_jeune", "Aide Mobili-Jeune (Action Logement)", "de 10 € à 100 € par mois",
        "sur le site d'Action Logement", age_below=30,
        note="aide au loyer pour un logement proche du CFA ou de l'entreprise, "
             "sous conditions de ressources"),
    ApprenticeAidRule(
        "apl", "Aide personnalisée au logement (APL)", "selon le loyer et les ressources",
        "auprès de la CAF (ou de la MSA)",
        note="dépend du logement et des ressources : faites une simulation sur caf.fr"),
    ApprenticeAidRule(
        "prime_activite", "Prime d'activité", "selon les ressources du foyer",
        "auprès de la CAF (ou de la MSA)", age_min=18, pay_min_percent_smic=Decimal("78"),
        note="se demande chaque trimestre ; simulation sur caf.fr"),
    ApprenticeAidRule(
        "carte_etudiant_metiers", "Carte d'étudiant des métiers", "réductions (transport, "
        "restauration, culture…)", "délivrée par le CFA à l'inscription",
        note="pour tout apprenti inscrit au CFA"),
    ApprenticeAidRule(
        "frais_annexes", "Frais annexes pris en charge par l'OPCO",
        "premier équipement jusqu'à 500 €, hébergement jusqu'à 6 € par nuit, "
        "restauration jusqu'à 3 € par repas",
        "par le CFA auprès de l'OPCO de l'employeur",
        note="pour tout apprenti, sur justificatifs, selon les règles de l'OPCO"),
)


@dataclass
class ReferenceData:
    """Every figure the rules need.

    - `smic`: SMIC history, sorted by `effective`;
    - `apprenticeship_grid[(age_band, year)]`: percent of the SMIC, year 1–3;
    - `professionalisation_grid[(age_band, column)]`: percent, column "base",
      "qualifie_niveau_4" or, for "26_et_plus", "smc" (share of the SMC);
    - `employer_aids`: employer aid rules (aides_employeur.csv);
    - `idcc[code] = (label, branch, opco)`, code on 4 digits, leading zeros kept;
    - `employer_participation`: participation rules (participation_employeur.csv);
    - `apprentice_aids`: aids shown to the apprentice.
    """

    smic: list[SmicRate]
    apprenticeship_grid: dict[tuple[str, int], Decimal]
    professionalisation_grid: dict[tuple[str, str], Decimal]
    employer_aids: list[AidRule]
    idcc: dict[str, tuple[str, str | None, str | None]]
    employer_participation: list[ParticipationRule] = field(default_factory=list)
    apprentice_aids: list[ApprenticeAidRule] = field(
        default_factory=lambda: list(DEFAULT_APPRENTICE_AIDS))

    def __post_init__(self) -> None:
        self.smic = sorted(self.smic, key=lambda r: r.effective)
        self.employer_participation = sorted(self.employer_participation,
                                             key=lambda r: r.concluded_from)

    def smic_on(self, day: date) -> SmicRate:
        """The SMIC in force on `day`: the latest rate effective on or before it (so the
        latest known rate for future dates). Before the first known rate, the first one."""
        if not self.smic:
            raise LookupError("Aucun SMIC dans les données de référence.")
        current = self.smic[0]
        for rate in self.smic:
            if rate.effective <= day:
                current = rate
            else:
                break
        return current

    def smic_monthly_on(self, day: date, *, mayotte: bool = False) -> Decimal:
        rate = self.smic_on(day)
        if mayotte:
            if rate.mayotte_monthly is None:
                raise LookupError(
                    f"SMIC de Mayotte inconnu au {rate.effective:%d/%m/%Y} "
                    "dans les données de référence.")
            return rate.mayotte_monthly
        return rate.monthly


# --- CSV loading ------------------------------------------------------------------------------

def _dec(value: str | None) -> Decimal | None:
    value = (value or "").strip()
    return Decimal(value) if value else None


def _day(value: str | None) -> date | None:
    value = (value or "").strip()
    return date.fromisoformat(value) if value else None


def _int(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value else None


def _bool(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "oui", "yes"}


def _rows(path: Path) -> Iterable[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def _latest_by_key(rows: Iterable[tuple[tuple, date | None, Decimal]]) -> dict[tuple, Decimal]:
    """Keep, for each key, the value of the row with the latest `valable_du`."""
    best: dict[tuple, tuple[date, Decimal]] = {}
    for key, valid_from, value in rows:
        valid_from = valid_from or date.min
        if key not in best or valid_from >= best[key][0]:
            best[key] = (valid_from, value)
    return {key: value for key, (_, value) in best.items()}


def load_from_csv(directory: str | Path | None = None) -> ReferenceData:
    """Read smic.csv, grilles_remuneration.csv, aides_employeur.csv,
    conventions_collectives.csv and participation_employeur.csv (and aides_apprenti.csv when
    present) from `directory` (default: seeds/reference)."""
    directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY

    smic = [SmicRate(effective=_day(r["en_vigueur_le"]), hourly=_dec(r["horaire"]),
                     monthly=_dec(r.get("mensuel") or r.get("mensuel_35h")),
                     mayotte_monthly=_dec(r.get("mayotte_mensuel")),
                     mayotte_hourly=_dec(r.get("mayotte_horaire")),
                     legal_basis=(r.get("base_legale") or "").strip())
            for r in _rows(directory / "smic.csv")]

    # Grids carry a `valable_du`; the rules use the latest version of each cell.
    apprenticeship, professionalisation = [], []
    for r in _rows(directory / "grilles_remuneration.csv"):
        band, column = r["tranche_age"].strip(), r["colonne"].strip()
        row = (_day(r.get("valable_du")), _dec(r["pourcentage"]))
        if r["dispositif"].strip() == "apprentissage":
            year = int(column.removeprefix("annee_"))
            apprenticeship.append(((band, year),) + row)
        else:
            professionalisation.append(((band, column),) + row)

    aids = [AidRule(concluded_from=_day(r["conclu_du"]), concluded_until=_day(r["conclu_au"]),
                    employees_min=_int(r["effectif_min"]) or 0,
                    employees_max=_int(r["effectif_max"]),
                    level_min=_int(r["niveau_min"]), level_max=_int(r["niveau_max"]),
                    rqth=_bool(r["rqth"]), amount=_dec(r["montant"]),
                    label=(r["libelle"] or "").strip())
            for r in _rows(directory / "aides_employeur.csv")]

    idcc = {r["idcc"].strip(): ((r["libelle"] or "").strip(),
                                (r.get("branche") or "").strip() or None,
                                (r.get("opco_code") or r.get("opco") or "").strip() or None)
            for r in _rows(directory / "conventions_collectives.csv")}

    participation: list[ParticipationRule] = []
    path = directory / "participation_employeur.csv"
    if path.exists():
        participation = [ParticipationRule(concluded_from=_day(r["conclu_du"]),
                                           level_min=_int(r["niveau_min"]),
                                           level_max=_int(r["niveau_max"]),
                                           amount=_dec(r["montant"]))
                         for r in _rows(path)]

    apprentice_aids = list(DEFAULT_APPRENTICE_AIDS)
    path = directory / "aides_apprenti.csv"
    if path.exists():
        apprentice_aids = [ApprenticeAidRule(
            code=r["code"].strip(), name=r["libelle"].strip(), amount=r["montant"].strip(),
            where=r["ou_demander"].strip(), age_min=_int(r.get("age_min")),
            age_below=_int(r.get("age_max_exclu")),
            pay_min_percent_smic=_dec(r.get("salaire_min_pct_smic")),
            note=(r.get("note") or "").strip()) for r in _rows(path)]

    professionalisation_grid = _latest_by_key(professionalisation)
    professionalisation_grid.setdefault(("26_et_plus", PRO_SMC), DEFAULT_PRO_SMC_PERCENT)

    return ReferenceData(
        smic=smic,
        apprenticeship_grid=_latest_by_key(apprenticeship),
        professionalisation_grid=professionalisation_grid,
        employer_aids=aids,
        idcc=idcc,
        employer_participation=participation,
        apprentice_aids=apprentice_aids,
    )


# --- provider ---------------------------------------------------------------------------------

_provider: Callable[[], ReferenceData] | None = None
_default: ReferenceData | None = None
_lock = threading.Lock()


def _default_provider() -> ReferenceData:
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = load_from_csv()
    return _default


def get_reference() -> ReferenceData:
    """The current reference data: the plugged provider's, or the CSV files' (loaded once)."""
    return (_provider or _default_provider)()


def set_reference_provider(provider: Callable[[], ReferenceData] | None) -> None:
    """Plug a provider (e.g. database-backed, possibly cached); None restores the default."""
    global _provider
    _provider = provider
