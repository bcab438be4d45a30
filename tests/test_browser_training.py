"""A training action's request in a real chromium (issue 14, SPEC §6), each person in a browser
context of their own, 1366 px wide, logging in through the login page:

1. a beneficiary of ACME (the `world` fixture's, with the beneficiary right) opens the
   catalogue, opens the action, reads the session's remaining places, writes a motivation and
   requests it: their request's page says « Demandée (en attente de l'employeur) »;
2. ACME's référent finds the decision to take on their home dashboard, follows it to the
   request and accepts it with a comment;
3. the CFA opens the session's selection screen from its home dashboard, reads the motivation,
   retains the person and sends the convocation (a real SMTP server receives it, PDF and
   calendar invitation attached);
4. the session then takes place — moved in the database to the last weekday before today
   (the world's session is in a fortnight; the close needs today after the session's last day,
   attendance.close; half-days are weekdays only) — the CFA ticks the half-days of the
   attendance grid, saves, closes the session and delivers the attestation;
5. the beneficiary reads « Présente » on their home page and their request, and downloads the
   attestation (its text read back from the PDF).

The database is read after each step (state, history). No console error nor CSP violation on
any page (tests/test_browser_financing.Actor), no page wider than the window. Screenshots:
test-artifacts/browser/action-formation-*.png. The same cycle through HTTP is
tests/test_training_actions_http.py; the documents' contents,
tests/test_training_actions_documents.py.
"""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.extensions import db
from portal.models import Document, Inscription, Presence, SessionFormation, Structure, User
from tests.test_browser import (browser_login, browser_type_launch_args,  # noqa: F401
                                clear_throttle, live_server, screenshots_dir)
from tests.test_browser_financing import Actor
from tests.test_training_actions_http import DETAILS, _row, live  # noqa: F401
from tests.test_training_actions_service import CFA, REFERENT, world  # noqa: F401

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 1366, 768
MOTIVATION = "Accueillir notre premier apprenti en septembre : je serai son maître."
APPROVAL = "Accord : formation utile avant l'arrivée de l'apprenti."
REQUEST_DONE = "Votre demande d'inscription est enregistrée : votre employeur en est informé."


# --- the people -----------------------------------------------------------------------------

@pytest.fixture()
def people(app, browser, live_server):
    """person(email) -> an Actor logged in through the login page, in a context of its own,
    1366 px wide; every page is checked clean (console, CSP) at the end of the test."""
    contexts, made = [], []

    def person(email: str) -> Actor:
        clear_throttle(app, f"login:email:{email}")
        context = browser.new_context(locale="fr-FR", accept_downloads=True,
                                      viewport={"width": WIDTH, "height": HEIGHT})
        context.set_default_timeout(15_000)
        contexts.append(context)
        actor = Actor(context, email)
        browser_login(actor.page, live_server, email)
        assert actor.page.locator("#current-user").count() == 1, f"login failed for {email}"
        made.append(actor)
        return actor

    try:
        yield person
        for actor in made:
            actor.assert_clean()
    finally:
        for context in contexts:
            context.close()


@pytest.fixture()
def scene(app, live):  # noqa: F811 - the imported fixture
    """The world's session in a fortnight; afterwards, the documents stored for its requests
    (convocation PDF and invitation, attestation: no dossier owns them) removed."""
    yield live
    with app.app_context():
        ids = db.session.scalars(sa.select(Inscription.id).where(
            Inscription.session_id == live["session"])).all()
        db.session.execute(sa.update(Inscription).where(Inscription.id.in_(ids or [0])).values(
            convocation_document_id=None, attestation_document_id=None))
        names = [n for pk in ids for n in (f"convocation-{pk}.pdf", f"convocation-{pk}.ics",
                                           f"attestation-formation-{pk}.pdf")]
        db.session.execute(sa.delete(Document).where(
            Document.dossier_id.is_(None), Document.formation_id.is_(None),
            Document.filename.in_(names or [""])))
        db.session.commit()


# --- helpers --------------------------------------------------------------------------------

def _plain(text: str) -> str:
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def _shot(actor: Actor, shots, name: str):
    """The page fits the 1366 px window (nothing wider), then its full-page screenshot."""
    width = actor.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= WIDTH, (actor.email, actor.page.url, width)
    actor.page.screenshot(path=str(shots / f"action-formation-{name}.png"), full_page=True)


def _in_view(locator):
    """Visible and within the window's width (not pushed off the right edge)."""
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= WIDTH, box


def _flash(actor: Actor) -> str:
    return _plain(" ".join(actor.page.locator(".alert-success").all_inner_texts()))


def _facts(app, scene) -> dict:
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        benef = db.session.execute(sa.select(User).where(
            User.email == scene["benef"])).scalar_one()
        return {"title": session.action.intitule, "name": benef.full_name,
                "structure": db.session.get(Structure, scene["structure"]).raison_sociale}


def _pk(app, scene) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Inscription.id).where(
            Inscription.session_id == scene["session"])).scalar_one()


def _last_weekday_before(today: date) -> date:
    day = today - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _session_took_place(app, scene) -> date:
    """The session moved to the last weekday before today (one day, 9 h–17 h: a morning and
    an afternoon), as if the fortnight had passed: its attendance can be noted, and it can be
    closed (today is after its last day)."""
    held = _last_weekday_before(date.today())
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        session.date_debut = session.date_fin = held
        session.date_limite_inscription = held - timedelta(days=7)
        db.session.commit()
    return held


def _pdf_text(data: bytes) -> str:
    return _plain("\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


# --- 1. the beneficiary requests the session ----------------------------------------------------

def _beneficiary_requests(benef: Actor, base: str, scene, facts, shots) -> None:
    page, sid = benef.page, scene["session"]
    benef.go(base, "/admin/action-formation/")
    link = page.get_by_role("link", name=facts["title"], exact=True)
    row = page.locator("table.model-list tbody tr", has=link)
    first_day = scene["start"].strftime("%d/%m/%Y")
    assert _plain(row.locator("td.col-prochaines_sessions").inner_text()) == \
        f"{first_day} – 3 places restantes sur 3"
    _shot(benef, shots, "01-catalogue")
    with page.expect_navigation():
        link.click()
    assert page.locator("#action-title").inner_text().strip() == facts["title"]
    section = page.locator(f"#session-{sid}")
    assert _plain(section.locator(".session-places").inner_text()) == \
        "Places : 3 places restantes sur 3"
    assert first_day in section.locator("h3").inner_text()
    form = section.locator("form.request-form")
    assert form.count() == 1, section.inner_text()  # the request form is offered
    chosen = form.locator(f"#session-{sid}-structure option:checked")
    assert chosen.inner_text().strip() == facts["structure"]
    form.locator(f"#session-{sid}-motivation").fill(MOTIVATION)
    button = form.get_by_role("button", name="Demander une inscription")
    _in_view(button)
    _shot(benef, shots, "02-action-motivation")
    with page.expect_navigation():
        button.click()
    pk = int(re.search(r"[?&]id=(\d+)", page.url).group(1))
    assert page.url.endswith(DETAILS.format(pk))
    assert REQUEST_DONE in _flash(benef)
    state = page.locator("#request-state")
    assert state.get_attribute("data-state") == "demandee"
    assert state.inner_text().strip() == "Demandée (en attente de l'employeur)"
    assert page.locator("#request-motivation").inner_text().strip() == MOTIVATION
    assert page.locator("#request-employer").inner_text().strip() == "en attente"
    # The beneficiary may cancel, not decide.
    assert page.locator('form[data-step="accepter"]').count() == 0
    assert page.locator('form[data-step="annuler"]').count() == 1
    _shot(benef, shots, "03-demandee")


# --- 2. the référent accepts --------------------------------------------------------------------

def _referent_accepts(referent: Actor, base: str, pk: int, facts, shots) -> None:
    page = referent.page
    assert page.url.rstrip("/").endswith("/admin")  # the login lands on the home page
    to_decide = page.locator("#training-to-decide")
    assert int(to_decide.locator(".h4").inner_text()) >= 1
    assert "à accepter ou refuser" in to_decide.inner_text()
    _in_view(to_decide)
    _shot(referent, shots, "04-referent-tableau-de-bord")
    with page.expect_navigation():
        to_decide.click()
    assert "flt0_0=demandee" in page.url
    request = page.locator(f'a[href="{DETAILS.format(pk)}"]')
    assert request.inner_text().strip() == facts["name"]
    row = page.locator("table.model-list tbody tr", has=request)
    assert row.locator('[data-state="demandee"]').count() == 1
    with page.expect_navigation():
        request.click()
    assert page.locator("#request-motivation").inner_text().strip() == MOTIVATION
    assert page.locator('form[data-step="retenir"]').count() == 0  # the CFA's step
    form = page.locator('form[data-step="accepter"]')
    form.locator("textarea[name=comment]").fill(APPROVAL)
    button = form.get_by_role("button", name="Accepter la demande")
    _in_view(button)
    with page.expect_navigation():
        button.click()
    assert page.url.endswith(DETAILS.format(pk))
    assert f"{facts['name']} – " in _flash(referent)
    assert _flash(referent).endswith("Acceptée par l'employeur.")
    assert page.locator("#request-state").inner_text().strip() == "Acceptée par l'employeur"
    assert APPROVAL in page.locator("#request-employer").inner_text()
    assert page.locator('form[data-step="accepter"]').count() == 0
    _shot(referent, shots, "05-acceptee")


# --- 3. the CFA retains and convokes ----------------------------------------------------------

def _cfa_retains_and_convokes(cfa: Actor, base: str, scene, pk: int, facts, shots) -> None:
    page, sid = cfa.page, scene["session"]
    selection = f"/admin/session-formation/{sid}/selection/"
    link = page.locator(f'#training-sessions-to-staff a[href="{selection}"]')
    assert link.count() == 1, page.locator("#dashboard-training").inner_text()
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(selection)
    count = page.locator("#selection-count")
    assert _plain(count.inner_text()).startswith(
        "0 personne retenue sur 3 places (3 places restantes sur 3)")
    row = page.locator(f'#group-acceptee_employeur tr[data-inscription="{pk}"]')
    assert MOTIVATION in row.inner_text() and facts["name"] in row.inner_text()
    retain = row.locator('form[data-step="retenir"]').get_by_role("button", name="Retenir")
    assert retain.count() == 1, row.inner_text()
    _in_view(retain)
    _shot(cfa, shots, "06-selection")
    with page.expect_navigation():
        retain.click()
    assert page.url.endswith(selection)
    assert _flash(cfa).endswith("Retenue.")
    assert page.locator(f'#group-acceptee_employeur tr[data-inscription="{pk}"]').count() == 0
    assert page.locator(f'#group-retenue tr[data-inscription="{pk}"]').count() == 1
    assert _plain(count.inner_text()).startswith(
        "1 personne retenue sur 3 places (2 places restantes sur 3)")
    documents = page.locator(f'#documents-people tr[data-inscription="{pk}"]')
    send = documents.get_by_role("button", name="Envoyer la convocation")
    _in_view(send)
    with page.expect_navigation():
        send.click()
    assert page.url.endswith(selection)
    assert "Convocation envoyée avec son invitation d'agenda." in _flash(cfa)
    assert documents.get_by_role("button", name="Renvoyer la convocation").count() == 1
    assert documents.get_by_role("link", name="PDF").count() == 1
    _shot(cfa, shots, "07-retenue-convoquee")


# --- 4. the session took place: attendance, close, attestation ----------------------------------

def _cfa_notes_attendance(cfa: Actor, base: str, scene, pk: int, held: date, shots) -> None:
    page, sid = cfa.page, scene["session"]
    cfa.go(base, f"/admin/session-formation/{sid}/selection/")
    with page.expect_navigation():
        page.click("#link-presences")
    assert page.url.endswith(f"/admin/session-formation/{sid}/presences/")
    boxes = page.locator(f'#attendance-grid tr[data-inscription="{pk}"] input[type=checkbox]')
    names = [f"p-{pk}-{held.isoformat()}-matin", f"p-{pk}-{held.isoformat()}-apres_midi"]
    assert [boxes.nth(i).get_attribute("name") for i in range(boxes.count())] == names
    for i in range(2):
        assert boxes.nth(i).is_enabled() and not boxes.nth(i).is_checked()
        boxes.nth(i).check()
    save = page.get_by_role("button", name="Enregistrer les présences")
    _in_view(save)
    _shot(cfa, shots, "08-presences-cochees")
    with page.expect_navigation():
        save.click()
    assert "Présences enregistrées." in _flash(cfa)
    assert all(boxes.nth(i).is_checked() for i in range(2))
    close = page.get_by_role("button", name="Clôturer la session")
    _in_view(close)
    with page.expect_navigation():
        close.click()
    assert "Session clôturée" in _flash(cfa)
    assert page.locator("#attendance-error").count() == 0
    _shot(cfa, shots, "09-session-cloturee")


def _cfa_delivers_the_attestation(cfa: Actor, base: str, scene, pk: int, shots) -> None:
    page, sid = cfa.page, scene["session"]
    with page.expect_navigation():  # the attendance page's way back to the selection
        page.locator(f'nav a[href="/admin/session-formation/{sid}/selection/"]').click()
    others = page.locator(f'#group-others tr[data-inscription="{pk}"]')
    assert others.locator('[data-state="presente"]').inner_text().strip() == "Présente"
    documents = page.locator(f'#documents-people tr[data-inscription="{pk}"]')
    assert documents.get_by_role("button", name="Envoyer la convocation").count() == 0
    deliver = documents.get_by_role("button", name="Délivrer l'attestation")
    _in_view(deliver)
    with page.expect_navigation():
        deliver.click()
    assert "Attestation de fin de formation délivrée." in _flash(cfa)
    assert documents.get_by_role("button", name="Délivrer à nouveau").count() == 1
    assert documents.get_by_role("link", name="PDF").count() == 2  # convocation, attestation
    _shot(cfa, shots, "10-attestation-delivree")


# --- 5. the beneficiary: « Présente », the attestation ---------------------------------------

def _beneficiary_downloads(benef: Actor, base: str, pk: int, facts, shots) -> bytes:
    page = benef.page
    benef.go(base, "/admin/")
    mine = page.locator(f'#training-mine tr[data-inscription="{pk}"]')
    assert mine.locator('[data-state="presente"]').inner_text().strip() == "Présente"
    with page.expect_navigation():
        mine.get_by_role("link", name=facts["title"]).click()
    assert page.url.endswith(DETAILS.format(pk))
    assert page.locator("#request-state").inner_text().strip() == "Présente"
    assert page.locator("#request-steps").count() == 0  # a final state: nothing left to do
    assert page.locator("#request-history tbody tr").count() == 7
    assert page.locator('#request-history tr[data-to="presente"]').count() == 2
    link = page.locator('[data-document="attestation"]').get_by_role(
        "link", name="Attestation de fin de formation (PDF)")
    _in_view(link)
    assert page.locator('[data-document="convocation"]').get_by_role(
        "link", name="Convocation (PDF)").count() == 1
    assert page.locator("#request-documents form").count() == 0  # the CFA's doors
    _shot(benef, shots, "11-beneficiaire-presente")
    with page.expect_download(timeout=10_000) as download:
        link.click()
    assert download.value.suggested_filename == f"attestation-formation-{pk}.pdf"
    with open(download.value.path(), "rb") as handle:
        return handle.read()


# --- the test ---------------------------------------------------------------------------------

def test_request_accept_retain_attend_and_attest_in_the_browser(
        app, people, live_server, screenshots_dir, scene, smtp):
    base, shots, benef_email = live_server, screenshots_dir, scene["benef"]
    facts = _facts(app, scene)

    # 1. The beneficiary requests the session.
    benef = people(benef_email)
    _beneficiary_requests(benef, base, scene, facts, shots)
    pk = _pk(app, scene)
    row = _row(app, pk)
    assert row["state"] == "demandee" and row["version"] >= 1
    assert row["history"] == [(None, "demandee", "Demande d'inscription", benef_email)]
    with app.app_context():
        assert db.session.get(Inscription, pk).motivation == MOTIVATION

    # 2. ACME's référent accepts it, from the home dashboard.
    _referent_accepts(people(REFERENT), base, pk, facts, shots)
    row = _row(app, pk)
    assert row["state"] == "acceptee_employeur" and row["employer_comment"] == APPROVAL
    assert row["history"][1:] == [("demandee", "acceptee_employeur", APPROVAL, REFERENT)]

    # 3. The CFA retains the person and sends the convocation.
    cfa = people(CFA)
    _cfa_retains_and_convokes(cfa, base, scene, pk, facts, shots)
    row = _row(app, pk)
    assert row["state"] == "retenue"
    assert row["history"][2:] == [("acceptee_employeur", "retenue", None, CFA),
                                  ("retenue", "retenue", "Convocation envoyée", CFA)]
    convocation = [m for rcpts, m in smtp.messages
                   if benef_email in rcpts and m["Subject"].endswith(": convocation")]
    assert len(convocation) == 1 and facts["title"] in convocation[0]["Subject"]
    assert {p.get_filename() for p in convocation[0].iter_attachments()} == {
        f"convocation-{pk}.pdf", f"convocation-{pk}.ics"}

    # 4. The session took place: attendance noted, session closed, attestation delivered.
    held = _session_took_place(app, scene)
    _cfa_notes_attendance(cfa, base, scene, pk, held, shots)
    with app.app_context():
        marks = db.session.execute(sa.select(Presence.jour, Presence.demi_journee,
                                             Presence.present)
                                   .where(Presence.inscription_id == pk)
                                   .order_by(Presence.demi_journee.desc())).all()
    assert [tuple(m) for m in marks] == [(held, "matin", True), (held, "apres_midi", True)]
    row = _row(app, pk)
    assert row["state"] == "presente"
    noted, closed = row["history"][4:6]
    assert noted[:2] == ("retenue", "retenue") and noted[2].startswith("Émargement – ")
    assert noted[2].count(": présente") == 2 and noted[3] == CFA
    assert closed == ("retenue", "presente", "Présente 2 demi-journée(s) sur 2.", CFA)
    _cfa_delivers_the_attestation(cfa, base, scene, pk, shots)
    row = _row(app, pk)
    assert row["state"] == "presente" and len(row["history"]) == 7
    assert row["history"][6] == ("presente", "presente", "Attestation de fin de formation "
                                 "délivrée (14\u00a0h, 2 demi-journée(s) sur 2)", CFA)
    with app.app_context():
        stored = db.session.get(Inscription, pk).attestation_document_id
        assert stored is not None
        attestation = db.session.get(Document, stored).data

    # 5. The beneficiary reads « Présente » and downloads the attestation.
    downloaded = _beneficiary_downloads(benef, base, pk, facts, shots)
    assert downloaded == attestation
    text = _pdf_text(downloaded)
    for expected in ("ATTESTATION DE PRÉSENCE ET DE FIN DE FORMATION", facts["name"],
                     facts["structure"], facts["title"], f"le {held.strftime('%d/%m/%Y')}",
                     "2 sur 2 prévues"):
        assert expected in text, (expected, text[:600])
    mailed = [m for rcpts, m in smtp.messages
              if rcpts == [benef_email] and "attestation de fin de formation" in m["Subject"]]
    assert len(mailed) == 1
    assert [p.get_filename() for p in mailed[0].iter_attachments()] == [
        f"attestation-formation-{pk}.pdf"]
