"""Assemble Flask-Admin: the landing page and every model view, in French."""
from flask import redirect, request, url_for
from flask_admin import Admin, AdminIndexView, expose
from flask_admin.theme import Bootstrap4Theme
from flask_login import current_user

from portal.models import (ActionFormation, AideEmployeur, Cfa, CodeReference,
                           ConventionCollective, Dossier, Etablissement, Formation,
                           GrilleRemuneration, Inscription, NiveauPriseEnCharge, Opco,
                           OrganismeDelegant, PlafondFraisAnnexes, PriseEnCharge,
                           SessionFormation, Smic, Structure, User)

from .dossiers import DossierView
from .finance_dashboard import FinanceDashboardView
from . import page_chrome
from .financing import (CfaContactView, NpecView, OrganismeDelegantView, PlafondView,
                        PriseEnChargeView)
from .people import UserView
from .reference import (AideView, CodeReferenceView, ConventionView, GrilleView, OpcoView,
                        SmicView)
from .structure_access import MyStructureView, StructureRequestsView
from .structure_access import bp as structure_signup_bp
from .structures import EtablissementView, StructureView
from .training_actions import ActionFormationView, InscriptionView, SessionFormationView
from .trainings import FormationView


class HomeView(AdminIndexView):
    """Landing page: what is in the person's scope, by state, each count linking to the list."""

    def is_accessible(self):
        return current_user.is_authenticated

    def inaccessible_callback(self, name, **kwargs):
        return redirect(url_for("auth.login", next=request.full_path))

    @expose("/")
    def index(self):
        from portal.dashboards import dashboard
        from portal.training_actions.overview import dashboard as training_dashboard
        return self.render("admin/sillon_index.html", roles=sorted(current_user.role_codes),
                           training=training_dashboard(current_user), **dashboard(current_user))


def init_admin(app):
    admin = Admin(app, name="Sillon", index_view=HomeView(name="Accueil", url="/admin"),
                  theme=Bootstrap4Theme(base_template="admin/sillon_base.html", swatch="default"))
    page_chrome.install(app)
    admin.add_view(DossierView(Dossier, name="Dossiers", endpoint="dossier"))
    admin.add_view(FormationView(Formation, name="Formations", endpoint="formation"))
    admin.add_view(StructureView(Structure, name="Structures", endpoint="structure",
                                 category="Employeurs"))
    admin.add_view(EtablissementView(Etablissement, name="Établissements",
                                     endpoint="etablissement", category="Employeurs"))
    admin.add_view(StructureRequestsView(name="Demandes de structures",
                                         endpoint="structure_requests",
                                         url="/admin/demandes-structures",
                                         category="Employeurs"))
    admin.add_view(MyStructureView(name="Ma structure", endpoint="my_structure",
                                   url="/admin/ma-structure"))
    money = "Financement"
    admin.add_view(PriseEnChargeView(PriseEnCharge, name="Prises en charge OPCO",
                                     endpoint="financement", url="/admin/financement",
                                     category=money))
    admin.add_view(OrganismeDelegantView(OrganismeDelegant, name="Organismes délégants",
                                         endpoint="delegant", url="/admin/organismes-delegants",
                                         category=money))
    admin.add_view(CfaContactView(Cfa, name="Fiche contact du CFA", endpoint="cfa_contact",
                                  url="/admin/fiche-contact-cfa", category=money))
    actions = "Actions de formation"
    admin.add_view(ActionFormationView(ActionFormation, name="Catalogue",
                                       endpoint="action_formation",
                                       url="/admin/action-formation", category=actions))
    admin.add_view(SessionFormationView(SessionFormation, name="Sessions",
                                        endpoint="session_formation",
                                        url="/admin/session-formation", category=actions))
    admin.add_view(InscriptionView(Inscription, name="Demandes d'inscription",
                                   endpoint="inscription", url="/admin/inscription",
                                   category=actions))
    admin.add_view(UserView(User, name="Utilisateurs", endpoint="user",
                            category="Administration"))
    ref = "Données de référence"
    admin.add_view(CodeReferenceView(CodeReference, name="Codes CERFA", endpoint="code",
                                     category=ref))
    admin.add_view(SmicView(Smic, name="SMIC", endpoint="smic", category=ref))
    admin.add_view(GrilleView(GrilleRemuneration, name="Grilles de rémunération",
                              endpoint="grille", category=ref))
    admin.add_view(ConventionView(ConventionCollective, name="Conventions collectives",
                                  endpoint="convention", category=ref))
    admin.add_view(OpcoView(Opco, name="OPCO", endpoint="opco", category=ref))
    admin.add_view(FinanceDashboardView(name="Tableau de bord financier",
                                        endpoint="finance_dashboard",
                                        url="/admin/financement/tableau-de-bord",
                                        category="Financement"))
    admin.add_view(AideView(AideEmployeur, name="Aides à l'employeur", endpoint="aide",
                            category=ref))
    admin.add_view(NpecView(NiveauPriseEnCharge, name="Niveaux de prise en charge (NPEC)",
                            endpoint="npec", category=ref))
    admin.add_view(PlafondView(PlafondFraisAnnexes, name="Plafonds des frais annexes",
                               endpoint="plafond", category=ref))
    app.register_blueprint(structure_signup_bp)  # public: /inscription/structure
    return admin
