"""The CFA's list of prises en charge (/admin/financement/, seed 004's « Consulter les actions »),
the delegating organisations, the CFA's contact sheet and the financing reference tables.
Scoped by portal.policy (CFA staff all, an employer its own dossiers, nobody else); every change
goes through portal/financing (service.py, claims.py)."""
from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla.filters import BaseSQLAFilter, FilterEqual
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import and_, exists, extract
from sqlalchemy.orm import joinedload

from forms.validators import Siret, Uai
from portal import policy
from portal.dossiers.errors import WriteRefused
from portal.extensions import db
from portal.financing import claims
from portal.financing.states import STATE_CHOICES
from portal.models import (DemandeRemboursement, Dossier, Echeance, Formation, Opco,
                           OrganismeDelegant, PriseEnCharge)
from portal.models.financing import FRAIS_NATURES
from portal.rules.dates import add_months
from portal.rules.financing import BALANCE_CLAIM_MONTHS, DECISION_DAYS, decision_deadline
from portal.rules.formatting import day as fr_day
from portal.rules.formatting import eur

from .base import SecureModelView
from .filters import ScopedFilterEqual


def _opco_options(user):
    return [(o.code, o.nom) for o in db.session.query(Opco).order_by(Opco.nom)]


def _formation_options(user):
    query = policy.scoped(db.session.query(Formation.id, Formation.intitule,
                                           Formation.annee_campagne), Formation, user)
    return [(pk, Formation.label_for(name, year)) for pk, name, year in
            query.order_by(Formation.annee_campagne.desc(), Formation.intitule)]


def _delegant_options(user):
    query = policy.scoped(db.session.query(OrganismeDelegant), OrganismeDelegant, user)
    return [(o.id, o.nom) for o in query.order_by(OrganismeDelegant.nom)]


class ScopedStrFilterEqual(FilterEqual):
    """Equality on a text code whose options are computed per request."""

    def get_options(self, view):
        from flask import has_request_context
        if not has_request_context() or not current_user.is_authenticated:
            return []
        return list(self.options(current_user))

    def validate(self, value):
        return isinstance(value, str) and 0 < len(value) <= 20


class YearFilter(BaseSQLAFilter):
    """The calendar year the contract starts in."""

    def apply(self, query, value, alias=None):
        return query.filter(extract("year", PriseEnCharge.date_debut) == int(value))

    def operation(self):
        return "égale"

    def validate(self, value):
        return str(value).isdigit() and 2000 <= int(value) <= 2100

    def clean(self, value):
        return int(value)


def _active_claim(*states):
    return exists().where(DemandeRemboursement.echeance_id == Echeance.id,
                          DemandeRemboursement.state.in_(states))


def late_clause(kind: str, today: date):
    """The prises en charge needing the CFA: a decision overdue, claims due and not deposited,
    deposited and unpaid after 30 days, a balance at risk (4 months after the end)."""
    if kind == "decision":
        return and_(PriseEnCharge.state.in_(("recu", "en_instruction")),
                    PriseEnCharge.date_complet < today - timedelta(days=DECISION_DAYS))
    if kind == "a_deposer":
        return and_(PriseEnCharge.state == "accorde", exists().where(
            Echeance.prise_en_charge_id == PriseEnCharge.id, Echeance.date_prevue <= today,
            Echeance.hors_echeancier.is_(False), ~_active_claim("deposee", "payee")))
    if kind == "impayee":
        return exists().where(DemandeRemboursement.prise_en_charge_id == PriseEnCharge.id,
                              DemandeRemboursement.state == "deposee",
                              DemandeRemboursement.deposee_le < claims.unpaid_since(today))
    if kind == "solde":
        return and_(PriseEnCharge.state.notin_(("refuse", "annule")),
                    PriseEnCharge.date_fin <= today,
                    PriseEnCharge.date_fin >= add_months(today, -BALANCE_CLAIM_MONTHS),
                    exists().where(Echeance.prise_en_charge_id == PriseEnCharge.id,
                                   Echeance.nature == "solde",
                                   ~_active_claim("deposee", "payee")))
    raise ValueError(kind)


class FinancingLateFilter(BaseSQLAFilter):
    OPTIONS = [("decision", f"Décision de l'OPCO en retard ({DECISION_DAYS} jours)"),
               ("a_deposer", "Demandes de remboursement à déposer"),
               ("impayee", "Déposée et impayée depuis plus de 30 jours"),
               ("solde", "Solde à demander (4 mois après la fin)")]

    def __init__(self, column, name):
        super().__init__(column, name, options=self.OPTIONS)

    def apply(self, query, value, alias=None):
        return query.filter(late_clause(value, date.today()))

    def operation(self):
        return "est"

    def validate(self, value):
        return value in dict(self.OPTIONS)


def _open(view, context, model, name):
    dossier = model.dossier
    return Markup('<a href="{}" class="sillon-open-financing">{}</a>').format(
        view.get_url("dossier.tab_view", dossier_id=model.dossier_id, tab_code="financement"),
        dossier.apprenti_nom_complet if dossier else model.dossier_id)


def _state(view, context, model, name):
    return Markup('<span class="badge badge-secondary" data-pec-state="{}">{}</span>').format(
        model.state, model.state_label)


def _deadline(model) -> str:
    if model.state not in ("recu", "en_instruction") or model.date_complet is None:
        return ""
    deadline = decision_deadline(model.date_complet)
    late = " (dépassée)" if deadline < date.today() else ""
    return f"{fr_day(deadline)}{late}"


def _money(name):
    return lambda v, c, m, n: eur(getattr(m, name)) if getattr(m, name) is not None else ""


class PriseEnChargeView(SecureModelView):
    """Seed 004's list of actions: the CFA's dossiers at the OPCO, their states and budgets."""

    can_create = False
    can_edit = False
    can_delete = False
    can_view_details = False
    can_export = True
    export_types = ["csv", "xlsx"]
    column_list = ["id", "dossier", "employeur", "formation", "opco", "numero_opco", "state",
                   "date_depot", "decision", "montant_opco", "reste_a_charge",
                   "organisme_delegant"]
    column_export_list = column_list
    column_labels = {
        "id": "N°", "dossier": "Alternant·e", "employeur": "Employeur", "formation": "Formation",
        "opco": "OPCO", "numero_opco": "N° OPCO", "state": "État", "date_depot": "Déposé le",
        "decision": "Décision attendue le", "montant_opco": "Budget OPCO",
        "reste_a_charge": "Reste à charge employeur", "organisme_delegant": "Organisme délégant",
        "dossier.apprenti_nom": "Nom de l'alternant·e",
        "dossier.apprenti_prenom": "Prénom de l'alternant·e",
        "dossier.etablissement.denomination": "Employeur",
    }
    column_formatters = {
        "dossier": _open, "state": _state,
        "employeur": lambda v, c, m, n: m.dossier.etablissement.denomination
        if m.dossier and m.dossier.etablissement else "",
        "formation": lambda v, c, m, n: m.dossier.formation.intitule if m.dossier else "",
        "opco": lambda v, c, m, n: m.opco.nom if m.opco else (m.opco_code or ""),
        "date_depot": lambda v, c, m, n: fr_day(m.date_depot),
        "decision": lambda v, c, m, n: _deadline(m),
        "montant_opco": _money("montant_opco"), "reste_a_charge": _money("reste_a_charge"),
    }
    column_formatters_export = dict(column_formatters,
                                    dossier=lambda v, c, m, n: m.dossier.apprenti_nom_complet,
                                    state=lambda v, c, m, n: m.state_label)
    column_sortable_list = ["id", "numero_opco", "state", "date_depot", "montant_opco",
                            "reste_a_charge"]
    column_default_sort = ("id", True)
    column_searchable_list = ["numero_opco", "dossier.apprenti_nom", "dossier.apprenti_prenom",
                              "dossier.etablissement.denomination"]
    column_filters = [
        FilterEqual(PriseEnCharge.state, "État", options=STATE_CHOICES),
        ScopedStrFilterEqual(PriseEnCharge.opco_code, "OPCO", options=_opco_options),
        ScopedFilterEqual(Dossier.formation_id, "Formation", options=_formation_options),
        YearFilter(PriseEnCharge.date_debut, "Année de début du contrat"),
        FinancingLateFilter(PriseEnCharge.id, "À suivre"),
        ScopedFilterEqual(PriseEnCharge.organisme_delegant_id, "Organisme délégant",
                          options=_delegant_options),
    ]

    def get_query(self):
        # What a row shows, loaded with it: one query per page, and the CSV export (streamed
        # after the request's session is gone) never loads a relation lazily.
        return super().get_query().options(
            joinedload(PriseEnCharge.dossier).joinedload(Dossier.etablissement),
            joinedload(PriseEnCharge.opco), joinedload(PriseEnCharge.organisme_delegant))

    def is_action_allowed(self, name):
        return policy.financing_refusal(current_user) is None and super().is_action_allowed(name)

    # A prise en charge opens on its dossier's Financement tab: Flask-Admin's generic details
    # and edit pages do not exist here (404, like a missing row).
    @expose("/details/")
    def details_view(self):
        abort(404)

    @expose("/edit/", methods=("GET", "POST"))
    def edit_view(self):
        abort(404)

    # --- bulk actions, each dossier on its own with a report -------------------------------------
    def _report(self, label, done, refused):
        if done:
            flash(f"« {label} » : {len(done)} fait{'s' if len(done) > 1 else ''} "
                  f"({'; '.join(done)}).", "success")
        for text in refused:
            flash(text, "error")
        if not done and not refused:
            flash(f"« {label} » : rien à faire pour les dossiers sélectionnés.", "info")

    @action("generer_factures", "Générer les factures des échéances dues",
            "Générer les factures des échéances dues pour les dossiers sélectionnés ?")
    def action_invoices(self, ids):
        done, refused = [], []
        for pec in self._selected(ids):
            due = [e for e in pec.echeances if claims.claim_refusal(e, date.today()) is None]
            if not due:
                refused.append(f"Dossier n° {pec.dossier_id} : aucune échéance due sans "
                               "demande.")
            for echeance in due:
                try:
                    claim = claims.create_claim(echeance, by=current_user)
                    done.append(f"dossier n° {pec.dossier_id} : facture {claim.facture.numero}")
                except WriteRefused as exc:
                    db.session.rollback()
                    refused.append(f"Dossier n° {pec.dossier_id} : {exc}")
        self._report("Générer les factures", done, refused)

    @action("deposer", "Marquer comme déposées",
            "Marquer comme déposées les demandes prêtes des dossiers sélectionnés ?")
    def action_deposit(self, ids):
        done, refused = [], []
        for pec in self._selected(ids):
            drafts = [c for e in pec.echeances for c in e.demandes if c.state == "brouillon"]
            if not drafts:
                refused.append(f"Dossier n° {pec.dossier_id} : aucune demande à déposer.")
            for claim in drafts:
                try:
                    claims.deposit(claim, by=current_user)
                    done.append(f"dossier n° {pec.dossier_id} : facture {claim.facture.numero}")
                except WriteRefused as exc:
                    db.session.rollback()
                    refused.append(f"Dossier n° {pec.dossier_id} ({claim.facture.numero}) : "
                                   f"{exc}")
        self._report("Marquer comme déposées", done, refused)

    def _selected(self, ids):
        query = policy.scoped(db.session.query(PriseEnCharge), PriseEnCharge, current_user)
        return query.filter(PriseEnCharge.id.in_([int(i) for i in ids])).order_by(
            PriseEnCharge.id).all()


class OrganismeDelegantView(SecureModelView):
    """Seed 004's « ajouter un OF déléguant »: organisations whose contracts the CFA manages."""

    column_list = ["nom", "siret", "uai", "numero_declaration_activite", "commune",
                   "contact_nom", "contact_email", "actif"]
    column_labels = {
        "nom": "Raison sociale", "siret": "SIRET", "uai": "UAI",
        "numero_declaration_activite": "N° de déclaration d'activité", "adresse": "Adresse",
        "code_postal": "Code postal", "commune": "Commune", "contact_civilite": "Civilité",
        "contact_prenom": "Prénom de l'interlocuteur", "contact_nom": "Nom de l'interlocuteur",
        "contact_fonction": "Fonction", "contact_telephone": "Téléphone",
        "contact_email": "Courriel", "actif": "Actif", "created_at": "Créé le",
    }
    column_searchable_list = ["nom", "siret", "uai"]
    form_columns = ["nom", "siret", "uai", "numero_declaration_activite", "adresse",
                    "code_postal", "commune", "contact_civilite", "contact_prenom",
                    "contact_nom", "contact_fonction", "contact_telephone", "contact_email",
                    "actif"]
    form_args = {"siret": {"validators": [Siret()]}, "uai": {"validators": [Uai()]}}
    form_choices = {"contact_civilite": [("", "—"), ("Mme", "Mme"), ("M.", "M.")]}


class CfaContactView(SecureModelView):
    """The CFA's contact sheet (seed 004's « fiche contact »), printed on its invoices."""

    can_create = False
    can_delete = False
    column_list = ["nom", "uai", "siret", "numero_declaration_activite", "contact_nom",
                   "contact_email", "contact_telephone"]
    column_labels = {
        "nom": "Nom", "uai": "UAI", "siret": "SIRET",
        "numero_declaration_activite": "N° de déclaration d'activité", "adresse": "Adresse",
        "code_postal": "Code postal", "commune": "Commune", "telephone": "Téléphone",
        "email": "Courriel", "contact_civilite": "Civilité de l'interlocuteur",
        "contact_prenom": "Prénom de l'interlocuteur", "contact_nom": "Nom de l'interlocuteur",
        "contact_fonction": "Fonction", "contact_telephone": "Téléphone de l'interlocuteur",
        "contact_email": "Courriel de l'interlocuteur", "tva_intracom": "N° de TVA",
        "iban": "IBAN", "bic": "BIC", "signataire_visa": "Signataire du visa",
        "cfa_entreprise": "CFA d'entreprise",
    }
    form_columns = ["nom", "numero_declaration_activite", "adresse", "code_postal", "commune",
                    "telephone", "email", "contact_civilite", "contact_prenom", "contact_nom",
                    "contact_fonction", "contact_telephone", "contact_email", "tva_intracom",
                    "iban", "bic", "signataire_visa", "cfa_entreprise"]
    form_choices = {"contact_civilite": [("", "—"), ("Mme", "Mme"), ("M.", "M.")]}


class NpecView(SecureModelView):
    column_list = ["code_certification", "idcc", "npec", "valable_du", "valable_au", "libelle"]
    column_labels = {"code_certification": "Certification (RNCP ou code diplôme)",
                     "idcc": "IDCC", "npec": "NPEC annuel (€)", "valable_du": "Du",
                     "valable_au": "Au", "libelle": "Libellé"}
    column_searchable_list = ["code_certification", "idcc", "libelle"]
    column_default_sort = [("code_certification", False), ("idcc", False)]


class PlafondView(SecureModelView):
    column_list = ["nature", "montant", "valable_du", "valable_au", "base_legale"]
    column_labels = {"nature": "Nature", "montant": "Plafond (€)", "valable_du": "Du",
                     "valable_au": "Au", "base_legale": "Base légale"}
    column_choices = {"nature": list(FRAIS_NATURES.items())}
    form_choices = {"nature": list(FRAIS_NATURES.items())}

