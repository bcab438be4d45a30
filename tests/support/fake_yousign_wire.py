"""The wire of the fake Yousign (tests/support/fake_yousign.py): its constants and records,
the validation and rendering of its JSON, the signed PDF it hands back, the webhook POST and
the HTTP plumbing (multipart parsing, the request handler)."""
from __future__ import annotations
import io
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
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


def _handler_for(fake):  # a FakeYousign
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
