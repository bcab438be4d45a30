"""The sealed signed PDF: once the last signer has signed, the document gets a signature page
(who signed, when, how, and the SHA-256 of what they signed) and is sealed by the CFA's
certificate with a PAdES signature, so any PDF reader shows it unaltered since.

The signers' signatures are simple electronic signatures (art. 1366-1367 du Code civil,
eIDAS art. 25); the seal makes the file tamper-evident, it is not a signature of theirs.
"""
from __future__ import annotations

import hashlib
import io
import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from flask import render_template

from ..documents.render import FONTS, html_to_pdf
from ..rules.formatting import moment
from .certificate import SealingIdentity

FIELD_NAME = "CachetSillon"
# Which key usages a sealing certificate may carry (either is enough).
KEY_USAGES = frozenset({"digital_signature", "non_repudiation"})

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignerLine:
    name: str  # "Claire Martin"
    role_label: str  # "Employeur (signataire)", "Alternant·e", "CFA (visa)"…
    email: str
    signed_at: datetime  # naive UTC, as stored in the database
    method: str  # "Signature électronique simple : lien personnel et code à usage unique…"
    ip: str | None = None


@dataclass(frozen=True)
class SealCheck:
    intact: bool  # the bytes covered by the signature are unchanged
    valid: bool  # cryptographically valid
    trusted: bool  # chains to the given identity's certificate
    covers_whole_file: bool
    signer: str  # the certificate's common name
    signed_at: datetime | None  # naive UTC (the signer-reported signing time)

    @property
    def ok(self) -> bool:
        """The file is exactly what the CFA sealed (a changed byte leaves valid True when
        only the document digest differs: intact tells that)."""
        return self.intact and self.valid and self.trusted and self.covers_whole_file


NOT_SEALED = SealCheck(intact=False, valid=False, trusted=False, covers_whole_file=False,
                       signer="", signed_at=None)


def sha256_hex(pdf: bytes) -> str:
    """The fingerprint printed on the signature page (of the document before that page)."""
    return hashlib.sha256(pdf).hexdigest()


# --- the signature page -------------------------------------------------------------------------

def signature_page_pdf(*, title: str, dossier_number: int, apprentice: str, source_sha256: str,
                       signers: list[SignerLine], sealed_at: datetime, cfa_name: str) -> bytes:
    """« Page de signature » (A4, one page or more): the document, its fingerprint, each
    signer and the seal's statement. Needs an app context (templates)."""
    html = render_template("pdf/signature_page.html", title=title,
                           dossier_number=dossier_number, apprentice=apprentice,
                           source_sha256=source_sha256, signers=signers,
                           sealed_at=sealed_at, cfa_name=cfa_name, when=moment,
                           fonts=FONTS.as_posix())
    try:
        return html_to_pdf(html)  # render_pdf's xhtml2pdf set-up: embedded DejaVu, no remote
    except RuntimeError as exc:
        raise RuntimeError(f"PDF rendering failed for the signature page: {exc}") from None


# --- sealing ------------------------------------------------------------------------------------

def seal(pdf: bytes, page: bytes, identity: SealingIdentity, *, reason: str,
         location: str = "France") -> bytes:
    """pdf with page appended, sealed (PAdES B-B, SHA-256) in the field « CachetSillon »."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    merged = _append(pdf, page)
    writer = IncrementalPdfFileWriter(io.BytesIO(merged), strict=False)
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, location=location, name=identity.common_name)
    # invisible field on the signature page: the page itself is what people read
    spec = fields.SigFieldSpec(FIELD_NAME, on_page=-1)
    out = _outside_event_loop(signers.sign_pdf, writer, meta, signer=identity.signer(),
                              new_field_spec=spec)
    return out.getvalue()


def _outside_event_loop(function, *args, **kwargs):
    """pyHanko's synchronous calls run asyncio.run(), which a thread that already runs an
    event loop cannot: there, they run in a thread of their own."""
    import asyncio
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args, **kwargs).result()


def _append(pdf: bytes, page: bytes) -> bytes:
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    writer.append(PdfReader(io.BytesIO(page)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# --- checking -----------------------------------------------------------------------------------

def check(pdf: bytes, identity: SealingIdentity) -> SealCheck:
    """The seal's status against identity's certificate, offline; never raises: a file that
    cannot be read or carries no seal is reported all False."""
    try:
        return _check(pdf, identity)
    except Exception:  # noqa: BLE001 - any unreadable file is simply "not sealed"
        log.info("sealed PDF check failed", exc_info=True)
        return NOT_SEALED


def _check(pdf: bytes, identity: SealingIdentity) -> SealCheck:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.settings import KeyUsageConstraints
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    seals = [s for s in reader.embedded_signatures if s.field_name == FIELD_NAME]
    if not seals:
        return NOT_SEALED
    context = ValidationContext(trust_roots=[identity.certificate()], allow_fetching=False)
    status = _outside_event_loop(
        validate_pdf_signature, seals[-1], context, key_usage_settings=KeyUsageConstraints(key_usage=set(KEY_USAGES)),
        skip_diff=True)
    signed_at = status.signer_reported_dt
    if signed_at is not None and signed_at.tzinfo is not None:
        signed_at = signed_at.astimezone(timezone.utc).replace(tzinfo=None)
    return SealCheck(intact=bool(status.intact), valid=bool(status.valid),
                     trusted=bool(status.trusted),
                     covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
                     signer=_common_name(status.signing_cert), signed_at=signed_at)


def _common_name(cert) -> str:
    subject = cert.subject.native
    return str(subject.get("common_name") or cert.subject.human_friendly)
