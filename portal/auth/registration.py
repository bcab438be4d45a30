"""Self-registration with a training's access code (right-hand side of the login page): the
apprentice's account and their dossier in that training (state ``initialise``) are created and
the "Bienvenue sur Sillon" e-mail is sent. A wrong or disabled code gets one generic message;
wrong codes are throttled per IP."""
from __future__ import annotations

from flask import current_app, render_template, request
from sqlalchemy import func, select

from forms.auth import LoginForm, RegistrationForm

from portal.accounts import invitations as accounts
from ..extensions import db
from ..models import Dossier, DossierHistory, Formation
from ..public import public
from portal.dossiers.workflow import INITIAL_STATE
from . import bp, throttle

WRONG_CODE = ("Ce code d'accès n'est pas valable. Vérifiez-le auprès du responsable de votre "
              "formation.")


def normalize_code(code: str | None) -> str:
    return "".join((code or "").split()).upper()


def formation_for_code(code: str) -> Formation | None:
    code = normalize_code(code)
    if not code:
        return None
    return db.session.execute(select(Formation).where(
        func.upper(Formation.access_code) == code,
        Formation.access_code_enabled.is_(True))).scalar_one_or_none()


def register(formation: Formation, *, email: str, first_name: str, last_name: str,
             birth_date) -> Dossier:
    """Create (or find) the apprentice's dossier in the training and invite them. No commit."""
    email = accounts.normalize_email(email)
    dossier = db.session.execute(select(Dossier).where(
        Dossier.formation_id == formation.id,
        func.lower(Dossier.apprenti_email) == email)).scalars().first()
    if dossier is None:
        dossier = Dossier(formation=formation, state=INITIAL_STATE, apprenti_email=email,
                          apprenti_nom=last_name, apprenti_prenom=first_name,
                          apprenti_date_naissance=birth_date,
                          cfa_conseiller_id=formation.conseiller_cfa_id)
        db.session.add(dossier)
        db.session.flush()
        invitations = accounts.link_dossier_people(dossier, by=None, fields=("apprenti_email",))
        db.session.flush()  # the new account's id, for the dossier's author and history
        if invitations:
            dossier.created_by_id = invitations[0].user.id
        db.session.add(DossierHistory(
            dossier=dossier, user_id=dossier.created_by_id, kind="transition",
            to_state=INITIAL_STATE,
            comment="Inscription de l'alternant·e avec le code d'accès de la formation."))
    else:
        # Registering twice does not duplicate the dossier: the person is invited again.
        if not accounts.link_dossier_people(dossier, by=None, fields=("apprenti_email",)):
            accounts.invite(email, "alternant", dossier=dossier,
                            reason="votre dossier d'alternance")
    return dossier


@bp.route("/inscription", methods=["GET", "POST"])
@public
def registration():
    form = RegistrationForm()
    done, error, status = None, None, 200
    if form.validate_on_submit():
        cfg = current_app.config
        key_ip = f"register:ip:{request.remote_addr or '?'}"
        window = cfg["REGISTRATION_WINDOW_SECONDS"]
        if throttle.failures(key_ip, window) >= cfg["REGISTRATION_MAX_FAILURES_PER_IP"]:
            error, status = ("Trop de tentatives avec un code d'accès erroné. Réessayez dans "
                             f"{max(1, window // 60)} minutes.", 429)
        else:
            formation = formation_for_code(form.code.data)
            if formation is None:
                throttle.record_failure(key_ip)
                form.code.errors = [WRONG_CODE]
                status = 400
            else:
                register(formation, email=form.email.data, first_name=form.first_name.data,
                         last_name=form.last_name.data, birth_date=form.birth_date.data)
                db.session.commit()
                done = accounts.normalize_email(form.email.data)
    elif form.is_submitted():
        status = 400
    return render_template("auth/registration.html", form=form, done=done, error=error,
                           login_form=LoginForm()), status
