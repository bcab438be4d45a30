"""People: users, their roles, throttling and one-time tokens."""
from datetime import datetime, timezone
import secrets

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db


def utcnow() -> datetime:
    """Naive UTC timestamp (the database stores UTC without zone)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


CFA_ADMIN = "cfa_admin"
CFA_CONSEILLER = "cfa_conseiller"
FORMATION_RESPONSABLE = "formation_responsable"
FORMATION_GESTIONNAIRE = "formation_gestionnaire"
EMPLOYEUR = "employeur"
ALTERNANT = "alternant"

ROLE_LABELS = {
    CFA_ADMIN: "Administrateur du CFA",
    CFA_CONSEILLER: "Conseiller·ère du CFA",
    FORMATION_RESPONSABLE: "Responsable de formation",
    FORMATION_GESTIONNAIRE: "Gestionnaire de formation",
    EMPLOYEUR: "Employeur (contact alternance)",
    ALTERNANT: "Alternant·e",
}
ROLES = tuple(ROLE_LABELS)
CFA_ROLES = frozenset({CFA_ADMIN, CFA_CONSEILLER})
FORMATION_ROLES = frozenset({FORMATION_RESPONSABLE, FORMATION_GESTIONNAIRE})


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # One account per address whatever its case: every lookup is by lower(email).
    __table_args__ = (db.Index("uq_users_email_lower", db.text("lower(email)"), unique=True),)

    id = db.Column(db.Integer, primary_key=True)
    email = db.Column(db.String(254), nullable=False, unique=True)
    password_hash = db.Column(db.String(255))
    first_name = db.Column(db.String(100))
    last_name = db.Column(db.String(100))
    phone = db.Column(db.String(20))
    active = db.Column(db.Boolean, nullable=False, default=True)
    # Rotated on password change / deactivation: ends every open session of the user.
    session_token = db.Column(db.String(64), nullable=False, default=lambda: secrets.token_hex(16))
    must_change_password = db.Column(db.Boolean, nullable=False, default=False)
    temp_password_expires_at = db.Column(db.DateTime)
    rgpd_accepted_at = db.Column(db.DateTime)
    rgpd_version = db.Column(db.String(20))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_login_at = db.Column(db.DateTime)

    roles = db.relationship("UserRole", back_populates="user", cascade="all, delete-orphan",
                            lazy="selectin")

    # --- Flask-Login -------------------------------------------------------
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    # --- passwords -----------------------------------------------------------
    def set_password(self, password: str, *, temporary_until: datetime | None = None,
                     method: str | None = None) -> None:
        self.password_hash = (generate_password_hash(password, method=method) if method
                              else generate_password_hash(password))
        self.temp_password_expires_at = temporary_until
        self.must_change_password = temporary_until is not None
        self.end_sessions()

    def end_sessions(self) -> None:
        """Rotate the session token: every open session of the person ends at its next request
        (logout, new password, deactivation). The caller commits."""
        self.session_token = secrets.token_hex(16)

    def check_password(self, password: str) -> bool:
        if not self.password_hash or not password:
            return False
        return check_password_hash(self.password_hash, password)

    # --- roles ---------------------------------------------------------------
    @property
    def role_codes(self) -> frozenset[str]:
        return frozenset(r.role for r in self.roles)

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes.intersection(codes))

    @property
    def full_name(self) -> str:
        name = " ".join(p for p in (self.first_name, (self.last_name or "").upper()) if p)
        return name or self.email

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.first_name or self.last_name else self.email


class UserRole(db.Model):
    __tablename__ = "user_roles"
    # (role, user_id): the people of a role (the CFA's staff of the list's advisor menu,
    # portal/dossiers/list_menus.py) without reading every account's roles (migration 0010).
    __table_args__ = (db.UniqueConstraint("user_id", "role"),
                      db.Index("ix_user_roles_role_user", "role", "user_id"))

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    role = db.Column(db.String(32), nullable=False)
    user = db.relationship("User", back_populates="roles")

    def __str__(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


class ThrottleEvent(db.Model):
    """One failed attempt (login, reset, access code) keyed by address or IP.

    Kept in the database so that every worker process shares the counters."""

    __tablename__ = "throttle_events"
    __table_args__ = (db.Index("ix_throttle_events_key_at", "key", "at"),)

    id = db.Column(db.Integer, primary_key=True)
    key = db.Column(db.String(300), nullable=False)
    at = db.Column(db.DateTime, nullable=False, default=utcnow)


class AuthToken(db.Model):
    """Single-use, expiring token (password reset, e-mail change, invitation link).

    Only the SHA-256 of the token is stored."""

    __tablename__ = "auth_tokens"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
                        index=True)
    purpose = db.Column(db.String(30), nullable=False)  # reset, email_change, invitation
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    payload = db.Column(db.String(254))  # e.g. the new e-mail address
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    used_at = db.Column(db.DateTime)
    user = db.relationship("User")
