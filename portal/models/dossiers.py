"""The apprenticeship / professionalisation dossier and its parts (SPEC §2)."""
from ..extensions import db
from .people import utcnow
from .search_columns import search_column, trigram_index

APPRENTISSAGE = "apprentissage"
PROFESSIONNALISATION = "professionnalisation"
DISPOSITIFS = {APPRENTISSAGE: "Apprentissage", PROFESSIONNALISATION: "Contrat de professionnalisation"}
SAISIE_SIMPLE = "simple"
SAISIE_COMPLETE = "complete"
NIVEAUX_SAISIE = {SAISIE_SIMPLE: "Simple", SAISIE_COMPLETE: "Complète"}
# The state a new dossier starts in; what each state means is portal.dossiers.workflow's table.
INITIAL_STATE = "initialise"
# A dossier is "open" until a final state of that table (cancelled, broken off): the unique
# index below needs them as literals (tests check they are the table's FINAL_STATES).
OPEN_DOSSIER = "state NOT IN ('annule', 'rompu')"


class Dossier(db.Model):
    __tablename__ = "dossiers"
    __table_args__ = (
        db.Index("ix_dossiers_formation_state", "formation_id", "state"),
        db.Index("ix_dossiers_created_id", "created_at", "id"),
        # The employer's scope (portal.policy.employer_dossier_select: the dossiers naming
        # them as contact UNION those of their structures' establishments) is two searches of
        # these indexes, covering the id, training and CFA advisor that the list's count and
        # filter menus read (no read of the table; migration 0011, issue 16 §1).
        # On PostgreSQL they also INCLUDE the id (SQLite's indexes hold the rowid already):
        # migration 0014.
        db.Index("ix_dossiers_etablissement_contact", "etablissement_id", "employer_contact_id",
                 "state", "formation_id", "cfa_conseiller_id", postgresql_include=["id"]),
        db.Index("ix_dossiers_employer_contact_id", "employer_contact_id", "formation_id",
                 "cfa_conseiller_id", postgresql_include=["id"]),
        # The list's advisor menu of a training's staff (portal/dossiers/list_menus.py reads the
        # advisors named on the dossiers of their trainings): covering, no read of the table
        # (migration 0010, issue 16 §1).
        db.Index("ix_dossiers_formation_conseiller", "formation_id", "cfa_conseiller_id"),
        # Most dossiers get their apprentice account late (or never, when imported): a partial
        # index keeps the planner's estimate of "apprentice_user_id = ?" at one row.
        db.Index("ix_dossiers_apprentice_user_id", "apprentice_user_id",
                 sqlite_where=db.text("apprentice_user_id IS NOT NULL"),
                 postgresql_where=db.text("apprentice_user_id IS NOT NULL")),
        # The apprentice's e-mail is looked up without case (the import's known dossiers, a
        # creation's duplicate check): migration 0013.
        db.Index("ix_dossiers_apprenti_email_lower", db.text("lower(apprenti_email)")),
        # One open dossier per apprentice and training (a Formation is one campaign): the
        # arbiter between two creations at once, whatever the door. A new contract after a
        # rupture (or a cancelled dossier) is a new dossier.
        db.Index("uq_dossiers_open_apprentice", "formation_id", db.text("lower(apprenti_email)"),
                 unique=True, sqlite_where=db.text(OPEN_DOSSIER),
                 postgresql_where=db.text(OPEN_DOSSIER)),
        # The list's search (portal.dossiers.listing.search_clause): a trigram index serves
        # its LIKE '%term%' on PostgreSQL.
        trigram_index("ix_dossiers_recherche"),
    )

    id = db.Column(db.Integer, primary_key=True)
    state = db.Column(db.String(24), nullable=False, default=INITIAL_STATE, index=True)
    dispositif = db.Column(db.String(24), nullable=False, default=APPRENTISSAGE)
    niveau_saisie = db.Column(db.String(10), nullable=False, default=SAISIE_COMPLETE)
    formation_id = db.Column(db.Integer, db.ForeignKey("formations.id"), nullable=False)
    apprentice_user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    etablissement_id = db.Column(db.Integer, db.ForeignKey("etablissements.id"))
    employer_contact_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    cfa_conseiller_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"),
                                  index=True)
    # Données de base (what the formation types to create a dossier).
    apprenti_nom = db.Column(db.String(100))
    apprenti_prenom = db.Column(db.String(100))
    apprenti_date_naissance = db.Column(db.Date)
    apprenti_email = db.Column(db.String(254), nullable=False)
    employeur_siret = db.Column(db.String(14))
    employeur_contact_email = db.Column(db.String(254))
    date_debut_contrat = db.Column(db.Date)  # date de début d'exécution du contrat
    date_fin_contrat = db.Column(db.Date)
    # The employer's signatory of the convention ("le responsable").
    responsable_nom = db.Column(db.String(100))
    responsable_prenom = db.Column(db.String(100))
    responsable_fonction = db.Column(db.String(100))
    responsable_email = db.Column(db.String(254))
    # Per-actor validation timestamps.
    alternant_validation_demandee_at = db.Column(db.DateTime)
    employeur_validation_demandee_at = db.Column(db.DateTime)
    formation_validee_at = db.Column(db.DateTime)
    formation_validee_par_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    economie_validee_at = db.Column(db.DateTime)
    economie_validee_par_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    documents_valides_at = db.Column(db.DateTime)
    documents_valides_par_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    envoye_opco_at = db.Column(db.DateTime)
    # Side exits.
    correction_commentaire = db.Column(db.Text)
    annulation_motif = db.Column(db.Text)
    rupture_date = db.Column(db.Date)
    rupture_cause = db.Column(db.String(200))
    # Audited unlock by a cfa_admin.
    deverrouille_at = db.Column(db.DateTime)
    deverrouille_motif = db.Column(db.Text)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    # What the dossier shows and prints about its establishment, employer and training, frozen
    # from validation_demandee on (portal.dossiers.snapshot); None while the entry is open.
    snapshot = db.Column(db.JSON(none_as_null=True))
    snapshot_at = db.Column(db.DateTime)
    # A known establishment of another structure named for this dossier: an access request to
    # that structure is waiting; the dossier points at it once a person of the dossier's
    # employer belongs to the structure (portal.dossiers.establishments).
    etablissement_demande_id = db.Column(db.Integer, db.ForeignKey("etablissements.id"),
                                         index=True)
    # The apprentice's names and e-mail and the SIRET, folded for the search (issue 16 §2,
    # filled by portal/dossiers/search_columns.py).
    recherche = search_column()
    # Optimistic locking against lost updates.
    version = db.Column(db.Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    formation = db.relationship("Formation", lazy="joined", innerjoin=True)
    apprentice_user = db.relationship("User", foreign_keys=[apprentice_user_id])
    etablissement = db.relationship("Etablissement", foreign_keys=[etablissement_id])
    etablissement_demande = db.relationship("Etablissement",
                                            foreign_keys=[etablissement_demande_id])
    employer_contact = db.relationship("User", foreign_keys=[employer_contact_id])
    cfa_conseiller = db.relationship("User", foreign_keys=[cfa_conseiller_id])
    created_by = db.relationship("User", foreign_keys=[created_by_id])
    apprenti = db.relationship("Apprenti", uselist=False, back_populates="dossier",
                               cascade="all, delete-orphan")
    representant_legal = db.relationship("RepresentantLegal", uselist=False,
                                         back_populates="dossier", cascade="all, delete-orphan")
    maitres = db.relationship("MaitreApprentissage", back_populates="dossier",
                              cascade="all, delete-orphan", order_by="MaitreApprentissage.rang")
    contrat = db.relationship("Contrat", uselist=False, back_populates="dossier",
                              cascade="all, delete-orphan")
    remunerations = db.relationship("PeriodeRemuneration", back_populates="dossier",
                                    cascade="all, delete-orphan",
                                    order_by="PeriodeRemuneration.rang")
    mission = db.relationship("Mission", uselist=False, back_populates="dossier",
                              cascade="all, delete-orphan")
    history = db.relationship("DossierHistory", back_populates="dossier",
                              cascade="all, delete-orphan",
                              order_by="DossierHistory.at.desc()")

    @property
    def apprenti_nom_complet(self) -> str:
        parts = [(self.apprenti_nom or "").upper(), self.apprenti_prenom or ""]
        return " ".join(p for p in parts if p) or self.apprenti_email

    def __str__(self) -> str:
        return f"Dossier n° {self.id} – {self.apprenti_nom_complet}"


class Apprenti(db.Model):
    """L'alternant tab: identity and parcours (CERFA FA13 « L'apprenti »)."""

    __tablename__ = "apprentis"

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    nom_naissance = db.Column(db.String(100))
    nom_usage = db.Column(db.String(100))
    prenom = db.Column(db.String(100))
    sexe = db.Column(db.String(1))  # M / F
    date_naissance = db.Column(db.Date)
    commune_naissance = db.Column(db.String(100))
    departement_naissance = db.Column(db.String(3))  # 01–95, 2A, 2B, 971–976, 99 abroad
    nationalite = db.Column(db.String(1))
    nationalite_2 = db.Column(db.String(1))
    nationalite_3 = db.Column(db.String(1))
    nir = db.Column(db.String(15))
    ine = db.Column(db.String(11))
    adresse_numero = db.Column(db.String(10))
    adresse_voie = db.Column(db.String(200))
    adresse_complement = db.Column(db.String(200))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    telephone = db.Column(db.String(20))
    email = db.Column(db.String(254))
    regime_social = db.Column(db.String(1))
    rqth = db.Column(db.Boolean, nullable=False, default=False)
    sportif_haut_niveau = db.Column(db.Boolean, nullable=False, default=False)
    projet_creation_entreprise = db.Column(db.Boolean, nullable=False, default=False)
    emancipe = db.Column(db.Boolean, nullable=False, default=False)
    college_acheve = db.Column(db.Boolean, nullable=False, default=False)
    situation_avant_contrat = db.Column(db.String(2))
    diplome_plus_eleve = db.Column(db.String(2))
    dernier_diplome_prepare = db.Column(db.String(2))
    derniere_classe = db.Column(db.String(2))
    intitule_dernier_diplome = db.Column(db.String(255))
    # The apprentice holds a bac pro / level-4+ professional diploma (professionalisation pay).
    qualifie_niveau_4 = db.Column(db.Boolean, nullable=False, default=False)

    dossier = db.relationship("Dossier", back_populates="apprenti")


class RepresentantLegal(db.Model):
    __tablename__ = "representants_legaux"

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    nom = db.Column(db.String(100))
    prenom = db.Column(db.String(100))
    lien = db.Column(db.String(50))  # père, mère, tuteur…
    adresse_numero = db.Column(db.String(10))
    adresse_voie = db.Column(db.String(200))
    adresse_complement = db.Column(db.String(200))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    email = db.Column(db.String(254))
    telephone = db.Column(db.String(20))

    dossier = db.relationship("Dossier", back_populates="representant_legal")


class MaitreApprentissage(db.Model):
    __tablename__ = "maitres_apprentissage"
    __table_args__ = (db.UniqueConstraint("dossier_id", "rang"),)

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False)
    rang = db.Column(db.Integer, nullable=False, default=1)  # 1 or 2
    nom_naissance = db.Column(db.String(100))
    nom_usage = db.Column(db.String(100))
    prenom = db.Column(db.String(100))
    date_naissance = db.Column(db.Date)
    nir = db.Column(db.String(15))
    email = db.Column(db.String(254))
    telephone = db.Column(db.String(20))
    emploi_occupe = db.Column(db.String(200))
    diplome = db.Column(db.String(255))
    niveau_diplome = db.Column(db.String(1))
    annees_experience = db.Column(db.Integer)
    eligibilite_attestee = db.Column(db.Boolean, nullable=False, default=False)

    dossier = db.relationship("Dossier", back_populates="maitres")


class Contrat(db.Model):
    """Le contrat tab (complete entry level only)."""

    __tablename__ = "contrats"

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    type_contrat = db.Column(db.String(2))
    mode_contractuel = db.Column(db.String(1))
    type_derogation = db.Column(db.String(2))
    numero_contrat_precedent = db.Column(db.String(15))
    date_conclusion = db.Column(db.Date)
    date_debut_formation_pratique = db.Column(db.Date)
    date_debut_formation_cfa = db.Column(db.Date)
    date_effet_avenant = db.Column(db.Date)
    duree_hebdo_heures = db.Column(db.Integer)
    duree_hebdo_minutes = db.Column(db.Integer)
    travail_risque = db.Column(db.Boolean, nullable=False, default=False)
    salaire_minimum_conventionnel = db.Column(db.Numeric(10, 2))
    avantage_nourriture = db.Column(db.Numeric(10, 2))  # € per meal
    avantage_logement = db.Column(db.Numeric(10, 2))    # € per month
    avantage_autre = db.Column(db.String(200))
    caisse_retraite_complementaire = db.Column(db.String(200))
    numero_contrat = db.Column(db.String(15))  # number given by the OPCO / DREETS
    # The CERFA's last boxes: « Fait à » (the date is the date de conclusion), the employer's
    # attestation of the supporting documents, and a public employer's adhesion of the
    # apprentice to the specific unemployment-insurance scheme (None: not said).
    lieu_signature = db.Column(db.String(100))
    attestation_pieces = db.Column(db.Boolean, nullable=False, default=False)
    adhesion_assurance_chomage = db.Column(db.Boolean)

    dossier = db.relationship("Dossier", back_populates="contrat")


class PeriodeRemuneration(db.Model):
    """One row of the CERFA's remuneration grid (year × before/after birthday)."""

    __tablename__ = "periodes_remuneration"
    __table_args__ = (db.UniqueConstraint("dossier_id", "rang"),)

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False)
    rang = db.Column(db.Integer, nullable=False)
    annee_contrat = db.Column(db.Integer, nullable=False)
    date_debut = db.Column(db.Date, nullable=False)
    date_fin = db.Column(db.Date, nullable=False)
    pourcentage = db.Column(db.Numeric(5, 2), nullable=False)
    base = db.Column(db.String(4), nullable=False, default="SMIC")  # SMIC or SMC
    montant_mensuel = db.Column(db.Numeric(10, 2), nullable=False)
    pourcentage_minimum = db.Column(db.Numeric(5, 2), nullable=False)
    montant_minimum = db.Column(db.Numeric(10, 2), nullable=False)

    dossier = db.relationship("Dossier", back_populates="remunerations")


class Mission(db.Model):
    __tablename__ = "missions"

    BROUILLON, SOUMISE, VALIDEE, A_CORRIGER = "brouillon", "soumise", "validee", "a_corriger"
    STATUS_LABELS = {BROUILLON: "Brouillon", SOUMISE: "Soumise au responsable",
                     VALIDEE: "Validée", A_CORRIGER: "À corriger"}

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    description = db.Column(db.Text)
    status = db.Column(db.String(12), nullable=False, default=BROUILLON)
    submitted_at = db.Column(db.DateTime)
    submitted_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    validated_at = db.Column(db.DateTime)
    validated_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    commentaire = db.Column(db.Text)

    dossier = db.relationship("Dossier", back_populates="mission")


class DossierHistory(db.Model):
    """Audit trail: every transition and every field change (who, when, old → new)."""

    __tablename__ = "dossier_history"
    __table_args__ = (db.Index("ix_dossier_history_dossier_at", "dossier_id", "at"),)

    id = db.Column(db.Integer, primary_key=True)
    dossier_id = db.Column(db.Integer, db.ForeignKey("dossiers.id", ondelete="CASCADE"),
                           nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    kind = db.Column(db.String(12), nullable=False)  # transition, field, document, unlock
    from_state = db.Column(db.String(24))
    to_state = db.Column(db.String(24))
    field = db.Column(db.String(100))
    old_value = db.Column(db.Text)
    new_value = db.Column(db.Text)
    comment = db.Column(db.Text)

    dossier = db.relationship("Dossier", back_populates="history")
    user = db.relationship("User")
