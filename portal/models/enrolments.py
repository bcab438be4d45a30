"""Training actions offered by the CFA to employers' staff (SPEC §6, seed 003)."""
from ..extensions import db
from .people import utcnow

INSCRIPTION_STATES = {
    "demandee": "Demandée",
    "approuvee": "Approuvée par l'employeur",
    "refusee": "Refusée par l'employeur",
    "retenue": "Retenue",
    "liste_attente": "Liste d'attente",
    "annulee": "Annulée",
    "suivie": "Suivie",
    "absent": "Absent·e",
}


class ActionFormation(db.Model):
    __tablename__ = "actions_formation"

    id = db.Column(db.Integer, primary_key=True)
    cfa_id = db.Column(db.Integer, db.ForeignKey("cfas.id"), nullable=False, index=True)
    intitule = db.Column(db.String(255), nullable=False)
    description = db.Column(db.Text)
    objectifs = db.Column(db.Text)
    public_vise = db.Column(db.String(255))
    duree_heures = db.Column(db.Numeric(6, 2))
    prix = db.Column(db.Numeric(10, 2))
    active = db.Column(db.Boolean, nullable=False, default=True)

    cfa = db.relationship("Cfa")
    sessions = db.relationship("SessionFormation", back_populates="action",
                               order_by="SessionFormation.date_debut")

    def __str__(self) -> str:
        return self.intitule


class SessionFormation(db.Model):
    __tablename__ = "sessions_formation"

    id = db.Column(db.Integer, primary_key=True)
    action_id = db.Column(db.Integer, db.ForeignKey("actions_formation.id"), nullable=False,
                          index=True)
    date_debut = db.Column(db.Date, nullable=False)
    date_fin = db.Column(db.Date, nullable=False)
    lieu = db.Column(db.String(255))
    capacite = db.Column(db.Integer, nullable=False, default=12)
    annulee = db.Column(db.Boolean, nullable=False, default=False)

    action = db.relationship("ActionFormation", back_populates="sessions")
    inscriptions = db.relationship("Inscription", back_populates="session")

    def __str__(self) -> str:
        return f"{self.action.intitule} – {self.date_debut:%d/%m/%Y}"


class Inscription(db.Model):
    __tablename__ = "inscriptions"
    __table_args__ = (db.UniqueConstraint("session_id", "user_id"),)

    id = db.Column(db.Integer, primary_key=True)
    session_id = db.Column(db.Integer, db.ForeignKey("sessions_formation.id"), nullable=False,
                           index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    structure_id = db.Column(db.Integer, db.ForeignKey("structures.id"), index=True)
    motivation = db.Column(db.Text)
    state = db.Column(db.String(14), nullable=False, default="demandee")
    decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    decided_at = db.Column(db.DateTime)
    convocation_envoyee_at = db.Column(db.DateTime)
    present = db.Column(db.Boolean)
    attestation_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                  ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    session = db.relationship("SessionFormation", back_populates="inscriptions")
    user = db.relationship("User", foreign_keys=[user_id])
    structure = db.relationship("Structure")
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])
