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
import threading
import uuid
from http.server import ThreadingHTTPServer

from pypdf import PdfReader

from tests.support.fake_yousign_wire import (  # noqa: F401  (re-exported for the tests)
    AUTH_MODES, CANCEL_REASONS, EMAIL, FORGERIES, LEVELS, LOCALES, Call, FakeYousignError,
    Webhook, _Reply, _bad, _check_field, _draft_only, _handler_for, _iso, _json_body, _now,
    _post, _public_document, _public_request, _public_signer, _signed_pdf)


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
