"""The previous contract's number on Le contrat through HTTP (RULES.md §4, C13): the month of
DDDYYYYMMNN0000 is 01–12; 00 and 13 are refused next to the field (nothing saved), 01 and 12
are saved. A dossier of its own (tests.test_tab_contract's fixture), removed afterwards."""
import re

import pytest

from portal.extensions import db
from portal.models import Dossier
from tests.test_tab_contract import VALID, _post, make  # noqa: F401  (make is a fixture)

ACME = "rh@acme.sillon.demo"
NEW_CONTRACT = dict(VALID, type_contrat="22")   # a new contract: the previous number is asked


def _error_next_to(page: str, field: str) -> list[str]:
    block = re.search(r'id="field-%s"(.*?)(?=id="field-|</fieldset>)' % field, page, re.S)
    assert block, f"no field {field}"
    return [m.strip() for m in re.findall(r'finding-error">([^<]+)<', block.group(1))]


def _stored(app, pk):
    with app.app_context():
        contrat = db.session.get(Dossier, pk).contrat
        return contrat.numero_contrat_precedent if contrat is not None else None


@pytest.mark.parametrize("number, saved", [
    ("075202600NC0001", False),
    ("075202601NC0001", True),
    ("075202612NC0001", True),
    ("075202613NC0001", False),
], ids=["month_00", "month_01", "month_12", "month_13"])
def test_previous_contract_number_month_on_the_contract_tab(app, login, make, number, saved):
    pk = make()
    client = login(ACME)
    response = _post(client, pk, dict(NEW_CONTRACT, numero_contrat_precedent=number))
    if saved:
        assert response.status_code == 302, _error_next_to(response.get_data(as_text=True),
                                                           "numero_contrat_precedent")
        assert _stored(app, pk) == number
    else:
        assert response.status_code == 422
        errors = _error_next_to(response.get_data(as_text=True), "numero_contrat_precedent")
        assert any("mois de 01 à 12" in e for e in errors), errors
        assert _stored(app, pk) is None
