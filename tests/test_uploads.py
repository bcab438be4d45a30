"""Uploads of a dossier's signed documents (issue 15, item 5): a body above the server's limit
is answered on the dossier's Suivi tab with the French message next to the field (nothing
saved), the browser is given the limit (data-max-size), every refusal stays next to its
field, and each document kind's message agrees with the noun's gender.

Through HTTP on the real database; a dossier of its own (tests.test_dossier_lifecycle's
`world` fixture), put in a state where the employer returns signed documents."""
from __future__ import annotations

import html
import io
import re

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Document, Dossier, DossierHistory
from tests.support.web import csrf
from tests.test_dossier_lifecycle import ACME, ALICE, MANUAL, _pdf, world  # noqa: F401

SIGNED = ("cerfa_signe", "convention_signee")


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _signed_dossier(app, world):  # noqa: F811
    pk, _ = world(MANUAL)
    with app.app_context():
        db.session.get(Dossier, pk).state = "economie_validee"
        db.session.commit()
    return pk


def _post(client, pk, kind, data, name="signe.pdf"):
    return client.post(f"/admin/dossier/{pk}/retour/{kind}/", data={
        "csrf_token": csrf(client), "fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data")


def _documents(app, pk):
    with app.app_context():
        return db.session.execute(sa.select(Document.kind, Document.version)
                                  .where(Document.dossier_id == pk)).all()


def _field_error(page: str, kind: str) -> str:
    match = re.search(rf'<div class="invalid-feedback d-block w-100" id="err-fichier-{kind}" '
                      rf'role="alert" data-upload-error>(.*?)</div>', page, re.S)
    return match.group(1).strip() if match else ""


def test_a_20_mb_upload_is_answered_on_the_dossier_page(app, login, world):  # noqa: F811
    pk = _signed_dossier(app, world)
    acme = login(ACME)
    big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    response = _post(acme, pk, "convention_signee", big, "convention-scannee.pdf")
    # Not the bare error page: back to the tab with the upload, at the field.
    assert response.status_code == 302
    assert response.headers["Location"].endswith(
        f"/admin/dossier/{pk}/suivi/#depot-convention_signee")
    page = _text(acme.get(response.headers["Location"]))
    assert "Retour à l'accueil" not in page
    message = _field_error(page, "convention_signee")
    assert message.startswith("Le fichier pèse 20,1 Mo : il dépasse la taille maximale de "
                              "10 Mo. Rien n'a été déposé."), message
    assert _field_error(page, "cerfa_signe") == ""  # only next to the field it is about
    assert 'aria-invalid="true"' in page
    assert _documents(app, pk) == []
    # Told once: the next visit of the tab no longer shows it.
    assert _field_error(_text(acme.get(f"/admin/dossier/{pk}/suivi/")),
                        "convention_signee") == ""


def test_a_file_between_the_kind_and_the_server_limits(app, login, world):  # noqa: F811
    """11 MB: under MAX_CONTENT_LENGTH (12 MB), over the 10 MB of a signed document."""
    pk = _signed_dossier(app, world)
    acme = login(ACME)
    response = _post(acme, pk, "cerfa_signe", b"%PDF-1.4\n" + b"0" * (11 * 1024 * 1024))
    page = _text(acme.get(response.headers["Location"]))
    assert "il dépasse la taille maximale de 10 Mo. Rien n'a été déposé." in \
        _field_error(page, "cerfa_signe")
    assert _documents(app, pk) == []


def test_the_browser_is_given_the_limit_and_the_message(app, login, world):  # noqa: F811
    pk = _signed_dossier(app, world)
    page = login(ACME).get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True)
    from portal.documents.uploads import MAX_BYTES
    for kind in SIGNED:
        field = re.search(rf'<input type="file" name="fichier" id="fichier-{kind}"[^>]*>', page)
        assert field, kind
        assert f'data-max-size="{MAX_BYTES}"' in field.group(0)
        assert "Le fichier pèse {taille} : il dépasse la taille maximale de 10 Mo." in \
            html.unescape(field.group(0))
        assert f'aria-describedby="err-fichier-{kind}"' in field.group(0)
    assert "/static/js/uploads.js" in page
    assert MAX_BYTES < app.config["MAX_CONTENT_LENGTH"]


def test_a_refused_content_is_told_next_to_its_field(app, login, world):  # noqa: F811
    pk = _signed_dossier(app, world)
    acme = login(ACME)
    response = _post(acme, pk, "cerfa_signe", b"<html>pas un pdf</html>", "cerfa.pdf")
    page = _text(acme.get(response.headers["Location"]))
    assert "n'est pas un PDF" in _field_error(page, "cerfa_signe")
    assert _documents(app, pk) == []


def test_a_too_large_body_elsewhere_is_not_redirected_outside_the_readers_scope(
        app, login, world):  # noqa: F811
    """The 413 answer goes through the dossier's scope: another employer gets no redirection
    to a dossier that is not theirs (the error page, with the message)."""
    pk = _signed_dossier(app, world)
    other = login("rh@globex.sillon.demo")
    response = _post(other, pk, "cerfa_signe", b"0" * (13 * 1024 * 1024))
    assert response.status_code == 413
    assert "Fichier trop volumineux" in _text(response)
    assert _documents(app, pk) == []


AGREEMENT = [  # kind, its label, the past participle as it must follow the label
    ("cerfa_signe", "CERFA signé", "CERFA signé déposé"),
    ("convention_signee", "Convention signée", "Convention signée déposée"),
]


@pytest.mark.parametrize("kind,label,expected", AGREEMENT, ids=[a[0] for a in AGREEMENT])
def test_the_upload_message_agrees_with_the_document(app, login, world, kind, label,
                                                     expected):  # noqa: F811
    pk = _signed_dossier(app, world)
    acme = login(ACME)
    before = _text(acme.get(f"/admin/dossier/{pk}/suivi/"))
    row = re.search(rf'<tr data-kind="{kind}".*?</tr>', before, re.S).group(0)
    assert f"pas encore {expected.split()[-1]}" in row
    response = _post(acme, pk, kind, _pdf(), "signe.pdf")
    page = _text(acme.get(response.headers["Location"]))
    assert f"{expected} : dossier-{pk}-signe.pdf." in page
    with app.app_context():
        comments = db.session.execute(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == pk, DossierHistory.kind == "document")).scalars().all()
    assert comments == [f"{expected} (dossier-{pk}-signe.pdf, version 1)"]


TABLE = [  # every document kind: its label and the participle agreed
    ("cerfa", "déposé"), ("convention", "déposée"), ("devis", "déposé"),
    ("calendrier", "déposé"), ("programme", "déposé"), ("cerfa_signe", "déposé"),
    ("convention_signee", "déposée"), ("cerfa_vise", "déposé"), ("facture", "déposée"),
    ("certificat_realisation", "déposé"), ("recepisse", "déposé"),
    ("convocation", "déposée"), ("attestation", "déposée"), ("convocation_ics", "déposée"),
]


def test_every_document_kind_has_a_gender_and_agrees():
    from portal.models.documents import DOCUMENT_GENDERS, DOCUMENT_KINDS, agreed
    assert set(DOCUMENT_GENDERS) == set(DOCUMENT_KINDS) == {k for k, _ in TABLE}
    for kind, participle in TABLE:
        assert agreed(kind, "déposé") == participle, kind
        # The label's own participle, when it has one, agrees the same way.
        words = DOCUMENT_KINDS[kind].split()
        if words[-1].endswith(("é", "ée")):
            assert words[-1].endswith("ée") == participle.endswith("ée"), kind

