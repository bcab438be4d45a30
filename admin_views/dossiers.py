"""The dossier list and details (every role, each in its scope); the pencil opens the tabs and
"Créer" Sillon's creation form (both through portal/dossiers/service.py)."""
from flask import abort, current_app, flash, g, redirect, request
from flask_admin import expose
from flask_admin.contrib.sqla import tools
from flask_admin.contrib.sqla.filters import FilterEqual, FilterLike
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defaultload, joinedload, lazyload, load_only

from forms.dossier_create import DossierCreateForm
from portal import policy
from portal.dossiers import list_menus, listing, service
from portal.extensions import db
from portal.models import Dossier, Formation, User
from portal.models.dossiers import DISPOSITIFS, NIVEAUX_SAISIE
from portal.dossiers.workflow import STATE_CHOICES, state_label

from . import dossier_list_rows
from .base import ScalarOf, SecureModelView
from .list_door import BARE_LIST, MAX_PAGE, clamp
from .dossier_employer import DossierEmployerFoundMixin
from .dossier_financing import DossierFinancingMixin
from .dossier_lookups import DossierLookupsMixin
from .dossier_remuneration import DossierRemunerationMixin
from .dossier_signatures import DossierSignaturesMixin
from .dossier_tabs import DossierTabsMixin
from .dossier_uploads import DossierUploadsMixin
from .dossier_workflow import DossierWorkflowMixin
from .filters import (EmployerFilter, FrenchDateRangeFilter, LateFilter, NextActorFilter,
                      ScopedFilterEqual)


def _formation_options(user):
    return list_menus.menus(user).training_options()


def _promotion_options(user):
    return list_menus.menus(user).promotion_options()


def _advisor_options(user):
    return list_menus.menus(user).advisor_options()


class ListActionForm:
    """What the list's template reads of its action form: whether it carries a CSRF token."""

    @property
    def csrf_token(self) -> bool:
        return current_app.config.get("WTF_CSRF_ENABLED", True)


LIST_ACTION_FORM = ListActionForm()


class CountWithMenus(ScalarOf):
    """The list's count with no search and no filter, read in the statement of its filter
    menus (portal.dossiers.list_menus.count_with_menus): a page is three statements."""

    def scalar(self):
        return list_menus.count_with_menus(current_user, self.statement)


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
    return dossier_list_rows.CELLS["state"](model, None)


def _next_actors(view, context, model, name):
    return listing.next_actors_label(model.state)


# The list's rows need the training's title and year and the employer, never the training's
# managers (selectin-loaded by the model) nor the advisor; the export also writes the advisor.
# The list reads the columns its cells show (admin_views/dossier_list_rows), not the hundred
# columns of a dossier and of its training: a fifth of a list request was loading them.
LIST_LOADS = (load_only(Dossier.id, Dossier.apprenti_nom, Dossier.apprenti_prenom,
                        Dossier.apprenti_email, Dossier.state, Dossier.date_debut_contrat,
                        Dossier.date_fin_contrat, Dossier.updated_at, Dossier.formation_id,
                        Dossier.etablissement_id),
              defaultload(Dossier.formation).load_only(Formation.id, Formation.intitule,
                                                       Formation.annee_campagne)
              .lazyload(Formation.responsables),
              defaultload(Dossier.formation).lazyload(Formation.gestionnaires),
              lazyload(Dossier.cfa_conseiller))
EXPORT_LOADS = (joinedload(Dossier.etablissement),
                defaultload(Dossier.formation).lazyload(Formation.responsables),
                defaultload(Dossier.formation).lazyload(Formation.gestionnaires),
                joinedload(Dossier.cfa_conseiller).lazyload(User.roles))


class DossierView(DossierEmployerFoundMixin, DossierFinancingMixin, DossierWorkflowMixin,
                  DossierUploadsMixin, DossierSignaturesMixin,
                  DossierLookupsMixin, DossierRemunerationMixin, DossierTabsMixin,
                  SecureModelView):
    delete_confirmation = ("Supprimer définitivement les dossiers sélectionnés ? "
                           "Cette suppression est irréversible.")
    # Key columns first: on a phone the table scrolls sideways, the apprentice's name fixed.
    column_list = ["apprenti", "id", "state", "next_actor", "etablissement", "formation",
                   "date_debut_contrat", "updated_at"]
    column_export_list = ["id", "apprenti", "formation", "formation.annee_campagne",
                          "etablissement", "employeur_siret", "state", "next_actor",
                          "dispositif", "apprenti_email", "cfa_conseiller",
                          "date_debut_contrat", "date_fin_contrat", "created_at", "updated_at"]
    column_labels = {
        "id": "N°", "apprenti": "Alternant·e", "formation": "Formation",
        "etablissement": "Employeur", "state": "État", "dispositif": "Dispositif",
        "next_actor": "Qui doit agir",
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
    column_formatters = {"state": _state_badge, "next_actor": _next_actors}
    column_formatters_export = {"state": lambda v, c, m, n: state_label(m.state),
                                "apprenti": lambda v, c, m, n: m.apprenti_nom_complet,
                                "next_actor": _next_actors}
    # The apprentice's column sorts by name then first name (a one-field tuple would be
    # renamed after its field by Flask-Admin, leaving the column unsortable).
    column_sortable_list = ["id", ("apprenti", ("apprenti_nom", "apprenti_prenom")), "state",
                            "dispositif", "date_debut_contrat", "updated_at"]
    column_default_sort = ("id", True)
    # Searched by search_clause (portal.dossiers.listing), not column by column: the list
    # below only switches the search box on.
    column_searchable_list = ["apprenti_nom", "apprenti_prenom", "apprenti_email"]
    column_choices = {"dispositif": list(DISPOSITIFS.items()),
                      "niveau_saisie": list(NIVEAUX_SAISIE.items())}
    column_details_list = ["id", "state", "niveau_saisie", "dispositif", "formation",
                           "apprenti_nom", "apprenti_prenom", "apprenti_date_naissance",
                           "apprenti_email", "employeur_siret", "etablissement",
                           "employeur_contact_email", "employer_contact", "cfa_conseiller",
                           "date_debut_contrat", "date_fin_contrat", "created_at", "updated_at"]
    can_export = True
    export_types = ["csv", "xlsx"]

    # Positions are the URL's filter indexes (flt<n>_<index>): new filters go at the end.
    column_filters = [
        FilterEqual(Dossier.state, "État", options=STATE_CHOICES),
        ScopedFilterEqual(Dossier.formation_id, "Formation", options=_formation_options),
        FilterEqual(Dossier.dispositif, "Dispositif", options=list(DISPOSITIFS.items())),
        FrenchDateRangeFilter(Dossier.date_debut_contrat, "Début du contrat"),
        FilterLike(Dossier.apprenti_nom, "Nom de l'alternant·e"),
        LateFilter(Dossier.date_debut_contrat, "Échéance"),
        ScopedFilterEqual(Formation.annee_campagne, "Promotion", options=_promotion_options),
        EmployerFilter(Dossier.etablissement_id, "Employeur (nom ou SIRET)"),
        ScopedFilterEqual(Dossier.cfa_conseiller_id, "Conseiller·ère du CFA",
                          options=_advisor_options),
        NextActorFilter(Dossier.state, "Qui doit agir"),
    ]

    def search_placeholder(self):
        return "Nom, e-mail, employeur, SIRET, n° OPCO"

    def _apply_search(self, query, count_query, joins, count_joins, search):
        """Each word must match the apprentice, the employer or an OPCO number the person may
        see (portal.dossiers.listing.search_clause): sub-selects, or on SQLite for a partial
        scope the establishment and the prise en charge joined once (one at most of each per
        dossier): no duplicate row."""
        terms = [term for term in (listing.normalise_search(search) or "").split(" ") if term]
        sources = listing.search_sources(current_user) if terms else None
        if sources is not None:  # SQLite: the establishment and financing joined once
            query = sources.join(query)
            if count_query is not None:
                count_query = sources.join(count_query)
        for term in terms:
            clause = listing.search_clause(tools.parse_like_term(term), current_user, sources)
            query = query.filter(clause)
            if count_query is not None:
                count_query = count_query.filter(clause)
        return query, count_query, joins, count_joins

    def get_count_query(self):
        query = super().get_count_query()
        if isinstance(query, ScalarOf):  # no search, no filter: counted with the menus
            return CountWithMenus(query.statement)
        return query

    def get_list(self, page, sort_column, sort_desc, search, filters, execute=True,
                 page_size=None):
        exporting = (request.endpoint or "").endswith(".export")  # Flask-Admin's export door
        size = self.page_size if page_size is None else page_size
        if execute and not exporting and not search and not filters and size:
            return self._bare_page(page, sort_column, sort_desc, size)
        count, query = super().get_list(page, sort_column, sort_desc, search, filters,
                                        execute=False, page_size=page_size)
        if execute and not exporting:
            return count, dossier_list_rows.fetch(query)
        query = query.options(*(EXPORT_LOADS if exporting else LIST_LOADS))
        return count, (query.all() if execute else query)

    def _bare_page(self, page, sort_column, sort_desc, size):
        """The list with no search and no filter, the page asked most: counted with its menus
        (CountWithMenus), its rows read by a statement built once per (person, order, page
        size) with the policy's scope (policy.remembered), its offset a parameter."""
        page = clamp(page, 0, MAX_PAGE)
        setattr(g, BARE_LIST, self.endpoint)
        try:
            count = self.get_count_query().scalar()
        finally:
            setattr(g, BARE_LIST, None)
        statement = policy.remembered(
            ("dossier_list_page", sort_column, bool(sort_desc), size), current_user,
            lambda person: self._page_statement(sort_column, sort_desc, size))
        offset = self.shown_page(page, size, count) * size
        return count, dossier_list_rows.fetch_page(statement, offset)

    def _page_statement(self, sort_column, sort_desc, size):
        query, _ = self._apply_sorting(self.get_query(), {}, sort_column, sort_desc)
        return dossier_list_rows.page_statement(query.limit(size))

    def list_row_label(self, row) -> str:
        return f"Sélectionner le dossier de {row.apprenti_nom_complet}"

    # The rows: templates/admin/dossier/list.html with admin_views/dossier_list_rows (the
    # pencil opens the dossier's tabs for every role; deleting is the bulk action only).
    list_template = "admin/dossier/list.html"
    # No joinedload per page: the rows are read as tuples (dossier_list_rows.fetch), the
    # export names its loads (EXPORT_LOADS).
    column_auto_select_related = False
    def list_rows_html(self, rows, list_columns, actions, get_value):
        return dossier_list_rows.rows_html(self, rows, [c for c, _ in list_columns],
                                           bool(actions), get_value)

    def get_list_row_actions(self):
        return []

    def action_form(self, obj=None):
        """On the list page the action form is its three hidden inputs, written by the list's
        template with Flask-WTF's token: no WTForms form is built to be read for one flag (a
        twentieth of a list request). The action's POST validates the real form
        (SecureModelView.handle_action)."""
        if request.endpoint == f"{self.endpoint}.index_view":
            return LIST_ACTION_FORM
        return super().action_form(obj)

    def delete_form(self):
        """No per-row delete form on the list (Flask-Admin builds one, with its CSRF token, for
        every list page); the bulk action « Supprimer » posts the action form."""
        if request.endpoint == f"{self.endpoint}.index_view":
            return None
        return super().delete_form()

    @expose("/details/")
    def details_view(self):
        return self.edit_view()

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
