"""portal.rules.reference: CSV loader and pluggable provider (pure, no Flask app)."""
import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from portal.rules import reference as reference_module
from portal.rules.reference import (DEFAULT_DIRECTORY, ReferenceData, SmicRate, get_reference,
                                    load_from_csv, set_reference_provider)
from portal.rules.remuneration import minimum_schedule

D = date.fromisoformat


@pytest.fixture(scope="module")
def ref():
    return load_from_csv()


@pytest.fixture
def restore_provider():
    yield
    set_reference_provider(None)


def test_smic_history_from_csv(ref):
    assert [r.effective for r in ref.smic][-4:] == [D("2023-05-01"), D("2024-01-01"),
                                                    D("2024-11-01"), D("2026-01-01")]
    latest = ref.smic[-1]
    assert (latest.hourly, latest.monthly, latest.mayotte_monthly) == \
        (Decimal("12.02"), Decimal("1823.03"), Decimal("1415.05"))
    assert latest.legal_basis == "décret 2025-1228"


@pytest.mark.parametrize("day, effective", [
    ("2025-06-01", "2024-11-01"),   # no revaluation on 2025-01-01
    ("2026-01-01", "2026-01-01"),
    ("2031-05-01", "2026-01-01"),   # future: latest known
    ("2020-01-01", "2023-01-01"),   # before the history: the first known rate
], ids=["no_2025_revaluation", "effective_day", "future", "before_history"])
def test_smic_on(ref, day, effective):
    assert ref.smic_on(D(day)).effective == D(effective)


def test_grids_from_csv(ref):
    assert ref.apprenticeship_grid[("moins_de_18", 1)] == Decimal("27")
    assert ref.apprenticeship_grid[("21_25", 3)] == Decimal("78")
    assert len(ref.apprenticeship_grid) == 12
    assert ref.professionalisation_grid[("moins_de_21", "qualifie_niveau_4")] == Decimal("65")
    assert ref.professionalisation_grid[("26_et_plus", "smc")] == Decimal("85")


def test_aids_idcc_participation_from_csv(ref):
    assert len(ref.employer_aids) == 12
    assert ref.employer_aids[0].employees_max == 250 and ref.employer_aids[1].employees_max is None
    assert ref.idcc["1486"][2] == "ATLAS" and ref.idcc["9999"][2] is None
    [rule] = ref.employer_participation
    assert (rule.concluded_from, rule.level_min, rule.level_max, rule.amount) == \
        (D("2025-07-01"), 6, 7, Decimal("750"))
    assert {a.code for a in ref.apprentice_aids} >= {"permis_b", "mobili_jeune", "apl",
                                                     "prime_activite", "frais_annexes"}


def test_load_from_another_directory(tmp_path):
    for name in ("grilles_remuneration.csv", "aides_employeur.csv",
                 "conventions_collectives.csv"):
        shutil.copy(DEFAULT_DIRECTORY / name, tmp_path / name)
    (tmp_path / "smic.csv").write_text(
        "en_vigueur_le,horaire,mensuel,mayotte_horaire,mayotte_mensuel,base_legale\n"
        "2027-01-01,12.50,1895.88,,,\n", encoding="utf-8")
    data = load_from_csv(tmp_path)
    assert data.smic_on(D("2027-06-01")).monthly == Decimal("1895.88")
    assert data.employer_participation == []     # optional file absent
    with pytest.raises(LookupError):
        data.smic_monthly_on(D("2027-06-01"), mayotte=True)


def test_default_provider_loads_once():
    assert get_reference() is get_reference()


def test_plugged_provider_is_used(ref, restore_provider):
    custom = replace(ref, smic=[SmicRate(D("2026-01-01"), Decimal("20"), Decimal("3000.00"))])
    set_reference_provider(lambda: custom)
    assert get_reference() is custom
    [period] = minimum_schedule(D("2007-06-01"), D("2026-01-01"), D("2026-12-31"))
    assert period.monthly_amount == Decimal("1290.00")        # 43 % × 3 000 €
    set_reference_provider(None)
    assert get_reference() is reference_module._default_provider()
    [period] = minimum_schedule(D("2007-06-01"), D("2026-01-01"), D("2026-12-31"))
    assert period.monthly_amount == Decimal("783.90")


def test_reference_data_sorts_smic():
    data = ReferenceData(smic=[SmicRate(D("2026-01-01"), Decimal("1"), Decimal("2")),
                               SmicRate(D("2024-01-01"), Decimal("1"), Decimal("1"))],
                         apprenticeship_grid={}, professionalisation_grid={}, employer_aids=[],
                         idcc={})
    assert data.smic[0].effective == D("2024-01-01")
