"""Uploaded files: checked by content (PDF only, at most 10 MB), stored with their sha256,
uploader and time, earlier versions kept. Returning the signed documents of a dossier is a
change of the dossier: portal/dossiers/service.py upload_signed."""
from __future__ import annotations

import hashlib
import io
import re

from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from ..extensions import db
from ..models import Document

MAX_BYTES = 10 * 1024 * 1024
SIGNED_KINDS = ("cerfa_signe", "convention_signee")


def size_text(size: int) -> str:
    """A size as a French reader writes it: "20,0 Mo", "850 Ko"."""
    if size >= 1024 * 1024:
        tenths = -(-size * 10 // (1024 * 1024))  # rounded up: never "5,0 Mo" above 5 Mo
        return f"{tenths // 10},{tenths % 10} Mo"
    return f"{max(1, round(size / 1024))} Ko"


PDF_ADVICE = ("Rien n'a été déposé. Réduisez-le (par exemple en le numérisant en noir et blanc, "
              "ou en l'enregistrant en PDF « taille réduite ») puis déposez-le à nouveau.")


def too_large_message(limit: int = MAX_BYTES, advice: str = PDF_ADVICE) -> str:
    """The refusal of a file above ``limit``, with "{taille}" where its size goes (filled by
    the server with too_large(), or by portal/static/js/uploads.js before sending)."""
    return (f"Le fichier pèse {{taille}} : il dépasse la taille maximale de "
            f"{limit // (1024 * 1024)} Mo. " + advice)


def too_large(size: int | None, limit: int = MAX_BYTES, advice: str = PDF_ADVICE) -> str:
    message = too_large_message(limit, advice)
    if size:
        return message.replace("{taille}", size_text(size))
    return message.replace("pèse {taille} : il dépasse", "dépasse")


class UploadRefused(Exception):
    """A refused upload; the message is French, for the user."""


# --- the content check of an uploaded PDF -------------------------------------------------------
# A PDF is accepted when it is one PDF and nothing else: "%PDF-" at byte 0, nothing after its
# last "%%EOF" but blanks, its startxref pointing at its cross-reference and every entry of it
# at its object, a strict parse (pypdf strict=True) that finds at least one page, no markup of
# a web page outside its streams (a polyglot an HTML parser would also read), not encrypted
# (its objects could not be checked), and no active content: JavaScript, launch actions,
# embedded files. Every object of the cross-reference is
# looked at, those packed in object streams included; names are compared as decoded (pypdf
# reads "/J#61vaScript" as "/JavaScript").

_REDO = ("Enregistrez ou imprimez le document au format PDF (ou numérisez-le), puis déposez ce "
         "fichier.")
NOT_PDF = "Ce fichier n'est pas un PDF : déposez le document au format PDF."
NOT_AT_START = ("Ce fichier ne commence pas par l'en-tête d'un PDF : il contient autre chose "
                "(par exemple une page web) avant le document. " + _REDO)
MARKUP = ("Ce PDF contient le code d'une page web (HTML ou script) : il n'est pas accepté. "
          + _REDO)
TRAILING = ("Ce PDF est incomplet, ou d'autres données suivent sa fin (%%EOF) : il n'est pas "
            "accepté. " + _REDO)
BROKEN = "Ce PDF est illisible ou endommagé. " + _REDO
ENCRYPTED = ("Ce PDF est protégé par un mot de passe ou chiffré : son contenu ne peut pas être "
             "vérifié. Déposez une version non protégée.")
NO_PAGE = "Ce PDF ne contient aucune page."
JAVASCRIPT = ("Ce PDF contient du JavaScript (du code exécuté à l'ouverture ou par un "
              "formulaire) : il n'est pas accepté. " + _REDO)
LAUNCH = ("Ce PDF contient une action qui lance un programme ou ouvre un autre fichier : il "
          "n'est pas accepté. " + _REDO)
EMBEDDED = ("Ce PDF contient des fichiers joints : il n'est pas accepté. Déposez le document "
            "seul, sans pièce jointe.")

_HEADER = re.compile(rb"%PDF-[12]\.\d")
_TAIL = re.compile(rb"startxref[ \t\r\n\f]+(\d+)[ \t\r\n\f]+%%EOF[ \t\r\n\f\x00]*\Z")
_XREF_AT = re.compile(rb"(?:xref|\d+[ \t\r\n\f]+\d+[ \t\r\n\f]+obj)\b")
# Tags that open a web page or run a script. None is a PDF hex string (<...> of hex digits).
_MARKUP = re.compile(rb"<[ \t\r\n\f]*/?[ \t\r\n\f]*(?:!doctype|html|head|body|script|iframe|"
                     rb"object|embed|svg|meta|style|form|img|link)\b", re.IGNORECASE)
_STREAM_START = re.compile(rb"(?<![A-Za-z0-9])stream(?:\r\n|\n|\r)")

# Active content: (what the key or the value names, the refusal).
_ACTIVE_KEYS = {"/JS": JAVASCRIPT, "/JavaScript": JAVASCRIPT, "/XFA": JAVASCRIPT,
                "/EmbeddedFiles": EMBEDDED, "/EF": EMBEDDED, "/RichMediaContent": EMBEDDED}
_ACTIVE_VALUES = {("/S", "/JavaScript"): JAVASCRIPT, ("/S", "/Launch"): LAUNCH,
                  ("/S", "/GoToE"): EMBEDDED, ("/S", "/ImportData"): LAUNCH,
                  ("/Type", "/EmbeddedFile"): EMBEDDED, ("/Subtype", "/FileAttachment"): EMBEDDED,
                  ("/Subtype", "/RichMedia"): EMBEDDED}


def _outside_streams(data: bytes) -> bytes:
    """The bytes of the file outside the data of its streams (a stream holds compressed or
    binary data where any sequence of bytes may occur)."""
    parts, pos = [], 0
    while True:
        match = _STREAM_START.search(data, pos)
        if match is None:
            parts.append(data[pos:])
            return b" ".join(parts)
        end = data.find(b"endstream", match.end())
        if end < 0:  # never closed: the rest is looked at as it is
            parts.append(data[pos:])
            return b" ".join(parts)
        parts.append(data[pos:match.start()])
        pos = end + len(b"endstream")


def _structure_problem(data: bytes) -> str | None:
    if not data.startswith(b"%PDF-"):
        return NOT_AT_START if b"%PDF-" in data[:64 * 1024] else NOT_PDF
    if not _HEADER.match(data):
        return NOT_PDF
    tail = _TAIL.search(data[-2048:])
    if tail is None:
        return TRAILING
    offset = int(tail.group(1))
    if not 0 < offset < len(data) or not _XREF_AT.match(data, offset):
        return BROKEN
    if _MARKUP.search(_outside_streams(data)):
        return MARKUP
    return None


def _active_problem(value, depth: int = 0) -> str | None:
    """JavaScript, a launch action or an embedded file in this object or the direct objects it
    holds (indirect ones are looked at on their own, from the cross-reference)."""
    from pypdf.generic import (ArrayObject, DictionaryObject, IndirectObject, NameObject,
                               TextStringObject)
    if depth > 64 or isinstance(value, IndirectObject):
        return None
    if isinstance(value, ArrayObject):
        for item in value:
            problem = _active_problem(item, depth + 1)
            if problem:
                return problem
        return None
    if not isinstance(value, DictionaryObject):
        return None
    for key, item in value.items():
        if key in _ACTIVE_KEYS:
            return _ACTIVE_KEYS[key]
        if isinstance(item, NameObject) and (key, item) in _ACTIVE_VALUES:
            return _ACTIVE_VALUES[(key, item)]
        if key == "/URI" and isinstance(item, (bytes, TextStringObject)) and \
                _is_script_uri(item):
            return JAVASCRIPT
        problem = _active_problem(item, depth + 1)
        if problem:
            return problem
    return None


def _is_script_uri(value) -> bool:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    text = "".join(text.split()).lower()
    return text.startswith(("javascript:", "vbscript:", "data:text/html"))


_OBJECT_AT = re.compile(rb"[ \t\r\n\f\x00]*(\d+)[ \t\r\n\f]+(\d+)[ \t\r\n\f]+obj\b")


def _xref_exact(data: bytes, reader) -> bool:
    """Each object of the cross-reference is where it says (a lenient reader would search the
    file for it, and find what a polyglot put there)."""
    for gen, entries in reader.xref.items():
        for num, offset in entries.items():
            found = _OBJECT_AT.match(data, offset) if 0 < offset < len(data) else None
            if found is None or (int(found.group(1)), int(found.group(2))) != (num, gen):
                return False
    return True


def _objects(reader):
    """Every object of the cross-reference, those packed in object streams included."""
    from pypdf.generic import IndirectObject
    yield reader.trailer
    numbers = {(num, gen) for gen, entries in reader.xref.items() for num in entries}
    numbers |= {(num, 0) for num in reader.xref_objStm}
    for num, gen in sorted(numbers):
        yield reader.get_object(IndirectObject(num, gen, reader))


def check_pdf(data: bytes) -> None:
    """One real PDF of at most 10 MB, whatever its name says, and nothing else (see above).
    Raises UploadRefused with the French reason."""
    if not data:
        raise UploadRefused("Le fichier est vide.")
    if len(data) > MAX_BYTES:
        raise UploadRefused("Le fichier dépasse 10 Mo.")
    problem = _structure_problem(data)
    if problem:
        raise UploadRefused(problem)
    from pypdf import PdfReader
    try:
        reader = PdfReader(io.BytesIO(data), strict=True)
        if not _xref_exact(data, reader):
            raise UploadRefused(BROKEN)
        if reader.is_encrypted:
            raise UploadRefused(ENCRYPTED)
        if len(reader.pages) < 1:
            raise UploadRefused(NO_PAGE)
        for obj in _objects(reader):
            problem = _active_problem(obj)
            if problem:
                raise UploadRefused(problem)
    except UploadRefused:
        raise
    except Exception:  # noqa: BLE001 - any parsing failure means "not a usable PDF"
        raise UploadRefused(BROKEN) from None


def is_unsigned_copy(data: bytes, generated: bytes) -> bool:
    """Whether ``data`` is ``generated`` (a document as Sillon produced it, unsigned): the same
    file, or its pages re-saved with nothing drawn on them — each page's content unchanged,
    no annotation (ink, stamp, signature widget) and no form added. A scan, a PDF signed
    electronically or a page drawn on in any way is not."""
    if hashlib.sha256(data).digest() == hashlib.sha256(generated).digest():
        return True
    from pypdf import PdfReader
    try:
        mine, theirs = PdfReader(io.BytesIO(data)), PdfReader(io.BytesIO(generated))
        if len(mine.pages) != len(theirs.pages) or "/AcroForm" in mine.trailer["/Root"]:
            return False
        for page, original in zip(mine.pages, theirs.pages):
            if len(page.get("/Annots") or ()) != len(original.get("/Annots") or ()):
                return False
            if _drawing(page) != _drawing(original):
                return False
    except Exception:  # noqa: BLE001 - unreadable as a copy: judged on its own (check_pdf)
        return False
    return True


def _drawing(page) -> bytes:
    contents = page.get_contents()
    return contents.get_data() if contents is not None else b""


def safe_name(filename: str | None, kind: str, dossier_id: int | None) -> str:
    name = secure_filename(filename or "") or f"{kind}.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    prefix = f"dossier-{dossier_id}-" if dossier_id else ""
    return (prefix + name)[:200]


def store(data: bytes, *, kind: str, filename: str, user, dossier=None,
          formation=None, content_type: str = "application/pdf") -> Document:
    """Store a new version of a document (no commit). Owned by neither a dossier nor a
    formation (a training action's documents), versions count per file name."""
    owner = (Document.dossier_id == dossier.id) if dossier is not None else (
        Document.formation_id == formation.id) if formation is not None else (
        Document.dossier_id.is_(None) & Document.formation_id.is_(None)
        & (Document.filename == filename))
    previous = db.session.execute(select(func.max(Document.version))
                                  .where(owner, Document.kind == kind)).scalar() or 0
    document = Document(dossier_id=getattr(dossier, "id", None),
                        formation_id=getattr(formation, "id", None), kind=kind,
                        filename=filename, content_type=content_type, size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(), data=data,
                        version=previous + 1, uploaded_by_id=getattr(user, "id", None))
    db.session.add(document)
    return document


def latest(dossier, kind: str) -> Document | None:
    return db.session.scalars(select(Document).where(Document.dossier_id == dossier.id,
                                                     Document.kind == kind)
                              .order_by(Document.version.desc()).limit(1)).first()
