"""Employer structures (companies by SIREN), their establishments (SIRET) and members."""
from ..extensions import db
from .people import utcnow
from .search_columns import search_column, trigram_index


class Structure(db.Model):
    """An employer organisation identified by its SIREN, with one référent."""

    __tablename__ = "structures"

    # Who put the structure on Sillon. ORIGINE_CFA: the CFA registered it (its staff in the
    # admin, the demo data, a structure request the CFA accepted). ORIGINE_SAISIE: created on
    # the fly by a dossier's entry (an unknown SIRET typed on L'employeur or in "J'ai trouvé un
    # employeur"). Only the latter may give its first account the référent role at once
    # (portal.accounts.referents.first_account_becomes_referent). A new row defaults to an
    # entry's (the entry doors create structures without saying so); the CFA's doors set
    # ORIGINE_CFA; rows older than the column count as the CFA's (the migration's server
    # default), the safe side.
    ORIGINE_CFA, ORIGINE_SAISIE = "cfa", "saisie"
    ORIGINE_LABELS = {ORIGINE_CFA: "Enregistrée par le CFA",
                      ORIGINE_SAISIE: "Créée par la saisie d'un dossier"}

    id = db.Column(db.Integer, primary_key=True)
    siren = db.Column(db.String(9), nullable=False, unique=True)
    raison_sociale = db.Column(db.String(200), nullable=False)
    # Monaco companies have no SIREN of their own: a placeholder identifier is kept.
    monaco = db.Column(db.Boolean, nullable=False, default=False)
    public = db.Column(db.Boolean, nullable=False, default=False)
    referent_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    origine = db.Column(db.String(10), nullable=False, default=ORIGINE_SAISIE,
                        server_default=ORIGINE_CFA)
    # A member of the CFA's network: may request the training actions reserved to members.
    adherente = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)

    referent = db.relationship("User", foreign_keys=[referent_id])
    etablissements = db.relationship("Etablissement", back_populates="structure",
                                     order_by="Etablissement.siret")
    memberships = db.relationship("StructureMembership", back_populates="structure",
                                  cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"{self.raison_sociale} ({self.siren})"


class Etablissement(db.Model):
    """An establishment of a structure, identified by SIRET: the apprentice's workplace."""

    __tablename__ = "etablissements"
    __table_args__ = (trigram_index("ix_etablissements_recherche"),)

    id = db.Column(db.Integer, primary_key=True)
    structure_id = db.Column(db.Integer, db.ForeignKey("structures.id"), nullable=False, index=True)
    siret = db.Column(db.String(14), nullable=False, unique=True)
    denomination = db.Column(db.String(200), nullable=False)
    adresse_numero = db.Column(db.String(10))
    adresse_voie = db.Column(db.String(200))
    adresse_complement = db.Column(db.String(200))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    telephone = db.Column(db.String(20))
    email = db.Column(db.String(254))
    type_employeur = db.Column(db.String(2))        # CERFA code 11–16, 21–30
    employeur_specifique = db.Column(db.String(1))  # CERFA code 0–4
    naf = db.Column(db.String(6))                   # e.g. 62.01Z
    effectif = db.Column(db.Integer)
    idcc = db.Column(db.String(4))
    opco_code = db.Column(db.String(20))
    public = db.Column(db.Boolean, nullable=False, default=False)
    monaco = db.Column(db.Boolean, nullable=False, default=False)
    # Billing information (required for professionalisation, public and Monaco employers).
    facturation_raison_sociale = db.Column(db.String(200))
    facturation_adresse = db.Column(db.String(300))
    facturation_code_postal = db.Column(db.String(10))
    facturation_commune = db.Column(db.String(100))
    facturation_email = db.Column(db.String(254))
    facturation_siret = db.Column(db.String(14))
    facturation_reference = db.Column(db.String(100))  # bon de commande, engagement juridique
    # A structure requested by an employer and not yet checked by the CFA.
    en_attente = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Name, SIRET and the structure's raison sociale, folded for the dossier list's search.
    recherche = search_column()

    structure = db.relationship("Structure", back_populates="etablissements")

    def __str__(self) -> str:
        return f"{self.denomination} ({self.siret})"


class StructureMembership(db.Model):
    """A person attached to a structure, with the rights the référent granted."""

    __tablename__ = "structure_memberships"
    __table_args__ = (db.UniqueConstraint("structure_id", "user_id"),)

    DEMANDE, APPROUVE, REFUSE = "demande", "approuve", "refuse"
    STATUS_LABELS = {DEMANDE: "Demande en attente", APPROUVE: "Approuvé", REFUSE: "Refusé"}

    id = db.Column(db.Integer, primary_key=True)
    structure_id = db.Column(db.Integer, db.ForeignKey("structures.id", ondelete="CASCADE"),
                             nullable=False, index=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    status = db.Column(db.String(10), nullable=False, default=DEMANDE)
    droit_contact_employeur = db.Column(db.Boolean, nullable=False, default=False)
    droit_beneficiaire = db.Column(db.Boolean, nullable=False, default=True)
    requested_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    decided_at = db.Column(db.DateTime)
    decided_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))

    structure = db.relationship("Structure", back_populates="memberships")
    user = db.relationship("User", foreign_keys=[user_id])
    decided_by = db.relationship("User", foreign_keys=[decided_by_id])


class StructureRequest(db.Model):
    """A structure unknown to Sillon, requested by a person; created by CFA staff."""

    __tablename__ = "structure_requests"

    EN_ATTENTE, CREEE, REFUSEE = "en_attente", "creee", "refusee"

    id = db.Column(db.Integer, primary_key=True)
    siret = db.Column(db.String(14), nullable=False)
    raison_sociale = db.Column(db.String(200))
    naf = db.Column(db.String(6))
    adresse = db.Column(db.String(300))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    requested_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"),
                                nullable=False, index=True)
    status = db.Column(db.String(12), nullable=False, default=EN_ATTENTE)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    handled_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    handled_at = db.Column(db.DateTime)
    motif_refus = db.Column(db.Text)  # sent to the requester, kept for the CFA's queue
    etablissement_id = db.Column(db.Integer, db.ForeignKey("etablissements.id"))

    requested_by = db.relationship("User", foreign_keys=[requested_by_id])
    handled_by = db.relationship("User", foreign_keys=[handled_by_id])
