"""Settings read from environment variables (twelve-factor style)."""
import os
import secrets
from pathlib import Path


def _instance_secret(instance_path: str) -> str:
    """Return a secret key generated once and kept in the instance folder."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: if two workers start at once, the first writer wins and the other re-reads.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


def database_options(config: dict) -> None:
    """The engine's options for the database configured: on PostgreSQL, no JIT compilation.
    The portal's statements are short (a page, a dossier); PostgreSQL compiles a statement
    whose estimated cost passes jit_above_cost, which a training staff's search does (the ids
    of their trainings are computed by the statement: the planner guesses a sixth of the
    table): 15 ms of compiling for 2 ms of work, 1.3 times Django admin's search (issue 16
    §5, scripts/bench_search.py --db postgresql --explain)."""
    if str(config.get("SQLALCHEMY_DATABASE_URI", "")).startswith("postgresql"):
        options = config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {}).setdefault("options", "-c jit=off")


def load_config(instance_path: str) -> dict:
    env = os.environ
    db_url = env.get("DATABASE_URL") or "sqlite:///" + str(Path(instance_path) / "sillon.db")
    if db_url.startswith("postgres://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgres://"):]
    elif db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://"):]
    cfg = {
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "BABEL_DEFAULT_LOCALE": "fr",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Paris",
        "FLASK_ADMIN_SWATCH": "default",
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("SESSION_COOKIE_SECURE")),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,
        # Mail: without MAIL_SERVER, e-mails stay in the outbox and are logged.
        "MAIL_SERVER": env.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(env.get("MAIL_PORT") or 25),
        "MAIL_USERNAME": env.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool(env.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _bool(env.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": env.get("MAIL_DEFAULT_SENDER") or "Sillon <ne-pas-repondre@sillon.local>",
        "MAIL_SUPPRESS_SEND": False,
        # Seconds each SMTP socket operation may wait; a claim on an outbox row older than the
        # lease (default 30 × MAIL_TIMEOUT) is taken as abandoned by a dead sender.
        "MAIL_TIMEOUT": float(env.get("MAIL_TIMEOUT") or 10.0),
        "MAIL_CLAIM_LEASE_SECONDS": float(env.get("MAIL_CLAIM_LEASE_SECONDS") or 0) or None,
        # Background work (Huey): a SQLite file in the instance folder (no server) by default,
        # redis://… in production; an enqueue waits at most TASK_QUEUE_TIMEOUT seconds.
        "TASK_QUEUE_URL": env.get("TASK_QUEUE_URL")
        or "sqlite:///" + str(Path(instance_path) / "tasks.sqlite3"),
        "TASK_QUEUE_TIMEOUT": float(env.get("TASK_QUEUE_TIMEOUT") or 2.0),
        # Daily digest by the worker: at REMINDERS_HOUR:00 Paris time on REMINDERS_DAYS
        # (crontab day-of-week, 0 = Sunday).
        "REMINDERS_HOUR": int(env.get("REMINDERS_HOUR") or 7),
        "REMINDERS_DAYS": env.get("REMINDERS_DAYS") or "1-6",
        # Login throttling: this many failures within the window block the (address, IP) pair
        # / the IP until the window has passed.
        "LOGIN_MAX_FAILURES": int(env.get("LOGIN_MAX_FAILURES") or 5),
        "LOGIN_FAILURE_WINDOW_SECONDS": int(env.get("LOGIN_FAILURE_WINDOW_SECONDS") or 900),
        "LOGIN_MAX_FAILURES_PER_IP": int(env.get("LOGIN_MAX_FAILURES_PER_IP") or 50),
        # The failures above count per (address, IP) and per IP. Per address, whatever the IP:
        # after LOGIN_SLOWDOWN_AFTER failures within the window (more than one IP can make
        # alone), each attempt waits since the last failure 1 s, then 2, 4… at most
        # LOGIN_SLOWDOWN_MAX_SECONDS: an attack from many IPs slows down, never locks out.
        "LOGIN_SLOWDOWN_AFTER": int(env.get("LOGIN_SLOWDOWN_AFTER") or 10),
        "LOGIN_SLOWDOWN_MAX_SECONDS": int(env.get("LOGIN_SLOWDOWN_MAX_SECONDS") or 60),
        # Reverse proxies in front of Sillon that set X-Forwarded-For and X-Forwarded-Proto
        # (0: none, the headers are ignored).
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES") or 0),
        # Sessions end after this long without a request, and this long after the login.
        "SESSION_IDLE_MINUTES": int(env.get("SESSION_IDLE_MINUTES") or 120),
        "SESSION_MAX_HOURS": int(env.get("SESSION_MAX_HOURS") or 12),
        # Password reset requests: per address and per IP within the window.
        "RESET_MAX_PER_ADDRESS": int(env.get("RESET_MAX_PER_ADDRESS") or 3),
        "RESET_MAX_PER_IP": int(env.get("RESET_MAX_PER_IP") or 20),
        "RESET_WINDOW_SECONDS": int(env.get("RESET_WINDOW_SECONDS") or 3600),
        # Access-code registration: wrong codes per IP within the window.
        "REGISTRATION_MAX_FAILURES_PER_IP": int(env.get("REGISTRATION_MAX_FAILURES_PER_IP") or 10),
        "REGISTRATION_WINDOW_SECONDS": int(env.get("REGISTRATION_WINDOW_SECONDS") or 900),
        # Access-code registrations admitted (a valid code and a valid form, whether the address
        # had an account or not) within the window: per IP (a class of 30 behind one school
        # network passes), per address, per training code.
        "REGISTRATION_MAX_PER_IP": int(env.get("REGISTRATION_MAX_PER_IP") or 40),
        "REGISTRATION_MAX_PER_ADDRESS": int(env.get("REGISTRATION_MAX_PER_ADDRESS") or 3),
        "REGISTRATION_MAX_PER_CODE": int(env.get("REGISTRATION_MAX_PER_CODE") or 80),
        "REGISTRATION_SUCCESS_WINDOW_SECONDS":
            int(env.get("REGISTRATION_SUCCESS_WINDOW_SECONDS") or 3600),
        # "Someone tried to register with your address": at most one e-mail per address within
        # this window.
        "REGISTRATION_NOTICE_WINDOW_SECONDS":
            int(env.get("REGISTRATION_NOTICE_WINDOW_SECONDS") or 86400),
        "RGPD_TERMS_VERSION": env.get("RGPD_TERMS_VERSION") or "2026-01",
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000",
        # Optional SIRET lookup in the public "API Recherche d'entreprises" (off by default).
        "COMPANY_DIRECTORY_ENABLED": _bool(env.get("COMPANY_DIRECTORY_ENABLED")),
        "COMPANY_DIRECTORY_URL": env.get("COMPANY_DIRECTORY_URL")
        or "https://recherche-entreprises.api.gouv.fr",
        "COMPANY_DIRECTORY_TIMEOUT": float(env.get("COMPANY_DIRECTORY_TIMEOUT") or 3.0),
        # Electronic signature (portal/signatures): the built-in one ("interne") or Yousign;
        # the CFA's sealing certificate and key (PEM files), a self-signed one generated in
        # the instance folder when both are unset (demo and tests only).
        "SIGNATURE_PROVIDER": env.get("SIGNATURE_PROVIDER") or "interne",
        "SIGNATURE_CERT": env.get("SIGNATURE_CERT") or None,
        "SIGNATURE_KEY": env.get("SIGNATURE_KEY") or None,
        "SIGNATURE_KEY_PASSWORD": env.get("SIGNATURE_KEY_PASSWORD") or None,
        "SIGNATURE_LINK_DAYS": int(env.get("SIGNATURE_LINK_DAYS") or 30),
        "YOUSIGN_API_URL": env.get("YOUSIGN_API_URL") or "https://api-sandbox.yousign.app/v3",
        "YOUSIGN_API_KEY": env.get("YOUSIGN_API_KEY") or None,
        "YOUSIGN_WEBHOOK_SECRET": env.get("YOUSIGN_WEBHOOK_SECRET") or None,
        "YOUSIGN_TIMEOUT": float(env.get("YOUSIGN_TIMEOUT") or 10.0),
    }
    return cfg
