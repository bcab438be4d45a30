"""The CFA, its partner training establishments and their trainings (formations)."""
from ..extensions import db
from .people import utcnow


class Cfa(db.Model):
    __tablename__ = "cfas"

    id = db.Column(db.Integer, primary_key=True)
    nom = db.Column(db.String(200), nullable=False)
    uai = db.Column(db.String(8), nullable=False)
    siret = db.Column(db.String(14), nullable=False)
    numero_declaration_activite = db.Column(db.String(20))
    adresse = db.Column(db.String(300))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    telephone = db.Column(db.String(20))
    email = db.Column(db.String(254))
    # Name printed in the CERFA's visa box.
    signataire_visa = db.Column(db.String(200))
    # A CFA created by a company for its own apprentices (the CERFA's « CFA d'entreprise »).
    cfa_entreprise = db.Column(db.Boolean, nullable=False, default=False)
    # The CFA's contact sheet (seed 004's "fiche contact") and what its invoices print.
    contact_civilite = db.Column(db.String(4))
    contact_prenom = db.Column(db.String(100))
    contact_nom = db.Column(db.String(100))
    contact_fonction = db.Column(db.String(100))
    contact_telephone = db.Column(db.String(20))
    contact_email = db.Column(db.String(254))
    tva_intracom = db.Column(db.String(13))
    iban = db.Column(db.String(34))
    bic = db.Column(db.String(11))

    def __str__(self) -> str:
        return self.nom


class EtablissementFormation(db.Model):
    """A partner school or university department where a training takes place."""

    __tablename__ = "etablissements_formation"

    id = db.Column(db.Integer, primary_key=True)
    cfa_id = db.Column(db.Integer, db.ForeignKey("cfas.id"), nullable=False, index=True)
    nom = db.Column(db.String(200), nullable=False)
    uai = db.Column(db.String(8))
    siret = db.Column(db.String(14))
    adresse = db.Column(db.String(300))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))

    cfa = db.relationship("Cfa")

    def __str__(self) -> str:
        return self.nom


formation_responsables = db.Table(
    "formation_responsables",
    db.Column("formation_id", db.Integer, db.ForeignKey("formations.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("user_id", db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)

formation_gestionnaires = db.Table(
    "formation_gestionnaires",
    db.Column("formation_id", db.Integer, db.ForeignKey("formations.id", ondelete="CASCADE"),
              primary_key=True),
    db.Column("user_id", db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)

VALIDATION_MANUELLE = "manuelle"
VALIDATION_AUTOMATIQUE = "automatique"
VALIDATION_MODES = {VALIDATION_MANUELLE: "Manuelle (le responsable valide)",
                    VALIDATION_AUTOMATIQUE: "Automatique (validée à la demande)"}


class Formation(db.Model):
    """A training for one campaign year (the promotion)."""

    __tablename__ = "formations"
    __table_args__ = (db.UniqueConstraint("access_code"),)

    id = db.Column(db.Integer, primary_key=True)
    cfa_id = db.Column(db.Integer, db.ForeignKey("cfas.id"), nullable=False, index=True)
    etablissement_formation_id = db.Column(db.Integer, db.ForeignKey("etablissements_formation.id"),
                                           index=True)
    intitule = db.Column(db.String(255), nullable=False)
    code_diplome = db.Column(db.String(8))          # CFD, 8 characters
    code_rncp = db.Column(db.String(9))             # RNCP + 3–5 digits
    diplome_vise = db.Column(db.String(2))          # CERFA diploma code (diplomes list)
    niveau = db.Column(db.Integer)                  # 3 to 8 (European framework)
    heures_total = db.Column(db.Integer)
    heures_distance = db.Column(db.Integer, nullable=False, default=0)
    date_debut = db.Column(db.Date)
    date_fin = db.Column(db.Date)
    date_fin_examens = db.Column(db.Date)
    annee_campagne = db.Column(db.Integer, nullable=False, index=True)  # the promotion
    lieu = db.Column(db.String(200))
    conseiller_cfa_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    mission_requise = db.Column(db.Boolean, nullable=False, default=False)
    mode_validation = db.Column(db.String(12), nullable=False, default=VALIDATION_MANUELLE)
    access_code = db.Column(db.String(20))
    access_code_enabled = db.Column(db.Boolean, nullable=False, default=True)
    prix = db.Column(db.Numeric(10, 2))             # NPEC / price of the training, in euros
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    cfa = db.relationship("Cfa")
    etablissement_formation = db.relationship("EtablissementFormation")
    conseiller_cfa = db.relationship("User", foreign_keys=[conseiller_cfa_id])
    responsables = db.relationship("User", secondary=formation_responsables, lazy="selectin")
    gestionnaires = db.relationship("User", secondary=formation_gestionnaires, lazy="selectin")
    # The programme and the calendar are Documents of kind "programme" / "calendrier" attached
    # to the training (Document.formation_id); every version is kept, the latest one is offered.
    documents = db.relationship("Document", foreign_keys="Document.formation_id",
                                order_by="Document.id.desc()", viewonly=True)

    def latest_document(self, kind: str):
        return next((d for d in self.documents if d.kind == kind), None)

    @staticmethod
    def label_for(intitule: str, annee_campagne) -> str:
        return f"{intitule} ({annee_campagne})"

    def __str__(self) -> str:
        return self.label_for(self.intitule, self.annee_campagne)
