"""Documents through HTTP: availability per state and role, downloads only through the scope,
immutable once locked, the ZIP action, training files, and the CERFA visé (visa on page 1)
e-mailed to the employer with the PDF attached (real SMTP server)."""
import hashlib
import io
import zipfile

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from portal.extensions import db
from portal.models import Dossier, Formation
from tests.support.web import csrf
from tests.test_dossier_lifecycle import (ACME, ALICE, CONSEIL, MANUAL, _act, _fill,  # noqa: F401
                                          _pdf, _upload, world)

ON_DOSSIER = (ALICE, ACME, MANUAL[0], "gest.info@sillon.demo", "admin@sillon.demo", CONSEIL)
OUTSIDERS = ("bruno@etu.sillon.demo", "rh@globex.sillon.demo", "resp.droit@sillon.demo")
FIRST_STATE = {"cerfa": "valide_formation", "devis": "valide_formation",
               "convention": "economie_validee"}
ORDER = ["initialise", "en_saisie", "saisie_complete", "validation_demandee", "valide_formation",
         "economie_validee", "documents_retournes", "documents_valides", "envoye_opco"]


@pytest.fixture()
def complete(app, login, world):  # noqa: F811
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    return pk


def _set_state(app, pk, state):
    with app.app_context():
        db.session.get(Dossier, pk).state = state
        db.session.commit()


@pytest.mark.parametrize("kind", sorted(FIRST_STATE))
def test_availability_per_state_and_role(app, login, complete, kind):
    clients = {account: login(account) for account in ON_DOSSIER + OUTSIDERS}
    for state in ORDER:
        _set_state(app, complete, state)
        available = ORDER.index(state) >= ORDER.index(FIRST_STATE[kind])
        for account in ON_DOSSIER:
            response = clients[account].get(f"/admin/dossier/{complete}/documents/{kind}/")
            if available:
                assert response.status_code == 200, (kind, state, account)
                assert response.data[:5] == b"%PDF-"
                assert "attachment" in response.headers["Content-Disposition"]
            else:
                assert response.status_code == 409, (kind, state, account)
                assert "n&#39;est pas encore disponible" in response.get_data(as_text=True) or \
                    "n'est pas encore disponible" in response.get_data(as_text=True)
        for account in OUTSIDERS:
            assert clients[account].get(
                f"/admin/dossier/{complete}/documents/{kind}/").status_code == 404
    assert clients[ALICE].get(f"/admin/dossier/{complete}/documents/../../etc/").status_code \
        == 404
    assert clients[ALICE].get(f"/admin/dossier/{complete}/documents/facture/").status_code == 404


def test_locked_dossier_documents_are_rendered_once(app, login, complete):
    _set_state(app, complete, "economie_validee")
    client = login(ACME)
    first = client.get(f"/admin/dossier/{complete}/documents/cerfa/").data
    second = client.get(f"/admin/dossier/{complete}/documents/cerfa/").data
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()
    with app.app_context():
        from portal.models import Document
        stored = db.session.scalars(sa.select(Document).where(
            Document.dossier_id == complete, Document.kind == "cerfa")).all()
        assert len(stored) == 1 and stored[0].sha256 == hashlib.sha256(first).hexdigest()


def test_stamped_cerfa_reaches_the_employer(app, login, complete, smtp, clean_outbox):
    _set_state(app, complete, "economie_validee")
    acme = login(ACME)
    signed = _pdf("CERFA signé")
    _upload(acme, complete, "cerfa_signe", signed, "cerfa.pdf")
    _upload(acme, complete, "convention_signee", _pdf("Convention"), "convention.pdf")
    _act(login(CONSEIL), complete, "valider_documents")
    response = acme.get(f"/admin/dossier/{complete}/documents/cerfa_vise/")
    assert response.status_code == 200
    first_page = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Visé par le CFA" in first_page and "CFA Sillon Sud" in first_page
    to_employer = [m for rcpt, m in smtp.messages if rcpt == [ACME]]
    assert len(to_employer) == 1 and "CERFA visé" in to_employer[0]["Subject"]
    attachments = [part for part in to_employer[0].iter_attachments()]
    assert len(attachments) == 1
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content() == response.data
    # The signed upload itself is kept byte for byte.
    assert acme.get(f"/admin/dossier/{complete}/documents/cerfa_signe/").data == signed


def test_zip_action_bundles_available_documents(app, login, complete):
    _set_state(app, complete, "valide_formation")
    client = login(CONSEIL)
    response = client.post("/admin/dossier/action/", data={
        "action": "telecharger_documents", "rowid": [str(complete)], "csrf_token": csrf(client)})
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = archive.namelist()
    assert f"dossier-{complete}/CERFA-FA13-dossier-{complete}-PERRIN.pdf" in names
    assert any(n.startswith(f"dossier-{complete}/Devis") for n in names)
    readme = archive.read("LISEZMOI.txt").decode()
    assert "Convention de formation" in readme and "éléments économiques" in readme


def test_training_files_are_offered_on_its_dossiers(app, login, complete):
    with app.app_context():
        formation_id = db.session.get(Dossier, complete).formation_id
    manager, gest = login(MANUAL[0]), login("gest.info@sillon.demo")
    url = f"/admin/formation/{formation_id}/fichiers/"
    alice = login(ALICE)
    assert alice.get(f"/admin/dossier/{complete}/documents/calendrier/").status_code == 409
    calendar = _pdf("Calendrier")
    for client, expect in ((gest, False), (manager, True)):
        client.post(url, data={"kind": "calendrier", "csrf_token": csrf(client),
                               "fichier": (io.BytesIO(calendar), "calendrier 2026.pdf")},
                    content_type="multipart/form-data")
        with app.app_context():
            doc = db.session.get(Formation, formation_id).latest_document("calendrier")
            assert (doc is not None) == expect
    manager.post(url, data={"kind": "programme", "csrf_token": csrf(manager),
                            "fichier": (io.BytesIO(b"<html>pas un pdf</html>"), "prog.pdf")},
                 content_type="multipart/form-data")
    with app.app_context():
        assert db.session.get(Formation, formation_id).latest_document("programme") is None
    response = alice.get(f"/admin/dossier/{complete}/documents/calendrier/")
    assert response.status_code == 200 and response.data == calendar
    assert login("resp.droit@sillon.demo").get(url).status_code == 404
    with app.app_context():
        from portal.models import Document
        db.session.execute(sa.delete(Document).where(Document.formation_id == formation_id))
        db.session.commit()
