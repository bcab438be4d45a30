"""A file of apprentices uploaded by a formation: previewed first, then confirmed once."""
from ..extensions import db
from .people import utcnow


class ImportBatch(db.Model):
    """The uploaded bytes are kept between the preview and the confirmation, so that what is
    confirmed is exactly what was previewed (re-read and re-checked, never trusted from the
    browser)."""

    __tablename__ = "import_batches"

    PREVIEW, CONFIRMED = "apercu", "confirme"

    id = db.Column(db.Integer, primary_key=True)
    formation_id = db.Column(db.Integer, db.ForeignKey("formations.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    filename = db.Column(db.String(255), nullable=False)
    content = db.Column(db.LargeBinary, nullable=False)
    sha256 = db.Column(db.String(64), nullable=False)
    status = db.Column(db.String(10), nullable=False, default=PREVIEW)
    row_count = db.Column(db.Integer, nullable=False, default=0)
    error_count = db.Column(db.Integer, nullable=False, default=0)
    created_count = db.Column(db.Integer)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    confirmed_at = db.Column(db.DateTime)

    formation = db.relationship("Formation")
    user = db.relationship("User")
