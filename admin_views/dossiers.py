"""The dossier list, details and edit screens (every role, each in its scope)."""
from flask_admin.contrib.sqla.filters import (DateBetweenFilter, FilterEqual, FilterLike)
from flask_login import current_user
from markupsafe import Markup
from wtforms import validators

from sqlalchemy import inspect as sa_inspect

from forms.validators import EndAfter, Siret

from portal import policy
from portal.accounts import invitations as accounts
from portal.dossiers.history import record_column_changes
from portal.extensions import db
from portal.models import (ALTERNANT, CFA_ADMIN, CFA_CONSEILLER, EMPLOYEUR, FORMATION_GESTIONNAIRE,
                           FORMATION_RESPONSABLE, Dossier, Formation)
from portal.models.dossiers import DISPOSITIFS, NIVEAUX_SAISIE
from portal.dossiers.workflow import STATE_CHOICES, state_label

from .base import SecureModelView
from .dossier_employer import DossierEmployerFoundMixin
from .dossier_lookups import DossierLookupsMixin
from .dossier_remuneration import DossierRemunerationMixin
from .dossier_tabs import DossierTabsMixin
from .dossier_uploads import DossierUploadsMixin
from .dossier_workflow import DossierWorkflowMixin
from .filters import LateFilter, ScopedFilterEqual


def _formation_options(user):
    # Only the three columns the label needs: one light query per list page.
    query = policy.scoped(
        db.session.query(Formation.id, Formation.intitule, Formation.annee_campagne),
        Formation, user).order_by(Formation.annee_campagne.desc(), Formation.intitule)
    return [(pk, Formation.label_for(intitule, year)) for pk, intitule, year in query]


def _state_badge(view, context, model, name):
    return Markup('<span class="badge badge-secondary sillon-state" data-state="{}">{}</span>'
                  ).format(model.state, state_label(model.state))


def _apprentice(view, context, model, name):
    # The dossier opens on its tabs (Données de base first).
    return Markup('<a href="{}" class="sillon-open-dossier">{}</a>').format(
        view.get_url(".tab_view", dossier_id=model.id, tab_code="base"),
        model.apprenti_nom_complet)


_BASE_FIELDS = ["niveau_saisie", "dispositif", "apprenti_nom", "apprenti_prenom",
                "apprenti_date_naissance", "apprenti_email", "employeur_siret",
                "employeur_contact_email", "date_debut_contrat", "date_fin_contrat"]


class DossierView(DossierEmployerFoundMixin, DossierWorkflowMixin, DossierUploadsMixin,
                  DossierLookupsMixin, DossierRemunerationMixin, DossierTabsMixin,
                  SecureModelView):
    column_list = ["id", "apprenti", "formation", "etablissement", "state", "dispositif",
                   "date_debut_contrat", "updated_at"]
    column_labels = {
        "id": "N°", "apprenti": "Alternant·e", "formation": "Formation",
        "etablissement": "Employeur", "state": "État", "dispositif": "Dispositif",
        "niveau_saisie": "Niveau de saisie", "date_debut_contrat": "Début du contrat",
        "date_fin_contrat": "Fin du contrat", "updated_at": "Modifié le",
        "created_at": "Créé le", "apprenti_nom": "Nom", "apprenti_prenom": "Prénom",
        "apprenti_date_naissance": "Date de naissance", "apprenti_email": "E-mail de l'alternant·e",
        "employeur_siret": "SIRET de l'établissement employeur",
        "employeur_contact_email": "E-mail du contact employeur",
        "employer_contact": "Contact employeur", "cfa_conseiller": "Contact au CFA",
        "responsable_nom": "Nom du responsable (signataire)",
        "responsable_prenom": "Prénom du responsable", "responsable_fonction": "Fonction",
        "responsable_email": "E-mail du responsable",
        "formation.annee_campagne": "Promotion", "etablissement.denomination": "Employeur",
        "version": "Version",
    }
    column_formatters = {"state": _state_badge, "apprenti": _apprentice}
    column_formatters_export = {"state": lambda v, c, m, n: state_label(m.state),
                                "apprenti": lambda v, c, m, n: m.apprenti_nom_complet}
    column_sortable_list = ["id", ("apprenti", "apprenti_nom"), "state", "dispositif",
                            "date_debut_contrat", "updated_at"]
    column_default_sort = ("id", True)
    column_searchable_list = ["apprenti_nom", "apprenti_prenom", "apprenti_email"]
    column_choices = {"dispositif": list(DISPOSITIFS.items()),
                      "niveau_saisie": list(NIVEAUX_SAISIE.items())}
    column_details_list = ["id", "state", "niveau_saisie", "dispositif", "formation",
                           "apprenti_nom", "apprenti_prenom", "apprenti_date_naissance",
                           "apprenti_email", "employeur_siret", "etablissement",
                           "employeur_contact_email", "employer_contact", "cfa_conseiller",
                           "date_debut_contrat", "date_fin_contrat", "created_at", "updated_at"]
    can_export = True
    export_types = ["csv"]

    form_columns = _BASE_FIELDS
    form_columns_by_role = {
        CFA_ADMIN: ["formation", *_BASE_FIELDS, "etablissement", "cfa_conseiller"],
        CFA_CONSEILLER: ["formation", *_BASE_FIELDS, "etablissement", "cfa_conseiller"],
        FORMATION_RESPONSABLE: ["formation", *_BASE_FIELDS],
        FORMATION_GESTIONNAIRE: ["formation", *_BASE_FIELDS],
        EMPLOYEUR: [*_BASE_FIELDS, "responsable_nom", "responsable_prenom",
                    "responsable_fonction", "responsable_email"],
        # "J'ai trouvé un employeur": the apprentice names the SIRET and the contact's e-mail.
        ALTERNANT: ["employeur_siret", "employeur_contact_email"],
    }
    form_choices = {"dispositif": list(DISPOSITIFS.items()),
                    "niveau_saisie": list(NIVEAUX_SAISIE.items())}
    form_args = {
        "formation": {"label": "Formation", "validators": [validators.InputRequired(
            "Choisissez la formation.")]},
        "apprenti_email": {"label": "E-mail de l'alternant·e", "validators": [
            validators.InputRequired("L'e-mail de l'alternant·e est obligatoire."),
            validators.Email("Cette adresse e-mail n'est pas valide.",
                             check_deliverability=False)]},
        "employeur_contact_email": {"label": "E-mail du contact employeur", "validators": [
            validators.Optional(), validators.Email("Cette adresse e-mail n'est pas valide.",
                                                    check_deliverability=False)]},
        "responsable_email": {"validators": [
            validators.Optional(), validators.Email("Cette adresse e-mail n'est pas valide.",
                                                    check_deliverability=False)]},
        "employeur_siret": {"label": "SIRET de l'établissement employeur",
                            "validators": [validators.Optional(), Siret()]},
        "date_fin_contrat": {"label": "Fin du contrat",
                             "validators": [validators.Optional(),
                                            EndAfter("date_debut_contrat")]},
        "cfa_conseiller": {"query_factory": lambda: policy.cfa_advisors()},
    }
    column_filters = [
        FilterEqual(Dossier.state, "État", options=STATE_CHOICES),
        ScopedFilterEqual(Dossier.formation_id, "Formation", options=_formation_options),
        FilterEqual(Dossier.dispositif, "Dispositif", options=list(DISPOSITIFS.items())),
        DateBetweenFilter(Dossier.date_debut_contrat, "Début du contrat"),
        FilterLike(Dossier.apprenti_nom, "Nom de l'alternant·e"),
        LateFilter(Dossier.date_debut_contrat, "Échéance"),
        FilterEqual(Formation.annee_campagne, "Promotion"),
    ]

    @property
    def edit_refused_message(self):
        return "Vous ne pouvez pas modifier ce dossier."

    def edit_refusal(self, model):
        reason = policy.dossier_locked_for(current_user, model)
        return reason or super().edit_refusal(model)

    def on_model_change(self, form, model, is_created):
        for attr in ("apprenti_email", "employeur_contact_email", "responsable_email"):
            value = getattr(model, attr)
            if value:
                setattr(model, attr, value.strip().lower())
        if is_created:
            model.created_by_id = current_user.id
            if model.cfa_conseiller_id is None and model.formation is not None:
                model.cfa_conseiller_id = model.formation.conseiller_cfa_id
            changed = list(accounts.PEOPLE_FIELDS)
        else:
            record_column_changes(model, model, current_user, self.column_labels,
                                  prefix="Fiche dossier – ")
            state = sa_inspect(model)
            changed = []
            for name in accounts.PEOPLE_FIELDS:
                history = state.attrs[name].history
                old = history.deleted[0] if history.deleted else None
                if history.has_changes() and accounts.normalize_email(old) != \
                        accounts.normalize_email(getattr(model, name)):
                    changed.append(name)
        # Putting a person's e-mail on the dossier invites them (SPEC §4). A new dossier needs
        # its number first (it is in the e-mail); an edited one links before the scope check's
        # flush, so that the save stays one version.
        if is_created:
            super().on_model_change(form, model, is_created)
        accounts.link_dossier_people(model, by=current_user, fields=changed)
        if not is_created:
            super().on_model_change(form, model, is_created)
