"""Forgotten password (single-use link valid one hour, same answer for every address, throttled
per address and per IP), the reset page, and the new password forced at first login."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from forms.auth import ForgotForm, NewPasswordForm

from portal.accounts import invitations as accounts
from ..extensions import db
from portal.mail.outbox import queue
from ..public import public
from . import bp, sessions, throttle
from .redirects import safe_next

SENT_MESSAGE = ("Si cette adresse correspond à un compte Sillon, un e-mail vient de lui être "
                "envoyé avec un lien pour choisir un nouveau mot de passe. Le lien est valable "
                "une heure et ne sert qu'une fois. Pensez à regarder dans les courriers "
                "indésirables.")


def _client_ip() -> str:
    return request.remote_addr or "?"


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
@public
def forgot():
    form = ForgotForm()
    status, sent, error = 200, False, None
    if form.validate_on_submit():
        cfg = current_app.config
        address = accounts.normalize_email(form.email.data)
        key_email, key_ip = f"reset:email:{address}", f"reset:ip:{_client_ip()}"
        window = cfg["RESET_WINDOW_SECONDS"]
        # Every request counts, for known and unknown addresses alike: being throttled says
        # nothing about whether the address has an account.
        if (throttle.failures(key_email, window) >= cfg["RESET_MAX_PER_ADDRESS"]
                or throttle.failures(key_ip, window) >= cfg["RESET_MAX_PER_IP"]):
            error, status = ("Trop de demandes de réinitialisation. Réessayez dans "
                             f"{max(1, window // 60)} minutes.", 429)
        else:
            user = accounts.find_user(address)
            if user is not None and user.active:
                raw = accounts.create_token(user, "reset", lifetime=accounts.RESET_LIFETIME)
                queue(user.email, "reinitialisation", "[Sillon] Choisir un nouveau mot de passe",
                      user=user, reset_link=f"{accounts.base_url()}"
                                      f"{url_for('auth.reset', token=raw)}")
            throttle.record_failure(key_email, key_ip)  # commits the token and the e-mail too
            sent = True
    elif form.is_submitted():
        status = 400
    return render_template("auth/forgot.html", form=form, sent=sent, error=error,
                           message=SENT_MESSAGE), status


@bp.route("/reinitialiser/<token>", methods=["GET", "POST"])
@public
def reset(token):
    found = accounts.find_token(token, "reset")
    if found is None:
        return render_template("auth/link_invalid.html"), 410
    user = found.user
    form = NewPasswordForm(user=user)
    if form.validate_on_submit():
        user.set_password(form.password.data)  # ends the person's other sessions too
        found.used_at = accounts.now()
        db.session.commit()
        # The link proved the mailbox: the person is logged in at once, so no login throttle
        # (however many failures others piled on the address) can keep its owner out.
        throttle.login_cleared(user.email.lower())
        sessions.begin(user)
        flash("Votre nouveau mot de passe est enregistré et vous êtes connecté·e. Vos autres "
              "sessions ont pris fin.", "success")
        return redirect(url_for("admin.index"))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/new_password.html", form=form, user=user, first=False), status


@bp.route("/premier-mot-de-passe", methods=["GET", "POST"])
def first_password():
    if not current_user.must_change_password:
        return redirect(safe_next(request.args.get("next")))
    form = NewPasswordForm(user=current_user)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        user.set_password(form.password.data)  # rotates the session token…
        db.session.commit()
        sessions.begin(user)  # …so the current session is renewed with the new one
        flash("Votre mot de passe est enregistré.", "success")
        return redirect(safe_next(request.args.get("next")))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/new_password.html", form=form, user=current_user,
                           first=True), status
