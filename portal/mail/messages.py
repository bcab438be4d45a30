"""Who is told what when a dossier moves (SPEC §3): one small function per e-mail, each putting
an e-mail in the outbox of the current transaction (portal.mail.outbox.queue)."""
from __future__ import annotations


from portal.mail.outbox import public_url, queue
from portal.dossiers.workflow import STATES, state_label


def _link(dossier, tab="suivi") -> str:
    return public_url(f"/admin/dossier/{dossier.id}/{tab}/")


def _managers(dossier) -> list[str]:
    formation = dossier.formation
    return [u.email for u in formation.responsables if u.active] if formation else []


def _parties(dossier) -> list[str]:
    out = [dossier.apprenti_email]
    if dossier.employer_contact is not None:
        out.append(dossier.employer_contact.email)
    elif dossier.employeur_contact_email:
        out.append(dossier.employeur_contact_email)
    return out


def _employer(dossier) -> list[str]:
    if dossier.employer_contact is not None:
        return [dossier.employer_contact.email]
    return [dossier.employeur_contact_email] if dossier.employeur_contact_email else []


def _cfa(dossier) -> list[str]:
    if dossier.cfa_conseiller is not None:
        return [dossier.cfa_conseiller.email]
    from portal.policy import cfa_advisors
    return [u.email for u in cfa_advisors()]


def _subject(dossier, text: str) -> str:
    return f"[Sillon] Dossier n° {dossier.id} – {dossier.apprenti_nom_complet} : {text}"


def _event(recipients, dossier, template, subject, *, user, comment, attachments=(),
           tab="suivi", **extra):
    state = STATES.get(dossier.state)
    return queue(recipients, template, _subject(dossier, subject), dossier=dossier,
                 attachments=attachments,
                 link=_link(dossier, tab), actor=user, comment=comment,
                 state_label=state_label(dossier.state),
                 next_action=state.next_action if state else "", **extra)


def to_managers_validation(dossier, *, user, comment):
    _event(_managers(dossier), dossier, "demande_validation", "validation demandée",
           user=user, comment=comment)


def to_cfa_economy(dossier, *, user, comment):
    _event(_cfa(dossier), dossier, "a_vous", "éléments économiques à valider", user=user,
           comment=comment, action="valider les éléments économiques du dossier")


def to_parties_validated(dossier, *, user, comment):
    _event(_parties(dossier), dossier, "validation", "dossier validé par la formation",
           user=user, comment=comment)


def to_employer_documents(dossier, *, user, comment):
    _event(_employer(dossier), dossier, "a_vous", "documents à signer et retourner", user=user,
           comment=comment, action="télécharger le CERFA et la convention, les faire signer "
                                   "et les déposer signés sur le dossier")


def to_cfa_opco(dossier, *, user, comment):
    _event(_cfa(dossier), dossier, "a_vous", "dossier envoyé à l'OPCO", user=user,
           comment=comment, action="suivre la prise en charge par l'OPCO")


def to_parties_correction(dossier, *, user, comment):
    _event(_parties(dossier), dossier, "correction", "dossier à corriger", user=user,
           comment=comment)


def to_everyone_cancelled(dossier, *, user, comment):
    _event(_parties(dossier) + _cfa(dossier), dossier, "information", "dossier annulé",
           user=user, comment=comment, headline="Le dossier a été annulé.")


def to_everyone_broken(dossier, *, user, comment):
    _event(_parties(dossier) + _cfa(dossier) + _managers(dossier), dossier, "information",
           "rupture du contrat", user=user, comment=comment,
           headline="Une rupture du contrat a été déclarée.")


def to_manager_mission(dossier, *, user, comment):
    _event(_managers(dossier), dossier, "a_vous", "mission à valider", user=user,
           comment=comment, action="valider la mission de l'alternant·e ou la renvoyer avec "
                                   "un commentaire")


def to_parties_mission(dossier, *, user, comment, validated: bool):
    _event(_parties(dossier), dossier, "information",
           "mission validée" if validated else "mission à revoir", user=user, comment=comment,
           headline="La mission a été validée par le responsable de la formation."
           if validated else "La mission est renvoyée pour être revue.")


def to_employer_stamped(dossier, *, user, comment, attachments=()):
    _event(_employer(dossier), dossier, "cerfa_vise", "CERFA visé par le CFA", user=user,
           comment=comment, attachments=attachments)


def to_cfa_documents(dossier, *, user, comment):
    _event(_cfa(dossier), dossier, "a_vous", "documents signés à vérifier", user=user,
           comment=comment, action="vérifier le CERFA et la convention signés, puis viser le "
                                   "CERFA ou renvoyer le dossier avec un commentaire")


def to_employer_financing(dossier, *, user, comment, headline, attachments=()):
    """The OPCO's decision on the contract's financing, and the employer's invoice (SPEC §5):
    told to the employer, with a link to the dossier's Financement tab."""
    _event(_employer(dossier), dossier, "information", "financement par l'OPCO", user=user,
           comment=comment, headline=headline, attachments=attachments, tab="financement")


def to_everyone_signature_refused(dossier, *, user, comment):
    """A signer refused to sign electronically (portal/signatures): the dossier is back for
    correction; the parties, the CFA and the training's managers are told why."""
    _event(_parties(dossier) + _cfa(dossier) + _managers(dossier), dossier,
           "signature_refusee", "signature refusée, dossier à corriger", user=user,
           comment=comment)
