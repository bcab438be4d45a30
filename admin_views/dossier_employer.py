""""J'ai trouvé un employeur" (seed 002), for the dossier's apprentice:
GET/POST /admin/dossier/<id>/employeur/trouve/ → the establishment's SIRET and the employer
contact's e-mail; the contact is invited and fills L'employeur and Le contrat. Mixed into
DossierView (scoped get_one); rights from portal.policy.employer_found_refusal."""
from __future__ import annotations

from flask import flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import DataRequired, Email, Length

from portal import policy
from portal.dossiers.employer_link import EmployerLinkError, attach_employer
from portal.extensions import db


class EmployerFoundForm(FlaskForm):
    siret = StringField("SIRET de l'établissement qui vous accueille", validators=[
        DataRequired("Le SIRET de l'établissement est obligatoire."), Length(max=20)],
        filters=[lambda v: "".join(v.split()) if isinstance(v, str) else v])
    email = EmailField("E-mail du contact chez l'employeur", validators=[
        DataRequired("L'e-mail du contact employeur est obligatoire."),
        Email("Cette adresse e-mail n'est pas valide.", check_deliverability=False),
        Length(max=254)], filters=[lambda v: v.strip() if isinstance(v, str) else v])


class DossierEmployerFoundMixin:

    def employer_found_allowed(self, dossier) -> bool:
        return policy.employer_found_refusal(current_user, dossier) is None

    @expose("/<int:dossier_id>/employeur/trouve/", methods=("GET", "POST"))
    def employer_found_view(self, dossier_id):
        dossier = self._scoped_dossier(dossier_id)
        back = self.get_url(".tab_view", dossier_id=dossier.id, tab_code="employeur")
        refusal = policy.employer_found_refusal(current_user, dossier)
        if refusal:
            flash(refusal, "error")
            return redirect(back), 303
        form = EmployerFoundForm()
        status = 200
        if form.validate_on_submit():
            try:
                # Through the one write path (portal/dossiers/service.py), which commits.
                invitation = attach_employer(dossier, form.siret.data, form.email.data,
                                             by=current_user)
            except EmployerLinkError as exc:
                db.session.rollback()
                getattr(form, exc.field).errors = [str(exc)]
                status = 422
            else:
                flash(f"Merci ! {invitation.user.email} a reçu un e-mail pour se connecter à "
                      "Sillon et compléter les onglets « L'employeur » et « Le contrat ».",
                      "success")
                return redirect(back)
        elif request.method == "POST":
            status = 422
        return self.render("admin/dossier/employer_found.html", dossier=dossier, form=form,
                           back=back), status
