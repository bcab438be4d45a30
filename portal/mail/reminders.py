"""The daily digest: each person who must act gets one e-mail listing the dossiers waiting for
them and the deadlines that are close or passed. The worker queues it every REMINDERS_DAYS at
REMINDERS_HOUR (portal/tasks.py); `flask reminders send` does it by hand. Running it twice the
same day sends nothing new."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from sqlalchemy import select

from portal.dossiers.deadlines import dossier_deadlines
from portal.extensions import db
from portal.models import Dossier, OutboxEmail
from portal.mail.outbox import queue
from portal.dossiers.workflow import STATES

SOON = timedelta(days=7)


def _people_for(dossier, role: str) -> list[str]:
    if role == "alternant":
        return [dossier.apprenti_email] if dossier.apprenti_email else []
    if role == "employeur":
        if dossier.employer_contact is not None:
            return [dossier.employer_contact.email]
        return [dossier.employeur_contact_email] if dossier.employeur_contact_email else []
    if role in ("formation_responsable", "formation_gestionnaire"):
        return [u.email for u in dossier.formation.responsables if u.active]
    if role in ("cfa_conseiller", "cfa_admin"):
        return [dossier.cfa_conseiller.email] if dossier.cfa_conseiller is not None else []
    return []


def build_digests(today: date) -> dict[str, list[dict]]:
    """{e-mail: [{dossier, action, deadlines}]} for every open dossier."""
    digests: dict[str, list[dict]] = defaultdict(list)
    open_states = [code for code, s in STATES.items() if s.actors]
    dossiers = db.session.scalars(select(Dossier).where(Dossier.state.in_(open_states))
                                  .order_by(Dossier.id)).all()
    for dossier in dossiers:
        state = STATES[dossier.state]
        urgent = [d for d in dossier_deadlines(dossier, today)
                  if d.late or (d.due is not None and d.due - today <= SOON)]
        wanted: dict[str, dict] = {}
        for role in state.actors:
            for email in _people_for(dossier, role):
                wanted.setdefault(email.lower(), {"dossier": dossier,
                                                  "action": state.next_action,
                                                  "deadlines": []})
        for deadline in urgent:
            for role in deadline.actors:
                for email in _people_for(dossier, role):
                    item = wanted.setdefault(email.lower(), {"dossier": dossier, "action": None,
                                                             "deadlines": []})
                    if deadline not in item["deadlines"]:
                        item["deadlines"].append(deadline)
        for email, item in wanted.items():
            digests[email].append(item)
    return digests


def send_digests(today: date | None = None) -> int:
    """Queue one digest per person (skipping those already queued today); commit. Returns how
    many were queued; the caller sends the outbox."""
    today = today or date.today()
    subject = f"[Sillon] Vos dossiers à traiter – {today:%d/%m/%Y}"
    already = set(db.session.scalars(select(OutboxEmail.recipients)
                                     .where(OutboxEmail.subject == subject)).all())
    count = 0
    for email, items in sorted(build_digests(today).items()):
        if email in already:
            continue
        late = sum(1 for item in items for d in item["deadlines"] if d.late)
        queue([email], "rappel_quotidien", subject, items=items, today=today, late=late,
              link=None)
        count += 1
    db.session.commit()
    return count


def init_app(app) -> None:
    import click
    from flask.cli import AppGroup
    group = AppGroup("reminders", help="Rappels quotidiens.")

    @group.command("send")
    @click.option("--date", "day", default=None, help="Date du rappel (AAAA-MM-JJ), "
                  "aujourd'hui par défaut.")
    def send_command(day):
        """Queue the daily digest of each person who must act, then send the outbox (claimed
        e-mail by e-mail: a worker sending at the same time never duplicates one)."""
        from portal.mail.outbox import send_pending
        when = date.fromisoformat(day) if day else date.today()
        queued = send_digests(when)
        sent, failed = send_pending()
        click.echo(f"{queued} rappel(s) préparé(s) ; {sent} e-mail(s) envoyé(s), "
                   f"{failed} en échec.")

    app.cli.add_command(group)
