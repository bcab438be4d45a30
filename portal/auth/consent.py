"""RGPD: before any other page, every person accepts the current version of the
data-protection terms; the time and the version accepted are stored."""
from __future__ import annotations

from flask import current_app, redirect, render_template, request
from flask_login import current_user

from forms.auth import ConsentForm

from portal.accounts import invitations as accounts
from ..extensions import db
from . import bp
from .redirects import safe_next


@bp.route("/rgpd", methods=["GET", "POST"])
def consent():
    version = current_app.config["RGPD_TERMS_VERSION"]
    if current_user.rgpd_version == version and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    form = ConsentForm()
    if form.validate_on_submit():
        current_user.rgpd_accepted_at = accounts.now()
        current_user.rgpd_version = version
        db.session.commit()
        return redirect(safe_next(request.args.get("next")))
    status = 400 if form.is_submitted() else 200
    return render_template("auth/consent.html", form=form, version=version,
                           previous=current_user.rgpd_version), status


@bp.route("/rgpd/conditions")
def rgpd_terms():
    return render_template("auth/rgpd_terms.html",
                           version=current_app.config["RGPD_TERMS_VERSION"])
