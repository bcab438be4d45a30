"""C17 and C18 reach the dossier like C1–C16: through portal.dossiers.tabs.dossier_findings,
each on the tab showing its field, on the Résumé (with a link to the field) and next to the
field on the Contrat tab. Real database, demo data; the one dossier a test moves to a training
copy is put back afterwards."""
from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.dossiers.tabs import dossier_data, dossier_findings
from portal.extensions import db
from portal.models import Dossier
from portal.rules import WARNING
from portal.rules.dates import age_on
from portal.rules.formatting import day as fr_day
from tests.support.trainings import drop_training_copies, training_copy

ADMIN = "admin@sillon.demo"
C17_WORDS, C18_WORDS = "avant la fin prévue des épreuves", "salaire minimum conventionnel"


def _candidate(app):
    """An apprenticeship dossier in entry, complete level, apprentice 21 or more at the start,
    no SMC entered: the one C18 concerns (chosen from the demo data, not by id)."""
    with app.app_context():
        for dossier in db.session.execute(sa.select(Dossier).where(
                Dossier.state == "en_saisie", Dossier.niveau_saisie == "complete",
                Dossier.dispositif == "apprentissage").order_by(Dossier.id)).scalars():
            data = dossier_data(dossier)
            if (data.get("salaire_minimum_conventionnel") in (None, "")
                    and data.get("apprenti_date_naissance") and data.get("date_debut_contrat")
                    and age_on(data["apprenti_date_naissance"], data["date_debut_contrat"]) >= 21):
                return dossier.id
    pytest.fail("no demo dossier for C18")


def _tab_findings(dossier, data, words):
    return {(tf.tab, tf.finding.level, tf.finding.field) for tf in dossier_findings(dossier, data)
            if words in tf.finding.message}


def test_c17_c18_are_attributed_to_the_tabs_showing_their_fields(app):
    pk = _candidate(app)
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        exams_end = dossier.formation.date_fin_examens
        data = dossier_data(dossier)
        # Ends the day before the exams end, no SMC: both warnings.
        data.update(date_fin_contrat=exams_end - timedelta(days=1),
                    salaire_minimum_conventionnel=None)
        assert _tab_findings(dossier, data, C17_WORDS) == {
            ("base", WARNING, "date_fin_contrat"), ("contrat", WARNING, "date_fin_contrat")}
        assert _tab_findings(dossier, data, C18_WORDS) == {
            ("contrat", WARNING, "salaire_minimum_conventionnel")}
        # Ends on the exams' last day, SMC given: neither.
        data.update(date_fin_contrat=exams_end, salaire_minimum_conventionnel=Decimal("1900"))
        assert _tab_findings(dossier, data, C17_WORDS) == set()
        assert _tab_findings(dossier, data, C18_WORDS) == set()


def test_warnings_do_not_block_the_entry(app):
    """C17 and C18 are warnings: the dossier's errors are the same with or without them."""
    pk = _candidate(app)
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        exams_end = dossier.formation.date_fin_examens
        data = dossier_data(dossier)
        quiet = dict(data, date_fin_contrat=exams_end, salaire_minimum_conventionnel="1900")
        loud = dict(data, date_fin_contrat=exams_end - timedelta(days=1),
                    salaire_minimum_conventionnel=None)

        def errors(d):
            return {(tf.tab, tf.finding.field, tf.finding.message)
                    for tf in dossier_findings(dossier, d) if tf.finding.level == "error"}
        assert errors(loud) == errors(quiet)


@pytest.fixture()
def exams_after_end(app):
    """The C18 dossier moved to a copy of its training whose exams end 13 days after the
    contract: C17 applies. Put back (and the copy removed) afterwards."""
    pk = _candidate(app)
    copies: list[int] = []
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        original = dossier.formation_id
        copy = training_copy(dossier.formation, copies)
        copy.date_fin_examens = dossier.date_fin_contrat + timedelta(days=13)
        dossier.formation_id = copy.id
        db.session.commit()
        exams_end, end = copy.date_fin_examens, dossier.date_fin_contrat
    yield pk, exams_end, end
    with app.app_context():
        db.session.get(Dossier, pk).formation_id = original
        db.session.commit()
    drop_training_copies(app, copies)


def _resume_items(page: str, tab: str) -> list[str]:
    """The items (raw HTML) of the Résumé's group for `tab`."""
    match = re.search(r'<section class="resume-group[^"]*" data-tab="%s"[^>]*>(.*?)</section>'
                      % tab, page, re.S)
    assert match, f"no Résumé group for {tab}"
    return re.findall(r"<li[^>]*>(.*?)</li>", match.group(1), re.S)


def _item(items: list[str], words: str, pk: int, field: str) -> str:
    """The one item carrying `words`; it links to the field on the Contrat tab."""
    found = [i for i in items if words in html_lib.unescape(re.sub(r"\s+", " ", i))]
    assert len(found) == 1, items
    assert re.search(r'href="/admin/dossier/%d/contrat/#[^"]*%s"' % (pk, field), found[0]), \
        found[0]
    return found[0]


def _next_to(page: str, field: str) -> str:
    match = re.search(r'id="field-%s"(.*?)(?=id="field-|</fieldset>)' % field, page, re.S)
    assert match, f"no field {field}"
    return html_lib.unescape(re.sub(r"\s+", " ", match.group(1)))


def test_resume_and_contract_tab_show_c17_and_c18(app, login, exams_after_end):
    pk, exams_end, end = exams_after_end
    client = login(ADMIN)
    page = client.get(f"/admin/dossier/{pk}/resume/").get_data(as_text=True)
    items = _resume_items(page, "contrat")
    c17 = (f"Le contrat se termine ({fr_day(end)}) avant la fin prévue des épreuves "
           f"({fr_day(exams_end)})")
    _item(items, c17, pk, "date_fin_contrat")
    _item(items, "L'apprenti relève de la tranche des 21 ans et plus dès le début du contrat : "
                 "indiquez le salaire minimum conventionnel", pk, "salaire_minimum_conventionnel")
    page = client.get(f"/admin/dossier/{pk}/contrat/").get_data(as_text=True)
    # Next to each field, shown as a warning (not an error that would block the page).
    c18 = "L'apprenti relève de la tranche des 21 ans"
    for field, words in (("date_fin_contrat", c17), ("salaire_minimum_conventionnel", c18)):
        block = _next_to(page, field)
        warning = re.search(r'class="[^"]*finding-warning[^"]*">([^<]*%s)' % re.escape(words),
                            block)
        assert warning, block
