"""The dossier's screens through HTTP (issue 15, item 2): Résumé names the tab and the field of
each anomaly and links to it; Résumé offers the main path's next step to the person whose turn
it is, and to nobody else; the irreversible rows of the workflow table are refused without the
person's confirmation (nothing written) and go through with it; deadlines follow the state; the
CFA validates the economic elements seeing the devis's price, NPEC, coverage and remainder."""
from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import lxml.html
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.dossiers import tabs as tab_registry
from portal.dossiers.workflow import STATES, TRANSITIONS
from portal.extensions import db
from portal.models import Dossier, DossierHistory, OutboxEmail
from tests.support.web import csrf
from tests.test_dossier_lifecycle import (ACME, ALICE, CONSEIL, MANUAL, _act, _fill,  # noqa: F401
                                          _pdf, _state, _upload, world)

MANAGER = MANUAL[0]
ADMIN = "admin@sillon.demo"


def _tree(response):
    return lxml.html.fromstring(response.get_data(as_text=True))


def _text(node) -> str:
    return re.sub(r"\s+", " ", node.text_content()).strip()


def _snapshot(app, pk):
    """What a refused transition must leave as it was."""
    with app.app_context():
        row = db.session.get(Dossier, pk)
        return (row.state, row.version, row.annulation_motif, row.rupture_date,
                row.deverrouille_motif, row.documents_valides_at, row.envoye_opco_at,
                db.session.scalar(sa.select(sa.func.count()).select_from(DossierHistory)
                                  .where(DossierHistory.dossier_id == pk)),
                db.session.scalar(sa.select(sa.func.count()).select_from(OutboxEmail)
                                  .where(OutboxEmail.dossier_id == pk)))


def _set(app, pk, **values):
    with app.app_context():
        row = db.session.get(Dossier, pk)
        for name, value in values.items():
            setattr(row, name, value)
        db.session.commit()


# --- 1. Résumé: each anomaly with its tab, its field's label, a working link --------------------

def _expected_anomalies(app, pk):
    """(tab code, field, field label or None) of every finding, from the tabs' own forms."""
    with app.test_request_context():
        dossier = db.session.get(Dossier, pk)
        data = tab_registry.dossier_data(dossier)
        labels = {}
        for tab in tab_registry.visible_tabs(dossier):
            form_class = tab.form_class(dossier)
            if form_class is None:
                continue
            form = form_class(formdata=None, data=tab.load(dossier))
            for section in tab.sections(dossier, data):
                for name in section.fields:
                    if name in form._fields:
                        labels[(tab.code, name)] = form._fields[name].label.text
        return [(tf.tab, tf.finding.field, labels.get((tf.tab, tf.finding.field)),
                 tf.finding.level)
                for tf in tab_registry.dossier_findings(dossier)], \
            {t.code: t.label for t in tab_registry.TABS}


def test_resume_names_the_tab_and_field_of_each_anomaly_and_links_to_it(app, login, world):
    pk, _ = world(MANUAL)   # created by the formation: only the base data is known
    expected, tab_labels = _expected_anomalies(app, pk)
    assert len(expected) > 10  # an incomplete dossier: many required fields still blank
    alice = login(ALICE)
    response = alice.get(f"/admin/dossier/{pk}/resume/")
    assert response.status_code == 200
    page = _tree(response)
    body = _text(page)
    # The bare form message never stands alone any more.
    assert "Ce champ est obligatoire" not in body
    errors = sum(1 for *_, level in expected if level == "error")
    assert f"Il reste {errors} anomalies bloquantes" in body
    listed = []
    for group in page.xpath('.//section[contains(@class, "resume-group")]'):
        code = group.get("data-tab")
        heading = _text(group.xpath(".//h2")[0])
        assert tab_labels[code] in heading, heading
        for item in group.xpath(".//li[@data-field]"):
            link = item.xpath('.//a[contains(@class, "resume-link")]')[0]
            listed.append((code, item.get("data-field"), _text(link), link.get("href")))
    assert [(c, f) for c, f, _, _ in listed] == [(c, f) for c, f, _, _ in expected]
    pages = {}
    for (code, field, label, href), (_, _, want_label, _) in zip(listed, expected):
        path, _, anchor = href.partition("#")
        assert path == f"/admin/dossier/{pk}/{code}/"
        if want_label is not None:
            # A field of the page: its own label, and the link lands on it.
            assert label == want_label, (code, field, label)
            assert anchor == f"field-{field}"
        if anchor:
            if path not in pages:
                target = alice.get(path)
                assert target.status_code == 200, path
                pages[path] = _tree(target)
            assert pages[path].get_element_by_id(anchor) is not None, (path, anchor)
    # A concrete one, as a reader sees it: the birth commune, blank, under L'alternant.
    group = page.xpath('//section[@data-tab="alternant"]')[0]
    assert _text(group.xpath(".//h2")[0]).startswith("Onglet « L'alternant »")
    item = group.xpath('.//li[@data-field="commune_naissance"]')[0]
    assert _text(item) == \
        "Erreur – Commune de naissance (Identité) : Champ obligatoire, à renseigner."
    assert item.xpath(".//a")[0].get("href") == \
        f"/admin/dossier/{pk}/alternant/#field-commune_naissance"


# --- 2. Résumé offers the next step to whoever must take it -------------------------------------

def _offered(client, pk, tab="resume"):
    page = _tree(client.get(f"/admin/dossier/{pk}/{tab}/"))
    return {form.get("data-transition"): form for form in
            page.xpath('//*[@id="resume-transitions"]//form[@data-transition]')}


def test_resume_offers_the_next_step_to_the_person_whose_turn_it_is(app, login, world):
    pk, siret = world(MANUAL)
    alice, acme = login(ALICE), login(ACME)
    manager, conseil = login(MANAGER), login(CONSEIL)
    # Still being filled in: no step to take yet, the anomalies are what to do.
    for anyone in (alice, acme, manager, conseil):
        assert _offered(anyone, pk) == {}
    _fill(login, pk, siret, "2027-08-31")
    assert _state(app, pk) == "saisie_complete"
    for party in (alice, acme):
        offered = _offered(party, pk)
        assert set(offered) == {"demander_validation"}
        assert offered["demander_validation"].xpath(".//button")[0].get("disabled") is None
    for other in (manager, conseil):
        assert _offered(other, pk) == {}
    # Pressed on Résumé: the same door as Suivi – Info, and back to Résumé.
    response = acme.post(f"/admin/dossier/{pk}/transition/demander_validation/", data={
        "csrf_token": csrf(acme), "_from": "resume"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/admin/dossier/{pk}/resume/")
    assert _state(app, pk) == "validation_demandee"
    # Now the manager's turn, and only theirs (side exits are not "the next step").
    assert set(_offered(manager, pk)) == {"valider_formation"}
    for other in (alice, acme, conseil):
        assert _offered(other, pk) == {}
    _act(manager, pk, "valider_formation")
    assert set(_offered(conseil, pk)) == {"valider_economie"}
    for other in (alice, acme, manager):
        assert _offered(other, pk) == {}
    # Then the employer's: returning the signed documents (Suivi – Info's upload fields).
    _act(conseil, pk, "valider_economie")
    link = _tree(acme.get(f"/admin/dossier/{pk}/resume/")).xpath('//*[@id="resume-returns"]//a')
    assert link and link[0].get("href") == f"/admin/dossier/{pk}/suivi/#signed-documents"
    assert acme.get(link[0].get("href").split("#")[0]).get_data(as_text=True).count(
        'id="signed-documents"') == 1
    for other in (alice, manager, conseil):
        page = _tree(other.get(f"/admin/dossier/{pk}/resume/"))
        assert not page.xpath('//*[@id="resume-returns"]') and _offered(other, pk) == {}


# --- 3. irreversible rows need a confirmation -------------------------------------------------

IRREVERSIBLE = sorted(code for code, t in TRANSITIONS.items() if t.irreversible)
# Who runs each, from where, with what it needs typed (RULES / SPEC §3).
RUNS = {
    "valider_documents": (CONSEIL, "documents_retournes", {}),
    "declarer_envoi_opco": (ACME, "documents_valides", {"numero_opco": "DECA-2026-0777"}),
    "annuler": (MANAGER, "en_saisie", {"comment": "L'apprentie a choisi une autre voie."}),
    "rompre": (ACME, "envoye_opco", {"comment": "Rupture d'un commun accord"}),
    "deverrouiller": (ADMIN, "economie_validee", {"comment": "Dates à revoir"}),
}


def test_the_table_says_which_rows_cannot_be_undone():
    assert IRREVERSIBLE == sorted(RUNS)
    # None of them is offered on many dossiers at once (a list action asks no confirmation).
    assert not any(TRANSITIONS[code].bulk for code in IRREVERSIBLE)
    assert all(STATES[TRANSITIONS[code].target].final for code in ("annuler", "rompre"))


@pytest.mark.parametrize("code", IRREVERSIBLE)
def test_irreversible_transition_is_refused_without_confirmation(app, login, world, code):
    who, state, typed = RUNS[code]
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    _set(app, pk, state=state, documents_valides_at=datetime.now() - timedelta(days=1)
         if state == "documents_valides" else None)
    if code == "valider_documents":
        acme = login(ACME)
        _set(app, pk, state="economie_validee")
        _upload(acme, pk, "cerfa_signe", _pdf("CERFA signé"), "cerfa.pdf")
        _upload(acme, pk, "convention_signee", _pdf("Convention signée"), "convention.pdf")
        assert _state(app, pk) == "documents_retournes"
    form = dict(typed)
    if code == "declarer_envoi_opco":
        form["date_depot"] = date.today().isoformat()
    if code == "rompre":
        form["rupture_date"] = date.today().isoformat()
    client = login(who)
    # The page's form carries the confirmation the server requires.
    suivi = _tree(client.get(f"/admin/dossier/{pk}/suivi/"))
    box = suivi.xpath(f'//form[@data-transition="{code}"]//input[@name="confirmation"]')
    assert len(box) == 1 and box[0].get("type") == "checkbox" and box[0].get("required") is not None
    assert suivi.xpath(f'//form[@data-transition="{code}"]')[0].get("data-irreversible") == "true"
    before = _snapshot(app, pk)
    for refused in ({}, {"confirmation": "non"}):
        response = client.post(f"/admin/dossier/{pk}/transition/{code}/",
                               data=dict(form, csrf_token=csrf(client), **refused))
        assert response.status_code == 422, code
        text = _text(_tree(response))
        assert f"« {TRANSITIONS[code].label} » est définitif" in text
        assert "Rien n'a été modifié" in text
        assert _snapshot(app, pk) == before, code
        # What was typed is still there, next to the check box to tick.
        page = _tree(response)
        for name, value in typed.items():
            field = page.xpath(f'//form[@data-transition="{code}"]//*[@name="{name}"]')[0]
            assert (field.get("value") or field.text_content()) == value
        assert page.xpath(f'//form[@data-transition="{code}"]//input[@name="confirmation"]'
                          )[0].get("aria-describedby")
    response = client.post(f"/admin/dossier/{pk}/transition/{code}/",
                           data=dict(form, csrf_token=csrf(client), confirmation="oui"))
    assert response.status_code == 302
    assert _state(app, pk) == TRANSITIONS[code].target


def test_reversible_transitions_ask_no_confirmation(app, login, world):
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    acme = login(ACME)
    suivi = _tree(acme.get(f"/admin/dossier/{pk}/suivi/"))
    form = suivi.xpath('//form[@data-transition="demander_validation"]')[0]
    assert form.get("data-irreversible") is None and not form.xpath('.//*[@name="confirmation"]')
    _act(acme, pk, "demander_validation")
    assert _state(app, pk) == "validation_demandee"


# --- 4. deadlines and warnings follow the state ------------------------------------------------

LATE_OPCO = ("n'a pas été transmis à l'OPCO", "devait être transmis à l'OPCO")
# State → whether the OPCO deposit deadline may still be late there (SPEC §3, RULES C15).
OPCO_DEADLINE_RUNS = {
    "initialise": True, "en_saisie": True, "saisie_complete": True,
    "validation_demandee": True, "valide_formation": True, "economie_validee": True,
    "documents_retournes": True, "documents_valides": True, "a_corriger": True,
    "envoye_opco": False, "annule": False, "rompu": False,
}


def test_every_state_is_in_the_deadline_table():
    assert set(OPCO_DEADLINE_RUNS) == set(STATES)


def _pages_text(client, pk) -> str:
    return " ".join(_text(_tree(client.get(f"/admin/dossier/{pk}/{tab}/")))
                    for tab in ("suivi", "resume", "base"))


@pytest.mark.parametrize("state", sorted(OPCO_DEADLINE_RUNS))
def test_opco_deadline_messages_follow_the_state(app, login, world, state):
    pk, _ = world(MANUAL)
    # Started two months ago: the 5 working days are long past.
    start = date.today() - timedelta(days=60)
    values = dict(state=state, date_debut_contrat=start,
                  date_fin_contrat=start + timedelta(days=700))
    # The state alone says it (no stamp: as a dossier set there by an import or a demo).
    if state == "rompu":
        values["rupture_date"] = date.today() - timedelta(days=5)
    _set(app, pk, **values)
    text = _pages_text(login(CONSEIL), pk)
    late = [m for m in LATE_OPCO if m in text]
    if OPCO_DEADLINE_RUNS[state]:
        assert late == list(LATE_OPCO), state
    else:
        assert late == [], (state, late)
    if STATES[state].final:
        assert "Échéances" not in text  # nothing left to do, nothing late


def test_a_dossier_sent_then_unlocked_is_not_late_for_the_opco(app, login, world):
    pk, _ = world(MANUAL)
    start = date.today() - timedelta(days=60)
    _set(app, pk, state="a_corriger", date_debut_contrat=start,
         date_fin_contrat=start + timedelta(days=700),
         envoye_opco_at=datetime.now() - timedelta(days=55))
    text = _pages_text(login(CONSEIL), pk)
    assert not any(m in text for m in LATE_OPCO)
    from portal.dossiers.deadlines import late_clause
    with app.app_context():
        late = set(db.session.scalars(sa.select(Dossier.id).where(late_clause("opco"))))
    assert pk not in late


# --- 5. the economic validation shows the devis's figures --------------------------------------

def _amount(text: str) -> Decimal:
    return Decimal(re.sub(r"[^\d,]", "", text).replace(",", "."))


def _devis_amounts(client, pk) -> dict[str, Decimal]:
    response = client.get(f"/admin/dossier/{pk}/documents/devis/")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    figures = {}
    for key, label in (("price", "Prix annuel de la formation"),
                       ("price_total", "Coût de la formation sur la durée du contrat"),
                       ("coverage", "Prise en charge attendue de l'OPCO"),
                       ("remainder", "Reste à la charge de l'employeur")):
        match = re.search(re.escape(label) + r"[^€]*?(\d[\d ]*(?:,\d{2})?) €", text)
        assert match, (label, text[text.find("MONTANTS"):])
        figures[key] = _amount(match.group(1))
    return figures


def test_economic_validation_shows_price_npec_coverage_and_remainder(app, login, world):
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    _act(login(ALICE), pk, "demander_validation")
    _act(login(MANAGER), pk, "valider_formation")
    assert _state(app, pk) == "valide_formation"
    conseil = login(CONSEIL)
    devis = _devis_amounts(conseil, pk)
    for tab in ("suivi", "resume"):
        page = _tree(conseil.get(f"/admin/dossier/{pk}/{tab}/"))
        table = page.xpath('//form[@data-transition="valider_economie"]//*[@id="economy-figures"]')
        assert len(table) == 1, tab
        shown = {row.get("data-figure"): _amount(_text(row.xpath(".//td")[0]))
                 for row in table[0].xpath(".//tr[@data-figure]")}
        for key in ("price", "price_total", "coverage", "remainder"):
            assert shown[key] == devis[key], (tab, key, shown, devis)
        # The NPEC is the reference table's, for this certification and branch.
        from portal.dossiers.financing_inputs import inputs
        with app.app_context():
            row = inputs(db.session.get(Dossier, pk)).npec_row
            assert row is not None
            assert shown["npec"] == Decimal(row.npec)
        assert shown["coverage"] > 0 and shown["remainder"] > 0
    # Nobody else is shown the CFA's validation.
    for other in (login(ALICE), login(ACME), login(MANAGER)):
        page = _tree(other.get(f"/admin/dossier/{pk}/suivi/"))
        assert not page.xpath('//*[@id="economy-figures"]')
    _act(conseil, pk, "valider_economie")
    assert _state(app, pk) == "economie_validee"
