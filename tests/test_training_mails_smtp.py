"""The training-action e-mails through a real SMTP server on 127.0.0.1 (issue 14, SPEC §6): each
path run through HTTP (the Flask test client), then the messages the server received since the
previous step: exactly the expected recipients (envelope and To), the French subject, the one
link of the text and HTML parts absolute, pointing to the request's page, answering 200 with
the request to every recipient and 404/403 to the others. The référent and a member with the
employer right decide from the e-mail's link while logged out (login form, back to the
request) and from the home page's block; the convocation's PDF and calendar invitation, the
reminder a week before (the daily reminders job), the attestation."""
from __future__ import annotations

import html
import io
import re
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import icalendar
import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.extensions import db
from portal.models import (CFA_ROLES, Document, Inscription, SessionFormation, Structure,
                           StructureMembership, User, UserRole)
from portal.training_actions import attendance
from tests.support.web import DEMO_PASSWORD, csrf_from
from tests.test_training_actions_http import _post, _row, _text, _version, live  # noqa: F401
from tests.test_training_actions_service import ALICE, CFA, REFERENT, RH_GLOBEX, world  # noqa

DETAILS = "/admin/inscription/details/?id={}"
STEP = "/admin/inscription/{}/etape/{}/"
PARIS = ZoneInfo("Europe/Paris")
DIGEST = "Vos dossiers à traiter"  # the daily digest of the dossiers, not ours


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


class Mail:
    def __init__(self, rcpts, message):
        self.rcpts = {r.lower() for r in rcpts}
        self.to = {a.addr_spec.lower() for a in message["To"].addresses}
        # A long ASCII subject is folded right after "Subject:" (Python's compat32 folding,
        # used by Flask-Mail): mail readers drop that leading blank, so do we.
        self.subject = str(message["Subject"]).strip()
        self.message = message
        self.text = message.get_body(preferencelist=("plain",)).get_content()
        self.html = message.get_body(preferencelist=("html",)).get_content()
        parser = _Links()
        parser.feed(self.html)
        self.html_links = parser.hrefs
        self.text_links = re.findall(r"https?://\S+", self.text)

    def attachments(self) -> dict:
        return {p.get_filename(): p for p in self.message.iter_attachments()}


class Scene:
    """The world's people and session, the mails received since the last look, one logged-in
    client per person."""

    def __init__(self, app, login, world, smtp):
        self.app, self.login, self.ids, self.smtp = app, login, world, smtp
        self._seen, self._clients = 0, {}

    def __getitem__(self, key):
        return self.ids[key]

    def client(self, email):
        if email not in self._clients:
            self._clients[email] = self.login(email)
        return self._clients[email]

    def fresh(self) -> list[Mail]:
        received = self.smtp.messages
        new, self._seen = received[self._seen:], len(received)
        return [Mail(rcpts, message) for rcpts, message in new]

    def subject(self, suffix: str) -> str:
        with self.app.app_context():
            session = db.session.get(SessionFormation, self["session"])
            return (f"[Sillon] {session.action.intitule} du "
                    f"{session.date_debut:%d/%m/%Y} : {suffix}")

    def expect(self, *wanted, ignore=None) -> list[Mail]:
        """Exactly these mails since the last look, each (recipients, subject suffix), in any
        order; returned in the order asked."""
        mails = [m for m in self.fresh() if not (ignore and ignore in m.subject)]
        wanted = [({e.lower() for e in who}, self.subject(suffix)) for who, suffix in wanted]
        assert sorted((sorted(m.rcpts), m.subject) for m in mails) == \
            sorted((sorted(who), subject) for who, subject in wanted)
        out = []
        for who, subject in wanted:
            mail = next(m for m in mails if m.rcpts == who and m.subject == subject
                        and m not in out)
            assert mail.to == mail.rcpts, (mail.to, mail.rcpts)
            out.append(mail)
        return out

    def opens(self, mail: Mail, pk: int, *, strangers=()) -> str:
        """The mail's one link (text and HTML parts) is absolute, is the request's page, shows
        the request to every recipient and answers 404/403 to the strangers. Its path."""
        base = urlsplit(self.app.config["PUBLIC_BASE_URL"])
        assert base.scheme in ("http", "https") and base.netloc
        assert mail.text_links == mail.html_links, (mail.text_links, mail.html_links)
        (link,) = mail.text_links
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc) == (base.scheme, base.netloc), link
        path = _path(link)
        assert path == DETAILS.format(pk), link
        assert not re.search(r'(?:href|src)="/', mail.html)  # nothing relative either
        email = _email_of(self.app, pk)
        # Other test files add CFA staff with passwords of their own (@test.sillon.demo): they
        # are asserted as recipients by expect(); the link is opened by every account whose
        # password this test knows, which is at least one of each kind.
        readers = sorted(r for r in mail.rcpts if not r.endswith("@test.sillon.demo"))
        assert readers, mail.rcpts
        for reader in readers:
            response = self.client(reader).get(path)
            assert response.status_code == 200, reader
            page = _text(response)
            assert f"Demande d'inscription n° {pk}" in page and email in page, reader
        for stranger, code in strangers:
            assert self.client(stranger).get(path).status_code == code, stranger
        return path

    def strangers(self, pk):
        """Who must not open request ``pk``: another structure's référent, a member of the
        structure without the employer right, another beneficiary, an apprentice."""
        other = next(self[k] for k in ("benef2", "benef3") if self[k] != _email_of(self.app, pk))
        return ((RH_GLOBEX, 404), (self["plain"], 404), (other, 404), (ALICE, 403))

    def step(self, email, pk, code, comment=None, **form):
        """``email`` takes step ``code`` from the request's page (its version); 303."""
        client = self.client(email)
        page = _text(client.get(DETAILS.format(pk)))
        if comment is not None:
            form["comment"] = comment
        response = _post(client, STEP.format(pk, code), _version=_version(page, code), **form)
        assert response.status_code == 303, _text(response)
        return response

    def request(self, who) -> int:
        client = self.client(self[who])
        response = _post(client, f"/admin/action-formation/session/{self['session']}/demande/",
                         structure_id=str(self["structure"]), motivation="Devenir tuteur.")
        assert response.status_code == 303, _text(response)
        return int(parse_qs(urlsplit(response.headers["Location"]).query)["id"][0])


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _email_of(app, pk) -> str:
    with app.app_context():
        return db.session.get(Inscription, pk).user.email


def _deciders(app, structure_id) -> set[str]:
    """SPEC §6: the structure's référent and its approved, active members with the employer
    right (read here from the tables, not from portal.training_actions.messages)."""
    with app.app_context():
        referent = db.session.execute(sa.select(User.email).join(
            Structure, Structure.referent_id == User.id).where(Structure.id == structure_id)
        ).scalars().all()
        members = db.session.execute(sa.select(User.email).join(
            StructureMembership, StructureMembership.user_id == User.id).where(
            StructureMembership.structure_id == structure_id,
            StructureMembership.status == StructureMembership.APPROUVE,
            StructureMembership.droit_contact_employeur.is_(True),
            User.active.is_(True))).scalars().all()
    return {e.lower() for e in (*referent, *members)}


def _cfa_staff(app) -> set[str]:
    with app.app_context():
        return {e.lower() for e in db.session.execute(sa.select(User.email).join(
            UserRole, UserRole.user_id == User.id).where(
            UserRole.role.in_(tuple(CFA_ROLES)), User.active.is_(True))).scalars()}


def _name(app, email) -> str:
    with app.app_context():
        return db.session.execute(sa.select(User).where(User.email == email)).scalar_one() \
            .full_name


@pytest.fixture()
def scene(app, login, live, smtp):  # noqa: F811
    """The world's session in a fortnight, organised by the CFA's adviser; the documents the
    test stores removed afterwards."""
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.max(Document.id))) or 0
        session = db.session.get(SessionFormation, live["session"])
        session.organisateur = db.session.execute(
            sa.select(User).where(User.email == CFA)).scalar_one()
        db.session.commit()
    yield Scene(app, login, live, smtp)
    with app.app_context():
        db.session.execute(sa.update(Inscription).where(
            Inscription.session_id == live["session"]).values(
            convocation_document_id=None, attestation_document_id=None))
        db.session.execute(sa.delete(Document).where(Document.id > before))
        db.session.commit()


# --- the steps, one e-mail after another --------------------------------------------------------

def test_a_request_tells_the_deciders_only(app, scene):
    deciders = _deciders(app, scene["structure"])
    assert {REFERENT, scene["decider"]} <= deciders
    assert not {scene["benef"], scene["plain"], RH_GLOBEX} & deciders
    pk = scene.request("benef")
    (mail,) = scene.expect((deciders, "demande à décider"))
    assert "nouvelle demande à accepter ou refuser." in mail.text
    assert _name(app, scene["benef"]) in mail.text and "Montpellier" in mail.text
    scene.opens(mail, pk, strangers=scene.strangers(pk))
    # A decider who requests for themselves is not told of their own request.
    with app.app_context():
        db.session.execute(sa.update(StructureMembership).where(
            StructureMembership.user_id == sa.select(User.id).where(
                User.email == scene["decider"]).scalar_subquery()).values(
            droit_beneficiaire=True))
        db.session.commit()
    own = scene.request("decider")
    (mail,) = scene.expect((deciders - {scene["decider"]}, "demande à décider"))
    scene.opens(mail, own, strangers=((RH_GLOBEX, 404), (scene["plain"], 404)))


def test_accept_retain_and_the_convocation(app, scene):
    pk = scene.request("benef")
    scene.fresh()
    deciders = _deciders(app, scene["structure"])
    scene.step(REFERENT, pk, "accepter", comment="Bonne idée.")
    to_benef, to_cfa = scene.expect(({scene["benef"]}, "acceptée par l'employeur"),
                                    ({CFA}, "acceptée par l'employeur"))
    for mail in (to_benef, to_cfa):
        assert "l'employeur a accepté la demande ; le CFA organise la sélection." in mail.text
        assert f"Commentaire de {_name(app, REFERENT)} : Bonne idée." in mail.text
        scene.opens(mail, pk, strangers=scene.strangers(pk))
    # The organiser goes from the request to the selection screen, and retains there.
    page = _text(scene.client(CFA).get(DETAILS.format(pk)))
    selection = f"/admin/session-formation/{scene['session']}/selection/"
    assert f'href="{selection}"' in page
    page = _text(scene.client(CFA).get(selection))
    row = re.search(rf'<tr data-inscription="{pk}">.*?</tr>', page, re.S).group(0)
    assert _post(scene.client(CFA), STEP.format(pk, "retenir"), retour="selection",
                 _version=_version(row, "retenir")).status_code == 303
    to_benef, to_employer = scene.expect(({scene["benef"]}, "retenue"), (deciders, "retenue"))
    for mail in (to_benef, to_employer):
        assert "la demande est retenue : la convocation suivra." in mail.text
        scene.opens(mail, pk, strangers=scene.strangers(pk))

    response = _post(scene.client(CFA), f"/admin/inscription/{pk}/convocation/")
    assert response.status_code == 303
    (mail,) = scene.expect(({scene["benef"], *deciders}, "convocation"))
    scene.opens(mail, pk, strangers=scene.strangers(pk))
    name = f"convocation-{pk}"
    parts = mail.attachments()
    assert set(parts) == {f"{name}.pdf", f"{name}.ics"}
    assert parts[f"{name}.pdf"].get_content_type() == "application/pdf"
    pdf = PdfReader(io.BytesIO(parts[f"{name}.pdf"].get_payload(decode=True)))
    assert _name(app, scene["benef"]) in " ".join(p.extract_text() for p in pdf.pages)
    assert parts[f"{name}.ics"].get_content_type() == "text/calendar"
    calendar = icalendar.Calendar.from_ical(parts[f"{name}.ics"].get_payload(decode=True))
    (event,) = calendar.walk("VEVENT")
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        start, end, place = session.date_debut, session.date_fin, session.lieu
        title = session.action.intitule
    assert event.decoded("DTSTART") == datetime.combine(start, time(9), tzinfo=PARIS)
    assert event.decoded("DTEND") == datetime.combine(end, time(17), tzinfo=PARIS)
    assert str(event["LOCATION"]) == place == "Montpellier"
    assert str(event["SUMMARY"]) == title
    assert str(calendar["METHOD"]) == "REQUEST"


def test_a_refusal_tells_the_beneficiary_with_its_comment(app, scene):
    pk = scene.request("benef2")
    scene.fresh()
    comment = "Pas cette année : l'équipe est en sous-effectif <jusqu'en juin>."
    scene.step(scene["decider"], pk, "refuser", comment=comment)
    (mail,) = scene.expect(({scene["benef2"]}, "refusée par l'employeur"))
    said = f"Commentaire de {_name(app, scene['decider'])} : {comment}"
    assert "l'employeur a refusé la demande." in mail.text and said in mail.text
    assert said in html.unescape(mail.html) and "<jusqu" not in mail.html  # escaped
    scene.opens(mail, pk, strangers=scene.strangers(pk))
    assert _row(app, pk)["employer_comment"] == comment


def test_waiting_list_not_retained_and_a_cancellation_moving_it_up(app, scene):
    """Capacity 1: benef retained, benef2 waits, benef3 not retained; benef cancels, benef2
    moves up. The session has no organiser here: every CFA staff member is told."""
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        session.capacite, session.organisateur = 1, None
        db.session.commit()
    ids = {who: scene.request(who) for who in ("benef", "benef2", "benef3")}
    for pk in ids.values():
        scene.step(REFERENT, pk, "accepter")
    scene.step(CFA, ids["benef"], "retenir")
    scene.fresh()
    deciders, staff = _deciders(app, scene["structure"]), _cfa_staff(app)
    assert CFA in staff

    scene.step(CFA, ids["benef2"], "mettre_en_attente")
    (mail,) = scene.expect(({scene["benef2"]}, "liste d'attente"))
    assert "la demande est sur la liste d'attente de la session." in mail.text
    scene.opens(mail, ids["benef2"], strangers=scene.strangers(ids["benef2"]))

    reason = "Le public visé : maîtres d'apprentissage déjà désignés."
    scene.step(CFA, ids["benef3"], "ne_pas_retenir", comment=reason)
    to_benef, to_employer = scene.expect(({scene["benef3"]}, "non retenue"),
                                         (deciders, "non retenue"))
    for mail in (to_benef, to_employer):
        assert "la demande n'a pas été retenue." in mail.text and reason in mail.text
        assert reason in html.unescape(mail.html)
        scene.opens(mail, ids["benef3"], strangers=scene.strangers(ids["benef3"]))

    scene.step(scene["benef"], ids["benef"], "annuler", comment="Empêchement.")
    assert _row(app, ids["benef2"])["state"] == "retenue"
    cancelled = scene.expect(({scene["benef"]}, "annulée"), (deciders, "annulée"),
                             (staff, "annulée"), ({scene["benef2"]}, "retenue"),
                             (deciders, "retenue"))
    for mail in cancelled[:3]:
        assert "la demande a été annulée." in mail.text and "Empêchement." in mail.text
        scene.opens(mail, ids["benef"], strangers=scene.strangers(ids["benef"]))
    for mail in cancelled[3:]:
        assert "la demande est retenue" in mail.text and "Place libérée" in mail.text
        # Sillon moved the list up: the person who cancelled is not named.
        assert "Commentaire de Sillon" in mail.text
        assert _name(app, scene["benef"]) not in mail.text
        scene.opens(mail, ids["benef2"], strangers=scene.strangers(ids["benef2"]))


def test_the_reminder_a_week_before_through_the_daily_job(app, scene):
    pk = scene.request("benef")
    scene.request("benef2")   # requested only: not reminded
    scene.step(REFERENT, pk, "accepter")
    scene.step(CFA, pk, "retenir")
    scene.fresh()
    today = datetime.now(PARIS).date()
    with app.app_context():
        pending = set(db.session.scalars(sa.select(SessionFormation.id).where(
            SessionFormation.rappel_envoye_at.is_(None))))
        session = db.session.get(SessionFormation, scene["session"])
        session.date_debut = session.date_fin = today + timedelta(days=7)
        session.date_limite_inscription = today
        db.session.commit()
    try:
        app.extensions["sillon_tasks"].daily_reminders.call_local()  # outside any request
        (mail,) = scene.expect(({scene["benef"]}, "rappel"), ignore=DIGEST)
    finally:  # the demo's sessions keep their state (none is due on a real day)
        with app.app_context():
            db.session.execute(sa.update(SessionFormation).where(
                SessionFormation.id.in_(pending - {scene["session"]})).values(
                rappel_envoye_at=None))
            db.session.commit()
    assert "commence dans 7 jours" in mail.text and "Montpellier" in mail.text
    scene.opens(mail, pk, strangers=scene.strangers(pk))


def test_the_attestation_e_mail(app, scene):
    pk = scene.request("benef")
    scene.step(REFERENT, pk, "accepter")
    scene.step(CFA, pk, "retenir")
    today = date.today()
    monday = today - timedelta(days=today.weekday() + 7)
    with app.app_context():   # the session moved to last week, attended, closed
        session = db.session.get(SessionFormation, scene["session"])
        session.date_debut, session.date_fin = monday, monday + timedelta(days=1)
        session.date_limite_inscription = monday - timedelta(days=7)
        db.session.commit()
        cfa = db.session.execute(sa.select(User).where(User.email == CFA)).scalar_one()
        attendance.record(session, {(pk, day, half): True for day, half in
                                    attendance.expected(session)}, by=cfa, today=today)
        attendance.close(session, by=cfa, today=today)
    scene.fresh()
    assert _post(scene.client(CFA), f"/admin/inscription/{pk}/attestation/").status_code == 303
    (mail,) = scene.expect(({scene["benef"]}, "attestation de fin de formation"))
    assert "votre attestation de fin de formation est jointe." in mail.text
    (part,) = mail.attachments().values()
    assert part.get_filename() == f"attestation-formation-{pk}.pdf"
    pdf = PdfReader(io.BytesIO(part.get_payload(decode=True)))
    assert _name(app, scene["benef"]) in " ".join(p.extract_text() for p in pdf.pages)
    scene.opens(mail, pk, strangers=scene.strangers(pk))


# --- deciding from the e-mail's link, logged out, and from the home page -------------------------

@pytest.mark.parametrize("who, code, comment, target, told", [
    ("referent", "accepter", None, "acceptee_employeur", "acceptée par l'employeur"),
    ("decider", "refuser", "Pas avant la rentrée.", "refusee_employeur",
     "refusée par l'employeur"),
])
def test_deciding_from_the_e_mail_s_link_after_logging_in(app, scene, who, code, comment,
                                                          target, told):
    email = REFERENT if who == "referent" else scene["decider"]
    pk = scene.request("benef")
    (mail,) = scene.expect((_deciders(app, scene["structure"]), "demande à décider"))
    assert email in mail.rcpts
    (link,) = mail.text_links
    path = _path(link)
    browser = app.test_client()   # logged out
    response = browser.get(path)
    assert response.status_code == 302
    login_url = urlsplit(response.headers["Location"])
    assert login_url.path == "/login" and parse_qs(login_url.query)["next"] == [path]
    page = browser.get(response.headers["Location"])
    assert page.status_code == 200
    response = browser.post(response.headers["Location"], data={
        "email": email, "password": DEMO_PASSWORD,
        "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302 and _path(response.headers["Location"]) == path
    page = _text(browser.get(path))
    assert f"Demande d'inscription n° {pk}" in page and f'data-step="{code}"' in page
    form = {"_version": _version(page, code),
            "csrf_token": csrf_from(re.search(r'data-step="%s".*?</form>' % code, page,
                                              re.S).group(0))}
    if comment:
        form["comment"] = comment
    response = browser.post(STEP.format(pk, code), data=form)
    assert response.status_code == 303 and _path(response.headers["Location"]) == path
    row = _row(app, pk)
    assert row["state"] == target and row["employer_comment"] == comment
    assert row["history"][-1] == ("demandee", target, comment, email)
    expected = [({scene["benef"]}, told)] + ([({CFA}, told)] if code == "accepter" else [])
    for sent in scene.expect(*expected):
        if comment:
            assert f"Commentaire de {_name(app, email)} : {comment}" in sent.text
        scene.opens(sent, pk, strangers=scene.strangers(pk))


def test_deciding_from_the_home_page_block(app, scene):
    pk = scene.request("benef")
    scene.fresh()
    for email in (REFERENT, scene["decider"]):
        home = _text(scene.client(email).get("/admin/"))
        block = re.search(r'<section id="dashboard-training".*?</section>', home, re.S).group(0)
        link = re.search(r'id="training-to-decide" href="([^"]+)".*?<span class="h4 mb-0">'
                         r'(\d+)', block, re.S)
        assert link and int(link.group(2)) >= 1, email
        listed = _text(scene.client(email).get(html.unescape(link.group(1))))
        assert f'href="{DETAILS.format(pk)}"' in listed, email
        page = _text(scene.client(email).get(DETAILS.format(pk)))
        assert 'data-step="accepter"' in page and 'data-step="refuser"' in page, email
    scene.step(scene["decider"], pk, "accepter")
    assert _row(app, pk)["state"] == "acceptee_employeur"
    for mail in scene.expect(({scene["benef"]}, "acceptée par l'employeur"),
                             ({CFA}, "acceptée par l'employeur")):
        scene.opens(mail, pk, strangers=scene.strangers(pk))
    listed = _text(scene.client(REFERENT).get(html.unescape(link.group(1))))
    assert f'href="{DETAILS.format(pk)}"' not in listed  # decided: off the list to decide
