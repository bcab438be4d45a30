"""The interface between Sillon's electronic signature (issue 17) and a signature provider.

Sillon's built-in signature and the Yousign adapter both implement `SignatureProvider`. The
provider knows nothing about dossiers: it sends one PDF to signers in the given order, tells
through webhooks what happened, and hands back the signed PDF.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Mapping, Protocol, Sequence

# ProviderEvent.kind values.
SIGNED = "signed"        # one signer signed
DONE = "done"            # every signer signed: the signed document can be fetched
REFUSED = "refused"      # a signer declined
CANCELLED = "cancelled"  # the request was cancelled (by Sillon or on the provider's side)
EXPIRED = "expired"      # nobody finished before the deadline
OTHER = "other"          # anything else (reminders, views...): to be ignored
EVENT_KINDS = (SIGNED, DONE, REFUSED, CANCELLED, EXPIRED, OTHER)


@dataclass(frozen=True)
class ProviderSigner:
    first_name: str
    last_name: str
    email: str
    phone: str | None = None
    role: str = ""  # Sillon's role code: "employeur", "alternant", "representant_legal", "cfa"


@dataclass(frozen=True)
class ProviderRequest:
    request_id: str
    document_id: str
    signer_ids: tuple[str, ...]  # same order as the signers given to create()


@dataclass(frozen=True)
class ProviderEvent:
    kind: str                # one of EVENT_KINDS
    request_id: str          # "" only for an "other" event that names no request
    signer_id: str | None    # set for "signed" and, when the provider says who, "refused"
    at: datetime | None      # naive UTC, like the database's timestamps
    reason: str | None       # the signer's words for "refused"
    raw_name: str            # the provider's own event name, for the history


class ProviderError(Exception):
    """message in French, shown to the CFA's staff"""


class SignatureProvider(Protocol):
    name: str

    def create(self, pdf: bytes, filename: str, signers: Sequence[ProviderSigner], *,
               title: str, external_id: str) -> ProviderRequest: ...

    def verify_webhook(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def parse_event(self, body: bytes) -> ProviderEvent: ...

    def fetch_signed(self, request_id: str, document_id: str) -> bytes: ...

    def cancel(self, request_id: str, reason: str) -> None: ...
