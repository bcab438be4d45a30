"""A fake Yousign API v3 on 127.0.0.1: a real threaded HTTP server speaking Yousign's JSON.

It checks the Bearer key (401, echoing the key it got, so that a test can check the adapter
never repeats it), validates bodies (400 with a JSON `detail`), enforces the order of the calls
(409: signers only while the request is a draft; activate with >= 1 document and >= 1 signer),
and records every call in `calls`. Test controls play the signers' part: `sign()` in order only,
`decline()`, each POSTing Yousign's webhooks, signed with `X-Yousign-Signature-256`, to
`webhook_url`. Once every signer signed, the download gives the uploaded PDF plus one page.

    with FakeYousign(api_key="k", webhook_url=receiver.url, webhook_secret="s") as fake:
        provider = YousignProvider(base_url=fake.url, api_key="k", webhook_secret="s")
"""
from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

LEVELS = ("electronic_signature", "advanced_electronic_signature",
          "qualified_electronic_signature")
AUTH_MODES = ("otp_email", "otp_sms", "no_otp")
LOCALES = ("fr", "en", "de", "it", "nl", "es", "pl")
CANCEL_REASONS = ("contractualization_aborted", "errors_in_document", "other")
FORGERIES = (None, "wrong_secret", "altered_body", "no_header")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class FakeYousignError(Exception):
    """A test control used out of turn (e.g. signing out of order)."""


class _Reply(Exception):
    def __init__(self, status: int, payload: Any = None, *, body: bytes | None = None,
                 content_type: str = "application/json", headers: dict | None = None):
        super().__init__(status)
        self.status, self.headers, self.content_type = status, headers or {}, content_type
        self.body = body if body is not None else json.dumps(payload).encode()


def _bad(detail: str, status: int = 400) -> _Reply:
    return _Reply(status, {"type": "about:blank", "title": "Bad Request", "detail": detail})


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)  # name, type, bytes
    status: int = 0


@dataclass
class Webhook:
    event_name: str
    body: bytes
    headers: dict[str, str]
    status: int | None  # the receiver's answer (None: not sent, or no answer)


class FakeYousign:
    def __init__(self, api_key: str = "fake-yousign-key", *, webhook_url: str | None = None,
                 webhook_secret: str = "fake-webhook-secret", forge: str | None = None):
        self.api_key, self.webhook_url, self.webhook_secret = api_key, webhook_url, webhook_secret
        self.forge = forge  # default forgery for every webhook (see FORGERIES)
        self.calls: list[Call] = []
        self.webhooks: list[Webhook] = []
        self.requests: dict[str, dict] = {}
        self._injected: list[_Reply] = []
        self._stalls: list[float] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> "FakeYousign":
        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]  # kept after stop(): a closed port
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:  # idempotent: a test may stop it itself
            self._stopping.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeYousign":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v3"

    # -- test controls -------------------------------------------------------------------------

    def inject(self, status: int, body: bytes | dict = b"", *,
               content_type: str = "application/json", headers: dict | None = None) -> None:
        """The next API call gets this answer instead of the real one (after being recorded)."""
        raw = json.dumps(body).encode() if isinstance(body, dict) else body
        self._injected.append(_Reply(status, body=raw, content_type=content_type,
                                     headers=headers))

    def stall_next(self, seconds: float) -> None:
        """The next API call waits this long before answering (released by stop())."""
        self._stalls.append(seconds)

    def paths(self) -> list[str]:
        return [f"{call.method} {call.path}" for call in self.calls]

    def sign(self, request_id: str, signer_index: int, *,
             forge: str | None = None) -> list[Webhook]:
        with self._lock:
            request, signer = self._current_signer(request_id, signer_index)
            signer["status"], signer["signed_at"] = "signed", _now()
            following = request["signers"][signer_index + 1:]
            if following:
                following[0]["status"] = "notified"
            else:
                request["status"] = "done"
                request["signed_pdf"] = _signed_pdf(request)
        sent = [self._webhook("signer.done", request, signer, forge)]
        if request["status"] == "done":
            sent.append(self._webhook("signature_request.done", request, None, forge))
        return sent

    def decline(self, request_id: str, signer_index: int, reason: str, *,
                forge: str | None = None) -> list[Webhook]:
        with self._lock:
            request, signer = self._current_signer(request_id, signer_index)
            signer["status"], signer["decline_reason"] = "declined", reason
            request["status"] = "declined"
            request["decline_information"] = {"email": signer["info"]["email"],
                                              "reason": reason, "declined_at": _iso(_now())}
        return [self._webhook("signer.declined", request, signer, forge),
                self._webhook("signature_request.declined", request, signer, forge)]

    def _current_signer(self, request_id: str, index: int) -> tuple[dict, dict]:
        request = self.requests.get(request_id)
        if request is None or request["status"] != "ongoing":
            raise FakeYousignError(f"request {request_id!r} is not ongoing")
        if not 0 <= index < len(request["signers"]):
            raise FakeYousignError(f"no signer #{index} in {request_id!r}")
        signer = request["signers"][index]
        if signer["status"] != "notified":
            raise FakeYousignError(f"signer #{index} is {signer['status']}: out of order")
        return request, signer

    def _webhook(self, name: str, request: dict, signer: dict | None,
                 forge: str | None) -> Webhook:
        forge = forge or self.forge
        if forge not in FORGERIES:
            raise FakeYousignError(f"unknown forgery {forge!r}")
        data = {"signature_request": _public_request(request)}
        if signer is not None:
            data["signer"] = _public_signer(signer)
        payload = {"event_id": str(uuid.uuid4()), "event_name": name,
                   "event_time": str(int(_now().timestamp())),
                   "subscription_id": "sub-sillon", "subscription_description": "Sillon",
                   "sandbox": True, "data": data}
        body = json.dumps(payload).encode()
        secret = self.webhook_secret.encode()
        signature = "sha256=" + hmac.new(b"not-" + secret if forge == "wrong_secret" else secret,
                                         body, hashlib.sha256).hexdigest()
        if forge == "altered_body":  # signed first, then tampered with: another event name
            payload["event_name"] = ("signature_request.canceled"
                                     if name == "signature_request.done"
                                     else "signature_request.done")
            body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "Yousign-Webhook/fake"}
        if forge != "no_header":
            headers["X-Yousign-Signature-256"] = signature
        webhook = Webhook(name, body, headers, _post(self.webhook_url, body, headers))
        self.webhooks.append(webhook)
        return webhook

    # -- the API -------------------------------------------------------------------------------

    def handle(self, call: Call) -> _Reply:
        with self._lock:
            self.calls.append(call)
            stall = self._stalls.pop(0) if self._stalls else 0
            injected = self._injected.pop(0) if self._injected else None
        if stall:
            self._stopping.wait(stall)
        if injected is not None:
            return injected
        if call.headers.get("authorization") != f"Bearer {self.api_key}":
            token = call.headers.get("authorization", "").removeprefix("Bearer ")
            return _Reply(401, {"detail": f"Unauthorized: invalid API key '{token}'"})
        try:
            with self._lock:
                return self._route(call)
        except _Reply as reply:
            return reply

    def _route(self, call: Call) -> _Reply:
        parts = call.path.split("?")[0].strip("/").split("/")
        if parts[:2] != ["v3", "signature_requests"]:
            raise _bad("Not found", 404)
        rest = parts[2:]
        if call.method == "POST" and not rest:
            return self._create_request(call)
        if not rest or rest[0] not in self.requests:
            raise _bad("Signature request not found", 404)
        request, action = self.requests[rest[0]], "/".join(rest[1:2])
        if call.method == "GET" and len(rest) == 4 and rest[1] == "documents" \
                and rest[3] == "download":
            return self._download(request, rest[2])
        if call.method == "GET" and not action:
            return _Reply(200, _public_request(request))
        handlers = {"documents": self._add_document, "signers": self._add_signer,
                    "activate": self._activate, "cancel": self._cancel}
        if call.method != "POST" or len(rest) != 2 or action not in handlers:
            raise _bad("Not found", 404)
        return handlers[action](request, call)

    def _create_request(self, call: Call) -> _Reply:
        body = _json_body(call)
        if not isinstance(body.get("name"), str) or not body["name"].strip():
            raise _bad("name: This value should not be blank.")
        if body.get("delivery_mode") not in ("email", "none"):
            raise _bad("delivery_mode: The value you selected is not a valid choice.")
        if not isinstance(body.get("ordered_signers", False), bool):
            raise _bad("ordered_signers: This value should be of type bool.")
        request = {"id": str(uuid.uuid4()), "status": "draft", "created_at": _iso(_now()),
                   "documents": [], "signers": [], "decline_information": None,
                   **{key: body.get(key) for key in ("name", "delivery_mode", "timezone",
                                                     "external_id", "ordered_signers")}}
        self.requests[request["id"]] = request
        return _Reply(201, _public_request(request))

    def _add_document(self, request: dict, call: Call) -> _Reply:
        _draft_only(request)
        if "file" not in call.files:
            raise _bad("file: This value should not be blank (multipart/form-data expected).")
        filename, content_type, content = call.files["file"]
        if call.form.get("nature") not in ("signable_document", "attachment"):
            raise _bad("nature: The value you selected is not a valid choice.")
        if content_type != "application/pdf" or not content.startswith(b"%PDF"):
            raise _bad("file: The file is not a valid PDF.")
        try:
            sizes = [(float(p.mediabox.width), float(p.mediabox.height))
                     for p in PdfReader(io.BytesIO(content)).pages]
        except Exception:
            raise _bad("file: The PDF could not be read.") from None
        document = {"id": str(uuid.uuid4()), "filename": filename, "nature": call.form["nature"],
                    "content_type": "application/pdf", "total_pages": len(sizes),
                    "sizes": sizes, "content": content, "is_signed": False,
                    "created_at": _iso(_now())}
        request["documents"].append(document)
        return _Reply(201, _public_document(document))

    def _add_signer(self, request: dict, call: Call) -> _Reply:
        _draft_only(request)
        body = _json_body(call)
        info = body.get("info") if isinstance(body.get("info"), dict) else {}
        for key in ("first_name", "last_name", "email"):
            if not isinstance(info.get(key), str) or not info[key].strip():
                raise _bad(f"info.{key}: This value should not be blank.")
        mode = body.get("signature_authentication_mode")
        for wrong, where in ((not EMAIL.match(info["email"]), "info.email"),
                             (info.get("locale") not in LOCALES, "info.locale"),
                             (body.get("signature_level") not in LEVELS, "signature_level"),
                             (mode not in AUTH_MODES, "signature_authentication_mode"),
                             (mode == "otp_sms" and not info.get("phone_number"),
                              "info.phone_number")):
            if wrong:
                raise _bad(f"{where}: This value is not valid.")
        fields = body.get("fields") or []
        for index, one in enumerate(fields if isinstance(fields, list) else [None]):
            _check_field(request, one, index)
        signer = {"id": str(uuid.uuid4()), "info": info, "status": "initiated",
                  "signature_level": body["signature_level"],
                  "signature_authentication_mode": mode, "fields": fields,
                  "decline_reason": None, "signed_at": None}
        request["signers"].append(signer)
        return _Reply(201, _public_signer(signer))

    def _activate(self, request: dict, call: Call) -> _Reply:
        _draft_only(request)
        if not any(d["nature"] == "signable_document" for d in request["documents"]):
            raise _bad("A signature request needs at least one signable document.", 409)
        if not request["signers"]:
            raise _bad("A signature request needs at least one signer.", 409)
        if any(not s["fields"] for s in request["signers"]):
            raise _bad("Every signer needs at least one signature field.", 409)
        request["status"] = "ongoing"
        first = request["signers"] if not request["ordered_signers"] else request["signers"][:1]
        for signer in first:
            signer["status"] = "notified"
        return _Reply(201, _public_request(request))

    def _cancel(self, request: dict, call: Call) -> _Reply:
        if request["status"] not in ("ongoing", "approval"):
            raise _bad(f"A {request['status']} signature request cannot be canceled.", 409)
        body = _json_body(call)
        if body.get("reason") not in CANCEL_REASONS:
            raise _bad("reason: The value you selected is not a valid choice.")
        if not isinstance(body.get("custom_note", ""), str):
            raise _bad("custom_note: This value should be of type string.")
        request["status"], request["custom_note"] = "canceled", body.get("custom_note")
        self._webhook("signature_request.canceled", request, None, None)
        return _Reply(201, _public_request(request))

    def _download(self, request: dict, document_id: str) -> _Reply:
        if not any(d["id"] == document_id for d in request["documents"]):
            raise _bad("Document not found", 404)
        if request["status"] != "done":
            raise _bad("The signed document is not available yet.", 404)
        return _Reply(200, body=request["signed_pdf"], content_type="application/pdf")


# -- validation and rendering --------------------------------------------------------------------

def _draft_only(request: dict) -> None:
    if request["status"] != "draft":
        raise _bad(f"The signature request is {request['status']}: it must be a draft.", 409)


def _json_body(call: Call) -> dict:
    if not call.headers.get("content-type", "").startswith("application/json"):
        raise _bad("Content-Type application/json expected.", 415)
    if not isinstance(call.json, dict):
        raise _bad("Invalid JSON body.")
    return call.json


def _check_field(request: dict, one: Any, index: int) -> None:
    where = f"fields[{index}]"
    if not isinstance(one, dict):
        raise _bad(f"{where}: object expected.")
    document = next((d for d in request["documents"] if d["id"] == one.get("document_id")), None)
    if document is None:
        raise _bad(f"{where}.document_id: unknown document.")
    if one.get("type") != "signature":
        raise _bad(f"{where}.type: only signature fields are supported by this fake.")
    page = one.get("page")
    if not isinstance(page, int) or not 1 <= page <= document["total_pages"]:
        raise _bad(f"{where}.page: must be between 1 and {document['total_pages']}.")
    width, height = document["sizes"][page - 1]
    x, y, w, h = (one.get(k, d) for k, d in (("x", None), ("y", None), ("width", 85),
                                             ("height", 37)))
    if not all(isinstance(v, (int, float)) for v in (x, y, w, h)):
        raise _bad(f"{where}: x, y, width and height must be numbers.")
    if x < 0 or y < 0 or x + w > width or y + h > height:
        raise _bad(f"{where}: the field goes out of page {page}.")


def _public_request(request: dict) -> dict:
    keys = ("id", "status", "name", "delivery_mode", "created_at", "ordered_signers",
            "timezone", "external_id", "decline_information")
    return {**{key: request.get(key) for key in keys},
            "signers": [{"id": s["id"], "status": s["status"]} for s in request["signers"]],
            "documents": [{"id": d["id"], "nature": d["nature"]} for d in request["documents"]]}


def _public_signer(signer: dict) -> dict:
    keys = ("id", "info", "status", "signature_level", "signature_authentication_mode",
            "decline_reason")
    return {key: signer.get(key) for key in keys}


def _public_document(document: dict) -> dict:
    keys = ("id", "filename", "nature", "content_type", "total_pages", "is_signed",
            "created_at")
    return {key: document[key] for key in keys}


def _signed_pdf(request: dict) -> bytes:
    """The first signable document followed by one audit page."""
    original = next(d for d in request["documents"] if d["nature"] == "signable_document")
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(original["content"])).pages:
        writer.add_page(page)
    writer.add_page(PdfReader(io.BytesIO(_audit_page(request))).pages[0])
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _audit_page(request: dict) -> bytes:
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setFont("Helvetica-Bold", 14)
    page.drawString(56, 780, "Dossier de preuve - signature électronique (Yousign simulé)")
    page.setFont("Helvetica", 10)
    page.drawString(56, 756, f"Demande : {request['id']}")
    for index, signer in enumerate(request["signers"]):
        info, when = signer["info"], signer["signed_at"].strftime("%d/%m/%Y %H:%M")
        page.drawString(56, 730 - 16 * index,
                        f"Signé par {info['first_name']} {info['last_name']} le {when} (UTC)")
    page.showPage()
    page.save()
    return out.getvalue()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _post(url: str | None, body: bytes, headers: dict) -> int | None:
    if not url:
        return None
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


# -- HTTP plumbing -------------------------------------------------------------------------------

def _parse_multipart(content_type: str, body: bytes) -> tuple[dict, dict]:
    """Strict multipart/form-data parsing: (fields, files) or ({}, {}) when malformed."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        return {}, {}
    delimiter = b"--" + match.group(1).encode()
    chunks = body.split(b"\r\n" + delimiter)
    if not chunks[0].startswith(delimiter) or not chunks[-1].startswith(b"--"):
        return {}, {}
    chunks[0] = chunks[0][len(delimiter):]
    fields, files = {}, {}
    for chunk in chunks[:-1]:
        head, separator, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            return {}, {}
        lines = [line.partition(": ") for line in head.decode("utf-8").split("\r\n")]
        headers = {key: value for key, _, value in lines}
        disposition = headers.get("Content-Disposition", "")
        name = re.search(r'\bname="([^"]*)"', disposition)
        filename = re.search(r'\bfilename="([^"]*)"', disposition)
        if not name:
            return {}, {}
        if filename:
            files[name.group(1)] = (filename.group(1), headers.get("Content-Type", ""), content)
        else:
            fields[name.group(1)] = content.decode("utf-8")
    return fields, files


def _handler_for(fake: FakeYousign):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            call = Call(self.command, self.path, headers, body)
            if headers.get("content-type", "").startswith("application/json"):
                try:
                    call.json = json.loads(body)
                except ValueError:
                    call.json = None
            elif headers.get("content-type", "").startswith("multipart/form-data"):
                call.form, call.files = _parse_multipart(headers["content-type"], body)
            reply = fake.handle(call)
            call.status = reply.status
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            try:
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a stalled call): nothing to answer to

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, *args):  # quiet in the test output
            pass

    return Handler
