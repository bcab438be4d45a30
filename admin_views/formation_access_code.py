"""The training's access code (SPEC §4, self-registration): /admin/formation/<id>/code-acces/.
The manager sees, regenerates or disables it; the gestionnaire and CFA staff see it. Scoped
through FormationView.get_one; rights from portal.policy.may_edit."""
from __future__ import annotations

import secrets

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import func, select

from portal import policy
from portal.extensions import db
from portal.models import Formation

_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_access_code() -> str:
    """Eight characters that cannot be confused (no 0/O, 1/I/L), e.g. ``K7MQ-2XTA``: about
    40 bits, far beyond what the throttled registration form lets anyone guess."""
    while True:
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        code = f"{raw[:4]}-{raw[4:]}"
        taken = db.session.execute(select(Formation.id).where(
            func.upper(Formation.access_code) == code)).first()
        if taken is None:
            return code


class FormationAccessCodeMixin:

    @expose("/<int:formation_id>/code-acces/", methods=("GET", "POST"))
    def access_code_view(self, formation_id):
        formation = self.get_one(formation_id)
        if formation is None:
            abort(404)
        may_manage = policy.may_edit(current_user, formation)
        if request.method == "POST":
            action = request.form.get("action")
            if not may_manage:
                flash("Seul le responsable de la formation gère son code d'accès.", "error")
            elif action == "regenerate":
                formation.access_code = new_access_code()
                formation.access_code_enabled = True
                db.session.commit()
                flash(f"Nouveau code d'accès : {formation.access_code}. L'ancien code ne "
                      "fonctionne plus.", "success")
            elif action == "disable":
                formation.access_code_enabled = False
                db.session.commit()
                flash("Le code d'accès est désactivé : plus personne ne peut s'inscrire avec.",
                      "success")
            elif action == "enable":
                if not formation.access_code:
                    formation.access_code = new_access_code()
                formation.access_code_enabled = True
                db.session.commit()
                flash("Le code d'accès est de nouveau actif.", "success")
            else:
                flash("Action inconnue.", "error")
            return redirect(self.get_url(".access_code_view", formation_id=formation_id))
        return self.render("admin/formation_access_code.html", formation=formation,
                           may_manage=may_manage)
