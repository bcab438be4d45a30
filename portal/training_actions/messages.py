"""Who is told what when a training-action request moves (SPEC §6): one small function per
e-mail, each put in the outbox of the current transaction (portal.mail.outbox.queue)."""
from __future__ import annotations

from sqlalchemy import select

from portal.extensions import db
from portal.mail.outbox import public_url, queue
from portal.models import CFA_ROLES, StructureMembership, User, UserRole
from portal.rules.formatting import day as fr_day


def link(inscription) -> str:
    return public_url(f"/admin/inscription/details/?id={inscription.id}")


def _deciders(inscription) -> list[str]:
    """The structure's référent and the members it gave the employer right."""
    structure, referent = inscription.structure, inscription.structure.referent
    out = [referent.email] if referent is not None and referent.active else []
    out += db.session.scalars(
        select(User.email).join(StructureMembership, StructureMembership.user_id == User.id)
        .where(StructureMembership.structure_id == structure.id,
               StructureMembership.status == StructureMembership.APPROUVE,
               StructureMembership.droit_contact_employeur.is_(True),
               User.active.is_(True))).all()
    out = list(dict.fromkeys(out))  # a référent who also holds the right: told once
    return [e for e in out if e != inscription.user.email] or out


def _organiser(inscription) -> list[str]:
    session = inscription.session
    if session.organisateur is not None:
        return [session.organisateur.email]
    return list(db.session.scalars(
        select(User.email).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(tuple(CFA_ROLES)), User.active.is_(True))).unique())


def _send(recipients, inscription, subject: str, headline: str, *, user, comment=None,
          attachments=()):
    session = inscription.session
    dates = fr_day(session.date_debut) if session.date_debut == session.date_fin else \
        f"{fr_day(session.date_debut)} au {fr_day(session.date_fin)}"
    queue(recipients, "action_formation",
          f"[Sillon] {session.action.intitule} du {fr_day(session.date_debut)} : {subject}",
          attachments=attachments, link=link(inscription), link_label="Ouvrir la demande",
          action=session.action.intitule, session_dates=dates, place=session.lieu,
          person=inscription.user.full_name, structure=str(inscription.structure.raison_sociale),
          headline=headline, comment=comment, actor=user)


HEADLINES = {
    "demandee": "nouvelle demande à accepter ou refuser.",
    "acceptee_employeur": "l'employeur a accepté la demande ; le CFA organise la sélection.",
    "refusee_employeur": "l'employeur a refusé la demande.",
    "retenue": "la demande est retenue : la convocation suivra.",
    "liste_attente": "la demande est sur la liste d'attente de la session.",
    "non_retenue": "la demande n'a pas été retenue.",
    "annulee": "la demande a été annulée.",
}


def _headline(inscription) -> str:
    return HEADLINES.get(inscription.state, inscription.state_label)


def to_deciders(inscription, *, user, comment=None):
    _send(_deciders(inscription), inscription, "demande à décider", _headline(inscription),
          user=user, comment=comment)


def to_beneficiary(inscription, *, user, comment=None):
    _send([inscription.user.email], inscription, inscription.state_label.lower(),
          _headline(inscription), user=user, comment=comment)


def to_employer(inscription, *, user, comment=None):
    _send(_deciders(inscription), inscription, inscription.state_label.lower(),
          _headline(inscription), user=user, comment=comment)


def to_organiser(inscription, *, user, comment=None):
    _send(_organiser(inscription), inscription, inscription.state_label.lower(),
          _headline(inscription), user=user, comment=comment)
