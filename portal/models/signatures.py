"""Electronic signature (SPEC §8, issue 17): a request per document of a dossier (the CERFA,
the convention), its signers in order, and every event of its evidence file.

The workflow of a request is portal/signatures/service.py's; what a status means is
portal/signatures/steps.py's table. Only hashes of the one-time codes are stored; a signer's
personal link is an HMAC of its id and nonce (portal/signatures/links.py): the nonce alone
opens nothing."""
from ..extensions import db
from .people import utcnow


class SignatureRequest(db.Model):
    __tablename__ = "signature_requests"
    __table_args__ = (
        db.Index("ix_signature_requests_dossier", "dossier_id", "document"),
        # One running request per document of a dossier: two CFA clicks at once cannot start
        # two (the second INSERT fails, answered « déjà lancée »).
        db.Index("uq_signature_requests_running", "dossier_id", "document", unique=True,
                 sqlite_where=db.text("status = 'en_cours'"),
                 postgresql_where=db.text("status = 'en_cours'")),
    )

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False)
    document = db.Column(db.String(20), nullable=False)     # "cerfa", "convention"
    provider = db.Column(db.String(20), nullable=False, default="interne")
    status = db.Column(db.String(20), nullable=False, default="en_cours")
    # The unsigned document as stored when the request started, and its SHA-256: what every
    # signer reads and signs; the sealed one when the last has signed.
    source_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                             ondelete="SET NULL"))
    source_sha256 = db.Column(db.String(64), nullable=False)
    signed_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                             ondelete="SET NULL"))
    signed_sha256 = db.Column(db.String(64))
    external_id = db.Column(db.String(100), index=True)     # the provider's request id
    external_document_id = db.Column(db.String(100))
    reason = db.Column(db.Text)                             # refusal or cancellation
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    finished_at = db.Column(db.DateTime)
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    dossier = db.relationship("Dossier")
    created_by = db.relationship("User")
    source_document = db.relationship("Document", foreign_keys=[source_document_id])
    signed_document = db.relationship("Document", foreign_keys=[signed_document_id])
    signers = db.relationship("Signer", back_populates="request", order_by="Signer.position",
                              cascade="all, delete-orphan")
    events = db.relationship("SignatureEvent", back_populates="request",
                             order_by="SignatureEvent.id", cascade="all, delete-orphan")


class Signer(db.Model):
    __tablename__ = "signature_signers"
    __table_args__ = (db.UniqueConstraint("request_id", "position"),)

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("signature_requests.id",
                                                     ondelete="CASCADE"), nullable=False)
    position = db.Column(db.Integer, nullable=False)        # 1, 2, … : the signing order
    role = db.Column(db.String(30), nullable=False)         # employeur, alternant, …
    first_name = db.Column(db.String(100), nullable=False)
    last_name = db.Column(db.String(100), nullable=False)
    email = db.Column(db.String(254), nullable=False)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    status = db.Column(db.String(20), nullable=False, default="attente")
    nonce = db.Column(db.String(32), nullable=False)        # rotated: older links die
    link_expires_at = db.Column(db.DateTime, nullable=False)
    turn_started_at = db.Column(db.DateTime)                # when it became their turn
    reminded_at = db.Column(db.DateTime)
    code_hash = db.Column(db.String(64))
    code_expires_at = db.Column(db.DateTime)
    code_attempts = db.Column(db.Integer, nullable=False, default=0)
    codes_sent = db.Column(db.Integer, nullable=False, default=0)
    signed_at = db.Column(db.DateTime)
    ip = db.Column(db.String(45))
    user_agent = db.Column(db.String(300))
    external_id = db.Column(db.String(100))                 # the provider's signer id
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    request = db.relationship("SignatureRequest", back_populates="signers")
    user = db.relationship("User")

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SignatureEvent(db.Model):
    """One line of the evidence file: what happened, when, to whom, from where, on which
    document (its SHA-256)."""

    __tablename__ = "signature_events"

    id = db.Column(db.Integer, primary_key=True)
    request_id = db.Column(db.Integer, db.ForeignKey("signature_requests.id",
                                                     ondelete="CASCADE"), nullable=False,
                           index=True)
    signer_id = db.Column(db.Integer, db.ForeignKey("signature_signers.id",
                                                    ondelete="SET NULL"))
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    kind = db.Column(db.String(30), nullable=False)
    ip = db.Column(db.String(45))
    user_agent = db.Column(db.String(300))
    document_sha256 = db.Column(db.String(64))
    detail = db.Column(db.Text)

    request = db.relationship("SignatureRequest", back_populates="events")
    signer = db.relationship("Signer")
    user = db.relationship("User")
