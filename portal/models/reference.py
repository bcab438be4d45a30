"""Reference data: CERFA code lists, SMIC history, remuneration grids, IDCC → OPCO, aids.

Dated figures are rows with validity dates so that a cfa_admin can add next year's values."""
from ..extensions import db


class CodeReference(db.Model):
    """One code of a CERFA code list (type_contrat, type_derogation, diplome, …)."""

    __tablename__ = "codes_reference"
    __table_args__ = (db.UniqueConstraint("liste", "code"),)

    id = db.Column(db.Integer, primary_key=True)
    liste = db.Column(db.String(40), nullable=False)
    code = db.Column(db.String(10), nullable=False)
    libelle = db.Column(db.String(400), nullable=False)
    groupe = db.Column(db.String(100))          # e.g. diploma group, sector (privé/public)
    cerfa_versions = db.Column(db.String(40))   # CERFA versions where the code exists ("12 14")
    actif = db.Column(db.Boolean, nullable=False, default=True)

    def __str__(self) -> str:
        return f"{self.code} – {self.libelle}"


class Smic(db.Model):
    __tablename__ = "smic"

    id = db.Column(db.Integer, primary_key=True)
    en_vigueur_le = db.Column(db.Date, nullable=False, unique=True)
    horaire = db.Column(db.Numeric(6, 2), nullable=False)
    mensuel = db.Column(db.Numeric(8, 2), nullable=False)  # 35 h = 151.67 h a month
    mayotte_horaire = db.Column(db.Numeric(6, 2))
    mayotte_mensuel = db.Column(db.Numeric(8, 2))
    base_legale = db.Column(db.String(100))

    def __str__(self) -> str:
        return f"SMIC au {self.en_vigueur_le:%d/%m/%Y} : {self.mensuel} €"


class GrilleRemuneration(db.Model):
    """Minimum pay in percent of the SMIC by dispositif, age band and year / qualification."""

    __tablename__ = "grilles_remuneration"
    __table_args__ = (db.UniqueConstraint("dispositif", "tranche_age", "colonne", "valable_du"),)

    id = db.Column(db.Integer, primary_key=True)
    dispositif = db.Column(db.String(24), nullable=False)
    tranche_age = db.Column(db.String(20), nullable=False)  # moins_de_18, 18_20, 21_25, 26_et_plus…
    colonne = db.Column(db.String(20), nullable=False)      # annee_1..annee_3, base, qualifie_niveau_4
    pourcentage = db.Column(db.Numeric(5, 2), nullable=False)
    valable_du = db.Column(db.Date, nullable=False)
    valable_au = db.Column(db.Date)


class Opco(db.Model):
    __tablename__ = "opcos"

    id = db.Column(db.Integer, primary_key=True)
    code = db.Column(db.String(20), nullable=False, unique=True)
    nom = db.Column(db.String(100), nullable=False)
    champ = db.Column(db.String(300))
    # Where the CFA's invoices to this OPCO are addressed (editable by the cfa_admin).
    adresse = db.Column(db.String(300))
    code_postal = db.Column(db.String(5))
    commune = db.Column(db.String(100))
    email = db.Column(db.String(254))

    def __str__(self) -> str:
        return self.nom


class ConventionCollective(db.Model):
    """IDCC → label, branch and OPCO."""

    __tablename__ = "conventions_collectives"

    id = db.Column(db.Integer, primary_key=True)
    idcc = db.Column(db.String(4), nullable=False, unique=True)
    libelle = db.Column(db.String(300), nullable=False)
    branche = db.Column(db.String(200))
    opco_code = db.Column(db.String(20), db.ForeignKey("opcos.code"))

    opco = db.relationship("Opco")

    def __str__(self) -> str:
        return f"{self.idcc} – {self.libelle}"


class AideEmployeur(db.Model):
    """Employer aid for an apprenticeship contract, by date of conclusion (RULES.md §5)."""

    __tablename__ = "aides_employeur"

    id = db.Column(db.Integer, primary_key=True)
    conclu_du = db.Column(db.Date, nullable=False)
    conclu_au = db.Column(db.Date)
    effectif_min = db.Column(db.Integer, nullable=False, default=0)
    effectif_max = db.Column(db.Integer)            # exclusive; None = no upper bound
    niveau_min = db.Column(db.Integer, nullable=False, default=3)
    niveau_max = db.Column(db.Integer, nullable=False, default=8)
    rqth = db.Column(db.Boolean, nullable=False, default=False)
    montant = db.Column(db.Numeric(10, 2), nullable=False)
    libelle = db.Column(db.String(200))
