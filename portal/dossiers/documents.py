"""Which document of a dossier may be downloaded now (SPEC §3), and the document itself:
generated PDFs are rendered fresh until the dossier is locked, then rendered once, stored and
served identically ever after (same sha256)."""
from __future__ import annotations

from dataclasses import dataclass

from portal.documents.uploads import latest, store
from portal.dossiers import printing
from portal.dossiers.locking import transition_scope
from portal.dossiers.workflow import STATES, state_label
from portal.extensions import db

GENERATED = ("cerfa", "convention", "devis")
TRAINING_FILES = ("calendrier", "programme")
UPLOADED = ("cerfa_signe", "convention_signee", "cerfa_vise")
KINDS = GENERATED + TRAINING_FILES + UPLOADED


@dataclass(frozen=True)
class Offer:
    kind: str
    label: str
    reason: str | None   # French, None when available


def why_not(kind: str, dossier) -> str | None:
    """Why this document cannot be downloaded now, in French; None when it can."""
    from portal.models.documents import DOCUMENT_KINDS
    state = dossier.state
    if kind not in KINDS:
        return "Ce document n'existe pas."
    available = STATES[state].documents if state in STATES else ()
    if kind == "cerfa":
        if dossier.niveau_saisie == "simple":
            return ("En saisie simple, Sillon ne produit pas de CERFA : l'employeur apporte son "
                    "propre CERFA signé.")
        if kind not in available:
            return ("Le CERFA est disponible une fois le dossier validé par la formation (état "
                    f"actuel : « {state_label(state)} »).")
    if kind == "devis" and kind not in available:
        return ("Le devis est disponible une fois le dossier validé par la formation (état "
                f"actuel : « {state_label(state)} »).")
    if kind == "convention" and kind not in available:
        return ("La convention de formation est disponible une fois les éléments économiques "
                f"validés par le CFA (état actuel : « {state_label(state)} »).")
    if kind in TRAINING_FILES:
        formation = dossier.formation
        if formation is None or formation.latest_document(kind) is None:
            return f"La formation n'a pas encore déposé son {DOCUMENT_KINDS[kind].lower()}."
    if kind in UPLOADED and latest(dossier, kind) is None:
        if kind == "cerfa_vise":
            return "Le CERFA n'a pas encore été visé par le CFA."
        return f"Le document « {DOCUMENT_KINDS[kind]} » n'a pas encore été déposé."
    return None


def offers(dossier) -> list[Offer]:
    from portal.models.documents import DOCUMENT_KINDS
    return [Offer(kind, DOCUMENT_KINDS[kind], why_not(kind, dossier)) for kind in KINDS
            if not (kind == "cerfa" and dossier.niveau_saisie == "simple")]


def document_bytes(kind: str, dossier, user) -> tuple[bytes, str]:
    """(bytes, file name) of an available document. Generated documents of a locked dossier are
    stored at the first download and served from storage afterwards."""
    if kind in TRAINING_FILES:
        document = dossier.formation.latest_document(kind)
        return document.data, document.filename
    if kind in UPLOADED:
        document = latest(dossier, kind)
        return document.data, document.filename
    state = STATES.get(dossier.state)
    if state is not None and state.locked:
        kept = latest(dossier, kind)
        if kept is not None:
            return kept.data, kept.filename
        data = printing.render(kind, dossier)
        with transition_scope(db.session):
            document = store(data, kind=kind, filename=printing.filename(kind, dossier), user=user,
                             dossier=dossier)
            db.session.commit()
        return document.data, document.filename
    return printing.render(kind, dossier), printing.filename(kind, dossier)


UNSIGNED = {"cerfa_signe": ("cerfa", "le CERFA"),
            "convention_signee": ("convention", "la convention de formation")}


def unsigned_copy_refusal(dossier, kind: str, data: bytes) -> str | None:
    """Why the returned file is not signed: it is the document Sillon generated, as it was.
    A generated document exists only in locked states, stored at its first download (the
    only way to have a copy of it): none stored, none to return unsigned."""
    from portal.documents import uploads
    generated_kind, article = UNSIGNED[kind]
    generated = latest(dossier, generated_kind)
    if generated is None or not uploads.is_unsigned_copy(data, bytes(generated.data)):
        return None
    return (f"Ce fichier est {article} tel que Sillon l'a produit, sans signature : "
            "imprimez-le, faites-le signer et déposez le scan, ou déposez le PDF signé.")
