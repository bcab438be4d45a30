"""OPCO financing of a dossier (SPEC §5, seed 004): the prise en charge, its payment schedule,
the reimbursement requests with their invoices and payments, the delegating organisations, and
the dated reference tables (NPEC, frais annexes ceilings)."""
from ..extensions import db
from .people import utcnow
from .search_columns import search_column, trigram_index

# The OPCO's states of a prise en charge (seed 004's glossary); what each allows lives in
# portal/financing/states.py.
PEC_STATES = {
    "recu": "Reçu",
    "en_instruction": "En instruction",
    "en_attente": "En attente : dossier incomplet",
    "accorde": "En cours : accord de prise en charge",
    "refuse": "Refusé",
    "annule": "Annulé / supprimé",
}
CLAIM_STATES = {
    "brouillon": "Brouillon",
    "deposee": "Déposée",
    "payee": "Payée",
    "rejetee": "Rejetée",
}
INSTALMENT_KINDS = {"avance": "Avance", "mois7": "Mois 7", "mois10": "Mois 10",
                    "solde": "Solde"}
FRAIS_NATURES = {
    "premier_equipement": "Premier équipement pédagogique (par contrat)",
    "hebergement_nuit": "Hébergement (par nuitée)",
    "restauration_repas": "Restauration (par repas)",
}
INVOICE_RECIPIENTS = {"opco": "OPCO", "employeur": "Employeur"}


class NiveauPriseEnCharge(db.Model):
    """The NPEC of a certification (RNCP or diploma code) in a branch (IDCC), dated."""

    __tablename__ = "niveaux_prise_en_charge"
    __table_args__ = (db.UniqueConstraint("code_certification", "idcc", "valable_du"),)

    id = db.Column(db.Integer, primary_key=True)
    code_certification = db.Column(db.String(12), nullable=False, index=True)
    idcc = db.Column(db.String(4), nullable=False)
    npec = db.Column(db.Numeric(10, 2), nullable=False)
    valable_du = db.Column(db.Date, nullable=False)
    valable_au = db.Column(db.Date)
    libelle = db.Column(db.String(300))

    def __str__(self) -> str:
        return f"{self.code_certification} × IDCC {self.idcc} : {self.npec} €"


class PlafondFraisAnnexes(db.Model):
    """The legal ceiling of a frais annexe (L6332-14, D6332-83), dated."""

    __tablename__ = "plafonds_frais_annexes"
    __table_args__ = (db.UniqueConstraint("nature", "valable_du"),)

    id = db.Column(db.Integer, primary_key=True)
    nature = db.Column(db.String(30), nullable=False)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    valable_du = db.Column(db.Date, nullable=False)
    valable_au = db.Column(db.Date)
    base_legale = db.Column(db.String(200))

    def __str__(self) -> str:
        return f"{FRAIS_NATURES.get(self.nature, self.nature)} : {self.montant} €"


class OrganismeDelegant(db.Model):
    """A training organisation that delegated the management of its contracts to the CFA."""

    __tablename__ = "organismes_delegants"

    id = db.Column(db.Integer, primary_key=True)
    nom = db.Column(db.String(200), nullable=False)
    siret = db.Column(db.String(14), nullable=False, unique=True)
    uai = db.Column(db.String(8))
    numero_declaration_activite = db.Column(db.String(20))
    adresse = db.Column(db.String(300))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    contact_civilite = db.Column(db.String(4))
    contact_prenom = db.Column(db.String(100))
    contact_nom = db.Column(db.String(100))
    contact_fonction = db.Column(db.String(100))
    contact_telephone = db.Column(db.String(20))
    contact_email = db.Column(db.String(254))
    actif = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    def __str__(self) -> str:
        return self.nom


class PriseEnCharge(db.Model):
    """The OPCO's financing of one dossier: its state, amounts and schedule."""

    __tablename__ = "prises_en_charge"
    __table_args__ = (db.Index("ix_pec_state_opco", "state", "opco_code"),
                      trigram_index("ix_prises_en_charge_recherche"))

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    opco_code = db.Column(db.String(20), db.ForeignKey("opcos.code"), index=True)
    numero_opco = db.Column(db.String(50), index=True)
    recherche = search_column()  # the OPCO number, folded for the dossier list's search
    date_depot = db.Column(db.Date, nullable=False)
    # The 20-day decision clock starts from a complete deposit (restarted when the OPCO's
    # "incomplete" is answered).
    date_complet = db.Column(db.Date, nullable=False)
    state = db.Column(db.String(16), nullable=False, default="recu", index=True)
    state_date = db.Column(db.Date, nullable=False)
    motif = db.Column(db.Text)  # the OPCO's reason (incomplete, refused, cancelled)
    date_decision = db.Column(db.Date)
    # Amounts (the schedule's inputs as applied, and what they give).
    date_conclusion = db.Column(db.Date)
    date_debut = db.Column(db.Date, nullable=False)
    date_fin = db.Column(db.Date, nullable=False)  # the contract's last day (rupture included)
    npec_id = db.Column(db.Integer, db.ForeignKey("niveaux_prise_en_charge.id",
                                                  ondelete="SET NULL"))
    npec = db.Column(db.Numeric(10, 2))
    part_distance = db.Column(db.Numeric(5, 4), nullable=False, default=0)
    montant_opco = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    prix_formation = db.Column(db.Numeric(10, 2))
    reste_a_charge = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    participation_employeur = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    frais_premier_equipement = db.Column(db.Numeric(10, 2))
    nuits_hebergement = db.Column(db.Integer)
    repas_restauration = db.Column(db.Integer)
    montant_frais_annexes = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    organisme_delegant_id = db.Column(db.Integer, db.ForeignKey("organismes_delegants.id"),
                                      index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    dossier = db.relationship("Dossier", backref=db.backref(
        "prise_en_charge", uselist=False, cascade="all, delete-orphan", passive_deletes=True))
    opco = db.relationship("Opco")
    npec_reference = db.relationship("NiveauPriseEnCharge")
    organisme_delegant = db.relationship("OrganismeDelegant")
    echeances = db.relationship("Echeance", back_populates="prise_en_charge",
                                cascade="all, delete-orphan", order_by="Echeance.rang")

    @property
    def state_label(self) -> str:
        return PEC_STATES.get(self.state, self.state)

    def __str__(self) -> str:
        return f"Prise en charge {self.numero_opco or ''} (dossier n° {self.dossier_id})"


class Echeance(db.Model):
    """One instalment of the payment schedule (portal.rules.financing.payment_schedule)."""

    __tablename__ = "echeances"
    __table_args__ = (db.UniqueConstraint("prise_en_charge_id", "annee_contrat", "nature"),
                      db.Index("ix_echeances_date_prevue", "date_prevue"))

    id = db.Column(db.Integer, primary_key=True)
    prise_en_charge_id = db.Column(db.Integer, db.ForeignKey("prises_en_charge.id",
                                                             ondelete="CASCADE"), nullable=False)
    rang = db.Column(db.Integer, nullable=False)
    annee_contrat = db.Column(db.Integer, nullable=False)
    nature = db.Column(db.String(8), nullable=False)
    pourcentage = db.Column(db.Numeric(5, 2), nullable=False)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    date_prevue = db.Column(db.Date, nullable=False)
    # After a rupture, an instalment the new schedule no longer has, kept for its claim.
    hors_echeancier = db.Column(db.Boolean, nullable=False, default=False)

    prise_en_charge = db.relationship("PriseEnCharge", back_populates="echeances")
    demandes = db.relationship("DemandeRemboursement", back_populates="echeance",
                               cascade="all, delete-orphan", passive_deletes=True,
                               order_by="DemandeRemboursement.id")

    @property
    def label(self) -> str:
        return (f"Année {self.annee_contrat} – {INSTALMENT_KINDS.get(self.nature, self.nature)}"
                f" ({self.pourcentage.normalize():f}\u00a0%)")

    def active_claim(self):
        """The claim that is not rejected, if any (at most one: uq_claims_active)."""
        for claim in self.demandes:
            if claim.state != "rejetee":
                return claim
        return None


class CompteurFacture(db.Model):
    """The last invoice number given in a year: taken with a row lock in the transaction that
    stores the invoice, so numbers follow each other without gap or duplicate."""

    __tablename__ = "compteurs_factures"

    annee = db.Column(db.Integer, primary_key=True, autoincrement=False)
    dernier = db.Column(db.Integer, nullable=False, default=0)


class Facture(db.Model):
    """An invoice of the CFA: to the OPCO (a reimbursement request) or to the employer."""

    __tablename__ = "factures"
    __table_args__ = (
        db.UniqueConstraint("annee", "sequence"),
        db.Index("uq_factures_employeur", "prise_en_charge_id", unique=True,
                 sqlite_where=db.text("destinataire = 'employeur'"),
                 postgresql_where=db.text("destinataire = 'employeur'")),
    )

    id = db.Column(db.Integer, primary_key=True)
    numero = db.Column(db.String(20), nullable=False, unique=True)
    annee = db.Column(db.Integer, nullable=False)
    sequence = db.Column(db.Integer, nullable=False)
    destinataire = db.Column(db.String(10), nullable=False)
    prise_en_charge_id = db.Column(db.Integer, db.ForeignKey("prises_en_charge.id",
                                                             ondelete="CASCADE"),
                                   nullable=False, index=True)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    date_emission = db.Column(db.Date, nullable=False)
    date_echeance = db.Column(db.Date, nullable=False)
    document_id = db.Column(db.Integer, db.ForeignKey("documents.id", ondelete="SET NULL"))
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    prise_en_charge = db.relationship("PriseEnCharge")
    document = db.relationship("Document")


class DemandeRemboursement(db.Model):
    """A reimbursement request for one instalment: invoice, certificate, deposit, payments."""

    __tablename__ = "demandes_remboursement"
    __table_args__ = (
        db.Index("uq_claims_active", "echeance_id", unique=True,
                 sqlite_where=db.text("state != 'rejetee'"),
                 postgresql_where=db.text("state != 'rejetee'")),
        db.Index("ix_claims_state_deposee", "state", "deposee_le"),
    )

    id = db.Column(db.Integer, primary_key=True)
    prise_en_charge_id = db.Column(db.Integer, db.ForeignKey("prises_en_charge.id",
                                                             ondelete="CASCADE"), nullable=False,
                                   index=True)
    echeance_id = db.Column(db.Integer, db.ForeignKey("echeances.id", ondelete="CASCADE"),
                            nullable=False)
    montant = db.Column(db.Numeric(10, 2), nullable=False)  # instalment + frais annexes
    montant_frais = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    state = db.Column(db.String(10), nullable=False, default="brouillon")
    facture_id = db.Column(db.Integer, db.ForeignKey("factures.id", ondelete="SET NULL"))
    certificat_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                 ondelete="SET NULL"))
    recepisse_document_id = db.Column(db.Integer, db.ForeignKey("documents.id",
                                                                ondelete="SET NULL"))
    deposee_le = db.Column(db.Date)
    deposee_par_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    montant_paye = db.Column(db.Numeric(10, 2), nullable=False, default=0)
    payee_le = db.Column(db.Date)
    rejetee_le = db.Column(db.Date)
    motif_rejet = db.Column(db.Text)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    prise_en_charge = db.relationship("PriseEnCharge")
    echeance = db.relationship("Echeance", back_populates="demandes")
    facture = db.relationship("Facture")
    certificat = db.relationship("Document", foreign_keys=[certificat_document_id])
    recepisse = db.relationship("Document", foreign_keys=[recepisse_document_id])
    deposee_par = db.relationship("User", foreign_keys=[deposee_par_id])
    paiements = db.relationship("Paiement", back_populates="demande",
                                cascade="all, delete-orphan", order_by="Paiement.date")

    @property
    def state_label(self) -> str:
        if self.state == "deposee" and self.montant_paye:
            return "Partiellement payée"
        return CLAIM_STATES.get(self.state, self.state)


class Paiement(db.Model):
    """A payment received from the OPCO for a claim (partial payments allowed)."""

    __tablename__ = "paiements"

    id = db.Column(db.Integer, primary_key=True)
    demande_id = db.Column(db.Integer, db.ForeignKey("demandes_remboursement.id",
                                                     ondelete="CASCADE"), nullable=False,
                           index=True)
    date = db.Column(db.Date, nullable=False, index=True)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    reference = db.Column(db.String(100))
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    demande = db.relationship("DemandeRemboursement", back_populates="paiements")
