"""The dossier list and details (every role, each in its scope); the pencil opens the tabs and
"Créer" Sillon's creation form (both through portal/dossiers/service.py)."""
from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import (DateBetweenFilter, FilterEqual, FilterLike,
                                              IntEqualFilter)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from forms.dossier_create import DossierCreateForm
from portal import policy
from portal.dossiers import service
from portal.extensions import db
from portal.models import Dossier, Formation
from portal.models.dossiers import DISPOSITIFS, NIVEAUX_SAISIE
from portal.dossiers.workflow import STATE_CHOICES, state_label

from .base import SecureModelView
from .dossier_employer import DossierEmployerFoundMixin
from .dossier_financing import DossierFinancingMixin
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


def creatable_formations(user) -> list[Formation]:
    """The trainings this person may create a dossier in (portal.policy), newest first."""
    query = policy.scoped(db.session.query(Formation), Formation, user).order_by(
        Formation.annee_campagne.desc(), Formation.intitule)
    return [f for f in query if policy.may_create_dossier_in(user, f)]


CREATED_MEANWHILE = ("Pendant votre saisie, une autre personne a créé un dossier ou un compte "
                     "pour ces personnes : aucun dossier n'a été créé. Vérifiez la liste des "
                     "dossiers avant de recommencer.")


def _create(formation, fields):
    """Create and commit; of two creations of one apprentice at once, the unique indexes
    (one open dossier per apprentice and training, one account per address) refuse the
    second, answered like a duplicate typed by hand."""
    try:
        dossier = service.create_dossier(
            formation, fields, by=current_user, source="create_form",
            comment="Dossier créé par la saisie de ses données de base.")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        service.refuse_duplicate(formation, fields.get("apprenti_email"))
        raise service.Stale(CREATED_MEANWHILE) from None
    return dossier


CREATE_SECTIONS = [
    ("La formation", ["formation", "niveau_saisie", "dispositif"]),
    ("L'alternant·e", ["apprenti_nom", "apprenti_prenom", "apprenti_date_naissance",
                       "apprenti_email"]),
    ("L'employeur (facultatif)", ["employeur_siret", "employeur_contact_email"]),
    ("Le contrat (facultatif)", ["date_debut_contrat", "date_fin_contrat"]),
]


def _state_badge(view, context, model, name):
    return Markup('<span class="badge badge-secondary sillon-state" data-state="{}">{}</span>'
                  ).format(model.state, state_label(model.state))


def _apprentice(view, context, model, name):
    # The dossier opens on its tabs (Données de base first).
    return Markup('<a href="{}" class="sillon-open-dossier">{}</a>').format(
        view.get_url(".tab_view", dossier_id=model.id, tab_code="base"),
        model.apprenti_nom_complet)


class DossierView(DossierEmployerFoundMixin, DossierFinancingMixin, DossierWorkflowMixin,
                  DossierUploadsMixin,
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

    column_filters = [
        FilterEqual(Dossier.state, "État", options=STATE_CHOICES),
        ScopedFilterEqual(Dossier.formation_id, "Formation", options=_formation_options),
        FilterEqual(Dossier.dispositif, "Dispositif", options=list(DISPOSITIFS.items())),
        DateBetweenFilter(Dossier.date_debut_contrat, "Début du contrat"),
        FilterLike(Dossier.apprenti_nom, "Nom de l'alternant·e"),
        LateFilter(Dossier.date_debut_contrat, "Échéance"),
        IntEqualFilter(Formation.annee_campagne, "Promotion"),  # text: 500 on PostgreSQL
    ]

    # The pencil and "Créer" open Sillon's own screens for every role: the dossier's tabs, and
    # a creation form that goes through the one write path (portal/dossiers/service.py).
    # Flask-Admin's generic form never writes a dossier.
    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        dossier = self.get_one(request.args.get("id"))
        if dossier is None:
            abort(404)
        return redirect(self.get_url(".tab_view", dossier_id=dossier.id, tab_code="base"), 303)

    def delete_model(self, model):
        """The delete door (single and bulk) goes through the write path too."""
        try:
            service.delete_dossier(model, by=current_user)
        except service.WriteRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return False
        return True

    @expose("/new/", methods=("GET", "POST"))
    def create_view(self):
        back = self.get_url(".index_view")
        formations = creatable_formations(current_user)
        if not formations:
            flash("Vous ne pouvez pas créer de dossier.", "error")
            return redirect(back)
        form = DossierCreateForm(formations=formations)
        status = 200
        if form.validate_on_submit():
            formation = next(f for f in formations if f.id == form.formation.data)
            try:
                dossier = _create(formation, form.creation_fields())
            except service.WriteRefused as exc:
                db.session.rollback()
                for name, message in exc.errors.items():
                    if name in form:
                        form[name].errors = list(form[name].errors) + [message]
                flash(str(exc), "error")
                status = 409 if isinstance(exc, (service.Duplicate, service.Stale)) else 422
            else:
                flash(f"Dossier n° {dossier.id} créé : {dossier.apprenti_email} a reçu ses "
                      "identifiants par e-mail.", "success")
                return redirect(self.get_url(".tab_view", dossier_id=dossier.id,
                                             tab_code="base"))
        elif request.method == "POST":
            status = 422
        return self.render("admin/dossier/create.html", form=form, back=back,
                           sections=CREATE_SECTIONS, required={"formation", "apprenti_email"}
                           ), status
