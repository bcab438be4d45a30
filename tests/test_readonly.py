"""A locked dossier renders read-only on every screen, with the reason (Django admin's
has_change_permission(request, obj) is the model): no live form refused on save."""
from __future__ import annotations

import lxml.html
import pytest
import sqlalchemy as sa

from portal.dossiers.tabs import visible_tabs
from portal.extensions import db
from portal.models import Dossier, User

ALICE, ACME, RESP, CONSEIL = ("alice@etu.sillon.demo", "rh@acme.sillon.demo",
                              "resp.info@sillon.demo", "conseil@sillon.demo")
# person, state of their dossier, the reason they must read
CASES = [
    (ALICE, "validation_demandee", "La validation a été demandée"),
    (ACME, "validation_demandee", "La validation a été demandée"),
    (ALICE, "valide_formation", "Le dossier est verrouillé"),
    (ACME, "economie_validee", "Le dossier est verrouillé"),
    (RESP, "valide_formation", "Le dossier est verrouillé"),
    (CONSEIL, "envoye_opco", "Le dossier est verrouillé"),
]


@pytest.fixture()
def alices_dossier(app):
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == ALICE)).scalar_one()
        dossier = db.session.execute(sa.select(Dossier).where(
            Dossier.apprentice_user_id == user.id)).scalars().first()
        pk, state = dossier.id, dossier.state
    yield pk
    with app.app_context():
        db.session.get(Dossier, pk).state = state
        db.session.commit()


def _inputs(page: str):
    doc = lxml.html.fromstring(page)
    form = doc.get_element_by_id("tab-form", None)
    assert form is not None, "the tab shows its fields"
    return [el for el in form.iter("input", "select", "textarea")
            if el.get("type") not in ("hidden",)]


@pytest.mark.parametrize("email,state,reason", CASES)
def test_every_tab_of_a_locked_dossier_is_read_only_with_the_reason(app, login, alices_dossier,
                                                                    email, state, reason):
    with app.app_context():
        dossier = db.session.get(Dossier, alices_dossier)
        dossier.state = state
        db.session.commit()
        codes = [tab.code for tab in visible_tabs(dossier) if tab.editable]
    client = login(email)
    assert codes, "the dossier has editable tabs"
    for code in codes:
        response = client.get(f"/admin/dossier/{alices_dossier}/{code}/")
        assert response.status_code == 200, code
        page = response.get_data(as_text=True)
        assert "Enregistrer l'onglet" not in page, code
        inputs = _inputs(page)
        assert inputs and all(el.get("disabled") is not None for el in inputs), code
        assert "sillon-readonly" in page, code
        if code in ("base", "alternant", "employeur", "contrat") and (
                email in (ALICE, ACME) or state != "validation_demandee"):
            # The page the person fills says why it is frozen (others' tabs say who fills them).
            expected_reason = reason if _fills(email, code) else "Cet onglet est rempli par"
            assert expected_reason in page.replace("&#39;", "'"), (code, expected_reason)


def _fills(email, code):
    return {ALICE: {"alternant", "mission"}, ACME: {"base", "employeur", "contrat", "mission"},
            RESP: {"base"}, CONSEIL: {"base"}}[email].__contains__(code)


def test_an_open_dossier_shows_live_forms_to_whoever_fills_them(app, login, alices_dossier):
    with app.app_context():
        db.session.get(Dossier, alices_dossier).state = "en_saisie"
        db.session.commit()
    page = login(ALICE).get(f"/admin/dossier/{alices_dossier}/alternant/").get_data(
        as_text=True)
    assert "Enregistrer l'onglet" in page
    assert any(el.get("disabled") is None for el in _inputs(page))
