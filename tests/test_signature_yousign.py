"""The Yousign adapter (issue 17) against a fake Yousign API v3 on 127.0.0.1.

Webhooks travel for real: the fake POSTs them to a small receiver started here, and the adapter
checks what the receiver got (raw body and headers), as Sillon's webhook route will.
"""
from __future__ import annotations

import io
import json
import threading
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from portal.signatures.providers import YousignProvider, provider_for
from portal.signatures.providers.base import ProviderError, ProviderSigner
from tests.support.fake_yousign import FakeYousign, FakeYousignError

API_KEY = "ys-test-4f9c2d7e-secret-key"
SECRET = "whsec-sillon-test"
SIGNERS = (
    ProviderSigner("Hélène", "Durand", "helene.durand@boulangerie-durand.fr", role="employeur"),
    ProviderSigner("Léo", "Martin", "leo.martin@example.org", phone="+33612345678",
                   role="alternant"),
    ProviderSigner("Camille", "Petit", "camille.petit@cfa-sillon.fr", role="cfa"),
)


class Receiver:
    """Sillon's side of the webhooks: a real HTTP server keeping what it is sent."""

    def __init__(self):
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST  # a followed redirect arrives as a GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/signatures/webhook/yousign"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def fake(receiver):
    with FakeYousign(API_KEY, webhook_url=receiver.url, webhook_secret=SECRET) as server:
        yield server


@pytest.fixture
def provider(fake):
    return YousignProvider(base_url=fake.url, api_key=API_KEY, webhook_secret=SECRET, timeout=3)


def make_pdf(pages: int = 3) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    for number in range(1, pages + 1):
        page.drawString(56, 780, f"Convention de formation - page {number}/{pages}")
        page.showPage()
    page.save()
    return out.getvalue()


def create(provider, signers=SIGNERS, pdf=None):
    return provider.create(pdf or make_pdf(), "Convention Léo Martin.pdf", signers,
                           title="Convention de formation - Léo Martin",
                           external_id="dossier-42")


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


# -- create ------------------------------------------------------------------------------------

def test_create_makes_the_calls_in_order_with_yousign_json(provider, fake):
    pdf = make_pdf(3)
    made = create(provider, pdf=pdf)
    rid = made.request_id
    assert fake.paths() == [
        "POST /v3/signature_requests", f"POST /v3/signature_requests/{rid}/documents",
        *[f"POST /v3/signature_requests/{rid}/signers"] * 3,
        f"POST /v3/signature_requests/{rid}/activate"]
    assert all(call.headers["authorization"] == f"Bearer {API_KEY}" for call in fake.calls)
    assert all(call.status == 201 for call in fake.calls)
    assert fake.calls[0].json == {
        "name": "Convention de formation - Léo Martin", "delivery_mode": "email",
        "ordered_signers": True, "timezone": "Europe/Paris", "external_id": "dossier-42"}

    upload = fake.calls[1]
    assert upload.headers["content-type"].startswith("multipart/form-data; boundary=")
    filename, content_type, content = upload.files["file"]
    assert (filename, content_type, content) == ("Convention Leo Martin.pdf", "application/pdf",
                                                 pdf)
    assert upload.form == {"nature": "signable_document"}

    request = fake.requests[rid]
    assert request["status"] == "ongoing"
    assert made.document_id == request["documents"][0]["id"]
    assert made.signer_ids == tuple(signer["id"] for signer in request["signers"])
    bodies = [call.json for call in fake.calls[2:5]]
    for signer, body in zip(SIGNERS, bodies):
        assert body["info"] == {"first_name": signer.first_name, "last_name": signer.last_name,
                                "email": signer.email, "locale": "fr"}
        assert body["signature_level"] == "electronic_signature"
        assert body["signature_authentication_mode"] == "otp_email"
        [one] = body["fields"]
        assert (one["document_id"], one["type"], one["page"]) == (made.document_id,
                                                                 "signature", 3)
    xs = [body["fields"][0]["x"] for body in bodies]
    ys = [body["fields"][0]["y"] for body in bodies]
    assert len(set(xs)) == 1 and ys == sorted(ys) and len(set(ys)) == 3  # one under another
    heights = [body["fields"][0]["height"] for body in bodies]
    assert all(y2 - y1 >= h for y1, y2, h in zip(ys, ys[1:], heights))  # no overlap


def test_a_one_page_document_gets_its_fields_on_page_one(provider, fake):
    create(provider, signers=SIGNERS[:1], pdf=make_pdf(1))
    assert fake.calls[2].json["fields"][0]["page"] == 1


def test_a_signer_without_email_is_refused_by_yousign_in_french(provider, fake):
    signers = (SIGNERS[0], ProviderSigner("Léo", "Martin", ""))
    with pytest.raises(ProviderError) as caught:
        create(provider, signers=signers)
    assert str(caught.value) == ("Yousign a refusé la demande (HTTP 400) : "
                                 "info.email: This value should not be blank.")
    assert not fake.paths()[-1].endswith("/activate")


def test_a_file_that_is_not_a_pdf_is_stopped_before_any_call(provider, fake):
    with pytest.raises(ProviderError, match="n'est pas un PDF"):
        create(provider, pdf=b"GIF89a not a pdf")
    assert fake.calls == []


# -- the fake's own rules (it must catch an adapter calling out of order) ----------------------

def raw(fake, method, path, payload=None, key=API_KEY):
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(fake.url + path, data=data, method=method, headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_fake_enforces_the_order_of_calls(provider, fake):
    status, draft = raw(fake, "POST", "/signature_requests",
                        {"name": "Essai", "delivery_mode": "email"})
    assert status == 201
    status, error = raw(fake, "POST", f"/signature_requests/{draft['id']}/activate")
    assert status == 409 and "document" in error["detail"]
    made = create(provider)
    signer = {"info": {"first_name": "A", "last_name": "B", "email": "a@b.fr", "locale": "fr"},
              "signature_level": "electronic_signature",
              "signature_authentication_mode": "otp_email"}
    status, error = raw(fake, "POST", f"/signature_requests/{made.request_id}/signers", signer)
    assert status == 409 and "draft" in error["detail"]
    with pytest.raises(FakeYousignError, match="out of order"):
        fake.sign(made.request_id, 1)


# -- webhooks ----------------------------------------------------------------------------------

def test_each_signature_reaches_sillon_as_signed_then_done(provider, fake, receiver):
    made = create(provider, signers=SIGNERS[:2])
    before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(seconds=2)
    fake.sign(made.request_id, 0)
    assert len(receiver.received) == 1
    path, headers, body = receiver.received[0]
    assert path == "/signatures/webhook/yousign"
    assert provider.verify_webhook(body, headers) is True
    first = provider.parse_event(body)
    assert (first.kind, first.request_id, first.signer_id, first.raw_name) == (
        "signed", made.request_id, made.signer_ids[0], "signer.done")
    assert before <= first.at <= before + timedelta(seconds=10) and first.at.tzinfo is None

    fake.sign(made.request_id, 1)
    events = [provider.parse_event(body) for _, _, body in receiver.received[1:]]
    assert all(provider.verify_webhook(body, headers) for _, headers, body in receiver.received)
    assert [(e.kind, e.signer_id) for e in events] == [("signed", made.signer_ids[1]),
                                                        ("done", None)]
    assert events[1].request_id == made.request_id


def test_the_signature_header_is_found_whatever_its_case(provider, fake, receiver):
    made = create(provider, signers=SIGNERS[:1])
    [webhook, _] = fake.sign(made.request_id, 0)
    value = webhook.headers["X-Yousign-Signature-256"]
    assert provider.verify_webhook(webhook.body, {"x-yousign-signature-256": value})
    assert provider.verify_webhook(webhook.body, {"X-YOUSIGN-SIGNATURE-256": value})


@pytest.mark.parametrize("forge", ["wrong_secret", "altered_body", "no_header"])
def test_a_forged_webhook_is_rejected(provider, fake, receiver, forge):
    made = create(provider, signers=SIGNERS[:1])
    fake.sign(made.request_id, 0, forge=forge)
    assert len(receiver.received) == 2
    for _, headers, body in receiver.received:
        assert provider.verify_webhook(body, headers) is False


def test_a_webhook_signed_with_another_secret_or_an_empty_header_is_rejected(fake, receiver):
    made = create(YousignProvider(base_url=fake.url, api_key=API_KEY, webhook_secret=SECRET))
    fake.sign(made.request_id, 0)
    _, headers, body = receiver.received[0]
    other = YousignProvider(base_url=fake.url, api_key=API_KEY, webhook_secret="autre-secret")
    assert other.verify_webhook(body, headers) is False
    mine = YousignProvider(base_url=fake.url, api_key=API_KEY, webhook_secret=SECRET)
    assert mine.verify_webhook(body, {**headers, "X-Yousign-Signature-256": ""}) is False
    assert mine.verify_webhook(body, {"X-Yousign-Signature-256": "sha256=é"}) is False


def test_a_declined_signature_reaches_sillon_as_refused_with_the_reason(provider, fake, receiver):
    made = create(provider)
    fake.sign(made.request_id, 0)
    fake.decline(made.request_id, 1, "Le salaire indiqué est faux.")
    events = [provider.parse_event(body) for _, _, body in receiver.received[1:]]
    assert [(e.kind, e.raw_name, e.signer_id, e.reason) for e in events] == [
        ("refused", "signer.declined", made.signer_ids[1], "Le salaire indiqué est faux."),
        ("refused", "signature_request.declined", made.signer_ids[1],
         "Le salaire indiqué est faux.")]


def event(name, **data):
    return json.dumps({"event_id": "e1", "event_name": name, "event_time": "1767225600",
                       "data": data}).encode()


@pytest.mark.parametrize("body, expected", [
    (event("signer.done", signature_request={"id": "r1"}, signer={"id": "s1"}),
     ("signed", "r1", "s1", None)),
    (event("signature_request.done", signature_request={"id": "r1"}),
     ("done", "r1", None, None)),
    (event("signer.declined", signature_request={"id": "r1"},
           signer={"id": "s2", "decline_reason": "Pas d'accord"}),
     ("refused", "r1", "s2", "Pas d'accord")),
    (event("signature_request.declined",
           signature_request={"id": "r1", "decline_information": {"reason": "Erreur de date"}}),
     ("refused", "r1", None, "Erreur de date")),
    (event("signature_request.canceled", signature_request={"id": "r1"}),
     ("cancelled", "r1", None, None)),
    (event("signature_request.expired", signature_request={"id": "r1"}),
     ("expired", "r1", None, None)),
    (event("signer.notified", signature_request={"id": "r1"}, signer={"id": "s1"}),
     ("other", "r1", None, None)),
    (event("webhook.test"), ("other", "", None, None)),
])
def test_parse_event_table(body, expected):
    parsed = YousignProvider(base_url="https://api.yousign.app/v3", api_key="k",
                             webhook_secret="s").parse_event(body)
    assert (parsed.kind, parsed.request_id, parsed.signer_id, parsed.reason) == expected
    assert parsed.at == datetime(2026, 1, 1, 0, 0)


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b"",
                                  event("signer.done", signer={"id": "s1"})])
def test_a_malformed_webhook_is_a_provider_error(body):
    provider = YousignProvider(base_url="https://api.yousign.app/v3", api_key="k",
                               webhook_secret="s")
    with pytest.raises(ProviderError, match="Notification Yousign"):
        provider.parse_event(body)


# -- the signed document, cancelling -----------------------------------------------------------

def test_the_signed_document_has_one_more_page_once_everybody_signed(provider, fake):
    pdf = make_pdf(3)
    made = create(provider, signers=SIGNERS[:2], pdf=pdf)
    fake.sign(made.request_id, 0)
    with pytest.raises(ProviderError, match=r"HTTP 404"):
        provider.fetch_signed(made.request_id, made.document_id)
    fake.sign(made.request_id, 1)
    signed = provider.fetch_signed(made.request_id, made.document_id)
    assert signed.startswith(b"%PDF") and page_count(signed) == page_count(pdf) + 1
    reader = PdfReader(io.BytesIO(signed))
    assert "page 1/3" in reader.pages[0].extract_text()
    audit = reader.pages[-1].extract_text()
    assert "Signé par Hélène Durand" in audit and "Signé par Léo Martin" in audit


def test_a_download_that_is_not_a_pdf_is_a_provider_error(provider, fake):
    made = create(provider, signers=SIGNERS[:1])
    fake.sign(made.request_id, 0)
    fake.inject(200, b"<html>maintenance</html>", content_type="text/html")
    with pytest.raises(ProviderError, match="pas renvoyé de PDF"):
        provider.fetch_signed(made.request_id, made.document_id)


def test_cancel_sends_yousign_reason_and_the_note(provider, fake, receiver):
    made = create(provider)
    provider.cancel(made.request_id, "Contrat rompu avant le début de la formation.")
    assert fake.calls[-1].path == f"/v3/signature_requests/{made.request_id}/cancel"
    assert fake.calls[-1].json == {"reason": "contractualization_aborted",
                                   "custom_note": "Contrat rompu avant le début de la formation."}
    assert fake.requests[made.request_id]["status"] == "canceled"
    [(_, headers, body)] = receiver.received
    assert provider.verify_webhook(body, headers)
    assert provider.parse_event(body).kind == "cancelled"
    with pytest.raises(ProviderError, match="HTTP 409"):
        provider.cancel(made.request_id, "encore")


# -- failures ----------------------------------------------------------------------------------

def test_a_wrong_api_key_is_reported_in_french_without_the_key(fake):
    wrong = "ys-wrong-key-0000-very-secret"
    provider = YousignProvider(base_url=fake.url, api_key=wrong, webhook_secret=SECRET)
    with pytest.raises(ProviderError) as caught:
        create(provider)
    message = str(caught.value)
    assert message.startswith("Yousign a refusé la demande (HTTP 401) : clé d'API refusée")
    assert wrong in fake.calls[0].headers["authorization"]  # the fake did echo it back
    assert wrong not in message and wrong not in repr(provider)


def test_a_stopped_server_is_reported_as_not_answering(provider, fake):
    fake.stop()
    with pytest.raises(ProviderError) as caught:
        create(provider)
    assert str(caught.value) == "Yousign ne répond pas : réessayez plus tard."


def test_a_slow_server_is_reported_as_not_answering(fake):
    provider = YousignProvider(base_url=fake.url, api_key=API_KEY, webhook_secret=SECRET,
                               timeout=0.3)
    fake.stall_next(3)
    with pytest.raises(ProviderError, match="ne répond pas"):
        create(provider)


def test_a_server_error_is_a_provider_error(provider, fake):
    fake.inject(500, {"detail": "Internal error"})
    with pytest.raises(ProviderError) as caught:
        create(provider)
    assert str(caught.value) == ("Yousign est en difficulté (HTTP 500) : "
                                 "réessayez plus tard.")


def test_an_answer_that_is_not_json_is_a_provider_error(provider, fake):
    fake.inject(201, b"<html>proxy</html>", content_type="text/html")
    with pytest.raises(ProviderError, match="réponse illisible"):
        create(provider)


def test_a_redirect_is_not_followed_with_the_key(provider, fake, receiver):
    fake.inject(302, b"", headers={"Location": receiver.url})
    with pytest.raises(ProviderError, match="HTTP 302"):
        create(provider)
    assert receiver.received == []


# -- configuration -----------------------------------------------------------------------------

def test_provider_for_interne_is_the_built_in_service():
    assert provider_for({}) is None
    assert provider_for({"SIGNATURE_PROVIDER": "interne"}) is None


def test_provider_for_yousign_builds_the_adapter():
    provider = provider_for({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_API_KEY": "k",
                             "YOUSIGN_WEBHOOK_SECRET": "s", "YOUSIGN_TIMEOUT": 4})
    assert isinstance(provider, YousignProvider) and provider.name == "yousign"
    assert provider.base_url == "https://api-sandbox.yousign.app/v3" and provider.timeout == 4
    other = provider_for({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_API_KEY": "k",
                          "YOUSIGN_WEBHOOK_SECRET": "s",
                          "YOUSIGN_API_URL": "https://api.yousign.app/v3/"})
    assert other.base_url == "https://api.yousign.app/v3" and other.timeout == 10


@pytest.mark.parametrize("config, message", [
    ({"SIGNATURE_PROVIDER": "docusign"}, "SIGNATURE_PROVIDER inconnu"),
    ({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_API_KEY": "k"}, "YOUSIGN_WEBHOOK_SECRET"),
    ({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_WEBHOOK_SECRET": "s"}, "YOUSIGN_API_KEY"),
    ({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_API_KEY": "k", "YOUSIGN_WEBHOOK_SECRET": "  "},
     "il manque YOUSIGN_WEBHOOK_SECRET"),
    ({"SIGNATURE_PROVIDER": "yousign", "YOUSIGN_API_KEY": "k", "YOUSIGN_WEBHOOK_SECRET": "s",
      "YOUSIGN_API_URL": "http://api.yousign.app/v3"}, "https"),
])
def test_provider_for_refuses_a_wrong_configuration(config, message):
    with pytest.raises(ValueError, match=message):
        provider_for(config)
