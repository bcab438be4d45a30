"""The person's account page: change password; change e-mail address (confirmed by a link sent
to the new address, the old address being told)."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from forms.auth import ChangeEmailForm, ChangePasswordForm

from portal.accounts import invitations as accounts
from ..extensions import db
from ..models import ROLE_LABELS
from portal.mail.outbox import queue
from ..public import public
from . import bp, sessions


def _render(password_form, email_form, status=200):
    roles = [ROLE_LABELS.get(code, code) for code in sorted(current_user.role_codes)]
    return render_template("auth/account.html", password_form=password_form,
                           email_form=email_form, roles=roles), status


@bp.route("/compte", methods=["GET"])
def account():
    return _render(ChangePasswordForm(user=current_user, formdata=None),
                   ChangeEmailForm(user=current_user, formdata=None))


@bp.route("/compte/mot-de-passe", methods=["POST"])
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm(user=user)
    if form.validate_on_submit():
        user.set_password(form.password.data)  # ends the person's other sessions
        db.session.commit()
        sessions.begin(user)  # this one goes on, with the new token
        flash("Votre mot de passe a été modifié. Vos sessions sur d'autres appareils ont pris "
              "fin.", "success")
        return redirect(url_for("auth.account"))
    return _render(form, ChangeEmailForm(user=user, formdata=None), 400)


@bp.route("/compte/adresse", methods=["POST"])
def change_email():
    user = current_user._get_current_object()
    form = ChangeEmailForm(user=user)
    if form.validate_on_submit():
        new = accounts.normalize_email(form.email.data)
        taken = accounts.find_user(new)
        if taken is None:
            raw = accounts.create_token(user, "email_change",
                                        lifetime=accounts.EMAIL_CHANGE_LIFETIME, payload=new)
            queue(new, "adresse_confirmation", "[Sillon] Confirmez votre nouvelle adresse e-mail",
                  user=user, new_email=new,
                  confirm_link=f"{accounts.base_url()}{url_for('auth.confirm_email', token=raw)}")
            queue(user.email, "adresse_changement", "[Sillon] Changement d'adresse e-mail demandé",
                  user=user, new_email=new)
            db.session.commit()
        # Same answer when the address belongs to someone else: it is not disclosed here.
        flash(f"Un lien de confirmation a été envoyé à {new}. Votre adresse ne change qu'une "
              "fois ce lien ouvert (il est valable 24 heures).", "info")
        return redirect(url_for("auth.account"))
    return _render(ChangePasswordForm(user=user, formdata=None), form, 400)


@bp.route("/compte/adresse/<token>")
@public
def confirm_email(token):
    found = accounts.find_token(token, "email_change")
    if found is None:
        return render_template("auth/link_invalid.html"), 410
    user, new = found.user, found.payload
    found.used_at = accounts.now()
    if accounts.find_user(new) is not None:
        db.session.commit()
        flash("Cette adresse est déjà celle d'un autre compte : elle n'a pas été modifiée.",
              "error")
        return redirect(url_for("auth.login"))
    user.email = new
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        flash("Cette adresse est déjà celle d'un autre compte : elle n'a pas été modifiée.",
              "error")
        return redirect(url_for("auth.login"))
    flash(f"Votre adresse e-mail est désormais {new} : utilisez-la pour vous connecter.",
          "success")
    if current_user.is_authenticated and current_user.id == user.id:
        return redirect(url_for("auth.account"))
    return redirect(url_for("auth.login", email=new))
