"""The training actions' screens (SPEC §6, seed 003): the catalogue (/admin/action-formation/)
with each action's sessions and the « Demander une inscription » form, the sessions
(/admin/session-formation/) with the organiser's selection screen, and the requests
(/admin/inscription/) with their history and one form per step the person may take now.

Scoped by portal.policy (portal/policy/training_actions.py): every row comes through the base
view's get_one or row_or_404, another's row answers 404. Every change is
portal/training_actions/service.py's; what the pages show is portal/training_actions/overview.py's.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request
from flask_admin import expose
from flask_admin.contrib.sqla.filters import FilterEqual
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.exc import StaleDataError
from wtforms import validators

from portal import policy
from portal.dossiers.errors import CONFLICT_TITLE, Stale, WriteRefused
from portal.training_actions.service import ALREADY_DONE
from portal.extensions import db
from portal.models import CFA_ROLES, Inscription, SessionFormation
from portal.rules.formatting import day, eur
from portal.rules.training_actions import session_problems
from portal.training_actions import overview, service
from portal.training_actions.states import STATE_CHOICES, STEPS, state_label

from .base import SecureModelView, row_or_404
from .training_documents import InscriptionDocumentsMixin, SessionDocumentsMixin
from .filters import ScopedFilterEqual


def _int(raw):
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _conflict(message: str, back: str, label: str):
    """A step or a request that lost a race, or acts on what the request no longer is: 409,
    the conflict page of the dossiers (admin_views/dossier_workflow.conflict_page) with the
    way back to the request or the action."""
    return render_template("error.html", code=409, title=CONFLICT_TITLE, text=message,
                           back_url=back, back_label=label), 409


def _errors(exc: WriteRefused) -> dict[str, str]:
    """Field → message; ``_`` for a reason of its own, shown above the form."""
    errors = dict(exc.errors)
    if str(exc) != " ".join(exc.errors.values()):
        errors["_"] = str(exc)
    return errors


def _is_cfa() -> bool:
    return current_user.has_role(*CFA_ROLES)


# --- 1. the catalogue ---------------------------------------------------------------------------

def _next_sessions(view, context, model, name):
    found = g.get("training_next_sessions")
    if found is None:
        found = overview.next_sessions([model.id], current_user)
    items = found.get(model.id, [])
    if not items:
        return Markup('<span class="text-muted">Aucune session à venir</span>')
    return Markup("").join(Markup('<div class="text-nowrap">{} – {}</div>').format(
        day(i["session"].date_debut), i["places"]) for i in items)


class ActionFormationView(SecureModelView):
    """CFA staff create and edit the actions (cfa_admin deletes); employers' staff read the
    active ones, and request a session from an action's page."""

    column_list = ["intitule", "public_vise", "duree_heures", "prix", "reservee_adherents",
                   "prochaines_sessions"]
    column_labels = {
        "intitule": "Intitulé", "public_vise": "Public visé", "duree_heures": "Durée",
        "prix": "Prix", "reservee_adherents": "Réservée aux adhérents",
        "prochaines_sessions": "Prochaines sessions", "description": "Description",
        "objectifs": "Objectifs", "active": "Proposée au catalogue", "cfa": "CFA",
    }
    column_formatters = {
        "intitule": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            v.get_url(".details_view", id=m.id), m.intitule),
        "duree_heures": lambda v, c, m, n: overview.duration_label(m.duree_heures),
        "prix": lambda v, c, m, n: eur(m.prix) if m.prix is not None else "",
        "reservee_adherents": lambda v, c, m, n: "Oui" if m.reservee_adherents else "Non",
        "prochaines_sessions": _next_sessions,
    }
    column_searchable_list = ["intitule", "public_vise"]
    column_sortable_list = ["intitule", "duree_heures", "prix"]
    column_filters = ["reservee_adherents", "active"]
    column_default_sort = ("intitule", False)
    form_columns = ["cfa", "intitule", "objectifs", "description", "public_vise",
                    "duree_heures", "prix", "reservee_adherents", "active"]
    form_args = {
        "intitule": {"validators": [validators.InputRequired("L'intitulé est obligatoire.")]},
        "duree_heures": {"label": "Durée (heures)", "validators": [
            validators.Optional(), validators.NumberRange(0, 1000, "Durée invalide.")]},
        "prix": {"label": "Prix (€)", "validators": [
            validators.Optional(), validators.NumberRange(0, 10**6, "Prix invalide.")]},
    }

    def get_list(self, *args, **kwargs):
        count, rows = super().get_list(*args, **kwargs)
        if isinstance(rows, list):  # the page's next sessions in one query
            g.training_next_sessions = overview.next_sessions([r.id for r in rows],
                                                              current_user)
        return count, rows

    @expose("/details/")
    def details_view(self):
        return self._action_page(self._get_one_or_404())

    def _action_page(self, action, *, errors=None, form_key=None, status=200):
        return self.render(
            "admin/training/action_details.html", action=action,
            sessions=overview.action_sessions(action, current_user),
            structures=overview.beneficiary_structures(current_user), errors=errors or {},
            form_key=form_key, posted=request.form if errors else {},
            may_edit=policy.may_edit(current_user, action), is_cfa=_is_cfa(),
            duration=overview.duration_label), status

    @expose("/session/<int:session_id>/demande/", methods=("POST",))
    def request_view(self, session_id):
        session = row_or_404(SessionFormation, session_id)
        action = session.action
        structures = {s.id: s for s in overview.beneficiary_structures(current_user)}
        chosen = structures.get(_int(request.form.get("structure_id")))
        key = f"session-{session.id}"
        if chosen is None and structures:
            return self._action_page(action, errors={
                "structure_id": "Choisissez l'une de vos structures."}, form_key=key,
                status=422)
        try:
            inscription = service.request(session, by=current_user, structure=chosen,
                                          motivation=request.form.get("motivation"))
        except Stale as exc:  # already requested (AlreadyDone)
            db.session.rollback()
            return _conflict(str(exc), self.get_url(".details_view", id=action.id),
                             "Revenir à l'action de formation")
        except WriteRefused as exc:
            db.session.rollback()
            return self._action_page(action, errors=_errors(exc), form_key=key, status=422)
        flash("Votre demande d'inscription est enregistrée : votre employeur en est informé.",
              "success")
        return redirect(self.get_url("inscription.details_view", id=inscription.id), 303)


# --- sessions and the organiser's selection -----------------------------------------------------

def selection_page(view, session, *, errors=None, form_key=None, status=200):
    return view.render("admin/training/session_selection.html", session=session,
                       hours=overview.hours_label(session.heure_debut, session.heure_fin),
                       sel=overview.selection(session, current_user), errors=errors or {},
                       form_key=form_key, posted=request.form if errors else {}), status


class SessionFormationView(SessionDocumentsMixin, SecureModelView):
    """The sessions of the actions: CFA staff plan them; each opens on its selection screen."""

    column_list = ["action", "date_debut", "date_fin", "horaires", "lieu", "capacite",
                   "date_limite_inscription", "places", "annulee"]
    column_labels = {
        "action": "Action de formation", "date_debut": "Début", "date_fin": "Fin",
        "horaires": "Horaires", "heure_debut": "Heure de début", "heure_fin": "Heure de fin",
        "lieu": "Lieu", "capacite": "Capacité", "places": "Places",
        "date_limite_inscription": "Date limite d'inscription",
        "organisateur": "Organisateur (équipe du CFA)", "annulee": "Annulée",
    }
    column_formatters = {
        "action": lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            v.get_url(".details_view", id=m.id), m.action.intitule),
        "date_debut": lambda v, c, m, n: day(m.date_debut),
        "date_fin": lambda v, c, m, n: day(m.date_fin),
        "date_limite_inscription": lambda v, c, m, n: day(m.date_limite_inscription),
        "horaires": lambda v, c, m, n: overview.hours_label(m.heure_debut, m.heure_fin),
        "places": lambda v, c, m, n: overview.places_label(m.capacite, (
            g.get("training_retained") or overview.retained_counts([m.id])).get(m.id, 0)),
        "annulee": lambda v, c, m, n: "Oui" if m.annulee else "",
    }
    column_sortable_list = ["date_debut", "lieu", "capacite"]
    column_default_sort = ("date_debut", True)
    column_filters = [ScopedFilterEqual(SessionFormation.action_id, "Action de formation",
                                        options=overview.catalogue_options), "annulee"]
    form_columns = ["action", "date_debut", "date_fin", "heure_debut", "heure_fin", "lieu",
                    "capacite", "date_limite_inscription", "organisateur", "annulee"]
    form_args = {
        "capacite": {"validators": [validators.InputRequired("La capacité est obligatoire."),
                                    validators.NumberRange(1, 1000, "Entre 1 et 1000 places.")]},
        "date_debut": {"validators": [validators.InputRequired("Le début est obligatoire.")]},
        "date_fin": {"validators": [validators.InputRequired("La fin est obligatoire.")]},
        "organisateur": {"query_factory": lambda: overview.organisers(current_user),
                         "allow_blank": True},
    }

    def get_list(self, *args, **kwargs):
        count, rows = super().get_list(*args, **kwargs)
        if isinstance(rows, list):
            g.training_retained = overview.retained_counts(r.id for r in rows)
        return count, rows

    def validate_form(self, form):
        valid = super().validate_form(form)
        if not hasattr(form, "date_fin"):  # the delete and action forms
            return valid
        retained = 0
        pk = _int(request.args.get("id"))
        if pk is not None:
            retained = overview.retained_counts([pk]).get(pk, 0)
        problems = session_problems(
            start=form.date_debut.data, end=form.date_fin.data,
            start_time=form.heure_debut.data, end_time=form.heure_fin.data,
            deadline=form.date_limite_inscription.data, capacity=form.capacite.data,
            retained=retained)
        for name, message in problems.items():
            getattr(form, name).errors = [*getattr(form, name).errors, message]
        return valid and not problems

    @expose("/details/")
    def details_view(self):
        session = self._get_one_or_404()
        if _is_cfa():
            return redirect(self.get_url(".selection_view", session_id=session.id))
        return redirect(self.get_url("action_formation.details_view", id=session.action_id)
                        + f"#session-{session.id}")

    @expose("/<int:session_id>/selection/")
    def selection_view(self, session_id):
        session = row_or_404(SessionFormation, session_id)
        if not _is_cfa():  # the organiser's screen (the table's CFA actor)
            abort(403)
        return selection_page(self, session)


# --- 2. the requests ----------------------------------------------------------------------------

def _decision(model) -> str:
    if model.employer_decided_at is None:
        return "En attente" if model.state == "demandee" else ""
    who = model.employer_decided_by.full_name if model.employer_decided_by else ""
    verdict = "Refusée" if model.state == "refusee_employeur" else "Acceptée"
    text = f"{verdict} le {day(model.employer_decided_at)}" + (f" par {who}" if who else "")
    return text + (f" : {model.employer_comment}" if model.employer_comment else "")


_REQUEST_TEXT = {
    "user": lambda v, c, m, n: m.user.full_name,
    "email": lambda v, c, m, n: m.user.email,
    "structure": lambda v, c, m, n: m.structure.raison_sociale,
    "action": lambda v, c, m, n: m.session.action.intitule,
    "session": lambda v, c, m, n: day(m.session.date_debut),
    "state": lambda v, c, m, n: m.state_label,
    "employer_decision": lambda v, c, m, n: _decision(m),
    "created_at": lambda v, c, m, n: day(m.created_at),
}


class InscriptionView(InscriptionDocumentsMixin, SecureModelView):
    """Requests, read-only here: each moves by the steps of its details page."""

    can_create = False
    can_edit = False
    can_delete = False
    export_types = ["csv", "xlsx"]
    column_list = ["user", "structure", "action", "session", "state", "employer_decision",
                   "created_at"]
    column_export_list = ["user", "email", "structure", "action", "session", "state",
                          "employer_decision", "created_at"]
    column_labels = {
        "user": "Personne", "email": "Courriel", "structure": "Structure",
        "action": "Action de formation", "session": "Session du", "state": "État",
        "employer_decision": "Décision de l'employeur", "created_at": "Créée le",
        "user.last_name": "Nom", "user.first_name": "Prénom", "user.email": "Courriel",
    }
    column_formatters = dict(
        _REQUEST_TEXT,
        user=lambda v, c, m, n: Markup('<a href="{}">{}</a>').format(
            v.get_url(".details_view", id=m.id), m.user.full_name),
        state=lambda v, c, m, n: Markup(
            '<span class="badge badge-secondary" data-state="{}">{}</span>').format(
            m.state, m.state_label))
    column_formatters_export = _REQUEST_TEXT
    column_sortable_list = ["state", "created_at", ("session", "session.date_debut"),
                            ("user", "user.last_name")]
    column_default_sort = ("created_at", True)
    column_searchable_list = ["user.last_name", "user.first_name", "user.email"]
    # The dashboard links to flt0_0 (état): keep the state filter first.
    column_filters = [
        FilterEqual(Inscription.state, "État", options=STATE_CHOICES),
        ScopedFilterEqual(SessionFormation.action_id, "Action de formation",
                          options=overview.action_options),
        ScopedFilterEqual(Inscription.session_id, "Session", options=overview.session_options),
        ScopedFilterEqual(Inscription.structure_id, "Structure",
                          options=overview.structure_options),
    ]

    @property
    def can_export(self):
        return _is_cfa()

    @can_export.setter
    def can_export(self, value):
        pass

    def get_query(self):
        # What a row shows, loaded with it (the CSV export is streamed after the request).
        return super().get_query().options(
            joinedload(Inscription.user), joinedload(Inscription.structure),
            joinedload(Inscription.employer_decided_by),
            joinedload(Inscription.session).joinedload(SessionFormation.action))

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        abort(404)

    @expose("/details/")
    def details_view(self):
        return self._details_page(self._get_one_or_404())

    def _details_page(self, inscription, *, errors=None, form_key=None, status=200):
        session = inscription.session
        return self.render(
            "admin/training/inscription_details.html", inscription=inscription,
            session=session, hours=overview.hours_label(session.heure_debut, session.heure_fin),
            steps=overview.steps_for(inscription, current_user), errors=errors or {},
            form_key=form_key, posted=request.form if errors else {}, is_cfa=_is_cfa(),
            state_label=state_label), status

    @expose("/<int:inscription_id>/etape/<code>/", methods=("POST",))
    def step_view(self, inscription_id, code):
        inscription = row_or_404(Inscription, inscription_id)
        step = STEPS.get(code)
        if step is None or step.automatic:
            abort(404)
        on_selection = request.form.get("retour") == "selection" and _is_cfa()
        if on_selection:
            back = self.get_url("session_formation.selection_view",
                                session_id=inscription.session_id)
            label = "Revenir à la sélection"
        else:
            back, label = self.get_url(".details_view", id=inscription.id), \
                "Revenir à la demande"
        try:
            target = service.run(code, inscription, by=current_user,
                                 comment=request.form.get("comment"),
                                 version=_int(request.form.get("_version")))
        except Stale as exc:  # AlreadyDone: the page's version is gone, or a race lost
            db.session.rollback()
            return _conflict(str(exc), back, label)
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            return _conflict(ALREADY_DONE, back, label)
        except WriteRefused as exc:
            db.session.rollback()
            # Next to its form when the page offers it, else above everything.
            offered = {e["step"].code for e in overview.steps_for(inscription, current_user)
                       if e["refusal"] is None}
            key = f"{inscription.id}-{code}" if code in offered else "page"
            if on_selection:
                return selection_page(self, inscription.session, errors=_errors(exc),
                                      form_key=key, status=422)
            return self._details_page(inscription, errors=_errors(exc), form_key=key,
                                      status=422)
        flash(f"{inscription.user.full_name} – {inscription.session} : {state_label(target)}.",
              "success")
        return redirect(back, 303)

