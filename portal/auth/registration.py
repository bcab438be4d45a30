"""Self-registration with a training's access code (right-hand side of the login page).

A new address: the apprentice's account and their dossier in that training (state
``initialise``) are created through the dossier service and "Bienvenue sur Sillon" is sent.
An address that already has an account — whatever its state — is never acted on from this
anonymous page: no role, no dossier, no password; its owner is told by e-mail instead (at most
once per window). The page answers the same in both cases.

Throttles: wrong codes per IP (failures); admitted registrations per IP, per address and per
code (known and new addresses alike, so that a refusal says nothing about the address).
"""
from __future__ import annotations

import logging

from flask import current_app, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from forms.auth import LoginForm, RegistrationForm

from portal.accounts import invitations as accounts
from portal.policy import may_register_on
from portal.dossiers.service import Duplicate, create_dossier
from portal.mail.outbox import queue
from ..extensions import db
from ..models import Formation, User
from ..public import public
from . import bp, throttle

log = logging.getLogger(__name__)

WRONG_CODE = ("Ce code d'accès n'est pas valable. Vérifiez-le auprès du responsable de votre "
              "formation.")
HISTORY_COMMENT = "Inscription de l'alternant·e avec le code d'accès de la formation."
NOTICE_SUBJECT = "[Sillon] Tentative d'inscription avec votre adresse e-mail"


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


# Why an admitted registration was refused, by the kind of key that reached its limit.
TOO_MANY = {
    "ip": "Trop d'inscriptions ont été faites depuis votre connexion. Réessayez dans {wait}.",
    "email": "Trop d'inscriptions ont été demandées pour cette adresse e-mail. Réessayez dans "
             "{wait}.",
    "code": "Trop d'inscriptions avec ce code d'accès en peu de temps. Réessayez dans {wait} ou "
            "contactez le responsable de votre formation.",
}


def normalize_code(code: str | None) -> str:
    return "".join((code or "").split()).upper()


def formation_for_code(code: str) -> Formation | None:
    code = normalize_code(code)
    if not code:
        return None
    return db.session.execute(select(Formation).where(
        func.upper(Formation.access_code) == code,
        Formation.access_code_enabled.is_(True))).scalar_one_or_none()


# --- the two outcomes ---------------------------------------------------------------------------

def notify_known_address(account: User) -> bool:
    """Tell the owner of an existing account that someone tried to register with their address:
    log in, or reset the password, or ignore. At most one e-mail per address per
    REGISTRATION_NOTICE_WINDOW_SECONDS; none to a deactivated account (it can neither log in
    nor reset). Returns whether an e-mail was queued (the caller commits)."""
    if not account.active:
        return False
    address = accounts.normalize_email(account.email)
    window = current_app.config["REGISTRATION_NOTICE_WINDOW_SECONDS"]
    if throttle.take({f"register:notice:{address}": 1}, window) is not None:
        return False
    base = accounts.base_url()
    queue(account.email, "inscription_adresse_connue", NOTICE_SUBJECT, recipient=account,
          login_link=accounts.login_link(account.email),
          forgot_link=f"{base}{url_for('auth.forgot')}")
    return True


def _claim_address(address: str, first_name: str, last_name: str) -> User:
    """Insert the new account's row at once. The unique e-mail of ``users`` is the arbiter
    between two concurrent registrations of one address: the loser fails here
    (IntegrityError) instead of finding, inside the service, the account the winner has just
    committed and hanging a second dossier and a second "Bienvenue" on it. The service then
    finds this row (still without a password) and gives it its role, its dossier and its
    "Bienvenue"."""
    account = User(email=address, first_name=first_name or None, last_name=last_name or None,
                   active=True)
    db.session.add(account)
    db.session.flush()
    return account


def register(formation: Formation, *, email: str, first_name: str, last_name: str,
             birth_date) -> bool:
    """Register ``email`` in ``formation`` and commit. Returns True when a new account and its
    dossier were created, False when the address already had an account (left untouched, its
    owner told). The caller has checked the code and the throttles."""
    address = accounts.normalize_email(email)
    account = accounts.find_user(address)
    if may_register_on(account):
        try:
            _claim_address(address, first_name, last_name)
            create_dossier(formation, {
                "apprenti_email": address, "apprenti_prenom": first_name,
                "apprenti_nom": last_name, "apprenti_date_naissance": birth_date,
            }, by=None, source="registration", comment=HISTORY_COMMENT)
            db.session.commit()
            return True
        except (IntegrityError, Duplicate):
            # A concurrent registration (or import, or creation) of the same address won:
            # that account, or that dossier, now exists. Nothing of this request is kept.
            db.session.rollback()
            account = accounts.find_user(address)
            if account is None:
                # An open dossier of this address without an account (its account was
                # deleted): never hang a second one on it; the page answers as always.
                log.warning("Inscription de %s refusée : un dossier ouvert existe déjà dans "
                            "la formation %s", address, formation.id)
                return False
    notify_known_address(account)
    db.session.commit()
    return False


# --- the page -----------------------------------------------------------------------------------

def _limits(cfg, formation: Formation, address: str) -> dict[str, int]:
    return {
        f"register:ok:ip:{request.remote_addr or '?'}": cfg["REGISTRATION_MAX_PER_IP"],
        f"register:ok:email:{address}": cfg["REGISTRATION_MAX_PER_ADDRESS"],
        f"register:ok:code:{formation.id}": cfg["REGISTRATION_MAX_PER_CODE"],
    }


@bp.route("/inscription", methods=["GET", "POST"])
@public
def registration():
    form = RegistrationForm()
    done, error, status, retry_after = None, None, 200, None
    if form.validate_on_submit():
        cfg = current_app.config
        key_ip = f"register:ip:{request.remote_addr or '?'}"
        window = cfg["REGISTRATION_WINDOW_SECONDS"]
        if throttle.failures(key_ip, window) >= cfg["REGISTRATION_MAX_FAILURES_PER_IP"]:
            error, status = ("Trop de tentatives avec un code d'accès erroné. Réessayez dans "
                             f"{_minutes(window)}.", 429)
            retry_after = window
        else:
            formation = formation_for_code(form.code.data)
            if formation is None:
                throttle.record_failure(key_ip)
                form.code.errors = [WRONG_CODE]
                status = 400
            else:
                address = accounts.normalize_email(form.email.data)
                success_window = cfg["REGISTRATION_SUCCESS_WINDOW_SECONDS"]
                over = throttle.take(_limits(cfg, formation, address), success_window)
                if over is not None:
                    kind = over.split(":")[2]
                    error = TOO_MANY[kind].format(wait=_minutes(success_window))
                    status, retry_after = 429, success_window
                else:
                    register(formation, email=address, first_name=form.first_name.data,
                             last_name=form.last_name.data, birth_date=form.birth_date.data)
                    done = address  # the same answer whether the address had an account
    elif form.is_submitted():
        status = 400
    response = current_app.make_response((render_template(
        "auth/registration.html", form=form, done=done, error=error,
        login_form=LoginForm()), status))
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response
