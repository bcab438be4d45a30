"""Demo data of the electronic signature (issue 17 §5): two dossiers at « Éléments économiques
validés » sent for signature by the CFA's advisor, through the signature service as a person
would — one signed by every party (both documents sealed, the dossier at « Documents signés
retournés », the evidence files complete), one whose CERFA the employer has signed and that
waits for the apprentice. The codes are read from the e-mails the service queued, as a signer
reads them; those e-mails (to demo addresses) are then dropped from the outbox."""
from __future__ import annotations

import re

from sqlalchemy import delete, func, select

from portal.extensions import db
from portal.models import Dossier, OutboxEmail
from portal.models.signatures import SignatureRequest

DEMO_CLIENT = ("127.0.0.1", "Navigateur de démonstration (données de démonstration Sillon)")


def _can_write() -> bool:
    from flask import current_app
    from jinja2 import TemplateNotFound
    try:
        current_app.jinja_env.get_template("mail/signature_invitation.txt")
    except TemplateNotFound:
        return False
    return True


def _code_for(email: str) -> str:
    subjects = db.session.scalars(select(OutboxEmail.subject).where(
        OutboxEmail.recipients == email, OutboxEmail.subject.like("[Sillon] Votre code%"))
        .order_by(OutboxEmail.id.desc())).all()
    return re.search(r"(\d{6})", subjects[0]).group(1)


def _sign(signer, client) -> None:
    from portal.signatures import signing
    signing.send_code(signer, client)
    signing.sign(signer, code=_code_for(signer.email), approved=True, client=client)


def load_signatures(people: dict) -> dict:
    """Idempotent: nothing is done when the demo already has signature requests, nor in an
    app without the portal's templates (seeds.demo alone): the service renders e-mails and
    PDFs, as demo_training's requests do."""
    existing = db.session.scalar(select(func.count()).select_from(SignatureRequest))
    if existing or not _can_write():
        return {"signature_requests": existing, "created": 0}
    from portal.signatures import service
    client = service.Client(*DEMO_CLIENT)
    first_outbox = db.session.scalar(select(func.max(OutboxEmail.id))) or 0
    candidates = [d for d in db.session.scalars(
        select(Dossier).where(Dossier.state == "economie_validee",
                              Dossier.niveau_saisie == "complete").order_by(Dossier.id))
        if not service.signer_plan(d, people["conseil"])[1]]
    db.session.commit()
    created = 0
    for dossier, complete in zip(candidates[:2], (True, False)):
        requests = service.start(dossier, by=people["conseil"], client=client)
        created += len(requests)
        for request in requests:
            if complete:
                for signer in request.signers:
                    _sign(signer, client)
            elif request.document == "cerfa":
                _sign(request.signers[0], client)  # the employer; the apprentice's turn now
    db.session.execute(delete(OutboxEmail).where(OutboxEmail.id > first_outbox))
    db.session.commit()
    return {"signature_requests": created, "created": created}
