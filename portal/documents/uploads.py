"""Uploaded files: checked by content (PDF only, at most 10 MB), stored with their sha256,
uploader and time, earlier versions kept; the signed returns move the dossier along."""
from __future__ import annotations

import hashlib
import io

from sqlalchemy import func, select
from werkzeug.utils import secure_filename

from ..extensions import db
from ..models import Document, DossierHistory
from ..models.documents import DOCUMENT_KINDS

MAX_BYTES = 10 * 1024 * 1024
SIGNED_KINDS = ("cerfa_signe", "convention_signee")
UPLOAD_STATES = ("economie_validee", "documents_retournes")


class UploadRefused(Exception):
    """A refused upload; the message is French, for the user."""


def check_pdf(data: bytes) -> None:
    """A real PDF of at most 10 MB, whatever its name says."""
    if not data:
        raise UploadRefused("Le fichier est vide.")
    if len(data) > MAX_BYTES:
        raise UploadRefused("Le fichier dépasse 10 Mo.")
    if not data.lstrip()[:5] == b"%PDF-":
        raise UploadRefused("Ce fichier n'est pas un PDF : déposez le document signé au format "
                            "PDF.")
    from pypdf import PdfReader
    try:
        reader = PdfReader(io.BytesIO(data))
        if len(reader.pages) < 1:
            raise UploadRefused("Ce PDF ne contient aucune page.")
    except UploadRefused:
        raise
    except Exception:  # noqa: BLE001 - any parsing failure means "not a usable PDF"
        raise UploadRefused("Ce PDF est illisible ou endommagé.") from None


def safe_name(filename: str | None, kind: str, dossier_id: int | None) -> str:
    name = secure_filename(filename or "") or f"{kind}.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    prefix = f"dossier-{dossier_id}-" if dossier_id else ""
    return (prefix + name)[:200]


def store(data: bytes, *, kind: str, filename: str, user, dossier=None,
          formation=None, content_type: str = "application/pdf") -> Document:
    """Store a new version of a document (no commit)."""
    owner = (Document.dossier_id == dossier.id) if dossier is not None else (
        Document.formation_id == formation.id)
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


def upload_signed(dossier, kind: str, data: bytes, filename: str | None, user) -> Document:
    """The employer returns a signed CERFA or convention. When both are in, the dossier moves
    to documents_retournes (history + e-mail to the CFA), in the same transaction."""
    from portal.mail import messages as mails
    from portal.dossiers import workflow
    from portal.dossiers.locking import transition_scope
    from ..policy import roles_on_dossier
    if kind not in SIGNED_KINDS:
        raise UploadRefused("Type de document inconnu.")
    if "employeur" not in roles_on_dossier(user, dossier):
        raise UploadRefused("Seul l'employeur du dossier dépose les documents signés.")
    if dossier.state not in UPLOAD_STATES:
        raise UploadRefused(
            "Les documents signés se déposent une fois les éléments économiques validés par le "
            f"CFA (état actuel : « {workflow.state_label(dossier.state)} »).")
    check_pdf(data)
    document = store(data, kind=kind, filename=safe_name(filename, kind, dossier.id), user=user,
                     dossier=dossier)
    db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="document",
                                  comment=f"{DOCUMENT_KINDS[kind]} déposé ({document.filename}, "
                                          f"version {document.version})"))
    db.session.flush()
    if dossier.state == "economie_validee" and all(latest(dossier, k) for k in SIGNED_KINDS):
        with transition_scope(db.session):
            db.session.add(DossierHistory(dossier=dossier, user_id=user.id, kind="transition",
                                          from_state=dossier.state,
                                          to_state="documents_retournes"))
            dossier.state = "documents_retournes"
            mails.to_cfa_documents(dossier, user=user, comment=None)
    return document
