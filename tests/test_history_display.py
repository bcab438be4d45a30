"""The history's one formatter (portal/dossiers/history.py): the remuneration grid reads as
periods, never as Python internals; a field list has a French label."""
from decimal import Decimal

from portal.dossiers.history import _label, display


def test_the_remuneration_grid_reads_as_periods():
    grid = [{"percent": Decimal("53"), "monthly_amount": Decimal("957.12")},
            {"percent": Decimal("61"), "monthly_amount": None}]
    assert display(grid) == "53,00 % – 957,12 € ; 61,00 %"
    assert display([]) is None


def test_a_list_of_sub_forms_has_a_french_label():
    from forms.tabs.contract import ContractForm
    label = _label(getattr(ContractForm, "remuneration", None), "remuneration")
    assert label.startswith("Rémunération") and "Unbound" not in label
    assert _label(None, "date_conclusion") == "date_conclusion"
