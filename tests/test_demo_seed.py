"""The demo data set (seeds/demo.py): idempotent, complete, valid identifiers, volume helper.

Self-contained: builds the portal's app on a SQLite file of its own (no dependency on
conftest)."""
import re

import pytest
from sqlalchemy import func, select
from stdnum.fr import nir, siren, siret

import portal.models  # noqa: F401  (registers every table)
from portal.extensions import db
from portal.models import (Apprenti, Cfa, Dossier, DossierHistory, Etablissement,
                           EtablissementFormation, Formation, OutboxEmail, Structure,
                           StructureMembership, User)
from portal.models.signatures import SignatureRequest
from portal.rules.dates import add_months
from portal.rules.identifiers import UAI_LETTERS
from seeds.synthetic_employers import DEMO_SHARE, DOSSIERS_PER_EMPLOYER
from seeds.synthetic_trainings import DOSSIERS_PER_TRAINING
from portal.dossiers.workflow import MAIN_PATH, STATES
from seeds.demo import PASSWORD, add_synthetic_dossiers, load_demo

DEMO_ACCOUNTS = {
    "admin@sillon.demo": "cfa_admin",
    "conseil@sillon.demo": "cfa_conseiller",
    "resp.info@sillon.demo": "formation_responsable",
    "resp.droit@sillon.demo": "formation_responsable",
    "resp.commerce@sillon.demo": "formation_responsable",
    "gest.info@sillon.demo": "formation_gestionnaire",
    "rh@acme.sillon.demo": "employeur",
    "rh@globex.sillon.demo": "employeur",
    "alice@etu.sillon.demo": "alternant",
    "bruno@etu.sillon.demo": "alternant",
}


@pytest.fixture()
def app(tmp_path, monkeypatch):
    # The portal's own app (its templates and mail: the demo's electronic signatures go
    # through the signature service), on a SQLite file of its own.
    monkeypatch.setenv("SILLON_INSTANCE_PATH", str(tmp_path / "instance"))
    from portal import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'demo.db'}",
                      "TESTING": True, "MAIL_SERVER": None})
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def demo(app):
    return load_demo()


def table_counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables}


def user(email: str) -> User:
    return db.session.execute(select(User).filter_by(email=email)).scalar_one()


def dossiers(**filters) -> list[Dossier]:
    return list(db.session.execute(select(Dossier).filter_by(**filters)).scalars())


def test_load_demo_is_idempotent(demo):
    first = table_counts()
    again = load_demo()
    assert again["created"] == 0
    assert table_counts() == first
    assert {k: v for k, v in again.items() if k != "created"} == \
        {k: v for k, v in demo.items() if k != "created"}


def test_every_state_has_at_least_two_dossiers(demo):
    rows = dict(db.session.execute(
        select(Dossier.state, func.count()).group_by(Dossier.state)).all())
    assert sum(rows.values()) >= 40
    assert set(rows) == set(STATES)
    assert all(count >= 2 for count in rows.values()), rows


def test_dossiers_cover_trainings_employers_and_dispositifs(demo):
    all_dossiers = dossiers()
    assert {d.formation_id for d in all_dossiers} == set(
        db.session.execute(select(Formation.id)).scalars())
    structures = {d.etablissement.structure_id for d in all_dossiers}
    assert len(structures) == 6
    assert {d.dispositif for d in all_dossiers} == {"apprentissage", "professionnalisation"}
    assert sum(d.niveau_saisie == "complete" for d in all_dossiers) > len(all_dossiers) / 2
    for d in all_dossiers:
        assert d.apprenti_nom and d.apprenti_prenom and d.apprenti_email and d.cfa_conseiller_id
        assert d.employeur_siret == d.etablissement.siret
        age = (d.date_debut_contrat - d.apprenti_date_naissance).days / 365.25
        assert 16 <= age < 29
        assert d.date_debut_contrat.year == 2026 and d.date_debut_contrat.month in (9, 10)
        # At least 6 months (C6), never more than 2 months after the exams (C9).
        assert 183 <= (d.date_fin_contrat - d.date_debut_contrat).days <= 3 * 366
        assert d.date_fin_contrat <= add_months(d.formation.date_fin_examens, 2)


def test_dossier_contents_match_their_state(demo):
    signed = set(db.session.scalars(select(SignatureRequest.dossier_id)))
    for d in dossiers():
        # The history of a dossier sent for electronic signature also says so (its documents
        # sealed); every other line of every history is a transition.
        kinds = {h.kind for h in d.history}
        assert kinds <= ({"transition", "signature", "document"} if d.id in signed
                         else {"transition"}), (d.id, kinds)
        history = sorted((h for h in d.history if h.kind == "transition"), key=lambda h: h.at)
        assert history
        assert history[-1].to_state == d.state
        assert [h.from_state for h in history[1:]] == [h.to_state for h in history[:-1]]
        reached = {h.to_state for h in history}
        assert (d.formation_validee_at is not None) == ("valide_formation" in reached)
        assert (d.economie_validee_at is not None) == ("economie_validee" in reached)
        assert (d.documents_valides_at is not None) == ("documents_valides" in reached)
        assert (d.envoye_opco_at is not None) == ("envoye_opco" in reached)
        if d.state in MAIN_PATH[2:] or d.state in ("a_corriger", "rompu"):
            assert d.apprenti is not None and d.apprenti.nir and nir.is_valid(d.apprenti.nir)
            assert len(d.maitres) == 1
            assert (d.contrat is not None) == (d.niveau_saisie == "complete")
        if d.formation.mission_requise and d.state != "initialise":
            assert d.mission is not None
        assert bool(d.correction_commentaire) == (d.state == "a_corriger")
        assert bool(d.annulation_motif) == (d.state == "annule")
        assert (d.rupture_date is not None and bool(d.rupture_cause)) == (d.state == "rompu")
        if d.state == "rompu":
            assert d.rupture_date > d.date_debut_contrat
        if d.contrat and d.contrat.numero_contrat:
            assert re.fullmatch(r"(0[0-9][0-9]|02[AB]|9[0-5]|97[1-6])[0-9]{4}[01][0-9]"
                                r"(NC|[0-9]{2})[0-9]{4}", d.contrat.numero_contrat)


def test_demo_accounts_roles_and_password(demo):
    for email, role in DEMO_ACCOUNTS.items():
        account = user(email)
        assert role in account.role_codes, email
        assert account.check_password(PASSWORD) and PASSWORD == "sillon-demo"
        assert account.first_name and account.last_name
        assert account.rgpd_accepted_at is not None and account.rgpd_version == "2026-01"
    # Password hash copied, but every account keeps its own session token.
    tokens = db.session.execute(select(User.session_token)).scalars().all()
    assert len(set(tokens)) == len(tokens)


def test_trainings_and_their_managers(demo):
    formations = list(db.session.execute(select(Formation)).scalars())
    assert len(formations) == 4 and {f.annee_campagne for f in formations} == {2026}
    conseil = user("conseil@sillon.demo")
    for f in formations:
        assert f.responsables, f.intitule
        assert f.conseiller_cfa_id == conseil.id
        assert re.fullmatch(r"[0-9A-Z]{8}", f.code_diplome)
        assert re.fullmatch(r"RNCP\d{5}", f.code_rncp)
        assert f.niveau and f.heures_total and f.prix and f.access_code
        assert f.date_debut < f.date_fin_examens <= f.date_fin
    assert sum(f.mission_requise for f in formations) == 1
    assert sum(f.mode_validation == "automatique" for f in formations) == 1
    info = [f for f in formations if user("resp.info@sillon.demo") in f.responsables]
    assert len(info) == 2 and all("informatique" in f.intitule.lower() for f in info)
    assert all(user("gest.info@sillon.demo") in f.gestionnaires for f in info)
    droit = [f for f in formations if user("resp.droit@sillon.demo") in f.responsables]
    assert [f.intitule for f in droit] == ["Master Droit des affaires"]


def test_alice_and_bruno_have_one_dossier_each(demo):
    alice, bruno = user("alice@etu.sillon.demo"), user("bruno@etu.sillon.demo")
    (a,) = dossiers(apprentice_user_id=alice.id)
    (b,) = dossiers(apprentice_user_id=bruno.id)
    assert user("resp.info@sillon.demo") in a.formation.responsables
    assert a.etablissement.structure.raison_sociale == "ACME Industrie"
    assert a.employer_contact.email == "rh@acme.sillon.demo"
    assert user("resp.droit@sillon.demo") in b.formation.responsables
    assert b.etablissement.structure.raison_sociale == "Globex Services"
    assert b.employer_contact.email == "rh@globex.sillon.demo"
    assert len(dossiers(formation_id=b.formation_id)) >= 5


def test_employer_referents_and_contacts(demo):
    def structure(name):
        return db.session.execute(select(Structure).filter_by(raison_sociale=name)).scalar_one()

    acme, globex = structure("ACME Industrie"), structure("Globex Services")
    rh_acme, rh_globex = user("rh@acme.sillon.demo"), user("rh@globex.sillon.demo")
    assert acme.referent_id == rh_acme.id and globex.referent_id == rh_globex.id
    membership = db.session.execute(select(StructureMembership).filter_by(
        structure_id=acme.id, user_id=rh_acme.id)).scalar_one()
    assert membership.status == StructureMembership.APPROUVE

    def of(structure):
        return [d for d in dossiers() if d.etablissement.structure_id == structure.id]

    acme_dossiers = of(acme)
    assert sum(d.employer_contact_id == rh_acme.id for d in acme_dossiers) >= 4
    assert any(d.employer_contact_id is None for d in acme_dossiers)  # référent scope > contact
    assert all(d.etablissement.structure_id == acme.id
               for d in dossiers(employer_contact_id=rh_acme.id))
    assert sum(d.employer_contact_id == rh_globex.id for d in of(globex)) >= 2
    assert db.session.scalar(select(func.count()).select_from(Structure)) == 6


def test_identifiers_are_valid(demo):
    sirens = db.session.execute(select(Structure.siren)).scalars().all()
    assert len(sirens) == 6 and all(siren.is_valid(s) for s in sirens)
    for site in db.session.execute(select(Etablissement)).scalars():
        assert siret.is_valid(site.siret) and site.siret.startswith(site.structure.siren)
        assert re.fullmatch(r"\d{2}\.\d{2}[A-Z]", site.naf)
        assert site.idcc and len(site.idcc) == 4 and site.type_employeur and site.effectif
        if site.public:
            assert int(site.type_employeur) > 20 and site.facturation_siret
    assert db.session.scalar(select(func.count()).select_from(Etablissement)
                             .where(Etablissement.public.is_(True))) >= 1
    cfa = db.session.execute(select(Cfa)).scalar_one()
    schools = db.session.execute(select(EtablissementFormation)).scalars().all()
    assert len(schools) == 2
    for item in [cfa, *schools]:
        assert siret.is_valid(item.siret)
        assert re.fullmatch(r"\d{7}[A-Z]", item.uai)
        assert item.uai[7] == UAI_LETTERS[int(item.uai[:7]) % 23]
    for apprenti in db.session.execute(select(Apprenti).where(Apprenti.nir.is_not(None))).scalars():
        assert nir.is_valid(apprenti.nir)


def test_demo_uses_only_invented_addresses(demo):
    emails = db.session.execute(select(User.email)).scalars().all()
    emails += db.session.execute(select(Dossier.apprenti_email)).scalars().all()
    assert all(e.endswith("sillon.demo") for e in emails)


def test_add_synthetic_dossiers(demo):
    before = table_counts()
    assert add_synthetic_dossiers(2000, batch=700) == 2000
    after = table_counts()
    assert after["dossiers"] == before["dossiers"] + 2000
    # Their employers: one new structure with one establishment per 25 of the 98 % of them
    # not given to the demo's establishments (seeds/synthetic_employers).
    employers = round(2000 * (1 - DEMO_SHARE)) // DOSSIERS_PER_EMPLOYER
    assert (after["structures"], after["etablissements"]) == \
        (before["structures"] + employers, before["etablissements"] + employers)
    # Their trainings: one more group of a demo training per 2 000 of those 98 % (at least one;
    # seeds/synthetic_trainings), with no manager and no access code.
    groups = max(1, round(2000 * (1 - DEMO_SHARE)) // DOSSIERS_PER_TRAINING)
    assert after["formations"] == before["formations"] + groups
    grown = {"dossiers", "structures", "etablissements", "formations"}
    assert {k: v for k, v in after.items() if k not in grown} == \
        {k: v for k, v in before.items() if k not in grown}
    emails = db.session.execute(select(Dossier.apprenti_email)
                                .where(Dossier.apprenti_email.like("synth-%"))).scalars().all()
    assert len(set(emails)) == 2000
    states = dict(db.session.execute(select(Dossier.state, func.count())
                                     .where(Dossier.apprenti_email.like("synth-%"))
                                     .group_by(Dossier.state)).all())
    assert set(states) == set(STATES)
    synth = db.session.execute(select(Dossier).where(Dossier.apprenti_email.like("synth-%"))
                               ).scalars().all()
    assert all(d.version == 1 and d.formation and d.etablissement for d in synth)
    assert all(siret.is_valid(d.etablissement.siret) for d in synth)
    in_groups = [d for d in synth if " – groupe " in d.formation.intitule]
    assert 1900 < len(in_groups) < 2000  # about 98 %
    assert not any(d.formation.responsables or d.formation.access_code for d in in_groups)
    at_demo = [d for d in synth if not d.etablissement.structure.siren.startswith("51")]
    assert 0 < len(at_demo) < 100  # about 2 %
    assert any(d.employer_contact_id for d in at_demo)
    assert not any(d.employer_contact_id for d in synth if d not in at_demo)
    # A second call keeps e-mails unique and loads nothing else.
    add_synthetic_dossiers(10)
    assert table_counts()["dossiers"] == after["dossiers"] + 10
    assert load_demo()["created"] == 0
    assert db.session.scalar(select(func.count()).select_from(DossierHistory)) == \
        before["dossier_history"]


def test_add_synthetic_dossiers_requires_demo(app):
    with pytest.raises(RuntimeError, match="load_demo"):
        add_synthetic_dossiers(10)


def test_demo_contracts_state_the_smc_when_the_apprentice_turns_21(demo):
    """C18: a filled contract whose apprentice reaches 21 carries the salaire minimum
    conventionnel, so the demo's Résumé does not warn about it on every dossier."""
    from portal.rules.contract_followup import reaches_smc_age
    reaching = [d for d in dossiers() if d.contrat is not None and reaches_smc_age(
        d.apprenti_date_naissance, d.date_debut_contrat, d.date_fin_contrat)]
    assert reaching
    assert all(d.contrat.salaire_minimum_conventionnel for d in reaching)


def test_the_demo_has_a_dossier_signed_by_all_and_one_waiting_for_the_apprentice(demo):
    """Issue 17 §5: both documents of one dossier signed electronically by every party (sealed,
    the dossier moved on, the evidence complete); another whose CERFA waits for the apprentice
    after the employer signed it."""
    from portal.signatures.certificate import sealing_identity
    from portal.signatures.seal import check
    from flask import current_app
    requests = db.session.scalars(select(SignatureRequest).order_by(SignatureRequest.id)).all()
    by_dossier: dict[int, list] = {}
    for request in requests:
        by_dossier.setdefault(request.dossier_id, []).append(request)
    assert len(by_dossier) == 2
    (done_id, done), (waiting_id, waiting) = sorted(by_dossier.items())
    assert {r.status for r in done} == {"signee"} and len(done) == 2
    assert db.session.get(Dossier, done_id).state == "documents_retournes"
    for request in done:
        assert all(s.status == "signe" and s.signed_at and s.ip for s in request.signers)
        assert [e.kind for e in request.events][-1] == "scellement"
        assert check(bytes(request.signed_document.data),
                     sealing_identity(current_app._get_current_object())).ok
    assert db.session.get(Dossier, waiting_id).state == "economie_validee"
    cerfa = next(r for r in waiting if r.document == "cerfa")
    assert [(s.role, s.status) for s in cerfa.signers][:2] == [("employeur", "signe"),
                                                               ("alternant", "a_signer")]
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.subject.like("%code de signature%"))) == 0
