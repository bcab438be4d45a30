"""Demo data of the OPCO financing (SPEC §5, seed 004): the CFA's contact sheet, an organisme
délégant, and for every demo dossier that reached the OPCO its prise en charge, the OPCO's
answers, reimbursement requests, certificates, payments and the employer's invoice.

All through the write path (portal.financing.service, claims), each step on the day the CFA
would have taken it (its own ``today=`` / ``on=``, from the dossier's fixed 2026 timeline), the
steps of all dossiers in date order so that invoice numbers follow their dates (CGI art. 242
nonies A). Same data on every build made from LAST_EVENT on; a step after the build day is left
out. The demo has only eight dossiers past « Envoyé à l'OPCO » (four sent, four broken): COHORT
adds twelve sent ones, built by seeds.demo._create_dossier, to show every state.

Idempotent (a dossier with its prise en charge is left alone). Needs the reference data and the
app's PDF templates: without NPEC rows only the contact sheet is filled.
"""
from __future__ import annotations

import io
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from portal.dossiers import snapshot
from portal.extensions import db
from portal.financing import claims, service
from portal.models import (Cfa, DemandeRemboursement, Dossier, Echeance, Facture,
                           NiveauPriseEnCharge, OrganismeDelegant, Paiement, PriseEnCharge)
from seeds import demo
from seeds.clock import stamped

SEED = demo.SEED + 13
LAST_EVENT = date(2026, 11, 28)  # the latest step below: builds from this day on are identical
CENTS = Decimal("0.01")

# The CFA's contact sheet and bank details (invented; the IBAN is valid by its keys, bank code
# 99990 does not exist). A training CFA is often not VAT-registered (CGI art. 261-4-4° a).
CONTACT_SHEET = dict(contact_civilite="Mme", contact_prenom="Véronique",
                     contact_nom="Sabatier",
                     contact_fonction="Responsable administrative et financière",
                     contact_telephone="0199002741",
                     contact_email=f"financements@cfa-sud.{demo.DOMAIN}", tva_intracom=None,
                     iban="FR7699990003400002607198497", bic="SLLNFRPPXXX")
DELEGANT = dict(nom="Institut Cap Lagune Formation", numero_declaration_activite="76341906534",
                adresse="5 rue des Tamaris", code_postal="34280", commune="La Grande-Motte",
                contact_civilite="M.", contact_prenom="Patrice", contact_nom="Olivès",
                contact_fonction="Directeur des formations", contact_telephone="0199003518",
                contact_email=f"contact@cap-lagune.{demo.DOMAIN}")

REASONS = {
    "convention": "Convention de formation non signée par l'employeur",
    "maitre": "Justificatif de la qualification du maître d'apprentissage manquant",
    "refus": "Rémunération prévue inférieure au minimum légal (D6222-26 du Code du travail) : "
             "contrat non conforme",
    "annule": "Dossier supprimé par l'OPCO à la demande de l'employeur : contrat déposé une "
              "seconde fois sous un autre numéro",
    "rejet": "Facture rattachée par erreur à un autre dossier de l'OPCO : déposez une nouvelle "
             "demande",
}

# A script: the steps of one prise en charge, as (base, days after it, action, arguments).
# Bases: "depot" (sent to the OPCO), "debut" (contract start), "rupture" (recorded), "fixe"
# (the date given as days). Actions: open, update, the OPCO's answers (states.ANSWERS codes),
# rupture, claim / certificate / deposit / pay / reject (on one instalment), employer.
_OPEN = [("depot", 0, "open", {})]
_AGREED = _OPEN + [("depot", 3, "instruire", {}), ("depot", 12, "accorder", {})]
_AVANCE = {"year": 1, "kind": "avance"}
_CLAIMED = [("debut", 3, "claim", _AVANCE), ("debut", 4, "deposit", _AVANCE)]
SCRIPTS = {
    "recu": _OPEN,
    "instruction_en_retard": _OPEN + [("depot", 4, "instruire", {})],
    "instruction_relancee": _OPEN + [("depot", 6, "incomplet", {"reason": "maitre"}),
                                     ("fixe", date(2026, 11, 24), "instruire", {})],
    "attente": _OPEN + [("depot", 7, "incomplet", {"reason": "convention"})],
    "refus": _OPEN + [("depot", 2, "instruire", {}),
                      ("depot", 16, "refuser", {"reason": "refus"})],
    "annulation": _OPEN + [("depot", 2, "instruire", {}),
                           ("depot", 9, "annuler", {"reason": "annule"})],
    "a_demander": _AGREED,
    "brouillon": _AGREED + [("fixe", date(2026, 11, 27), "claim", _AVANCE)],
    "payee": _AGREED + _CLAIMED + [("debut", 28, "pay", dict(_AVANCE, share="1"))],
    "impayee": _AGREED + _CLAIMED,
    "partielle": _AGREED + _CLAIMED + [("debut", 30, "pay", dict(_AVANCE, share="instalment"))],
    "rejetee": _AGREED + _CLAIMED + [
        ("debut", 15, "reject", dict(_AVANCE, reason="rejet")),
        ("debut", 16, "claim", _AVANCE), ("debut", 16, "deposit", _AVANCE),
        ("debut", 38, "pay", dict(_AVANCE, share="1"))],
    "rompu_accorde": _AGREED + [("rupture", 0, "rupture", {})],
    "rompu_reclame": _AGREED + [("rupture", 0, "rupture", {})] + [
        ("rupture", 3, "claim", {"year": 1, "kind": k}) for k in ("avance", "mois7", "mois10")
    ] + [("rupture", 3, "certificate", {"year": 1, "kind": k}) for k in ("mois7", "mois10")] + [
        ("rupture", 4, "deposit", {"year": 1, "kind": k}) for k in ("avance", "mois7", "mois10")
    ] + [("rupture", 27, "pay", {"year": 1, "kind": k, "share": "1"}) for k in ("avance",
                                                                                "mois7")] + [
        ("fixe", date(2026, 11, 26), "claim", {"year": 1, "kind": "solde"}),
        ("fixe", date(2026, 11, 26), "certificate", {"year": 1, "kind": "solde"})],
}
# Extras of some dossiers, recorded before the OPCO's decision (amounts lock at the agreement).
FRAIS = {"premier": {"frais_premier_equipement": "500"},
         "sejours": {"nuits_hebergement": "12", "repas_restauration": "24"},
         "mixte": {"frais_premier_equipement": "320,50", "repas_restauration": "40"}}

# The demo's own dossiers past « Envoyé à l'OPCO »: (state, training) → (script, frais,
# délégant, employer invoice).
DEMO_SCRIPTS = {
    ("envoye_opco", "lp_info"): ("payee", None, False, True),
    ("envoye_opco", "m_info"): ("partielle", "premier", False, False),
    ("envoye_opco", "m_droit"): ("instruction_en_retard", None, False, False),
    ("envoye_opco", "bts_mco"): ("recu", None, False, False),
    ("rompu", "lp_info"): ("rompu_accorde", None, False, False),
    ("rompu", "m_info"): ("rompu_accorde", None, False, False),
    ("rompu", "m_droit"): ("rompu_accorde", None, False, False),
    ("rompu", "bts_mco"): ("rompu_reclame", None, False, False),
}
# The dossiers added to show the financing: (training, employer, script, frais, délégant,
# employer invoice). Employers as in demo.EMPLOYERS_BY_FORMATION, never the public one.
COHORT = [
    ("bts_mco", "marche", "payee", None, True, False),
    ("bts_mco", "fournil", "impayee", None, True, True),
    ("lp_info", "banque", "rejetee", None, False, True),
    ("m_droit", "banque", "payee", "sejours", False, True),
    ("m_info", "globex", "brouillon", None, False, False),
    ("lp_info", "globex", "a_demander", None, False, False),
    ("m_droit", "marche", "payee", "mixte", False, False),
    ("bts_mco", "banque", "attente", None, False, False),
    ("lp_info", "banque", "instruction_relancee", None, False, False),
    ("m_info", "banque", "refus", None, False, False),
    ("bts_mco", "marche", "recu", None, False, False),
    ("m_info", "acme", "annulation", None, False, False),
]


def load_financing(people: dict, specs: list[dict], *, today: date | None = None) -> dict:
    """Fill the demo's financing (idempotent); ``people`` and ``specs`` are load_demo()'s (its
    accounts, trainings, sites, and the planned dossiers); the steps after ``today`` (the build
    day) are left out. Returns the financing tables' counts and how many rows were created
    (``created``)."""
    created = _contact_sheet(people["formations"]["lp_info"].cfa)
    if db.session.scalar(select(func.count()).select_from(NiveauPriseEnCharge)):
        rng = random.Random(SEED)
        delegant, made = _delegant(rng)
        cohort, added = _cohort(rng, people, specs)
        plans = _demo_plans(people, specs) + cohort
        created += made + added + _run(plans, people, delegant, rng, today or date.today())
    return dict(_counts(), created=created)


def _counts() -> dict:
    models = dict(prises_en_charge=PriseEnCharge, echeances=Echeance,
                  demandes_remboursement=DemandeRemboursement, factures=Facture,
                  paiements=Paiement, organismes_delegants=OrganismeDelegant)
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in models.items()}


def _contact_sheet(cfa: Cfa) -> int:
    """The CFA's contact sheet, unless the cfa_admin already filled it."""
    if cfa.contact_nom:
        return 0
    for name, value in CONTACT_SHEET.items():
        setattr(cfa, name, value)
    return 1


def _delegant(rng: random.Random) -> tuple[OrganismeDelegant, int]:
    siret, uai = demo._siret(demo._siren(rng), rng), demo._uai("034", rng)
    found = db.session.execute(select(OrganismeDelegant).filter_by(nom=DELEGANT["nom"])
                               ).scalar_one_or_none()
    if found is not None:
        return found, 0
    org = OrganismeDelegant(siret=siret, uai=uai, created_at=datetime(2026, 3, 16, 9, 30),
                            **DELEGANT)
    db.session.add(org)
    db.session.flush()
    return org, 1


# --- the dossiers -------------------------------------------------------------------------------

def _find(spec: dict, people: dict) -> Dossier | None:
    formation = people["formations"][spec["formation"]]
    return db.session.execute(select(Dossier).filter_by(
        apprenti_email=spec["email"], formation_id=formation.id)).scalar_one_or_none()


def _demo_plans(people: dict, specs: list[dict]) -> list[dict]:
    plans = []
    for spec in specs:
        row = DEMO_SCRIPTS.get((spec["state"], spec["formation"]))
        if row is None or "envoye_opco" not in spec["path"]:
            continue
        dossier = _find(spec, people)
        if dossier is not None and dossier.state == spec["state"]:
            plans.append(dict(zip(("script", "frais", "delegant", "employer"), row),
                              dossier=dossier, spec=spec))
    return plans


def _cohort(rng: random.Random, people: dict, specs: list[dict]) -> tuple[list[dict], int]:
    used = {s["email"] for s in specs} | {demo.ALICE[0], demo.BRUNO[0]}
    plans, added = [], 0
    for fkey, employer, script, frais, delegant, employer_invoice in COHORT:
        spec = _cohort_spec(rng, fkey, employer, people["structures"][employer], used)
        dossier = _find(spec, people)
        if dossier is None:
            dossier = demo._create_dossier(spec, people)
            added += 1
        plans.append(dict(script=script, frais=frais, delegant=delegant,
                          employer=employer_invoice, dossier=dossier, spec=spec))
    if added:
        db.session.flush()
        snapshot.backfill()
    return plans, added


def _cohort_spec(rng: random.Random, fkey: str, employer: str, structure: dict,
                 used: set[str]) -> dict:
    """A dossier sent to the OPCO, planned as seeds.demo._plan_dossiers plans its own."""
    sexe = rng.choice("FM")
    prenom, nom = rng.choice(demo.FIRST_NAMES[sexe]), rng.choice(demo.LAST_NAMES)
    email, n = f"{demo._slug(prenom)}.{demo._slug(nom)}@{demo.STUDENT_DOMAIN}", 2
    while email in used:
        email, n = f"{demo._slug(prenom)}.{demo._slug(nom)}{n}@{demo.STUDENT_DOMAIN}", n + 1
    used.add(email)
    fdef = next(f for f in demo.FORMATIONS if f["key"] == fkey)
    lo, hi = demo.AGE_RANGE[fkey]
    start = date(2026, 9, 1) + timedelta(days=rng.randrange(0, 50))
    born = start.replace(year=start.year - rng.randint(lo, hi)) - \
        timedelta(days=rng.randrange(1, 360))
    spec = dict(state="envoye_opco", formation=fkey, user=None, employer=employer, sexe=sexe,
                site=rng.randrange(len(structure["sites"])), email=email, prenom=prenom,
                nom=nom, contact=structure["contact"][0], start=start, born=born,
                end=demo.contract_end(start, fdef),
                dispositif=demo.APPRENTISSAGE, niveau="complete", rupture_date=None,
                path=demo._state_path("envoye_opco", rng), comment="",
                mission=rng.choice(demo.MISSIONS.get(fkey, [""])))
    spec["times"] = demo._timeline(spec, rng)
    place, home = rng.choice(demo.BIRTHPLACES), rng.choice(demo.HOMES)
    spec["apprenti"] = dict(
        commune_naissance=place[0], departement_naissance=place[1],
        nir=demo._nir(sexe, born, place[1], place[2], rng),
        ine=f"{rng.randrange(10**9, 10**10)}{rng.choice('ABCDEFGHJK')}",
        adresse_numero=str(rng.randint(1, 120)), adresse_voie=rng.choice(demo.STREETS),
        code_postal=home[0], commune=home[1], telephone=demo._phone(rng, mobile=True),
        parcours=rng.choice(demo.PARCOURS[fkey]), rqth=False)
    spec["maitre"] = dict(prenom=rng.choice(demo.FIRST_NAMES[rng.choice("FM")]),
                          nom=rng.choice(demo.LAST_NAMES),
                          born=date(rng.randint(1968, 1992), rng.randint(1, 12),
                                    rng.randint(1, 28)),
                          experience=rng.randint(3, 22), telephone=demo._phone(rng))
    spec["numero_contrat"] = f"034{start:%Y%m}NC{rng.randrange(10000):04d}"
    return spec


# --- the steps, in date order -------------------------------------------------------------------

def _steps(plan: dict, index: int) -> list[tuple]:
    """(day, index, rank, moment, plan, action, arguments) of one dossier's steps, in order."""
    dossier, spec = plan["dossier"], plan["spec"]
    bases = {"depot": dossier.envoye_opco_at.date(), "debut": dossier.date_debut_contrat,
             "rupture": spec["times"][-1].date()}
    script = SCRIPTS[plan["script"]]
    extras = [("depot", 1, "update", {"values": FRAIS[plan["frais"]]})] if plan["frais"] else []
    if plan["delegant"]:
        extras.append(("depot", 1, "update", {"delegant": True}))
    if plan["employer"]:
        extras.append(("debut", 5, "employer", {}))
    dated = [(offset if base == "fixe" else bases[base] + timedelta(days=offset), action, args)
             for base, offset, action, args in script]
    if any(later[0] < earlier[0] for earlier, later in zip(dated, dated[1:])):
        raise ValueError(f"demo financing script {plan['script']!r}: steps out of date order")
    dated += [(bases[base] + timedelta(days=offset), action, args)
              for base, offset, action, args in extras]
    dated.sort(key=lambda step: step[0])  # stable: a script's steps of one day keep their order
    moments = {"open": dossier.envoye_opco_at + timedelta(minutes=2),
               "rupture": spec["times"][-1] + timedelta(minutes=2)}
    return [(day, index, rank, moments.get(action) or datetime.combine(day, time(9)) +
             timedelta(minutes=7 * index + rank), plan, action, args)
            for rank, (day, action, args) in enumerate(dated)]


def _run(plans: list[dict], people: dict, delegant, rng: random.Random, today: date) -> int:
    todo = [p for p in plans if p["dossier"].prise_en_charge is None]
    steps = sorted((s for i, p in enumerate(todo) for s in _steps(p, i)),
                   key=lambda s: s[:3])
    admin = people["users"][f"admin@{demo.DOMAIN}"]
    created = 0
    for day, _index, _rank, moment, plan, action, args in steps:
        if day > today:
            continue  # not happened yet on the build day (see LAST_EVENT)
        with stamped(moment) as added:
            _ACTIONS[action](plan, args, by=admin, day=day, delegant=delegant, rng=rng)
        created += len(added)
    return created




# --- the actions ---------------------------------------------------------------------------------

def _open(plan, args, *, by, day, **_):
    dossier = plan["dossier"]
    numero = dossier.contrat.numero_contrat if dossier.contrat is not None else \
        plan["spec"]["numero_contrat"]
    service.open_for(dossier, dossier.employer_contact or by, numero=numero, deposit=day)


def _update(plan, args, *, by, day, delegant, **_):
    values = {"organisme_delegant_id": delegant.id} if args.get("delegant") else args["values"]
    service.update(plan["dossier"].prise_en_charge, values, by=by, today=day, commit=False)


def _answer(code):
    def run(plan, args, *, by, day, **_):
        service.answer(plan["dossier"].prise_en_charge, code, by=by, on=day, today=day,
                       reason=REASONS.get(args.get("reason")), commit=False)
    return run


def _rupture(plan, args, *, by, **_):
    """What the rupture transition does to the prise en charge (service.on_transition): the
    schedule stopped at the rupture date (décret 2025-585: prorata of the days worked), with
    its history entry. The demo's broken dossiers are already « Rompu » when their prise en
    charge opens, so its amounts are those of the contract as it ended from the start."""
    dossier = plan["dossier"]
    service.on_transition("rompre", dossier=dossier, user=by, target="rompu", inputs={},
                          comment=dossier.rupture_cause)


def _instalment(plan, args) -> Echeance:
    pec = plan["dossier"].prise_en_charge
    return next(e for e in pec.echeances
                if (e.annee_contrat, e.nature) == (args["year"], args["kind"]))


def _claim_of(plan, args) -> DemandeRemboursement:
    return _instalment(plan, args).demandes[-1]


def _certificate(plan, args, *, by, day, **_):
    claim = _claim_of(plan, args)
    claims.attach_certificate(claim, certificate_pdf(plan["dossier"], claim, day),
                              "certificat_realisation.pdf", by=by, commit=False)


def _pay(plan, args, *, by, day, rng, **_):
    claim = _claim_of(plan, args)
    amount = claim.montant - claim.montant_frais if args["share"] == "instalment" else \
        (claim.montant * Decimal(args["share"])).quantize(CENTS)
    reference = f"VIR {plan['dossier'].prise_en_charge.opco_code} {rng.randrange(10**8):08d}"
    claims.record_payment(claim, by=by, on=day, amount=amount, reference=reference, today=day,
                          commit=False)


_ACTIONS = {
    "open": _open, "update": _update, "rupture": _rupture, "certificate": _certificate,
    "pay": _pay,
    "claim": lambda plan, args, *, by, day, **_: claims.create_claim(
        _instalment(plan, args), by=by, today=day, commit=False),
    "deposit": lambda plan, args, *, by, day, **_: claims.deposit(
        _claim_of(plan, args), by=by, on=day, today=day, commit=False),
    "reject": lambda plan, args, *, by, day, **_: claims.reject(
        _claim_of(plan, args), by=by, on=day, reason=REASONS[args["reason"]], today=day,
        commit=False),
    "employer": lambda plan, args, *, by, day, **_: claims.employer_invoice(
        plan["dossier"].prise_en_charge, by=by, today=day, commit=False),
    **{code: _answer(code) for code in ("instruire", "incomplet", "accorder", "refuser",
                                        "annuler")},
}


def certificate_pdf(dossier, claim, day: date) -> bytes:
    """A one-page certificat de réalisation (invented content, French, embedded font), the
    same bytes on every build (ReportLab's invariant mode)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    from portal.documents.render import FONTS
    from portal.rules.formatting import day as fr_day
    if "SillonDemoCertificat" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("SillonDemoCertificat", str(FONTS / "DejaVuSans.ttf")))
    pec, cfa = claim.prise_en_charge, dossier.formation.cfa
    last = min(pec.date_fin, claim.echeance.date_prevue)
    lines = [
        f"Organisme de formation : {cfa.nom} (UAI {cfa.uai}, SIRET {cfa.siret})",
        f"Apprenti·e : {dossier.apprenti_prenom} {dossier.apprenti_nom.upper()}",
        f"Formation : {dossier.formation.intitule}",
        f"Dossier OPCO n° {pec.numero_opco} – {claim.echeance.label}",
        f"Formation réalisée du {fr_day(pec.date_debut)} au {fr_day(last)}.",
        "",
        f"Fait à {cfa.commune}, le {fr_day(day)}.",
        f"{cfa.contact_prenom or ''} {cfa.contact_nom or ''}, "
        f"{(cfa.contact_fonction or '').lower()}",
    ]
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.setTitle("Certificat de réalisation")
    for k, text in enumerate(["Certificat de réalisation", ""] + lines):
        page.setFont("SillonDemoCertificat", 16 if k == 0 else 10)
        page.drawString(60, 770 - 18 * k, text)
    page.save()
    return out.getvalue()
