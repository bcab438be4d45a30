"""Stored files: generated PDFs, uploads, training files. Bytes in the database or a path."""
from ..extensions import db
from .people import utcnow

DOCUMENT_KINDS = {
    "cerfa": "CERFA",
    "convention": "Convention de formation",
    "devis": "Devis",
    "calendrier": "Calendrier d'alternance",
    "programme": "Programme de la formation",
    "cerfa_signe": "CERFA signé",
    "convention_signee": "Convention signée",
    "cerfa_vise": "CERFA visé",
    "facture": "Facture",
    "certificat_realisation": "Certificat de réalisation",
    "recepisse": "Récépissé",
    "convocation": "Convocation",
    "attestation": "Attestation de formation",
    "convocation_ics": "Invitation d'agenda",
}
# The grammatical gender of each kind's label, for the participles that follow it ("Convention
# signée déposée", "CERFA signé déposé"): "f" or "m".
DOCUMENT_GENDERS = {
    "cerfa": "m", "convention": "f", "devis": "m", "calendrier": "m", "programme": "m",
    "cerfa_signe": "m", "convention_signee": "f", "cerfa_vise": "m", "facture": "f",
    "certificat_realisation": "m", "recepisse": "m", "convocation": "f", "attestation": "f",
    "convocation_ics": "f",
}


def agreed(kind: str, participle: str) -> str:
    """The masculine singular ``participle`` agreed with the label of ``kind``
    ("déposé" → "déposée" after "Convention signée")."""
    return participle + "e" if DOCUMENT_GENDERS.get(kind) == "f" else participle


class Document(db.Model):
    __tablename__ = "documents"
    __table_args__ = (db.Index("ix_documents_dossier_kind", "dossier_id", "kind"),)

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"))
    formation_id = db.Column(db.Integer, db.ForeignKey("formations.id", ondelete="CASCADE"),
                             index=True)
    kind = db.Column(db.String(30), nullable=False)
    filename = db.Column(db.String(255), nullable=False)
    content_type = db.Column(db.String(100), nullable=False, default="application/pdf")
    size = db.Column(db.Integer, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    # Either the bytes themselves, or a path relative to the shared storage directory.
    data = db.deferred(db.Column(db.LargeBinary))
    storage_path = db.Column(db.String(500))
    version = db.Column(db.Integer, nullable=False, default=1)
    uploaded_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    uploaded_by = db.relationship("User")

    def __str__(self) -> str:
        return f"{DOCUMENT_KINDS.get(self.kind, self.kind)} – {self.filename}"


class OutboxEmail(db.Model):
    """An e-mail committed with the change that caused it, sent by the worker, retried."""

    __tablename__ = "outbox_emails"
    __table_args__ = (db.Index("ix_outbox_pending", "sent_at", "next_attempt_at"),)

    id = db.Column(db.Integer, primary_key=True)
    recipients = db.Column(db.Text, nullable=False)  # comma-separated addresses
    subject = db.Column(db.String(300), nullable=False)
    body_text = db.Column(db.Text, nullable=False)
    body_html = db.Column(db.Text)
    attachment_document_ids = db.Column(db.String(200))  # comma-separated Document ids
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="SET NULL"),
                           index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    attempts = db.Column(db.Integer, nullable=False, default=0)
    next_attempt_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_error = db.Column(db.Text)
    sent_at = db.Column(db.DateTime)
    # A sender claims the row (one conditional UPDATE) before talking to SMTP; a claim older
    # than the lease is taken as abandoned (the sender died) and may be claimed again.
    claimed_at = db.Column(db.DateTime)
    claimed_by = db.Column(db.String(32))
