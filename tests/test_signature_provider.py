"""The electronic signature through a provider (SIGNATURE_PROVIDER = "yousign", issue 17 §4):
the CFA starts it in Sillon, the request is created at a fake Yousign (a real HTTP server on
127.0.0.1 speaking Yousign's API v3 JSON), whose webhooks reach Sillon's webhook route over
real HTTP (the live server), signed with the shared secret: each signer's status follows, the
signed file is fetched and returned as the signed copy, the dossier moves on. A forged webhook
is refused and changes nothing; a decline sends the dossier back for correction."""
from __future__ import annotations

import html as h

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models.signatures import SignatureRequest
from tests.support.fake_yousign import FakeYousign
from tests.support.web import csrf_from
from tests.test_browser import live_server  # noqa: F401
from tests.test_dossier_lifecycle import CONSEIL, MANUAL, _state, world  # noqa: F401
from tests.test_signature_flow import validated  # noqa: F401

SECRET = "secret-partage-webhook"


@pytest.fixture()
def yousign(app, live_server):  # noqa: F811
    fake = FakeYousign(api_key="cle-yousign", webhook_secret=SECRET,
                       webhook_url=f"{live_server}/signature/webhook/yousign").start()
    keys = ("SIGNATURE_PROVIDER", "YOUSIGN_API_URL", "YOUSIGN_API_KEY", "YOUSIGN_WEBHOOK_SECRET")
    saved = {k: app.config.get(k) for k in keys}
    app.config.update(SIGNATURE_PROVIDER="yousign", YOUSIGN_API_URL=fake.url,
                      YOUSIGN_API_KEY="cle-yousign", YOUSIGN_WEBHOOK_SECRET=SECRET)
    try:
        yield fake
    finally:
        app.config.update(saved)
        fake.stop()


def _start(login, pk) -> str:
    client = login(CONSEIL)
    page = client.get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True)
    response = client.post(f"/admin/dossier/{pk}/signature/lancer/",
                           data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    return h.unescape(response.get_data(as_text=True))


def _requests(app, pk) -> dict:
    with app.app_context():
        return {r.document: (r.status, r.external_id, [s.status for s in r.signers],
                             r.signed_document.kind if r.signed_document else None)
                for r in db.session.scalars(sa.select(SignatureRequest).where(
                    SignatureRequest.dossier_id == pk))}


def test_signed_at_the_provider_the_webhooks_move_the_dossier_on(app, login, validated,
                                                                  yousign):
    pk = validated
    page = _start(login, pk)
    assert "Signature électronique lancée" in page
    requests = _requests(app, pk)
    assert set(requests) == {"cerfa", "convention"}
    assert all(status == "en_cours" and external for status, external, _, _ in
               requests.values())
    assert [p for p in yousign.paths() if p.endswith("/activate")] and \
        len(yousign.requests) == 2
    cerfa_id = requests["cerfa"][1]

    # A forged webhook (another secret) is refused and changes nothing.
    sent = yousign.sign(cerfa_id, 0, forge="wrong_secret")
    assert [w.status for w in sent] == [401]
    assert _requests(app, pk)["cerfa"][2] == ["a_signer", "attente", "attente"]
    yousign.requests[cerfa_id]["signers"][0]["status"] = "notified"  # the fake forgets it

    for index in range(3):
        sent = yousign.sign(cerfa_id, index)
        assert all(w.status == 200 for w in sent), [(w.event_name, w.status) for w in sent]
    status, _, signers, kind = _requests(app, pk)["cerfa"]
    assert (status, signers, kind) == ("signee", ["signe"] * 3, "cerfa_signe")
    assert _state(app, pk) == "economie_validee"
    for index in range(3):
        yousign.sign(requests["convention"][1], index)
    assert _state(app, pk) == "documents_retournes"
    with app.app_context():
        signed = db.session.scalars(sa.select(SignatureRequest).where(
            SignatureRequest.dossier_id == pk, SignatureRequest.document == "cerfa")).one()
        data = bytes(signed.signed_document.data)
    from io import BytesIO

    from pypdf import PdfReader
    assert "Dossier de preuve" in PdfReader(BytesIO(data)).pages[-1].extract_text()


def test_a_webhook_without_its_signature_or_for_another_provider_is_refused(app, live_server,  # noqa: F811
                                                                           yousign):
    import urllib.error
    import urllib.request

    def post(path, headers):
        request = urllib.request.Request(f"{live_server}{path}", data=b'{"event_name": "x"}',
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
    assert post("/signature/webhook/yousign", {"Content-Type": "application/json"}) == 401
    assert post("/signature/webhook/yousign", {"X-Yousign-Signature-256": "sha256=" + "0" * 64}) \
        == 401
    assert post("/signature/webhook/docusign", {}) == 404
    assert post("/signature/webhook/interne", {}) == 404


def test_a_decline_at_the_provider_sends_the_dossier_back_for_correction(app, login, validated,
                                                                        yousign):
    pk = validated
    _start(login, pk)
    cerfa_id = _requests(app, pk)["cerfa"][1]
    sent = yousign.decline(cerfa_id, 0, "Le salaire indiqué est faux.")
    assert all(w.status == 200 for w in sent)
    assert _state(app, pk) == "a_corriger"
    with app.app_context():
        from portal.models import DossierHistory
        comments = [c for c, in db.session.execute(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == pk, DossierHistory.kind == "transition"))]
    assert any("Le salaire indiqué est faux." in (c or "") for c in comments)
    requests = _requests(app, pk)
    assert requests["cerfa"][0] == "refusee" and requests["convention"][0] == "annulee"
    # The other document's request is cancelled at the provider too.
    assert f"POST /v3/signature_requests/{requests['convention'][1]}/cancel" in yousign.paths()
