"""Structures and their référent (seed 003): "Ma structure" for employers and members,
"Demandes de structures" for CFA staff, and the public page /inscription/structure where a
person without an account asks to join their structure.

Every decision goes through portal.accounts (structures, structure_requests, referents), which
checks who may act; every row comes through admin_views.base.row_or_404 (portal.policy's
filters), so a row the person may not manage answers 404 exactly like one that does not exist.
"""
from __future__ import annotations

import logging
import secrets

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_admin import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import EmailField, StringField
from werkzeug.security import generate_password_hash
from wtforms.validators import DataRequired, Email, Length

from forms.validators import Siret
from portal.accounts import referents
from portal.accounts import structure_requests as requests_
from portal.accounts import structures as access
from portal.accounts.invitations import find_user, invite, normalize_email
from portal.auth import throttle
from portal.dossiers import service
from portal.extensions import db
from portal.models import (CFA_ROLES, EMPLOYEUR, Structure, StructureMembership,
                           StructureRequest)
from portal.mail.outbox import queue
from portal.public import public

from .base import row_or_404
from .list_door import refuse_nul_bytes

log = logging.getLogger(__name__)


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "oui", "true")


def _login_redirect():
    return redirect(url_for("auth.login", next=request.full_path))


# --- "Ma structure" ---------------------------------------------------------------------------

class MyStructureView(BaseView):
    """The structures a person belongs to; for a référent, the requests and members."""

    def is_accessible(self):
        return current_user.is_authenticated

    def is_visible(self):
        # In the menu of employers (and of people who signed up without a role yet); CFA staff
        # follow the structures from "Demandes de structures", apprentices and trainings
        # have no structure of their own.
        return current_user.is_authenticated and (
            current_user.has_role(EMPLOYEUR) or not current_user.role_codes)

    def inaccessible_callback(self, name, **kwargs):
        return _login_redirect()

    def _handle_view(self, name, **kwargs):
        refuse_nul_bytes()  # PostgreSQL refuses NUL in text: 400, not a 500
        return super()._handle_view(name, **kwargs)

    def _back(self):
        if request.form.get("retour") == "demandes" and current_user.has_role(*CFA_ROLES):
            return redirect(url_for("structure_requests.index"))
        return redirect(self.get_url(".index"))

    @expose("/")
    def index(self):
        managed = []
        for structure in access.referent_structures(current_user):
            members = sorted(structure.memberships,
                             key=lambda m: (m.user.last_name or "", m.user.email))
            managed.append(dict(
                structure=structure,
                pending=[m for m in members if m.status == StructureMembership.DEMANDE],
                approved=[m for m in members if m.status == StructureMembership.APPROUVE],
                refused=[m for m in members if m.status == StructureMembership.REFUSE]))
        return self.render("admin/structure_mine.html",
                           memberships=access.memberships_of(current_user), managed=managed,
                           requests=requests_.requests_of(current_user),
                           labels=StructureMembership.STATUS_LABELS)

    @expose("/rejoindre", methods=("POST",))
    def join(self):
        siret = request.form.get("siret", "")
        try:
            result = access.request_access(current_user, siret)
        except access.StructureAccessRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._back()
        structure = result.membership.structure
        db.session.commit()
        if result.became_referent:
            flash(f"Vous êtes le premier compte de la structure {structure.raison_sociale} : "
                  "vous en êtes le référent.", "success")
        elif result.already_pending:
            flash(f"Votre demande d'accès à la structure {structure.raison_sociale} est déjà "
                  "en attente de réponse.", "info")
        else:
            # The same words whoever decides (its référent or the CFA): nothing said about
            # whether the structure has a référent.
            flash(f"Votre demande d'accès à la structure {structure.raison_sociale} est "
                  "envoyée. Vous serez prévenu·e par e-mail de la réponse.", "success")
        return self._back()

    @expose("/nouvelle-structure", methods=("GET", "POST"))
    def request_form(self):
        values = {name: request.form.get(name, "") for name in requests_.REQUEST_FIELDS}
        if request.method == "GET":
            values["siret"] = request.args.get("siret", "")[:20]
        errors, status = {}, 200
        if request.method == "POST":
            try:
                requests_.request_structure(current_user, **values)
            except requests_.StructureRequestInvalid as exc:
                db.session.rollback()
                errors, status = exc.errors, 400
            except access.StructureAccessRefused as exc:
                db.session.rollback()
                flash(str(exc), "error")
                status = 400
            else:
                db.session.commit()
                flash("Votre demande de création de structure est envoyée à l'équipe du CFA. "
                      "Vous recevrez un e-mail dès que votre structure sera enregistrée "
                      "(sous 24 à 48 h).", "success")
                return self._back()
        return self.render("admin/structure_request_form.html", values=values,
                           errors=errors), status

    @expose("/membre/<int:membership_id>/decision", methods=("POST",))
    def decision(self, membership_id):
        membership = row_or_404(StructureMembership, membership_id)
        choice = request.form.get("decision")
        if choice not in ("approuver", "refuser"):
            flash("Choisissez « Approuver » ou « Refuser ».", "error")
            return self._back()
        who = membership.user.full_name
        first_referent = choice == "approuver" and membership.structure.referent_id is None
        try:
            access.decide(current_user, membership, choice == "approuver",
                          contact_employeur=_checked("contact_employeur"),
                          beneficiaire=_checked("beneficiaire"))
            # Dossiers of this person waiting for an establishment of the structure now point
            # at it, through the write path, in the approval's transaction.
            service.apply_approval(membership, by=current_user)
        except (access.StructureAccessRefused, service.WriteRefused) as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._back()
        db.session.commit()
        if first_referent:
            flash(f"Demande de {who} approuvée : {who} est désormais référent de la structure "
                  "et en est prévenu·e par e-mail.", "success")
        else:
            flash(f"Demande de {who} {'approuvée' if choice == 'approuver' else 'refusée'} : "
                  "la personne est prévenue par e-mail.", "success")
        return self._back()

    @expose("/membre/<int:membership_id>/droits", methods=("POST",))
    def rights(self, membership_id):
        membership = row_or_404(StructureMembership, membership_id)
        who = membership.user.full_name
        try:
            access.set_rights(current_user, membership, _checked("contact_employeur"),
                              _checked("beneficiaire"))
        except access.StructureAccessRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._back()
        db.session.commit()
        flash(f"Droits de {who} enregistrés.", "success")
        return self._back()

    @expose("/structure/<int:structure_id>/referent", methods=("POST",))
    def hand_over(self, structure_id):
        structure = row_or_404(Structure, structure_id)
        member_id = request.form.get("membre", "").strip()
        if not member_id.isdigit():
            flash("Choisissez un membre approuvé de la structure.", "error")
            return self._back()
        # Memberships the person decides on (portal.policy): the référent's structures, or all
        # for CFA staff; another structure's member, or none, answers 404.
        target = row_or_404(StructureMembership, member_id)
        if target.structure_id != structure.id:
            flash("Choisissez un membre approuvé de la structure.", "error")
            return self._back()
        try:
            access.hand_over(current_user, structure, target.user)
        except access.StructureAccessRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return self._back()
        who = target.user.full_name
        db.session.commit()
        flash(f"{who} est désormais référent de la structure {structure.raison_sociale} "
              "et en est prévenu·e par e-mail.", "success")
        return self._back()


# --- "Demandes de structures" (CFA staff) -------------------------------------------------------

class StructureRequestsView(BaseView):
    """The queue of structures requested by employers, created or refused by CFA staff."""

    def is_accessible(self):
        return current_user.is_authenticated and current_user.has_role(*CFA_ROLES)

    def inaccessible_callback(self, name, **kwargs):
        if not current_user.is_authenticated:
            return _login_redirect()
        abort(403)

    def _handle_view(self, name, **kwargs):
        refuse_nul_bytes()
        return super()._handle_view(name, **kwargs)

    def _page(self, errors=None, posted=None, status=200):
        pending = db.session.execute(
            select(StructureRequest).where(StructureRequest.status == StructureRequest.EN_ATTENTE)
            .order_by(StructureRequest.created_at, StructureRequest.id)).scalars().all()
        handled = db.session.execute(
            select(StructureRequest).where(StructureRequest.status != StructureRequest.EN_ATTENTE)
            .order_by(StructureRequest.handled_at.desc(), StructureRequest.id.desc())
            .limit(100)).scalars().all()
        orphans = access.orphan_access_requests()
        return self.render("admin/structure_queue.html", pending=pending, handled=handled,
                           orphans=orphans, facts=referents.queue_facts(orphans),
                           errors=errors or {}, posted=posted or {},
                           fields=requests_.REQUEST_FIELDS), status

    @expose("/")
    def index(self):
        return self._page()

    @expose("/<int:request_id>/creer", methods=("POST",))
    def create(self, request_id):
        row = row_or_404(StructureRequest, request_id)
        values = {name: request.form.get(name) for name in requests_.REQUEST_FIELDS}
        try:
            structure = requests_.create_from_request(current_user, row, **values)
        except requests_.StructureRequestInvalid as exc:
            db.session.rollback()
            return self._page(errors={request_id: exc.errors}, posted={request_id: values},
                              status=400)
        except access.StructureAccessRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(self.get_url(".index"))
        name = structure.raison_sociale
        db.session.commit()
        flash(f"Structure {name} créée : le demandeur en est le référent et en est prévenu "
              "par e-mail.", "success")
        return redirect(self.get_url(".index"))

    @expose("/<int:request_id>/refuser", methods=("POST",))
    def refuse(self, request_id):
        row = row_or_404(StructureRequest, request_id)
        try:
            requests_.refuse_request(current_user, row, request.form.get("motif", ""))
        except access.StructureAccessRefused as exc:
            db.session.rollback()
            flash(str(exc), "error")
            return redirect(self.get_url(".index"))
        db.session.commit()
        flash("Demande refusée : le demandeur est prévenu par e-mail avec le motif.", "success")
        return redirect(self.get_url(".index"))


# --- public page: asking to join a structure without an account ---------------------------------

bp = Blueprint("structure_signup", __name__)
bp.before_request(refuse_nul_bytes)

SIGNUP_MAX_PER_IP = 10
SIGNUP_MAX_PER_EMAIL = 3
SIGNUP_WINDOW_SECONDS = 3600
GENERIC_ANSWER = ("Si les informations sont correctes, vous allez recevoir un e-mail dans "
                  "quelques minutes : il vous indique comment vous connecter et où en est votre "
                  "demande d'accès à la structure.")


class SignupForm(FlaskForm):
    prenom = StringField("Prénom", validators=[
        DataRequired("Saisissez votre prénom."), Length(max=100)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v])
    nom = StringField("Nom", validators=[
        DataRequired("Saisissez votre nom."), Length(max=100)],
        filters=[lambda v: v.strip() if isinstance(v, str) else v])
    email = EmailField("Adresse e-mail professionnelle", validators=[
        DataRequired("Saisissez votre adresse e-mail."),
        Email("Cette adresse e-mail n'est pas valide.", check_deliverability=False),
        Length(max=254)], filters=[lambda v: v.strip() if isinstance(v, str) else v])
    siret = StringField("SIRET de votre établissement", validators=[
        DataRequired("Saisissez le numéro SIRET (14 chiffres)."), Siret()])


def _signup(form: SignupForm) -> None:
    """Create the account and the access request; e-mail the person in every case where
    something happened. Never tells the visitor which case applied."""
    email = normalize_email(form.email.data)
    siret = form.siret.data
    link = f"{access.base_url()}{access.MY_STRUCTURE_PATH}"
    user = find_user(email)
    if user is not None:
        # An existing account is never acted on from an anonymous page: its owner is told
        # how to ask from "Ma structure" after logging in.
        generate_password_hash(secrets.token_hex(8))  # as long as creating an account
        if user.active:
            queue(user.email, "structure_inscription_existant",
                  "[Sillon] Demande d'accès à une structure", recipient=user, siret=siret,
                  page_link=link)
        return
    invitation = invite(email, EMPLOYEUR, first_name=form.prenom.data, last_name=form.nom.data,
                        reason="l'accès à votre structure")
    try:
        access.request_access(invitation.user, siret)
    except access.StructureAccessRefused:
        queue(email, "structure_inconnue", "[Sillon] Structure introuvable",
              recipient=invitation.user, siret=siret, page_link=link)


@bp.route("/inscription/structure", methods=["GET", "POST"])
@public
def signup():
    form = SignupForm()
    status, answer, error = 200, None, None
    if form.validate_on_submit():
        cfg = current_app.config
        window = cfg.get("STRUCTURE_SIGNUP_WINDOW_SECONDS", SIGNUP_WINDOW_SECONDS)
        key_ip = f"structure-signup:ip:{request.remote_addr or '?'}"
        if throttle.failures(key_ip, window) >= cfg.get("STRUCTURE_SIGNUP_MAX_PER_IP",
                                                        SIGNUP_MAX_PER_IP):
            status = 429
            error = ("Trop de demandes ont été envoyées depuis votre connexion. Réessayez dans "
                     "une heure.")
        else:
            key_email = f"structure-signup:email:{normalize_email(form.email.data)}"
            quiet = throttle.failures(key_email, window) >= cfg.get(
                "STRUCTURE_SIGNUP_MAX_PER_EMAIL", SIGNUP_MAX_PER_EMAIL)
            throttle.record_failure(key_ip, key_email)
            if not quiet:  # the same address is not e-mailed over and over
                try:
                    _signup(form)
                    db.session.commit()
                except Exception:  # noqa: BLE001 - the answer must not depend on what happened
                    db.session.rollback()
                    log.exception("Demande d'accès à une structure impossible")
            answer = GENERIC_ANSWER
            form = SignupForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template("structures/inscription.html", form=form, answer=answer,
                           error=error), status
