"""Training actions offered by the CFA to employers' staff (SPEC §6, seed 003): the catalogue
(actions and their sessions), the requests (inscriptions) with their history, the attendance
per half-day, and the request limits as data the CFA can change."""
from ..extensions import db
from .people import utcnow

# The request's states (SPEC §6); what each allows lives in portal/training_actions/states.py.
INSCRIPTION_STATES = {
    "demandee": "Demandée (en attente de l'employeur)",
    "acceptee_employeur": "Acceptée par l'employeur",
    "refusee_employeur": "Refusée par l'employeur",
    "retenue": "Retenue",
    "liste_attente": "Liste d'attente",
    "non_retenue": "Non retenue",
    "annulee": "Annulée",
    "presente": "Présente",
    "absente": "Absente",
}
HALF_DAYS = {"matin": "Matin", "apres_midi": "Après-midi"}
# The limits of a request (SPEC §6), as rows of regles_inscription: code → (default, label).
RULES = {
    "max_actions_par_an": (5, "Actions demandées au plus par personne et par année civile"),
    "max_par_structure_par_session": (2, "Personnes d'une même structure au plus par session "
                                         "(les suivantes attendent)"),
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
    # "Réservée aux structures adhérentes": only members of the CFA's network may request it.
    reservee_adherents = db.Column(db.Boolean, nullable=False, default=False)
    active = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

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
    heure_debut = db.Column(db.Time)
    heure_fin = db.Column(db.Time)
    lieu = db.Column(db.String(255))
    capacite = db.Column(db.Integer, nullable=False, default=12)
    date_limite_inscription = db.Column(db.Date)
    organisateur_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    annulee = db.Column(db.Boolean, nullable=False, default=False)
    rappel_envoye_at = db.Column(db.DateTime)
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    action = db.relationship("ActionFormation", back_populates="sessions")
    organisateur = db.relationship("User")
    inscriptions = db.relationship("Inscription", back_populates="session",
                                   order_by="Inscription.id")

    def __str__(self) -> str:
        return f"{self.action.intitule} – {self.date_debut:%d/%m/%Y}"


class RegleInscription(db.Model):
    """A limit of the requests (SPEC §6), editable by the cfa_admin."""

    __tablename__ = "regles_inscription"

    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(40), nullable=False, unique=True)
    valeur = db.Column(db.Integer, nullable=False)
    libelle = db.Column(db.String(200), nullable=False)

    def __str__(self) -> str:
        return f"{self.libelle} : {self.valeur}"


class Inscription(db.Model):
    """A person's request for a session, from the request to the attestation."""

    __tablename__ = "inscriptions"
    __table_args__ = (db.UniqueConstraint("session_id", "user_id"),
                      db.Index("ix_inscriptions_state_session", "state", "session_id"))

    id = db.Column(db.Integer, primary_key=True)
    session_id = db.Column(db.Integer, db.ForeignKey("sessions_formation.id"), nullable=False,
                           index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    structure_id = db.Column(db.Integer, db.ForeignKey("structures.id"), nullable=False,
                             index=True)
    motivation = db.Column(db.Text, nullable=False)
    state = db.Column(db.String(20), nullable=False, default="demandee")
    employer_comment = db.Column(db.Text)
    employer_decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id",
                                                                 ondelete="SET NULL"))
    employer_decided_at = db.Column(db.DateTime)
    cfa_comment = db.Column(db.Text)  # why not retained, why cancelled
    waiting_rank = db.Column(db.Integer)  # order on the waiting list
    convocation_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                  ondelete="SET NULL"))
    convocation_sent_at = db.Column(db.DateTime)
    attestation_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                  ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    session = db.relationship("SessionFormation", back_populates="inscriptions")
    user = db.relationship("User", foreign_keys=[user_id])
    structure = db.relationship("Structure")
    employer_decided_by = db.relationship("User", foreign_keys=[employer_decided_by_id])
    history = db.relationship("InscriptionHistory", back_populates="inscription",
                              cascade="all, delete-orphan", order_by="InscriptionHistory.id")
    presences = db.relationship("Presence", back_populates="inscription",
                                cascade="all, delete-orphan",
                                order_by="(Presence.jour, Presence.demi_journee)")

    @property
    def state_label(self) -> str:
        return INSCRIPTION_STATES.get(self.state, self.state)


class InscriptionHistory(db.Model):
    """Every change of a request: who, when, from which state to which, why."""

    __tablename__ = "inscription_history"

    id = db.Column(db.Integer, primary_key=True)
    inscription_id = db.Column(db.Integer, db.ForeignKey("inscriptions.id", ondelete="CASCADE"),
                               nullable=False, index=True)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    from_state = db.Column(db.String(20))
    to_state = db.Column(db.String(20))
    comment = db.Column(db.Text)

    inscription = db.relationship("Inscription", back_populates="history")
    user = db.relationship("User")


class Presence(db.Model):
    """Attendance of one person at one half-day of a session (the émargement)."""

    __tablename__ = "presences"
    __table_args__ = (db.UniqueConstraint("inscription_id", "jour", "demi_journee"),)

    id = db.Column(db.Integer, primary_key=True)
    inscription_id = db.Column(db.Integer, db.ForeignKey("inscriptions.id", ondelete="CASCADE"),
                               nullable=False)
    jour = db.Column(db.Date, nullable=False)
    demi_journee = db.Column(db.String(10), nullable=False)
    present = db.Column(db.Boolean, nullable=False)
    recorded_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    inscription = db.relationship("Inscription", back_populates="presences")
