"""Accounts: invitations with a one-hour temporary password, single-use tokens, and the link
between a dossier's e-mail addresses and the people's accounts (SPEC §4).

Nothing here commits: every function works in the caller's transaction, and the e-mails it
queues (portal.mail.outbox.queue) exist if and only if that transaction commits.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from portal.accounts import referents
from portal.extensions import db
from portal.models import ALTERNANT, EMPLOYEUR, AuthToken, User, UserRole
from portal.models import people
from portal.mail.outbox import public_url, queue
from portal.rules.identifiers import normalize_email

TEMPORARY_PASSWORD_LIFETIME = timedelta(hours=1)
RESET_LIFETIME = timedelta(hours=1)
EMAIL_CHANGE_LIFETIME = timedelta(hours=24)
# Letters and digits that cannot be mistaken for one another when copied from an e-mail.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MIN_PASSWORD_LENGTH = 10


def now():
    return people.utcnow()


def find_user(address: str | None) -> User | None:
    address = normalize_email(address)
    if not address:
        return None
    # An account created earlier in this transaction and not flushed yet counts too.
    for pending in db.session.new:
        if isinstance(pending, User) and normalize_email(pending.email) == address:
            return pending
    return db.session.execute(
        select(User).where(func.lower(User.email) == address)).scalar_one_or_none()


def base_url() -> str:
    return public_url()


def dossier_path(dossier) -> str:
    """The dossier's page on Sillon (its first tab), as a local path."""
    return f"/admin/dossier/{int(dossier.id)}/"


def login_link(address: str, dossier=None) -> str:
    """The login page for ``address``; with a dossier, the login then lands on the dossier's
    page (a local `next`, checked again by portal.auth.redirects.safe_next)."""
    from urllib.parse import urlencode
    query = {"email": address}
    if dossier is not None and getattr(dossier, "id", None):
        query["next"] = dossier_path(dossier)
    return f"{base_url()}/login?{urlencode(query)}"


# --- passwords -------------------------------------------------------------------------------

def temporary_password(groups: int = 5) -> str:
    """Five groups of four characters, e.g. ``k7mq-2xta-9hrw-c4pe-u8nb``: 20 characters of a
    31-letter alphabet, about 99 bits of entropy. One uniform draw below 31^20 written in base 31
    (uniform over every such password, as 20 draws of a letter are, at a fifth of the cost)."""
    length, base = 4 * groups, len(_ALPHABET)
    number, letters = secrets.randbelow(base ** length), []
    for _ in range(length):
        number, digit = divmod(number, base)
        letters.append(_ALPHABET[digit])
    raw = "".join(letters)
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


# A temporary password is random with ~99 bits of entropy (secrets, not a person's choice) and
# dies after an hour: a slow hash protects guessable passwords against a dictionary, and there
# is no dictionary for this one — 2^99 guesses of even one SHA-256 each are out of reach of any
# attacker, salted (no table shared between accounts) and useless an hour later. So one salted
# PBKDF2-SHA256 iteration is enough, at ~1/100 000 of scrypt's cost: importing 20 000 people
# does not spend minutes hashing. The password a person chooses keeps the slow default
# (User.set_password without method). check_password reads the method from the hash.
TEMPORARY_HASH_METHOD = "pbkdf2:sha256:1"


def issue_temporary_password(user: User) -> str:
    """A random one-hour password (see TEMPORARY_HASH_METHOD for its single fast hash)."""
    password = temporary_password()
    user.set_password(password, temporary_until=now() + TEMPORARY_PASSWORD_LIFETIME,
                      method=TEMPORARY_HASH_METHOD)
    return password


def password_problem(password: str | None, user: User | None = None) -> str | None:
    """Why a new password is not acceptable, in French; None when it is."""
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > 200:
        return "Le mot de passe ne peut pas dépasser 200 caractères."
    if password.isdigit() or password.isalpha():
        return "Mélangez des lettres et des chiffres (ou d'autres caractères)."
    if user is not None and user.email and password.lower() == user.email.lower():
        return "Le mot de passe ne peut pas être votre adresse e-mail."
    if user is not None and user.check_password(password):
        return "Choisissez un mot de passe différent de l'actuel."
    return None


# --- single-use tokens ----------------------------------------------------------------------

def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_token(user: User, purpose: str, *, lifetime: timedelta,
                 payload: str | None = None) -> str:
    """A new single-use token; only its SHA-256 is stored. Earlier unused tokens of the same
    purpose for the same person are revoked (only the newest link works)."""
    for old in db.session.execute(select(AuthToken).where(
            AuthToken.user_id == user.id, AuthToken.purpose == purpose,
            AuthToken.used_at.is_(None))).scalars():
        old.used_at = now()
    raw = secrets.token_urlsafe(32)
    db.session.add(AuthToken(user=user, purpose=purpose, token_hash=_digest(raw),
                             payload=payload, expires_at=now() + lifetime))
    return raw


def find_token(raw: str | None, purpose: str) -> AuthToken | None:
    """The valid (unused, unexpired) token, or None."""
    if not raw or len(raw) > 100:
        return None
    token = db.session.execute(select(AuthToken).where(
        AuthToken.token_hash == _digest(raw), AuthToken.purpose == purpose)).scalar_one_or_none()
    if token is None or token.used_at is not None or token.expires_at < now():
        return None
    if token.user is None or not token.user.active:
        return None
    return token


# --- invitations ------------------------------------------------------------------------------

@dataclass
class Invitation:
    user: User
    created: bool
    mailed: bool


def _ensure_role(user: User, role: str) -> None:
    if role not in user.role_codes:
        user.roles.append(UserRole(role=role))


def _never_used(user: User) -> bool:
    """No password of their own yet: never invited, or still on a temporary password (possibly
    expired), so the invitation is renewed with a new one."""
    return user.password_hash is None or user.must_change_password


def invite(address: str, role: str, *, invited_by: User | None = None, dossier=None,
           first_name: str | None = None, last_name: str | None = None,
           reason: str | None = None, flush: bool = True) -> Invitation | None:
    """Give a person access: create their account if needed and e-mail them.

    New account, or an account never used yet (the invitation is renewed): "Bienvenue sur
    Sillon" with a login link and a new temporary password valid one hour. A person who
    already uses Sillon gets a short e-mail saying what they were given access to.
    Returns None for an empty address."""
    address = normalize_email(address)
    if not address:
        return None
    user = find_user(address)
    created = user is None
    if created:
        user = User(email=address, first_name=(first_name or None),
                    last_name=(last_name or None), active=True)
        db.session.add(user)
    elif first_name and not user.first_name:
        user.first_name = first_name
    if last_name and not user.last_name:
        user.last_name = last_name
    _ensure_role(user, role)
    if flush:  # callers may need the new person's id at once
        db.session.flush()
    if not user.active:
        # A deactivated person is linked (the dossier names them) but not let back in.
        return Invitation(user, created, False)
    if created or _never_used(user):
        send_welcome(user, invited_by=invited_by, dossier=dossier, reason=reason)
    else:
        subject = (f"[Sillon] Accès au dossier n° {dossier.id}" if dossier is not None
                   else "[Sillon] Nouvel accès")
        queue(address, "acces_ajoute", subject, user=user, dossier=dossier,
              invited_by=invited_by, reason=reason, login_link=login_link(address, dossier))
    return Invitation(user, created, True)


def send_welcome(user: User, *, invited_by: User | None = None, dossier=None,
                 reason: str | None = None) -> None:
    """A new temporary password (valid one hour, to be replaced at first login) and the
    "Bienvenue sur Sillon" e-mail that carries it."""
    password = issue_temporary_password(user)
    queue(user.email, "bienvenue", "Bienvenue sur Sillon", password=password, user=user,
          dossier=dossier, invited_by=invited_by, reason=reason,
          login_link=login_link(user.email, dossier))


def claim_referent_if_first(structure, user: User, *, dossiers=()) -> bool:
    """Seed 003, as Sillon reads it (portal.accounts.referents): the first account of a
    structure new to Sillon becomes its référent; on any other structure without référent
    the claim waits in the CFA's approval queue. ``dossiers``: those being set up in this
    transaction (they do not make the structure known). True when ``user`` became référent."""
    return referents.claim_first_referent(structure, user,
                                          dossiers=dossiers) == referents.REFERENT


PEOPLE_FIELDS = ("apprenti_email", "employeur_contact_email")


def link_dossier_people(dossier, *, by: User | None,
                        fields=PEOPLE_FIELDS) -> list[Invitation]:
    """After the dossier's e-mail addresses were set or changed (``fields``: which ones): invite
    the apprentice and the employer contact they name, and attach their accounts to the
    dossier. An address already linked to its account does nothing."""
    done = []
    # One flush at the caller's commit: the dossier's save stays one version.
    with db.session.no_autoflush:
        apprentice_email = normalize_email(dossier.apprenti_email)
        current = dossier.apprentice_user
        if "apprenti_email" in fields and apprentice_email and (
                current is None or normalize_email(current.email) != apprentice_email):
            invitation = invite(apprentice_email, ALTERNANT, invited_by=by, dossier=dossier,
                                first_name=dossier.apprenti_prenom, last_name=dossier.apprenti_nom,
                                reason="votre dossier d'alternance", flush=False)
            dossier.apprentice_user = invitation.user
            done.append(invitation)
        contact_email = normalize_email(dossier.employeur_contact_email)
        contact = dossier.employer_contact
        if "employeur_contact_email" in fields and contact_email and (
                contact is None or normalize_email(contact.email) != contact_email):
            invitation = invite(contact_email, EMPLOYEUR, invited_by=by, dossier=dossier,
                                reason="le dossier d'alternance de "
                                       f"{dossier.apprenti_nom_complet}", flush=False)
            dossier.employer_contact = invitation.user
            done.append(invitation)
            structure = dossier.etablissement.structure if dossier.etablissement else None
            claim_referent_if_first(structure, invitation.user, dossiers=(dossier,))
    return done
