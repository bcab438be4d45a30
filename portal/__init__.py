"""Sillon: the portal a CFA runs its apprenticeship dossiers on."""
from __future__ import annotations

import logging
import os
from pathlib import Path

from flask import Flask, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError

from .config import load_config
from .extensions import babel, csrf, db, login_manager, migrate
from .extensions import mail as flask_mail  # `portal.mail` is the e-mail package
from .public import is_public

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_ENDPOINTS = {"static", "admin.static", "auth.login", "auth.logout", "healthz",
                    "favicon"}
# Pages a logged-in person may reach before choosing a password and accepting the terms.
ONBOARDING_ENDPOINTS = {"auth.first_password", "auth.consent", "auth.rgpd_terms"}


def create_app(config: dict | None = None) -> Flask:
    """Application factory. ``config`` overrides settings read from the environment."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("SILLON_INSTANCE_PATH") or str(ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "portal" / "static"),
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
    from .config import database_options
    database_options(app.config)
    if app.config["TRUSTED_PROXIES"] > 0:
        # The client's address and scheme as the proxies saw them (README: only the headers
        # every trusted proxy sets; Host is passed through by the proxy itself).
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    from .extensions import register_sqlite_pragmas
    register_sqlite_pragmas()
    db.init_app(app)
    from .read_transactions import init_app as init_read_transactions
    init_read_transactions(app)  # PostgreSQL: a request that only read commits (keeps plans)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    login_manager.init_app(app)
    flask_mail.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=lambda: "fr", timezone_selector=lambda: "Europe/Paris")
    from .reference_provider import init_app as init_reference_provider
    init_reference_provider(app)  # the rules read SMIC, grids, IDCC, aids from the database

    from . import models  # noqa: F401  (register every table)
    from .auth import bp as auth_bp
    from .auth import load_user

    login_manager.user_loader(load_user)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Connectez-vous pour accéder à cette page."
    login_manager.login_message_category = "info"
    app.register_blueprint(auth_bp)
    from .auth.sessions import init_app as init_sessions
    init_sessions(app)  # timeouts and revocation, checked before every other guard

    from .signatures.views import init_app as init_signatures
    init_signatures(app)  # the signers' pages (personal links) and the providers' webhooks

    from .financing import init_app as init_financing
    init_financing(app)  # the OPCO follow-up listens to the dossiers' workflow

    from admin_views.setup import init_admin
    init_admin(app)

    from .cli import register_cli
    register_cli(app)
    from portal.dossiers.locking import init_app as init_locking
    init_locking(app)  # the dossier lock holds in the model layer, whatever the door
    import portal.dossiers.search_columns  # noqa: F401  (the search columns, kept at write time)
    from portal.mail.outbox import init_app as init_notifications
    init_notifications(app)  # flask mail send-pending (the worker sends the outbox)
    from portal.mail.reminders import init_app as init_reminders
    init_reminders(app)  # flask reminders send (daily digest)
    from portal.tasks import init_app as init_tasks
    init_tasks(app)  # Huey queue: e-mails enqueued after commit, sweep, digest; flask worker

    _register_guards(app)
    from .security_headers import init_app as init_security_headers
    init_security_headers(app)  # CSP, HSTS over HTTPS, no-store on every non-static response
    _register_errors(app)
    app.jinja_env.globals["state_label"] = __import__(
        "portal.dossiers.workflow", fromlist=["state_label"]).state_label
    from .rules.formatting import day, eur, moment
    app.jinja_env.filters["eur"] = eur   # 1 234,56 € (French amounts on every screen)
    app.jinja_env.filters["jour"] = day  # dd/mm/yyyy
    app.jinja_env.filters["moment"] = moment  # a stored UTC time as « dd/mm/yyyy à hh:mm », Paris
    logging.basicConfig(level=logging.INFO)
    return app


def _register_guards(app: Flask) -> None:
    @app.before_request
    def require_login():
        # Every page but the login page and static files is behind login.
        if request.endpoint in PUBLIC_ENDPOINTS or request.endpoint is None:
            return None
        if is_public(app.view_functions.get(request.endpoint)):
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path))
        # Before anything else: a temporary password is replaced, then the data-protection
        # terms (current version) are accepted.
        if request.endpoint in ONBOARDING_ENDPOINTS:
            return None
        if current_user.must_change_password:
            return redirect(url_for("auth.first_password", next=request.full_path))
        if current_user.rgpd_version != app.config["RGPD_TERMS_VERSION"]:
            return redirect(url_for("auth.consent", next=request.full_path))
        return None

    @app.route("/")
    def home():
        return redirect(url_for("admin.index"))

    @app.route("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.route("/favicon.ico")
    def favicon():
        # Browsers ask for it on every page they have no <link rel="icon"> for (the PDFs).
        return app.send_static_file("favicon.ico")


def _register_errors(app: Flask) -> None:
    messages = {
        400: ("Requête invalide", "La requête n'a pas pu être traitée. Revenez en arrière et réessayez."),
        403: ("Accès refusé", "Vous n'avez pas accès à cette page."),
        404: ("Page introuvable", "Cette page n'existe pas ou vous n'y avez pas accès."),
        405: ("Méthode non autorisée", "Cette action n'est pas possible ici."),
        413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
        500: ("Erreur interne", "Une erreur inattendue s'est produite. L'équipe a été prévenue."),
    }

    def render(code):
        title, text = messages[code]
        return render_template("error.html", code=code, title=title, text=text), code

    for code in messages:
        app.register_error_handler(code, lambda exc, code=code: render(code))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_template(
            "error.html", code=400, title="Formulaire expiré",
            text="Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez."), 400
