"""A signer's personal link and one-time codes.

The link's token is ``<signer id>.<HMAC-SHA256(SECRET_KEY, id:nonce)>``: the database keeps
the nonce, which opens nothing without the key; a new nonce (the CFA re-sends the link, the
request is cancelled) kills every older link. The same link is e-mailed at the invitation,
when the signer's turn comes and in reminders. It dies when the signer has signed or refused
(single use), when the request is over, and at ``link_expires_at``.

A code is 6 digits, valid CODE_MINUTES, MAX_TRIES tries; only its HMAC is stored."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app

CODE_MINUTES = 10
MAX_TRIES = 5
MAX_CODES_PER_HOUR = 5
LINK_DAYS = 30
MAX_ID = 2**31 - 1


def new_nonce() -> str:
    return secrets.token_hex(16)


def _mac(purpose: str, message: str) -> str:
    key = current_app.config["SECRET_KEY"]
    key = key.encode() if isinstance(key, str) else key
    return hmac.new(key, f"sillon-signature:{purpose}:{message}".encode(),
                    hashlib.sha256).hexdigest()


def token_for(signer) -> str:
    return f"{signer.id}.{_mac('lien', f'{signer.id}:{signer.nonce}')}"


def signer_id_of(token: str) -> int | None:
    """The signer id a token claims (not yet checked), or None for what is not a token."""
    head, _, mac = (token or "").partition(".")
    if not head.isascii() or not head.isdigit() or len(head) > 10 or len(mac) != 64:
        return None
    signer_id = int(head)
    return signer_id if 0 < signer_id <= MAX_ID else None  # an INTEGER column (int4)


def token_matches(token: str, signer) -> bool:
    return hmac.compare_digest(token.encode(), token_for(signer).encode())


def new_code() -> str:
    return f"{secrets.randbelow(10 ** 6):06d}"


def code_hash(signer, code: str) -> str:
    return _mac("code", f"{signer.id}:{signer.nonce}:{code}")


def code_matches(signer, code: str) -> bool:
    if not signer.code_hash:
        return False
    typed = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(typed) != 6:
        return False
    return hmac.compare_digest(code_hash(signer, typed).encode(), signer.code_hash.encode())


def code_lifetime() -> timedelta:
    return timedelta(minutes=CODE_MINUTES)


def link_lifetime() -> timedelta:
    return timedelta(days=current_app.config.get("SIGNATURE_LINK_DAYS", LINK_DAYS))
