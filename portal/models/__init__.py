"""All models, importable from one place (and registered on the metadata for Alembic)."""
from .people import (ALTERNANT, CFA_ADMIN, CFA_CONSEILLER, CFA_ROLES, EMPLOYEUR,  # noqa: F401
                     FORMATION_GESTIONNAIRE, FORMATION_RESPONSABLE, FORMATION_ROLES, ROLE_LABELS,
                     ROLES, AuthToken, ThrottleEvent, User, UserRole, utcnow)
from .structures import (Etablissement, Structure, StructureMembership,  # noqa: F401
                         StructureRequest)
from .trainings import (Cfa, EtablissementFormation, Formation,  # noqa: F401
                        formation_gestionnaires, formation_responsables)
from .dossiers import (Apprenti, Contrat, Dossier, DossierHistory,  # noqa: F401
                       MaitreApprentissage, Mission, PeriodeRemuneration, RepresentantLegal)
from .documents import Document, OutboxEmail  # noqa: F401
from .reference import (AideEmployeur, CodeReference, ConventionCollective,  # noqa: F401
                        GrilleRemuneration, Opco, Smic)
from .financing import (CompteurFacture, DemandeRemboursement, Echeance,  # noqa: F401
                        Facture, NiveauPriseEnCharge, OrganismeDelegant, Paiement,
                        PlafondFraisAnnexes, PriseEnCharge)
from .enrolments import (ActionFormation, Inscription, InscriptionHistory,  # noqa: F401
                         Presence, RegleInscription, SessionFormation)
from .imports import ImportBatch  # noqa: F401
from .signatures import SignatureEvent, SignatureRequest, Signer  # noqa: F401
from .tallies import DossierTally  # noqa: F401
