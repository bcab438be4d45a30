"""The Yousign adapter (API v3): one PDF, signers in order, each with a one-time code by e-mail.

Only the standard library speaks HTTP here (urllib.request). Every failure of Yousign or of the
network becomes a `ProviderError` whose message, in French, can be shown to the CFA's staff; the
API key never appears in it. Redirects are not followed, so the key is only sent to `base_url`.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import re
import secrets
import socket
import unicodedata
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from pypdf import PdfReader

from .base import (CANCELLED, DONE, EXPIRED, OTHER, REFUSED, SIGNED, ProviderError,
                   ProviderEvent, ProviderRequest, ProviderSigner)

SIGNATURE_HEADER = "X-Yousign-Signature-256"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# Signature fields on the last page, one under another (PDF points, origin at the top left as
# Yousign counts them). The document must leave this band free at the bottom of its last page.
FIELD_X = 56
FIELD_WIDTH = 200
FIELD_HEIGHT = 60
FIELD_STEP = 70
BOTTOM_MARGIN = 40

EVENT_KINDS = {
    "signer.done": SIGNED,
    "signature_request.done": DONE,
    "signer.declined": REFUSED,
    "signature_request.declined": REFUSED,
    "signature_request.canceled": CANCELLED,
    "signature_request.expired": EXPIRED,
}

UNREACHABLE = "Yousign ne répond pas : réessayez plus tard."
UNREADABLE = "Yousign a renvoyé une réponse illisible : réessayez plus tard."


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError(3xx): the key never follows a redirect


class YousignProvider:
    name = "yousign"

    def __init__(self, *, base_url: str, api_key: str, webhook_secret: str,
                 timeout: float = 10):
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"Adresse de l'API Yousign invalide : {base_url!r}")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
            raise ValueError("L'API Yousign doit être appelée en https (la clé d'API circule).")
        if not api_key or not webhook_secret:
            raise ValueError("Yousign : la clé d'API et le secret des webhooks sont requis.")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._webhook_secret = webhook_secret.encode()
        self.timeout = float(timeout)
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:  # never shows the key
        return f"YousignProvider(base_url={self.base_url!r})"

    # -- the interface -------------------------------------------------------------------------

    def create(self, pdf: bytes, filename: str, signers: Sequence[ProviderSigner], *,
               title: str, external_id: str) -> ProviderRequest:
        if not signers:
            raise ProviderError("Aucun signataire : la demande de signature n'est pas envoyée.")
        last_page, width, height = _last_page(pdf)
        positions = field_positions(width, height, len(signers))
        request = self._json("POST", "/signature_requests", {
            "name": title, "delivery_mode": "email", "ordered_signers": True,
            "timezone": "Europe/Paris", "external_id": external_id})
        request_id = _id_of(request)
        base = f"/signature_requests/{_quote(request_id)}"
        document_id = _id_of(self._upload(f"{base}/documents", pdf, filename))
        signer_ids = []
        for signer, (x, y) in zip(signers, positions):
            body = _signer_body(signer, document_id, last_page, x, y)
            signer_ids.append(_id_of(self._json("POST", f"{base}/signers", body)))
        self._json("POST", f"{base}/activate", None)
        return ProviderRequest(request_id, document_id, tuple(signer_ids))

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> bool:
        received = _header(headers, SIGNATURE_HEADER).strip()
        if not received:
            return False
        expected = "sha256=" + hmac.new(self._webhook_secret, body, hashlib.sha256).hexdigest()
        try:
            return hmac.compare_digest(received.encode("ascii"), expected.encode("ascii"))
        except UnicodeEncodeError:
            return False

    def parse_event(self, body: bytes) -> ProviderEvent:
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProviderError("Notification Yousign illisible (JSON invalide).") from None
        if not isinstance(payload, dict):
            raise ProviderError("Notification Yousign illisible (objet JSON attendu).")
        raw_name = str(payload.get("event_name") or "")
        kind = EVENT_KINDS.get(raw_name, OTHER)
        data = _dict(payload.get("data"))
        request = _dict(data.get("signature_request"))
        signer = _dict(data.get("signer"))
        request_id = str(request.get("id") or "")
        if not request_id and kind != OTHER:
            raise ProviderError(f"Notification Yousign « {raw_name} » sans demande de signature.")
        signer_id = str(signer["id"]) if signer.get("id") and kind in (SIGNED, REFUSED) else None
        reason = _decline_reason(signer, request) if kind == REFUSED else None
        return ProviderEvent(kind, request_id, signer_id, _event_time(payload.get("event_time")),
                             reason, raw_name)

    def fetch_signed(self, request_id: str, document_id: str) -> bytes:
        path = (f"/signature_requests/{_quote(request_id)}"
                f"/documents/{_quote(document_id)}/download")
        content, _ = self._call("GET", path, None, {"Accept": "application/pdf"})
        if not content.startswith(b"%PDF"):
            raise ProviderError("Yousign n'a pas renvoyé de PDF pour le document signé.")
        return content

    def cancel(self, request_id: str, reason: str) -> None:
        self._json("POST", f"/signature_requests/{_quote(request_id)}/cancel",
                   {"reason": "contractualization_aborted", "custom_note": reason})

    # -- HTTP ----------------------------------------------------------------------------------

    def _json(self, method: str, path: str, payload: dict | None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return _parse_json(self._call(method, path, data, headers)[0])

    def _upload(self, path: str, pdf: bytes, filename: str) -> dict:
        body, content_type = _multipart(pdf, _safe_filename(filename))
        headers = {"Accept": "application/json", "Content-Type": content_type}
        return _parse_json(self._call("POST", path, body, headers)[0])

    def _call(self, method: str, path: str, data: bytes | None,
              headers: dict[str, str]) -> tuple[bytes, str]:
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={**headers,
                                                  "Authorization": f"Bearer {self._api_key}"})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            raise ProviderError(self._refusal(error)) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError,
                http.client.HTTPException):
            raise ProviderError(UNREACHABLE) from None

    def _refusal(self, error: urllib.error.HTTPError) -> str:
        try:
            detail = _error_detail(error.read())
        except (OSError, http.client.HTTPException):
            detail = ""
        detail = detail.replace(self._api_key, "***")
        if error.code >= 500:
            return f"Yousign est en difficulté (HTTP {error.code}) : réessayez plus tard."
        if error.code in (401, 403):
            hint = "clé d'API refusée, vérifiez YOUSIGN_API_KEY"
            detail = f"{hint} ({detail})" if detail else hint
        return f"Yousign a refusé la demande (HTTP {error.code}) : {detail or 'sans détail'}"


# -- pure helpers -------------------------------------------------------------------------------

def field_positions(page_width: float, page_height: float, count: int) -> list[tuple[int, int]]:
    """(x, y) of each signer's field on the last page, the first one highest."""
    top = page_height - BOTTOM_MARGIN - FIELD_HEIGHT - (count - 1) * FIELD_STEP
    if top < BOTTOM_MARGIN or page_width < FIELD_X + FIELD_WIDTH:
        raise ProviderError(f"La dernière page du document est trop petite pour {count} "
                            "signatures.")
    return [(FIELD_X, int(top + index * FIELD_STEP)) for index in range(count)]


def _last_page(pdf: bytes) -> tuple[int, float, float]:
    """Number, width and height of the PDF's last page, as displayed (rotation applied)."""
    if not pdf.startswith(b"%PDF"):
        raise ProviderError("Le document à signer n'est pas un PDF.")
    try:
        reader = PdfReader(io.BytesIO(pdf))
        page = reader.pages[-1]
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        if (page.rotation or 0) % 180:
            width, height = height, width
        return len(reader.pages), width, height
    except Exception:  # pypdf raises many kinds of errors on a damaged file
        raise ProviderError("Le document à signer est un PDF illisible.") from None


def _signer_body(signer: ProviderSigner, document_id: str, page: int, x: int, y: int) -> dict:
    return {
        "info": {"first_name": signer.first_name, "last_name": signer.last_name,
                 "email": signer.email, "locale": "fr"},
        "signature_level": "electronic_signature",
        "signature_authentication_mode": "otp_email",
        "fields": [{"document_id": document_id, "type": "signature", "page": page,
                    "x": x, "y": y, "width": FIELD_WIDTH, "height": FIELD_HEIGHT}],
    }


def _multipart(pdf: bytes, filename: str) -> tuple[bytes, str]:
    boundary = "sillon-" + secrets.token_hex(16)
    parts = [
        (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
         f'filename="{filename}"\r\nContent-Type: application/pdf\r\n\r\n').encode() + pdf,
        (f'--{boundary}\r\nContent-Disposition: form-data; name="nature"\r\n\r\n'
         'signable_document').encode(),
    ]
    body = b"\r\n".join(parts) + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _safe_filename(filename: str) -> str:
    """An ASCII name without quotes or line breaks, ending in .pdf (accents dropped)."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_name).strip(" ._") or "document"
    return name if name.lower().endswith(".pdf") else name + ".pdf"


def _parse_json(content: bytes) -> dict:
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        raise ProviderError(UNREADABLE) from None
    if not isinstance(payload, dict):
        raise ProviderError(UNREADABLE)
    return payload


def _id_of(payload: dict) -> str:
    if not payload.get("id"):
        raise ProviderError(UNREADABLE)
    return str(payload["id"])


def _error_detail(content: bytes) -> str:
    """Yousign's own words from an error body (RFC 7807 `detail`, or `message`), shortened."""
    try:
        payload = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return ""
    if not isinstance(payload, dict):
        return ""
    detail = payload.get("detail") or payload.get("message") or payload.get("title") or ""
    return " ".join(str(detail).split())[:300]


def _quote(identifier: str) -> str:
    return urllib.parse.quote(str(identifier), safe="")


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value or ""
    return ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _decline_reason(signer: dict, request: dict) -> str | None:
    information = _dict(request.get("decline_information"))
    reason = signer.get("decline_reason") or information.get("reason")
    return str(reason) if reason else None


def _event_time(value: Any) -> datetime | None:
    """Yousign's unix seconds (a string) as a naive UTC datetime."""
    try:
        moment = datetime.fromtimestamp(int(value), tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return moment.replace(tzinfo=None)
