"""Demo data of the training actions for employers' staff (SPEC §6, seed 003): the CFA's
catalogue (three actions, five sessions), five invented beneficiaries at ACME and Globex
besides the référents, and their requests in every state.

All through the write path (portal.training_actions: service.request / service.run,
documents, attendance), each step on the day it would have happened (its own ``today=``) on
the demo's fixed 2026 calendar (seeds/demo_financing.LAST_EVENT is its last day), and dated
at that moment (history, requests, attendance, documents, e-mails):

- « Évaluer les compétences en entreprise » of 05/11/2026: past, attendance noted for every
  half-day, closed (présente / absente), attestations for those present (art. L6353-1);
- « Devenir maître d'apprentissage » of 27/11 and 30/11/2026: running on the demo's last
  day (Friday noted, Monday to come), full (capacity 4: 2 people a structure at most), two
  people on its waiting list, one not retained; its convocations sent (the only ones: PDFs
  cost build time, the past session's would be history);
- three sessions in 2027, registration open. No request is retained there, so the daily
  reminder job (documents.send_reminders, 7 days before) has nothing to send on any real day;
  the 2026 sessions had their reminder in the demo calendar (rappel_envoye_at).

ACME Industrie is a member of the CFA's network (Structure.adherente), Globex is not: only
ACME requests the members-only action. Idempotent: the catalogue and the people are looked up
by their natural keys; the requests are made once, when the demo sessions have none. A bare
app without the mail templates (tests of seeds.demo alone) gets the catalogue only.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from flask import current_app
from jinja2 import TemplateNotFound
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import (EMPLOYEUR, ActionFormation, Cfa, Inscription, Presence,
                           SessionFormation, Structure, StructureMembership)
from portal.training_actions import attendance, documents, service
from seeds import demo
from seeds.clock import stamped
from seeds.demo_financing import LAST_EVENT

D = demo.DOMAIN
LIEU = "CFA Sillon Sud, 12 rue des Semailles, 34000 Montpellier – salle des Garrigues"
MEMBER = "acme"  # the structure of the CFA's network (Structure.adherente)

ACTIONS = {
    "tutorat": dict(
        intitule="Devenir maître d'apprentissage", duree_heures=Decimal("14"),
        prix=Decimal("390.00"), reservee_adherents=False,
        public_vise="Salariés désignés maîtres d'apprentissage ou tuteurs",
        objectifs="Connaître le contrat d'apprentissage et les missions du maître "
                  "d'apprentissage (Code du travail, art. L6223-5 et suivants) ; accueillir et "
                  "intégrer l'apprenti ; organiser sa progression avec le CFA ; évaluer ses "
                  "acquis en situation de travail.",
        description="Deux journées pour préparer l'arrivée d'un apprenti et le suivre jusqu'à "
                    "son diplôme, avec des cas pratiques des entreprises partenaires."),
    "handicap": dict(
        intitule="Accompagner un apprenti en situation de handicap", duree_heures=Decimal("7"),
        prix=Decimal("210.00"), reservee_adherents=True,
        public_vise="Maîtres d'apprentissage et référents handicap des structures adhérentes",
        objectifs="Connaître les aides et les interlocuteurs (référent handicap du CFA, "
                  "Agefiph) ; adapter le poste et le rythme de travail ; construire avec le CFA "
                  "les aménagements de la formation et des examens.",
        description="Une journée avec le référent handicap du CFA."),
    "evaluation": dict(
        intitule="Évaluer les compétences en entreprise", duree_heures=Decimal("7"),
        prix=Decimal("190.00"), reservee_adherents=False,
        public_vise="Maîtres d'apprentissage et tuteurs",
        objectifs="Relier les activités confiées au référentiel du diplôme ; mener un entretien "
                  "d'évaluation ; renseigner le livret d'apprentissage et rendre compte au "
                  "CFA.",
        description="Une journée d'ateliers à partir des livrets d'apprentissage."),
}
# key → (action, first day, last day, capacity, registration deadline); 9:00–17:00.
SESSIONS = {
    "evaluation_nov": ("evaluation", date(2026, 11, 5), date(2026, 11, 5), 10,
                       date(2026, 10, 26)),
    "tutorat_nov": ("tutorat", date(2026, 11, 27), date(2026, 11, 30), 4, date(2026, 11, 13)),
    "handicap_jan": ("handicap", date(2027, 1, 14), date(2027, 1, 14), 12, date(2027, 1, 4)),
    "evaluation_fev": ("evaluation", date(2027, 2, 9), date(2027, 2, 9), 12, date(2027, 1, 26)),
    "tutorat_mars": ("tutorat", date(2027, 3, 11), date(2027, 3, 12), 12, date(2027, 2, 25)),
}
# The beneficiaries (invented): key → (e-mail, first name, last name, structure, employer right).
PEOPLE = {
    "mathilde": (f"mathilde.carrere@acme.{D}", "Mathilde", "Carrère", "acme", False),
    "gregory": (f"gregory.pujol@acme.{D}", "Grégory", "Pujol", "acme", False),
    "ludivine": (f"ludivine.escande@acme.{D}", "Ludivine", "Escande", "acme", True),
    "raphael": (f"raphael.combes@globex.{D}", "Raphaël", "Combes", "globex", False),
    "aurelie": (f"aurelie.vigouroux@globex.{D}", "Aurélie", "Vigouroux", "globex", False),
}
# The structures' référents, from seeds.demo.
REFERENTS = {"isabelle": (f"rh@acme.{D}", "acme"), "marc": (f"rh@globex.{D}", "globex")}
ORGANISER = f"conseil@{D}"
SETUP_AT = datetime(2026, 9, 14, 9, 0)  # the catalogue published, the beneficiaries approved

# The script: (day, "hh:mm", verb, session, person, actor, text), run in this order. Verbs:
# request (text: the motivation), a step of portal/training_actions/states.py (text: its
# comment), convocation, reminders, record (text: the marks per person), close, attestation.
SCRIPT = [
    (date(2026, 10, 12), "10:15", "request", "evaluation_nov", "gregory", None,
     "Maître d'apprentissage de deux apprentis de BTS à l'atelier de Nîmes, je veux mieux "
     "préparer leurs évaluations en entreprise."),
    (date(2026, 10, 13), "08:40", "accepter", "evaluation_nov", "gregory", "isabelle",
     "Accord : utile avant les évaluations de décembre."),
    (date(2026, 10, 14), "11:00", "request", "evaluation_nov", "isabelle", None,
     "Je coordonne les maîtres d'apprentissage d'ACME et veux harmoniser nos grilles "
     "d'évaluation."),
    (date(2026, 10, 14), "11:05", "accepter", "evaluation_nov", "isabelle", "isabelle", None),
    (date(2026, 10, 15), "14:20", "request", "evaluation_nov", "raphael", None,
     "Tuteur d'un alternant de licence professionnelle, je remplis son livret d'apprentissage "
     "pour la première fois."),
    (date(2026, 10, 16), "09:10", "accepter", "evaluation_nov", "raphael", "marc", None),
    (date(2026, 10, 19), "16:45", "request", "evaluation_nov", "marc", None,
     "Globex accueille de plus en plus d'alternants : je veux connaître les attendus du CFA."),
    (date(2026, 10, 19), "16:50", "accepter", "evaluation_nov", "marc", "marc", None),
    *[(date(2026, 10, 27), f"10:0{k}", "retenir", "evaluation_nov", who, "cfa", None)
      for k, who in enumerate(("gregory", "isabelle", "raphael", "marc"))],
    (date(2026, 10, 29), "07:00", "reminders", None, None, None, None),
    (date(2026, 11, 2), "09:30", "request", "tutorat_nov", "mathilde", None,
     "Je serai maîtresse d'apprentissage d'une apprentie du master Informatique en janvier : "
     "je veux organiser son intégration et son suivi avec le CFA."),
    (date(2026, 11, 3), "08:50", "accepter", "tutorat_nov", "mathilde", "isabelle", None),
    (date(2026, 11, 3), "13:40", "request", "tutorat_nov", "ludivine", None,
     "Responsable formation d'ACME, je conseille nos futurs maîtres d'apprentissage sur leurs "
     "missions et leurs obligations."),
    (date(2026, 11, 4), "09:15", "accepter", "tutorat_nov", "ludivine", "isabelle", None),
    (date(2026, 11, 4), "11:20", "request", "tutorat_nov", "raphael", None,
     "Je reprends en cours d'année le tutorat d'un apprenti et n'ai jamais été maître "
     "d'apprentissage."),
    (date(2026, 11, 5), "08:30", "accepter", "tutorat_nov", "raphael", "marc", None),
    (date(2026, 11, 5), "17:30", "record", "evaluation_nov", None, "cfa",
     {"gregory": (True, True), "isabelle": (True, False), "raphael": (False, False),
      "marc": (True, True)}),
    (date(2026, 11, 5), "18:00", "request", "tutorat_nov", "aurelie", None,
     "Mon équipe accueille deux apprentis en septembre prochain : je souhaite me former avant "
     "leur arrivée."),
    (date(2026, 11, 6), "09:00", "close", "evaluation_nov", None, "cfa", None),
    *[(date(2026, 11, 6), f"09:3{k}", "attestation", "evaluation_nov", who, "cfa", None)
      for k, who in enumerate(("gregory", "isabelle", "marc"))],
    (date(2026, 11, 6), "10:10", "accepter", "tutorat_nov", "aurelie", "marc", None),
    (date(2026, 11, 9), "10:30", "request", "tutorat_nov", "gregory", None,
     "Déjà tuteur à l'atelier de Nîmes, je voudrais devenir maître d'apprentissage en titre."),
    (date(2026, 11, 10), "09:00", "accepter", "tutorat_nov", "gregory", "ludivine", None),
    (date(2026, 11, 10), "17:15", "request", "tutorat_nov", "isabelle", None,
     "Pour accompagner les nouveaux maîtres d'apprentissage d'ACME, je souhaite suivre la "
     "formation avec eux."),
    (date(2026, 11, 10), "17:20", "accepter", "tutorat_nov", "isabelle", "isabelle", None),
    (date(2026, 11, 12), "12:00", "request", "tutorat_nov", "marc", None,
     "Je veux connaître les obligations de l'employeur envers ses maîtres d'apprentissage."),
    (date(2026, 11, 12), "12:05", "accepter", "tutorat_nov", "marc", "marc", None),
    *[(date(2026, 11, 16), f"10:0{k}", "retenir", "tutorat_nov", who, "cfa", None)
      for k, who in enumerate(("mathilde", "ludivine", "raphael", "aurelie"))],
    *[(date(2026, 11, 16), f"10:1{k}", "mettre_en_attente", "tutorat_nov", who, "cfa", None)
      for k, who in enumerate(("gregory", "isabelle"))],
    (date(2026, 11, 16), "10:15", "ne_pas_retenir", "tutorat_nov", "marc", "cfa",
     "Deux personnes de Globex Services sont déjà retenues pour cette session (deux par "
     "structure au plus) : la session des 11 et 12 mars 2027 vous est proposée."),
    *[(date(2026, 11, 17), f"09:0{k}", "convocation", "tutorat_nov", who, "cfa", None)
      for k, who in enumerate(("mathilde", "ludivine", "raphael", "aurelie"))],
    (date(2026, 11, 17), "14:00", "request", "tutorat_mars", "marc", None,
     "Je n'ai pas été retenu en novembre : je demande la session de mars."),
    (date(2026, 11, 17), "14:05", "accepter", "tutorat_mars", "marc", "marc", None),
    (date(2026, 11, 18), "11:45", "request", "tutorat_mars", "gregory", None,
     "En attendant une place en novembre, je demande aussi la session de mars."),
    (date(2026, 11, 19), "08:55", "accepter", "tutorat_mars", "gregory", "isabelle", None),
    (date(2026, 11, 20), "07:00", "reminders", None, None, None, None),
    (date(2026, 11, 23), "15:10", "request", "evaluation_fev", "raphael", None,
     "Absent à la session de novembre, je souhaite la suivre en février."),
    (date(2026, 11, 24), "09:20", "refuser", "evaluation_fev", "raphael", "marc",
     "Raphaël est en déplacement chez un client la semaine du 8 février : merci de demander "
     "la session suivante."),
    (date(2026, 11, 24), "14:30", "request", "handicap_jan", "mathilde", None,
     "Notre future apprentie a une reconnaissance de travailleur handicapé : je veux préparer "
     "son accueil et l'adaptation de son poste."),
    (date(2026, 11, 25), "10:00", "request", "handicap_jan", "ludivine", None,
     "Référente handicap d'ACME, je veux construire avec le CFA les aménagements de nos "
     "apprentis."),
    (date(2026, 11, 25), "11:30", "request", "evaluation_fev", "aurelie", None,
     "Je voudrais préparer les évaluations en entreprise de nos futurs apprentis."),
    (date(2026, 11, 25), "16:00", "annuler", "tutorat_mars", "gregory", "gregory",
     "Je reste sur la liste d'attente de novembre : j'annule cette demande pour laisser la "
     "place à un collègue."),
    (date(2026, 11, 26), "09:40", "accepter", "handicap_jan", "ludivine", "isabelle", None),
    (date(2026, 11, 27), "17:30", "record", "tutorat_nov", None, "cfa",
     {"mathilde": (True, True), "ludivine": (True, True), "raphael": (True, False),
      "aurelie": (True, True)}),
]


def load_training(people: dict) -> dict:
    """Fill the demo's training actions (idempotent); ``people`` is load_demo()'s (its
    accounts). Returns the training tables' counts and how many rows were created
    (``created``)."""
    users = people["users"]
    with stamped(SETUP_AT, STAMPED) as added:
        fresh = _catalogue()
        sessions = _sessions(users[ORGANISER])
        actors = _people(users)
    created = len(added)
    todo = _can_write() and not db.session.scalar(select(func.count(Inscription.id)).where(
        Inscription.session_id.in_([s.id for s in sessions.values()])))
    member = _structure(MEMBER)
    if (fresh or todo) and not member.adherente:
        member.adherente = True
        created += 1
    if todo:
        created += _run(sessions, actors)
    return dict(_counts(), created=created)


def _counts() -> dict:
    models = dict(actions_formation=ActionFormation, sessions_formation=SessionFormation,
                  inscriptions=Inscription, presences=Presence)
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in models.items()}


def _can_write() -> bool:
    """The write path renders its e-mails (templates/mail) and PDFs."""
    try:
        current_app.jinja_env.get_template("mail/action_formation.txt")
    except TemplateNotFound:
        return False
    return True


def _structure(key: str) -> Structure:
    """A demo structure, by its référent (seeds.demo.STRUCTURES)."""
    email = next(s["contact"][0] for s in demo.STRUCTURES if s["key"] == key)
    return db.session.execute(select(Structure).where(Structure.referent.has(email=email))
                              .order_by(Structure.id)).scalars().first()


# --- the catalogue and the people ---------------------------------------------------------------

def _catalogue() -> bool:
    """The three actions; True when they were created now."""
    cfa = db.session.execute(select(Cfa).order_by(Cfa.id)).scalars().first()
    fresh = False
    for fields in ACTIONS.values():
        found = db.session.execute(select(ActionFormation).filter_by(
            cfa_id=cfa.id, intitule=fields["intitule"])).scalar_one_or_none()
        if found is None:
            db.session.add(ActionFormation(cfa=cfa, active=True, **fields))
            fresh = True
    db.session.flush()
    return fresh


def _sessions(organiser) -> dict[str, SessionFormation]:
    actions = {key: db.session.execute(select(ActionFormation).filter_by(
        intitule=fields["intitule"])).scalars().first() for key, fields in ACTIONS.items()}
    out = {}
    for key, (action, first, last, capacity, deadline) in SESSIONS.items():
        found = db.session.execute(select(SessionFormation).filter_by(
            action_id=actions[action].id, date_debut=first)).scalars().first()
        if found is None:
            found = SessionFormation(action=actions[action], date_debut=first, date_fin=last,
                                     heure_debut=time(9), heure_fin=time(17), lieu=LIEU,
                                     capacite=capacity, date_limite_inscription=deadline,
                                     organisateur=organiser)
            db.session.add(found)
        out[key] = found
    db.session.flush()
    return out


def _people(users: dict) -> dict:
    """Who acts in the script: the beneficiaries (accounts and approved memberships, granted
    by their référent), the référents, the CFA (the sessions' organiser)."""
    loader = demo._Loader()
    actors = {key: users[email] for key, (email, _) in REFERENTS.items()}
    actors["cfa"] = users[ORGANISER]
    referents = {structure: users[email] for email, structure in REFERENTS.values()}
    for key, (email, first, last, structure_key, employer_right) in PEOPLE.items():
        person = actors[key] = loader.user(email, first, last, (EMPLOYEUR,))
        db.session.flush()
        structure = _structure(structure_key)
        loader.one(StructureMembership,
                   dict(status=StructureMembership.APPROUVE, droit_beneficiaire=True,
                        droit_contact_employeur=employer_right,
                        requested_at=datetime(2026, 9, 14, 8, 30),
                        decided_at=datetime(2026, 9, 14, 11, 0),
                        decided_by_id=referents[structure_key].id),
                   structure_id=structure.id, user_id=person.id)
    return actors


# --- the requests, step by step -----------------------------------------------------------------

def _run(sessions: dict, actors: dict) -> int:
    structures = {key: _structure(key) for key in ("acme", "globex")}
    home = {key: structures[s] for key, (_, _, _, s, _) in PEOPLE.items()}
    home.update({key: structures[s] for key, (_, s) in REFERENTS.items()})
    requests: dict[tuple[str, str], Inscription] = {}
    created, previous = 0, None
    for day, clock, verb, session_key, who, actor, text in SCRIPT:
        moment = datetime.combine(day, time.fromisoformat(clock))
        if day > LAST_EVENT or (previous is not None and moment < previous):
            raise ValueError(f"demo training script: {moment} out of the demo calendar")
        previous = moment
        with stamped(moment, STAMPED) as added:
            touched = _step(verb, sessions.get(session_key), who, actors.get(actor), text,
                            day=day, actors=actors, home=home, requests=requests,
                            sessions=sessions)
        _redate(touched, moment)
        created += len(added)
    db.session.flush()
    return created


def _step(verb, session, who, by, text, *, day, actors, home, requests, sessions) -> list:
    """One line of the script; returns what it changed (for _redate)."""
    key = (session.id if session is not None else None, who)
    if verb == "request":
        requests[key] = service.request(session, by=actors[who], structure=home[who],
                                        motivation=text, today=day, commit=False)
        return [requests[key]]
    if verb == "convocation":
        documents.send_convocation(requests[key], by=by, today=day)
    elif verb == "attestation":
        documents.attestation(requests[key], by=by)
    elif verb == "reminders":
        documents.send_reminders(day)
        return list(sessions.values()) + list(requests.values())
    elif verb == "record":
        expected = attendance.expected(session)
        marks = {(requests[(session.id, person)].id, *half): present
                 for person, row in text.items() for half, present in zip(expected, row)}
        attendance.record(session, marks, by=by, today=day)
        return []
    elif verb == "close":
        attendance.close(session, by=by, today=day)
        return [i for (sid, _), i in requests.items() if sid == session.id]
    else:
        service.run(verb, requests[key], by=actors[who] if by is None else by, comment=text,
                    today=day, commit=False)
    return [requests[key]]


STAMPS = {Inscription: ("updated_at", "employer_decided_at", "convocation_sent_at"),
          SessionFormation: ("rappel_envoye_at",)}


def _redate(objects: list, moment: datetime) -> None:
    """The step's own stamps (taken from the clock) moved to the step's moment."""
    for obj in objects:
        for name in STAMPS.get(type(obj), ()):
            value = getattr(obj, name)
            if value is not None and value > moment + timedelta(days=1):
                setattr(obj, name, moment)


# The columns a step's rows are dated by (seeds.clock.stamped).
STAMPED = ("at", "created_at", "recorded_at", "updated_at")
