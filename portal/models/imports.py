"""A file of apprentices uploaded by a formation: previewed first, then confirmed once, the
dossiers being created by the background worker in batches of rows (portal.dossiers.
import_batches), each batch one transaction recorded by ``last_line``."""
from ..extensions import db
from .people import utcnow


class ImportBatch(db.Model):
    """The uploaded bytes are kept between the preview and the confirmation, so that what is
    confirmed is exactly what was previewed (re-read and re-checked, never trusted from the
    browser)."""

    __tablename__ = "import_batches"

    PREVIEW, RUNNING, CONFIRMED, FAILED = "apercu", "en_cours", "confirme", "erreur"
    STATUS_LABELS = {PREVIEW: "aperçu non confirmé", RUNNING: "en cours",
                     CONFIRMED: "confirmé", FAILED: "en erreur"}

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
    # The confirmation in the background (migration 0009): who confirmed, the lines they
    # ticked « Créer quand même », the data rows handled so far and the last line of the last
    # committed batch of rows (a retry resumes after it), the refused / unconfirmed lines so
    # far (JSON), the error of a failed run (French) and the end.
    confirmed_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_lines = db.Column(db.Text)
    rows_done = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_line = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    outcome = db.Column(db.Text)
    error_message = db.Column(db.Text)
    finished_at = db.Column(db.DateTime)

    formation = db.relationship("Formation")
    user = db.relationship("User", foreign_keys=[user_id])
    confirmed_by = db.relationship("User", foreign_keys=[confirmed_by_id])

    @property
    def status_label(self) -> str:
        return self.STATUS_LABELS.get(self.status, self.status)
