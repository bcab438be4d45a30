"""The e-mails of an electronic signature: each signer's invitation (with their personal
link), their turn, their code, the reminders; the end of the request to everyone. Queued in
the outbox of the current transaction (portal.mail.outbox.queue)."""
from __future__ import annotations

from portal.mail.outbox import public_url, queue
from portal.rules.formatting import day, moment
from portal.rules.signature import ROLE_LABELS, ROLE_NAMES

from . import links
from .steps import DOCUMENTS

ARTICLES = {"cerfa": "le CERFA", "convention": "la convention de formation"}
LINK_LABEL = "Ouvrir mon lien de signature"


def link_of(signer) -> str:
    return public_url(f"/signature/{links.token_for(signer)}")


def _subject(request, text: str) -> str:
    dossier = request.dossier
    return (f"[Sillon] {DOCUMENTS[request.document]} du dossier n° {dossier.id} – "
            f"{dossier.apprenti_nom_complet} : {text}")


def _context(signer) -> dict:
    request = signer.request
    return dict(signer=signer, link=link_of(signer),
                link_label=LINK_LABEL, document_article=ARTICLES[request.document],
                role_label=ROLE_LABELS.get(signer.role, signer.role),
                expires=day(signer.link_expires_at.date()))


def invitation(signer, *, your_turn: bool, cfa_name: str) -> None:
    before = [ROLE_NAMES.get(s.role, s.role) for s in signer.request.signers
              if s.position < signer.position]
    queue(signer.email, "signature_invitation",
          _subject(signer.request, "à signer" if your_turn else "signature électronique"),
          dossier=signer.request.dossier, your_turn=your_turn, cfa_name=cfa_name,
          before=" puis ".join(before), **_context(signer))


def turn(signer, *, reminder: bool = False) -> None:
    queue(signer.email, "signature_tour",
          _subject(signer.request, "rappel, à signer" if reminder else "à vous de signer"),
          dossier=signer.request.dossier, reminder=reminder,
          since=moment(signer.turn_started_at), **_context(signer))


def code(signer, value: str) -> None:
    context = _context(signer)
    context.pop("link")  # the code alone: the link is in the other e-mails
    queue(signer.email, "signature_code", f"[Sillon] Votre code de signature : {value}",
          dossier=signer.request.dossier, code=value, **context)


def to_signers(request, headline: str, comment: str | None = None, *,
               with_link: str | None = None, told=()) -> None:
    """One e-mail to every signer of the request and its creator at the CFA, but those
    already ``told`` (addresses) by another e-mail of the same change."""
    recipients = [s.email for s in request.signers]
    if request.created_by is not None:
        recipients.append(request.created_by.email)
    told = {address.lower() for address in told}
    recipients = [r for r in recipients if r.lower() not in told]
    queue(recipients, "signature_information", _subject(request, headline.rstrip(".").lower()),
          dossier=request.dossier, headline=headline, comment=comment, link=with_link,
          link_label="Ouvrir le dossier")
