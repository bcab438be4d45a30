"""Login and logout (blueprint); password reset, first password, RGPD consent, access-code
registration and the account page are in the sibling modules, on the same blueprint."""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, select

from forms.auth import LoginForm, RegistrationForm

from portal.accounts import invitations as accounts
from ..extensions import db
from ..models import User
from . import throttle

bp = Blueprint("auth", __name__)


def load_user(user_id: str):
    """Flask-Login loader: the cookie holds "<id>:<session token>"; a rotated token logs out."""
    try:
        raw_id, token = user_id.split(":", 1)
        uid = int(raw_id)
    except (ValueError, AttributeError):
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_token != token:
        return None
    return user


def _safe_next(target: str | None) -> str:
    # Only local paths: never redirect to another site after login.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args.get("email", "")[:254]  # the invitation e-mail's link
    error, status = None, 200
    expired = False
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        cfg = current_app.config
        ip = request.remote_addr or "?"
        key_email, key_ip = f"login:email:{email}", f"login:ip:{ip}"
        window = cfg["LOGIN_FAILURE_WINDOW_SECONDS"]
        if (throttle.failures(key_email, window) >= cfg["LOGIN_MAX_FAILURES"]
                or throttle.failures(key_ip, window) >= cfg["LOGIN_MAX_FAILURES_PER_IP"]):
            minutes = max(1, window // 60)
            error, status = (f"Trop de tentatives de connexion. Réessayez dans {minutes} "
                             "minutes ou utilisez « Mot de passe oublié ».", 429)
        else:
            user = db.session.execute(
                select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
            if user is not None and user.active and user.check_password(form.password.data):
                if user.temp_password_expires_at and \
                        user.temp_password_expires_at < accounts.now():
                    error, status = ("Ce mot de passe provisoire a expiré (il était valable "
                                     "une heure). Utilisez « Mot de passe oublié » pour en "
                                     "choisir un nouveau.", 401)
                    expired = True
                else:
                    throttle.clear(key_email)
                    user.last_login_at = accounts.now()
                    db.session.commit()
                    login_user(user)
                    return redirect(_safe_next(request.args.get("next")))
            else:
                throttle.record_failure(key_email, key_ip)
                error, status = "Adresse e-mail ou mot de passe incorrect.", 401
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form, error=error, expired=expired,
                           registration=RegistrationForm()), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("Vous êtes déconnecté·e.", "info")
    return redirect(url_for("auth.login"))


from . import account, consent, passwords, registration  # noqa: E402,F401  (routes on bp)
