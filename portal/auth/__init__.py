"""Login and logout (blueprint); password reset, first password, RGPD consent, access-code
registration and the account page are in the sibling modules, on the same blueprint. Session
timeouts and revocation: sessions.py; where `next` may lead: redirects.py."""
import hmac
from functools import lru_cache

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash, generate_password_hash

from forms.auth import LoginForm, RegistrationForm

from portal.accounts import invitations as accounts
from ..extensions import db
from ..models import User
from . import sessions, throttle
from .redirects import safe_next

bp = Blueprint("auth", __name__)


_PERSON = select(User).options(joinedload(User.roles)).where(User.id == bindparam("uid"))


def load_user(user_id: str):
    """Flask-Login loader: the cookie holds "<id>:<session token>"; a rotated token logs out."""
    try:
        raw_id, token = user_id.split(":", 1)
        uid = int(raw_id)
    except (ValueError, AttributeError):
        return None
    if not 0 < uid < 2**31:  # users.id is an INTEGER column
        return None
    # The person and their roles in one statement (every page reads the roles), built once.
    user = db.session.execute(_PERSON, {"uid": uid}).unique().scalar_one_or_none()
    if user is None or not user.active or not hmac.compare_digest(
            user.session_token.encode(), token.encode()):
        return None
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of the default method, computed once: checked for addresses that cannot log in."""
    return generate_password_hash("sillon-pas-de-compte")


def _password_matches(user, password: str) -> bool:
    """The password check, costing one hash of the default method whoever the address is: an
    unknown, inactive or password-less address must not answer faster than a known one (that
    would tell who has an account)."""
    usable = user is not None and user.active and bool(user.password_hash)
    dummy = _dummy_hash()
    stored = user.password_hash if usable else dummy
    matches = check_password_hash(stored, password)
    if usable and stored.split("$", 1)[0] != dummy.split("$", 1)[0]:
        check_password_hash(dummy, password)  # a cheaper method (temporary passwords)
    return usable and matches


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if request.method == "GET" and request.args.get("email"):
        form.email.data = request.args.get("email", "")[:254]  # the invitation e-mail's link
    error, status, headers = None, 200, {}
    expired = False
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        ip = throttle.client_ip()
        refusal = throttle.login_refusal(email, ip)
        if refusal is not None:
            error, status = refusal.message, 429
            headers["Retry-After"] = str(refusal.retry_after)
        else:
            user = db.session.execute(
                select(User).where(func.lower(User.email) == email)).scalar_one_or_none()
            if _password_matches(user, form.password.data):
                if user.temp_password_expires_at and \
                        user.temp_password_expires_at < accounts.now():
                    error, status = ("Ce mot de passe provisoire a expiré (il était valable "
                                     "une heure). Utilisez « Mot de passe oublié » pour en "
                                     "choisir un nouveau.", 401)
                    expired = True
                else:
                    throttle.login_cleared(email, ip)
                    user.last_login_at = accounts.now()
                    db.session.commit()
                    sessions.begin(user)
                    return redirect(safe_next(request.args.get("next")))
            else:
                throttle.login_failed(email, ip)
                error, status = "Adresse e-mail ou mot de passe incorrect.", 401
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form, error=error, expired=expired,
                           registration=RegistrationForm()), status, headers


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        # Logging out ends every session of the person, on every device (a copied cookie too).
        sessions.end(current_user._get_current_object())
        db.session.commit()
        flash("Vous êtes déconnecté·e. Vos sessions ouvertes sur d'autres appareils ont aussi "
              "pris fin.", "info")
    else:
        sessions.end()
    return redirect(url_for("auth.login"))


from . import account, consent, passwords, registration  # noqa: E402,F401  (routes on bp)
