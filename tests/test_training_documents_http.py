"""The CFA's document and attendance doors of a training action through HTTP (issue 14 part
4, SPEC §6, seed 003): the émargement sheet, the convention of a structure, the convocation,
the attendance grid and the session's close, the attestation, the download of a request's
stored documents. Each door open to the CFA and closed (404 out of scope, 403 for a role
with no part) to the others; the PDFs read back with pypdf; every write checked in the
database; CSRF."""
from __future__ import annotations

import io
import re
from datetime import date, timedelta

import sqlalchemy as sa
from pypdf import PdfReader
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.models import Inscription, SessionFormation, Structure, User
from tests.test_training_actions_http import TRAINER, _by_service, _post, _text, live  # noqa
from tests.test_training_actions_service import ALICE, CFA, REFERENT, RH_GLOBEX, world  # noqa

DOC = "/admin/inscription/{}/document/{}/"
CONVOCATION = "/admin/inscription/{}/convocation/"
ATTESTATION = "/admin/inscription/{}/attestation/"


def _pdf_text(response) -> str:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages)


def _retained(app, scene, *who) -> dict[str, int]:
    """Requests of ``who`` made, accepted by the référent and retained by the CFA."""
    from portal.training_actions import service
    ids = {}
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        structure = db.session.get(Structure, scene["structure"])
        for key in who:
            user = db.session.execute(sa.select(User).where(User.email == scene[key])
                                      ).scalar_one()
            ids[key] = service.request(session, by=user, structure=structure,
                                       motivation="Devenir tuteur.").id
    for pk in ids.values():
        _by_service(app, scene, "accepter", pk, REFERENT)
        _by_service(app, scene, "retenir", pk, CFA)
    return ids


def _name(app, email) -> str:
    with app.app_context():
        return db.session.execute(sa.select(User).where(User.email == email)).scalar_one() \
            .full_name


def _inscription(app, pk) -> dict:
    with app.app_context():
        row = db.session.get(Inscription, pk)
        return {"state": row.state, "convocation": row.convocation_document_id,
                "attestation": row.attestation_document_id,
                "marks": {(p.jour, p.demi_journee): p.present for p in row.presences}}


def _to_the_past(app, scene):
    """The session moved to last week, Monday to Tuesday (its requests already retained)."""
    today = date.today()
    monday = today - timedelta(days=today.weekday() + 7)
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        session.date_debut, session.date_fin = monday, monday + timedelta(days=1)
        session.date_limite_inscription = monday - timedelta(days=7)
        db.session.commit()
    return monday


def _globex_structure(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Structure.id).join(
            User, User.id == Structure.referent_id).where(User.email == RH_GLOBEX)).scalar()


# --- the convocation and the stored documents -------------------------------------------------

def test_the_convocation_is_the_cfa_s_and_its_pdf_the_person_s(app, login, live):
    scene = live
    pk = _retained(app, scene, "benef")["benef"]
    name = _name(app, scene["benef"])
    cfa = login(CFA)
    page = _text(cfa.get(f"/admin/inscription/details/?id={pk}"))
    assert 'data-door="convocation"' in page and "Envoyer la convocation" in page
    # Refused to every other role: nothing stored.
    for email, code in ((scene["benef"], 403), (REFERENT, 403), (RH_GLOBEX, 404),
                        (ALICE, 403), (TRAINER, 403)):
        assert _post(login(email), CONVOCATION.format(pk)).status_code == code, email
    assert _inscription(app, pk)["convocation"] is None

    response = _post(cfa, CONVOCATION.format(pk))
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/inscription/details/?id={pk}")
    assert _inscription(app, pk)["convocation"] is not None
    assert name in _pdf_text(cfa.get(DOC.format(pk, "convocation")))
    # The person downloads their own convocation; nobody else but the CFA.
    benef = login(scene["benef"])
    assert name in _pdf_text(benef.get(DOC.format(pk, "convocation")))
    assert "Convocation (PDF)" in _text(benef.get(f"/admin/inscription/details/?id={pk}"))
    for email, code in ((REFERENT, 404), (scene["benef2"], 404), (RH_GLOBEX, 404),
                        (ALICE, 403), (TRAINER, 403)):
        assert login(email).get(DOC.format(pk, "convocation")).status_code == code, email
    assert cfa.get(DOC.format(pk, "attestation")).status_code == 404  # none yet
    assert cfa.get(DOC.format(pk, "contrat")).status_code == 404

    # From the selection screen, sent again, back to the selection.
    selection = f"/admin/session-formation/{scene['session']}/selection/"
    page = _text(cfa.get(selection))
    assert "Renvoyer la convocation" in page
    response = _post(cfa, CONVOCATION.format(pk), retour="selection")
    assert response.status_code == 303 and response.headers["Location"].endswith(selection)


def test_a_convocation_refused_says_why_next_to_its_button(app, login, live):
    scene = live
    from tests.test_training_actions_http import _made
    pk = _made(app, login, scene, "benef")  # still "demandée"
    cfa = login(CFA)
    response = _post(cfa, CONVOCATION.format(pk))
    assert response.status_code == 422
    assert re.search(r'id="err-convocation"[^>]*>[^<]*ne s\'envoie qu\'à une demande retenue',
                     _text(response))
    response = _post(cfa, CONVOCATION.format(pk), retour="selection")
    assert response.status_code == 422
    assert f'id="err-convocation-{pk}"' not in _text(response)  # not in the table: on top
    assert re.search(r'id="step-error"[^>]*>[^<]*ne s\'envoie qu\'à une demande retenue',
                     _text(response))
    assert _inscription(app, pk)["convocation"] is None


def test_a_post_without_its_csrf_token_writes_nothing(app, login, live):
    scene = live
    pk = _retained(app, scene, "benef")["benef"]
    cfa = login(CFA)
    assert cfa.post(CONVOCATION.format(pk)).status_code == 400
    assert _inscription(app, pk)["convocation"] is None
    monday = _to_the_past(app, scene)
    response = cfa.post(f"/admin/session-formation/{scene['session']}/presences/",
                        data={f"p-{pk}-{monday.isoformat()}-matin": "1"})
    assert response.status_code == 400
    assert _inscription(app, pk)["marks"] == {}
    response = cfa.post(f"/admin/session-formation/{scene['session']}/presences/",
                        data={"cloturer": "1"})
    assert response.status_code == 400 and _inscription(app, pk)["state"] == "retenue"


# --- the session's documents --------------------------------------------------------------------

def test_the_attendance_sheet_and_the_convention(app, login, live):
    scene = live
    _retained(app, scene, "benef", "benef2")
    names = [_name(app, scene[k]) for k in ("benef", "benef2")]
    sheet = f"/admin/session-formation/{scene['session']}/emargement.pdf"
    convention = f"/admin/session-formation/{scene['session']}/convention/{scene['structure']}.pdf"
    cfa = login(CFA)
    text = _pdf_text(cfa.get(sheet))
    assert all(n in text for n in names)
    text = _pdf_text(cfa.get(convention))
    assert all(n in text for n in names)
    with app.app_context():
        acme = db.session.get(Structure, scene["structure"]).raison_sociale
    assert acme in text and "700" in text  # 2 × 350 €
    page = _text(cfa.get(f"/admin/session-formation/{scene['session']}/selection/"))
    assert f'data-convention="{scene["structure"]}"' in page and "Feuille d'émargement" in page
    # A structure with nobody retained, a structure that does not exist: 404.
    other = f"/admin/session-formation/{scene['session']}/convention/{_globex_structure(app)}.pdf"
    assert cfa.get(other).status_code == 404
    assert cfa.get(f"/admin/session-formation/{scene['session']}/convention/999999.pdf"
                   ).status_code == 404
    assert cfa.get("/admin/session-formation/999999/emargement.pdf").status_code == 404
    for email in (scene["benef"], REFERENT, RH_GLOBEX, ALICE, TRAINER):
        client = login(email)
        for url in (sheet, convention):
            assert client.get(url).status_code in (403, 404), (email, url)
    assert login(REFERENT).get(sheet).status_code == 403  # sees the session, not its sheet
    assert login(ALICE).get(convention).status_code == 403


# --- attendance, close, attestation -------------------------------------------------------------

def test_attendance_recorded_then_closed_then_the_attestation(app, login, live):
    scene = live
    ids = _retained(app, scene, "benef", "benef2")
    monday = _to_the_past(app, scene)
    url = f"/admin/session-formation/{scene['session']}/presences/"
    for email in (scene["benef"], REFERENT, ALICE, TRAINER):
        assert login(email).get(url).status_code in (403, 404), email
    assert login(REFERENT).get(url).status_code == 403
    assert _post(login(REFERENT), url, cloturer="1").status_code == 403

    cfa = login(CFA)
    page = _text(cfa.get(url))
    assert 'id="attendance-grid"' in page and _name(app, scene["benef"]) in page
    assert page.count('type="checkbox"') == 8  # 2 people × 4 half-days
    tuesday = monday + timedelta(days=1)
    response = _post(cfa, url, **{f"p-{ids['benef']}-{monday.isoformat()}-matin": "1",
                                  f"p-{ids['benef']}-{tuesday.isoformat()}-apres_midi": "1"})
    assert response.status_code == 303
    marks = _inscription(app, ids["benef"])["marks"]
    assert marks[(monday, "matin")] is True and marks[(monday, "apres_midi")] is False
    assert sum(marks.values()) == 2 and len(marks) == 4
    assert not any(_inscription(app, ids["benef2"])["marks"].values())
    assert _inscription(app, ids["benef"])["state"] == "retenue"

    response = _post(cfa, url, cloturer="1")
    assert response.status_code == 303
    assert _inscription(app, ids["benef"])["state"] == "presente"
    assert _inscription(app, ids["benef2"])["state"] == "absente"
    # Closed: the grid is read-only, a mark posted anyway is refused and nothing changes.
    page = _text(cfa.get(url))
    assert 'id="attendance-closed"' in page and "Enregistrer les présences" not in page
    assert "Clôturer la session" not in page
    assert page.count('type="checkbox"') == page.count(" disabled>") == 8
    before = _inscription(app, ids["benef2"])["marks"]
    response = _post(cfa, url, **{f"p-{ids['benef2']}-{monday.isoformat()}-matin": "1"})
    assert response.status_code == 422 and "session est clôturée" in _text(response)
    assert _inscription(app, ids["benef2"])["marks"] == before
    assert _inscription(app, ids["benef2"])["state"] == "absente"

    # The attestation: the CFA's, for the person present only.
    assert _post(login(scene["benef"]), ATTESTATION.format(ids["benef"])).status_code == 403
    response = _post(cfa, ATTESTATION.format(ids["benef2"]))
    assert response.status_code == 422
    assert re.search(r'id="err-attestation"[^>]*>[^<]*personne présente', _text(response))
    assert _inscription(app, ids["benef2"])["attestation"] is None
    response = _post(cfa, ATTESTATION.format(ids["benef"]))
    assert response.status_code == 303
    text = _pdf_text(login(scene["benef"]).get(DOC.format(ids["benef"], "attestation")))
    assert _name(app, scene["benef"]) in text
    assert login(scene["benef2"]).get(DOC.format(ids["benef"], "attestation")).status_code \
        == 404


def test_a_mark_refused_is_shown_and_a_race_is_a_conflict(app, login, live, monkeypatch):
    scene = live
    pk = _retained(app, scene, "benef")["benef"]
    url = f"/admin/session-formation/{scene['session']}/presences/"
    cfa = login(CFA)
    # The session has not started: the record is refused, in French, nothing written.
    response = _post(cfa, url)
    assert response.status_code == 422
    assert "ne commence que le" in _text(response) and 'id="attendance-error"' in response.text
    response = _post(cfa, url, cloturer="1")
    assert response.status_code == 422 and "se clôture à partir du lendemain" in _text(response)
    assert _inscription(app, pk)["state"] == "retenue"

    from portal.training_actions import attendance

    def lost(*args, **kwargs):
        raise StaleDataError("lost the race")
    monkeypatch.setattr(attendance, "record", lost)
    _to_the_past(app, scene)
    response = _post(cfa, url)
    assert response.status_code == 409
    assert _inscription(app, pk)["marks"] == {}
