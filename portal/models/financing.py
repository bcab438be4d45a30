"""OPCO financing of a dossier (SPEC §5, seed 004)."""
from ..extensions import db
from .people import utcnow

PEC_STATES = {
    "recu": "Reçu",
    "en_instruction": "En instruction",
    "en_attente": "En attente (incomplet)",
    "en_cours": "En cours (accord de prise en charge)",
    "refuse": "Refusé",
    "annule": "Annulé",
}
REMBOURSEMENT_STATES = {
    "brouillon": "Brouillon",
    "deposee": "Déposée",
    "payee": "Payée",
    "rejetee": "Rejetée",
}


class OrganismeDelegant(db.Model):
    """A training organisation that delegated the management of its contracts to the CFA."""

    __tablename__ = "organismes_delegants"

    id = db.Column(db.Integer, primary_key=True)
    nom = db.Column(db.String(200), nullable=False)
    siret = db.Column(db.String(14), nullable=False, unique=True)
    uai = db.Column(db.String(8))
    numero_declaration_activite = db.Column(db.String(20))

    def __str__(self) -> str:
        return self.nom


class PriseEnCharge(db.Model):
    __tablename__ = "prises_en_charge"

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    opco_code = db.Column(db.String(20), db.ForeignKey("opcos.code"))
    numero_opco = db.Column(db.String(50), index=True)
    state = db.Column(db.String(16), nullable=False, default="recu", index=True)
    montant_npec = db.Column(db.Numeric(10, 2))
    frais_premier_equipement = db.Column(db.Numeric(10, 2))  # ≤ 500 €
    frais_hebergement = db.Column(db.Numeric(10, 2))
    frais_restauration = db.Column(db.Numeric(10, 2))
    part_employeur = db.Column(db.Numeric(10, 2))            # budget above the OPCO's
    participation_employeur = db.Column(db.Numeric(10, 2))   # 750 € for levels 6–7
    date_depot = db.Column(db.Date)
    date_decision = db.Column(db.Date)
    organisme_delegant_id = db.Column(db.Integer, db.ForeignKey("organismes_delegants.id"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    dossier = db.relationship("Dossier", backref=db.backref("prise_en_charge", uselist=False))
    opco = db.relationship("Opco")
    organisme_delegant = db.relationship("OrganismeDelegant")
    echeances = db.relationship("Echeance", back_populates="prise_en_charge",
                                cascade="all, delete-orphan", order_by="Echeance.rang")


class Echeance(db.Model):
    """One instalment of the OPCO payment schedule (e.g. 40 % advance, 30 % at month 7…)."""

    __tablename__ = "echeances"

    id = db.Column(db.Integer, primary_key=True)
    prise_en_charge_id = db.Column(db.Integer, db.ForeignKey("prises_en_charge.id",
                                                             ondelete="CASCADE"), nullable=False,
                                   index=True)
    rang = db.Column(db.Integer, nullable=False)
    annee_contrat = db.Column(db.Integer, nullable=False, default=1)
    libelle = db.Column(db.String(100), nullable=False)
    pourcentage = db.Column(db.Numeric(5, 2), nullable=False)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    date_prevue = db.Column(db.Date)
    payee_le = db.Column(db.Date)

    prise_en_charge = db.relationship("PriseEnCharge", back_populates="echeances")


class DemandeRemboursement(db.Model):
    __tablename__ = "demandes_remboursement"

    id = db.Column(db.Integer, primary_key=True)
    prise_en_charge_id = db.Column(db.Integer, db.ForeignKey("prises_en_charge.id",
                                                             ondelete="CASCADE"), nullable=False,
                                   index=True)
    echeance_id = db.Column(db.Integer, db.ForeignKey("echeances.id", ondelete="SET NULL"))
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    state = db.Column(db.String(10), nullable=False, default="brouillon")
    facture_document_id = db.Column(db.Integer, db.ForeignKey("documents.id", ondelete="SET NULL"))
    certificat_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                 ondelete="SET NULL"))
    recepisse_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                ondelete="SET NULL"))
    deposee_le = db.Column(db.DateTime)
    payee_le = db.Column(db.Date)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    prise_en_charge = db.relationship("PriseEnCharge")
    echeance = db.relationship("Echeance")
