"""The first référent of a structure (seed 003, SPEC §4, issue 11).

The first account of a structure becomes its référent only when the structure is new to Sillon
(created by a dossier's entry, no other dossier on it); a structure the CFA registered, or one
with dossiers, gets its first référent from the CFA's approval queue, and the public page
answers the same in every case. Also: what a référent and a plain member of a structure see of
its dossiers.

Every test builds its own structures, people and dossiers (dossiers through the one write
path, portal.dossiers.service) and removes the dossiers afterwards. E-mails are read from a
real SMTP server.
"""
from __future__ import annotations

import re
import uuid
from datetime import date

import pytest
import sqlalchemy as sa

from portal.accounts import referents
from portal.accounts import structures as access
from portal.dossiers import service
from portal.extensions import db
from portal.mail.outbox import send_pending
from portal.models import (ALTERNANT, EMPLOYEUR, Dossier, Etablissement, Formation,
                           OutboxEmail, Structure, StructureMembership, StructureRequest, User)
from tests.support.web import csrf_from
from tests.support.web import login as web_login
from tests.test_structure_access import (ADMIN, CONSEIL, _anonymous, _signup, _without_token,
                                         client_for, flashes, join, make_structure, make_user,
                                         mails_to, membership, new_siret, post, referent_of,
                                         roles_of, text, user_by_email)

QUEUE = "/admin/demandes-structures/"
FIRST_REFERENT_MAIL = "son premier référent est désigné par l'équipe du CFA"


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture()
def dossiers(app):
    """Ids of the dossiers a test creates; removed (with their e-mails) afterwards."""
    created: list[int] = []
    yield created
    with app.app_context():
        db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id.in_(created)))
        for pk in created:
            dossier = db.session.get(Dossier, pk)
            if dossier is not None:
                db.session.delete(dossier)
        db.session.commit()


def fresh_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@test.sillon.demo"


def make_dossier(app, created: list, etab_id: int | None, *, contact: str | None = None,
                 apprentice: str | None = None) -> tuple[int, str]:
    """A dossier created by the CFA admin through the one write path (people invited);
    returns its id and the apprentice's (unique) last name."""
    name = f"Ref{uuid.uuid4().hex[:10]}"
    with app.app_context():
        formation = db.session.execute(sa.select(Formation).where(
            Formation.access_code == "LPINFO-26")).scalar_one()
        etab = db.session.get(Etablissement, etab_id) if etab_id else None
        fields = dict(niveau_saisie="complete", dispositif="apprentissage", apprenti_nom=name,
                      apprenti_prenom="Camille", apprenti_date_naissance=date(2004, 3, 14),
                      apprenti_email=apprentice or fresh_email(name.lower()),
                      date_debut_contrat=date(2026, 9, 1), date_fin_contrat=date(2027, 8, 31))
        if etab is not None:
            fields["employeur_siret"] = etab.siret
        if contact:
            fields["employeur_contact_email"] = contact
        dossier = service.create_dossier(formation, fields, by=user_by_email(ADMIN),
                                         source="create_form", etablissement=etab)
        db.session.commit()
        created.append(dossier.id)
        send_pending()  # no request around: the outbox is sent by hand, as the worker would
        return dossier.id, name


def etab_of(app, structure_id: int) -> tuple[int, str]:
    with app.app_context():
        etab = db.session.execute(sa.select(Etablissement).where(
            Etablissement.structure_id == structure_id).order_by(Etablissement.id)).scalars().first()
        return etab.id, etab.siret


def add_etablissement(app, structure_id: int) -> int:
    with app.app_context():
        structure = db.session.get(Structure, structure_id)
        head = structure.siren + "0202"
        from stdnum import luhn
        siret = head + luhn.calc_check_digit(head)
        etab = Etablissement(structure=structure, siret=siret,
                             denomination=f"{structure.raison_sociale} – Agence")
        db.session.add(etab)
        db.session.commit()
        return etab.id


def structure_row(app, structure_id: int) -> dict:
    with app.app_context():
        db.session.expire_all()
        s = db.session.get(Structure, structure_id)
        return dict(referent=s.referent.email if s.referent else None, origine=s.origine,
                    members={m.user.email: m.status for m in s.memberships})


def first_login(app, smtp, email: str):
    """The account created from the public page logs in with the temporary password of its
    "Bienvenue" e-mail, chooses a password and accepts the terms."""
    welcome = mails_to(smtp, email, "Bienvenue sur Sillon")
    assert len(welcome) == 1, email
    password = re.search(r"mot de passe provisoire : (\S+)", smtp.text_of(welcome[0])).group(1)
    client = app.test_client()
    assert web_login(client, email, password).status_code == 302
    for url, data in (("/premier-mot-de-passe", {"password": "Nouveau-mdp-2026",
                                                  "confirm": "Nouveau-mdp-2026"}),
                      ("/rgpd", {"accept": "y"})):
        page = client.get(url)
        response = client.post(url, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                          **data})
        assert response.status_code == 302, url
    assert client.get("/admin/").status_code == 200
    return client


def sees(client, pk: int, name: str) -> bool:
    """Whether the person reaches the dossier: in the list (searched by name) and its tabs."""
    listed = f'href="/admin/dossier/{pk}/base/" class="sillon-open-dossier"' in text(
        client.get(f"/admin/dossier/?search={name}"))
    tabs = [client.get(f"/admin/dossier/{pk}/{tab}/").status_code
            for tab in ("base", "employeur", "suivi")]
    # 404: not in the person's scope; 403: no role that opens the dossiers at all.
    assert tabs in ([200] * 3, [404] * 3, [403] * 3), tabs
    assert listed == (tabs[0] == 200), (listed, tabs)
    return listed


def queue_row(page: str, membership_id: int) -> str | None:
    match = re.search(rf'<tr data-membership="{membership_id}"(.*?)</tr>', page, re.S)
    return match.group(0) if match else None


def cfa_registers_structure(app) -> tuple[int, str]:
    """The CFA admin registers a structure in the Structures screen (no référent), then its
    establishment is added; returns the structure id and the SIRET."""
    with app.app_context():
        siret = new_siret()
    cfa = client_for(app, ADMIN)
    page = cfa.get("/admin/structure/new/")
    response = cfa.post("/admin/structure/new/", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)),
        "raison_sociale": f"Enregistrée {siret[:9]} SAS", "siren": siret[:9]})
    assert response.status_code == 302
    with app.app_context():
        structure = db.session.execute(sa.select(Structure).where(
            Structure.siren == siret[:9])).scalar_one()
        db.session.add(Etablissement(structure=structure, siret=siret,
                                     denomination=structure.raison_sociale,
                                     telephone="0467000042",
                                     facturation_email=f"factures-{siret}@test.sillon.demo"))
        db.session.commit()
        return structure.id, siret


# --- the finding, replayed --------------------------------------------------------------------

def test_public_page_on_a_cfa_structure_with_a_dossier_claims_nothing(app, smtp, clean_outbox,
                                                                     dossiers):
    """Issue 11: anyone on /inscription/structure claimed the référent role of a structure the
    CFA registered without one (with a dossier on it), then read that dossier."""
    structure_id, siret = cfa_registers_structure(app)
    assert structure_row(app, structure_id)["origine"] == Structure.ORIGINE_CFA
    etab_id, _ = etab_of(app, structure_id)
    pk, name = make_dossier(app, dossiers, etab_id)

    # The same answer whatever the case: this structure, an unknown SIRET, a structure with a
    # référent, an existing account.
    intruder = fresh_email("intrus")
    with app.app_context():
        unknown_siret = new_siret()
    _, referent_siret = make_structure(app, make_user(app, "refpub"))
    cases = [(intruder, siret), (fresh_email("perdu"), unknown_siret),
             (fresh_email("autre"), referent_siret), (make_user(app, "compte"), siret)]
    answers = set()
    for email, typed in cases:
        response = _signup(_anonymous(app), prenom="Eve", nom="Intruse", email=email,
                           siret=typed)
        answers.add((response.status_code, _without_token(response.get_data(as_text=True))))
    assert len(answers) == 1
    status, page = answers.pop()
    assert status == 200 and "Si les informations sont correctes" in page

    # No référent: a pending request in the CFA's queue, CFA staff told why.
    row = structure_row(app, structure_id)
    assert row["referent"] is None
    assert row["members"] == {intruder: StructureMembership.DEMANDE}
    staff_mail = mails_to(smtp, ADMIN, "Nouvelle demande d'accès à votre structure")
    assert len(staff_mail) == 1 and FIRST_REFERENT_MAIL in smtp.text_of(staff_mail[0])
    assert QUEUE in smtp.text_of(staff_mail[0])

    # Logged in, the person reads nothing of the structure: not the dossier (list, tabs,
    # details), not the establishment, not the structure; and is not told of a référent.
    client = first_login(app, smtp, intruder)
    assert not sees(client, pk, name)
    details = text(client.get(f"/admin/dossier/details/?id={pk}", follow_redirects=True))
    assert name not in details
    establishment = text(client.get(f"/admin/etablissement/details/?id={etab_id}",
                                    follow_redirects=True))
    assert "0467000042" not in establishment and "factures-" not in establishment
    assert f"Enregistrée {siret[:9]}" not in text(client.get("/admin/structure/"))
    mine = text(client.get("/admin/ma-structure/"))
    assert "Demande en attente" in mine and "Vous êtes le référent" not in mine
    assert EMPLOYEUR in roles_of(app, intruder)  # the role, but no scope with it

    # The CFA approves from the queue: the person becomes référent, with the rights.
    cfa = client_for(app, CONSEIL)
    queue = text(cfa.get(QUEUE))
    request_id = membership(app, structure_id, intruder)["id"]
    line = queue_row(queue, request_id)
    assert line and 'data-first-referent="1"' in line and "Approuver comme référent" in line
    assert "Enregistrée par le CFA – 1 dossier" in line
    response = post(cfa, f"/admin/ma-structure/membre/{request_id}/decision",
                    {"decision": "approuver", "retour": "demandes"}, token_from=QUEUE)
    assert response.status_code == 302 and response.headers["Location"].endswith(QUEUE)
    assert "est désormais référent de la structure" in text(cfa.get(QUEUE))
    assert referent_of(app, structure_id) == intruder
    after = membership(app, structure_id, intruder)
    assert after["status"] == "approuve" and after["contact"] and after["beneficiaire"]
    assert after["decided_by"] == CONSEIL
    told = mails_to(smtp, intruder, f"Vous êtes désormais référent de la structure "
                                    f"Enregistrée {siret[:9]} SAS")
    assert len(told) == 1 and "acceptée par l'équipe du CFA" in smtp.text_of(told[0])
    assert sees(client, pk, name)
    assert queue_row(text(cfa.get(QUEUE)), request_id) is None


def test_cfa_refuses_a_first_referent_claim(app, smtp, clean_outbox, dossiers):
    structure_id, siret = make_structure(app, origine=Structure.ORIGINE_CFA)
    person = make_user(app, "candidat")
    client = client_for(app, person)
    assert join(client, siret).status_code == 302
    page = flashes(client)
    assert "est envoyée. Vous serez prévenu·e par e-mail de la réponse" in page
    assert "vous en êtes le référent" not in page
    request_id = membership(app, structure_id, person)["id"]
    cfa = client_for(app, ADMIN)
    response = post(cfa, f"/admin/ma-structure/membre/{request_id}/decision",
                    {"decision": "refuser", "retour": "demandes"}, token_from=QUEUE)
    assert response.status_code == 302
    assert structure_row(app, structure_id) == dict(
        referent=None, origine="cfa", members={person: StructureMembership.REFUSE})
    assert len(mails_to(smtp, person, "Votre demande d'accès a été refusée")) == 1
    # Deciding again: "already done", nothing changes.
    post(cfa, f"/admin/ma-structure/membre/{request_id}/decision",
         {"decision": "approuver", "retour": "demandes"}, token_from=QUEUE)
    assert "déjà été traitée" in text(cfa.get(QUEUE))
    assert structure_row(app, structure_id)["referent"] is None


# --- structures new to Sillon and structures with dossiers ------------------------------------

def test_apprentice_names_an_unknown_siret_its_contact_is_referent_at_once(app, smtp,
                                                                           clean_outbox,
                                                                           dossiers):
    apprentice = make_user(app, "alternant", ALTERNANT)
    pk, _ = make_dossier(app, dossiers, None, apprentice=apprentice)
    with app.app_context():
        siret = new_siret()
    contact = fresh_email("rh-nouvelle")
    client = client_for(app, apprentice)
    page = client.get(f"/admin/dossier/{pk}/employeur/trouve/")
    assert page.status_code == 200
    response = client.post(f"/admin/dossier/{pk}/employeur/trouve/", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), "siret": siret, "email": contact})
    assert response.status_code == 302
    with app.app_context():
        structure = db.session.execute(sa.select(Structure).where(
            Structure.siren == siret[:9])).scalar_one()
        structure_id = structure.id
    row = structure_row(app, structure_id)
    assert row == dict(referent=contact, origine=Structure.ORIGINE_SAISIE,
                       members={contact: StructureMembership.APPROUVE})
    rights = membership(app, structure_id, contact)
    assert rights["contact"] and rights["beneficiaire"]
    assert mails_to(smtp, ADMIN, "Nouvelle demande d'accès à votre structure") == []


def test_employer_types_an_unknown_siret_on_the_employer_tab_and_is_referent(app, clean_outbox,
                                                                           dossiers):
    """Needs portal/dossiers/tabs/employeur.py to claim the référent role for the dossier's
    employer contact when it creates the structure (see the report of this part)."""
    employer = make_user(app, "employeur", EMPLOYEUR)
    pk, _ = make_dossier(app, dossiers, None, contact=employer)
    with app.app_context():
        siret = new_siret()
    client = client_for(app, employer)
    page = client.get(f"/admin/dossier/{pk}/employeur/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    payload = employer_tab(siret)
    payload["csrf_token"] = csrf_from(html)
    version = re.search(r'name="_version" value="(\d+)"', html)
    if version:
        payload["_version"] = version.group(1)
    response = client.post(f"/admin/dossier/{pk}/employeur/", data=payload)
    assert response.status_code == 302, text(response)[:2000]
    with app.app_context():
        structure_id = db.session.execute(sa.select(Structure.id).where(
            Structure.siren == siret[:9])).scalar_one()
    assert structure_row(app, structure_id) == dict(
        referent=employer, origine=Structure.ORIGINE_SAISIE,
        members={employer: StructureMembership.APPROUVE})


def employer_tab(siret: str) -> dict:
    return {
        "employeur_siret": siret, "employeur_denomination": "Fabrique Nouvelle",
        "employeur_adresse_numero": "7", "employeur_adresse_voie": "avenue des Prés",
        "employeur_code_postal": "34970", "employeur_commune": "Lattes",
        "employeur_telephone": "0465710902", "employeur_email": "accueil@fabrique.sillon.demo",
        "type_employeur": "12", "employeur_specifique": "0", "naf": "2829b",
        "employeur_effectif": "120", "idcc": "3248",
        "responsable_nom": "Garnier", "responsable_prenom": "Philippe",
        "responsable_fonction": "Directeur des ressources humaines",
        "responsable_email": "p.garnier@fabrique.sillon.demo",
        "maitre_1_nom": "Delmas", "maitre_1_prenom": "Hélène",
        "maitre_1_date_naissance": "1980-05-12",
        "maitre_1_courriel": "h.delmas@fabrique.sillon.demo",
        "maitre_1_telephone": "0465710903", "maitre_1_emploi": "Responsable des développements",
        "maitre_1_diplome": "Master Informatique", "maitre_1_niveau_diplome": "7",
        "maitre_1_annees_experience": "12", "employeur_attestation_maitre": "y",
    }


def test_a_structure_with_dossiers_gets_its_first_referent_from_the_cfa(app, smtp, clean_outbox,
                                                                       dossiers):
    """Created by an entry (not by the CFA) but a dossier is on it: not new to Sillon any
    more. Neither "Rejoindre" nor the public page makes anyone référent."""
    structure_id, siret = make_structure(app)  # origine: saisie
    etab_id, _ = etab_of(app, structure_id)
    pk, name = make_dossier(app, dossiers, etab_id)
    joiner = make_user(app, "rejoint")
    client = client_for(app, joiner)
    join(client, siret)
    assert "vous en êtes le référent" not in flashes(client)
    public = fresh_email("public")
    _signup(_anonymous(app), prenom="Paul", nom="Public", email=public, siret=siret)
    row = structure_row(app, structure_id)
    assert row["referent"] is None
    assert row["members"] == {joiner: "demande", public: "demande"}
    assert not sees(client, pk, name)
    mails = mails_to(smtp, CONSEIL, "Nouvelle demande d'accès à votre structure")
    assert len(mails) == 2 and all(FIRST_REFERENT_MAIL in smtp.text_of(m) for m in mails)
    page = text(client_for(app, ADMIN).get(QUEUE))
    for email in (joiner, public):
        line = queue_row(page, membership(app, structure_id, email)["id"])
        assert line and "Créée par la saisie d'un dossier – 1 dossier" in line


def test_a_contact_named_on_a_cfa_structure_waits_for_the_cfa(app, smtp, clean_outbox,
                                                             dossiers):
    """The dossier names an employer contact on an establishment of a CFA-registered structure
    without référent: the contact is linked to that dossier only; their claim waits."""
    structure_id, _ = make_structure(app, origine=Structure.ORIGINE_CFA)
    etab_id, _ = etab_of(app, structure_id)
    other_pk, other_name = make_dossier(app, dossiers, etab_id)
    contact = make_user(app, "contact", EMPLOYEUR)
    pk, name = make_dossier(app, dossiers, etab_id, contact=contact)
    row = structure_row(app, structure_id)
    assert row["referent"] is None and row["members"] == {contact: "demande"}
    client = client_for(app, contact)
    assert sees(client, pk, name) and not sees(client, other_pk, other_name)
    page = text(client_for(app, ADMIN).get(QUEUE))
    line = queue_row(page, membership(app, structure_id, contact)["id"])
    assert line and "Contact employeur de 1 dossier de la structure" in line
    assert "Enregistrée par le CFA – 2 dossiers" in line
    # A second dossier naming the same contact files nothing twice.
    make_dossier(app, dossiers, etab_id, contact=contact)
    assert len(mails_to(smtp, ADMIN, "Nouvelle demande d'accès à votre structure")) == 1
    assert structure_row(app, structure_id)["members"] == {contact: "demande"}


def test_the_rule_as_a_table(app, dossiers):
    """first_account_becomes_referent: origin × dossiers × someone attached."""
    saisie, _ = make_structure(app)
    cfa, _ = make_structure(app, origine=Structure.ORIGINE_CFA)
    with_dossier, _ = make_structure(app)
    make_dossier(app, dossiers, etab_of(app, with_dossier)[0])
    taken, _ = make_structure(app, make_user(app, "deja"))
    asked, _ = make_structure(app)
    person = make_user(app, "regle")
    with app.app_context():
        # Someone else already asks to join it (a pending request kept from earlier).
        db.session.add(StructureMembership(structure_id=asked, status="demande",
                                           user=user_by_email(make_user(app, "avant"))))
        db.session.commit()
        user = user_by_email(person)
        for structure_id, expected in ((saisie, True), (cfa, False), (with_dossier, False),
                                       (taken, False), (asked, False)):
            structure = db.session.get(Structure, structure_id)
            assert referents.first_account_becomes_referent(structure, user) is expected, \
                structure_id
        # The dossier being set up does not make its structure known.
        structure = db.session.get(Structure, with_dossier)
        own = db.session.execute(sa.select(Dossier).join(
            Etablissement, Etablissement.id == Dossier.etablissement_id).where(
            Etablissement.structure_id == with_dossier)).scalar_one()
        assert referents.first_account_becomes_referent(structure, user, dossiers=(own,))
        # A structure not flushed yet takes the column's default origin (an entry's).
        fresh = Structure(siren="000000000", raison_sociale="Pas encore écrite")
        assert referents.first_account_becomes_referent(fresh, user)
        fresh.origine = Structure.ORIGINE_CFA
        assert not referents.first_account_becomes_referent(fresh, user)
        user.active = False
        assert not referents.first_account_becomes_referent(
            db.session.get(Structure, saisie), user)
        db.session.rollback()
        # The demo structures are the CFA's.
        assert set(db.session.execute(sa.select(Structure.origine).join(
            User, User.id == Structure.referent_id).where(
            User.email.like("%@%.sillon.demo"), ~User.email.like("%@test.sillon.demo"))
        ).scalars()) == {Structure.ORIGINE_CFA}


def test_a_pending_requester_is_not_told_who_the_referent_is(app, clean_outbox):
    referent = make_user(app, "ref-cache", first_name="Octave")
    structure_id, siret = make_structure(app, referent, origine=Structure.ORIGINE_CFA)
    person = make_user(app, "curieux")
    client = client_for(app, person)
    join(client, siret)
    request_id = membership(app, structure_id, person)["id"]

    def row():
        page = text(client.get("/admin/ma-structure/"))
        match = re.search(rf'<tr data-membership="{request_id}">(.*?)</tr>', page, re.S)
        return match.group(1)
    assert "Octave" not in row() and "aucun" not in row()
    post(client_for(app, referent), f"/admin/ma-structure/membre/{request_id}/decision",
         {"decision": "approuver", "beneficiaire": "1"})
    assert "Octave" in row()


# --- races and ids ------------------------------------------------------------------------------

def test_two_approvals_at_once_give_one_referent(app, clean_outbox):
    structure_id, siret = make_structure(app, origine=Structure.ORIGINE_CFA)
    first, second = make_user(app, "course-a"), make_user(app, "course-b")
    join(client_for(app, first), siret)
    join(client_for(app, second), siret)
    first_id = membership(app, structure_id, first)["id"]
    second_id = membership(app, structure_id, second)["id"]
    with app.app_context():
        # This member of staff opened the queue before the other approved the first request.
        staff = user_by_email(ADMIN)
        stale = db.session.get(StructureMembership, second_id)
        assert stale.structure.referent_id is None
        with app.app_context():  # another request, its own session and transaction
            response = post(client_for(app, CONSEIL), f"/admin/ma-structure/membre/{first_id}/"
                            "decision", {"decision": "approuver", "retour": "demandes"},
                            token_from=QUEUE)
            assert response.status_code == 302
        with pytest.raises(access.StructureAccessRefused, match="référent entre-temps"):
            access.decide(staff, stale, True)
        db.session.rollback()
    assert referent_of(app, structure_id) == first
    assert membership(app, structure_id, second)["status"] == "demande"
    with app.app_context():
        # The same request decided twice at once: the new référent refuses it while CFA staff
        # still have it open; the slower decision is told it was done.
        stale = db.session.get(StructureMembership, second_id)
        assert stale.status == "demande"
        with app.app_context():
            response = post(client_for(app, first), f"/admin/ma-structure/membre/{second_id}/"
                            "decision", {"decision": "refuser"})
            assert response.status_code == 302
        with pytest.raises(access.StructureAccessRefused, match="déjà été traitée"):
            access.decide(user_by_email(ADMIN), stale, True, contact_employeur=True)
        db.session.rollback()
    assert membership(app, structure_id, second)["status"] == "refuse"
    assert referent_of(app, structure_id) == first


def test_a_structure_request_handled_twice_at_once(app, clean_outbox):
    from portal.accounts import structure_requests
    person = make_user(app, "double")
    with app.app_context():
        siret = new_siret()
        row = structure_requests.request_structure(user_by_email(person), siret, "Double SAS",
                                                   "62.01Z", "3 rue du Doublon", "34000",
                                                   "Montpellier")
        db.session.commit()
        request_id = row.id
    with app.app_context():
        stale = db.session.get(StructureRequest, request_id)
        assert stale.status == StructureRequest.EN_ATTENTE
        with app.app_context():  # another member of staff refuses it meanwhile
            response = post(client_for(app, CONSEIL), f"{QUEUE}{request_id}/refuser",
                            {"motif": "Établissement fermé."}, token_from=QUEUE)
            assert response.status_code == 302
        with pytest.raises(access.StructureAccessRefused, match="déjà été traitée"):
            structure_requests.create_from_request(user_by_email(ADMIN), stale)
        db.session.rollback()
        assert db.session.execute(sa.select(Structure.id).where(
            Structure.siren == siret[:9])).first() is None
        assert db.session.get(StructureRequest, request_id).status == StructureRequest.REFUSEE


@pytest.mark.parametrize("path", [
    "/admin/ma-structure/membre/{id}/decision", "/admin/ma-structure/membre/{id}/droits",
    "/admin/ma-structure/structure/{id}/referent", "/admin/demandes-structures/{id}/creer",
    "/admin/demandes-structures/{id}/refuser"])
@pytest.mark.parametrize("pk", ["99999999999999999999", str(2 ** 63), "-1", "0", "9999999"])
def test_huge_negative_or_unknown_ids_answer_404(app, path, pk):
    cfa = client_for(app, ADMIN)
    response = post(cfa, path.format(id=pk), {"decision": "approuver", "membre": pk,
                                              "motif": "x"}, token_from=QUEUE)
    assert response.status_code == 404


def test_hand_over_to_a_member_of_another_structure_is_404(app, clean_outbox):
    referent = make_user(app, "ref-a")
    structure_a, _ = make_structure(app, referent)
    other_ref = make_user(app, "ref-b")
    structure_b, _ = make_structure(app, other_ref)
    foreign = membership(app, structure_b, other_ref)["id"]
    boss = client_for(app, referent)
    for member in (str(foreign), "99999999999999999999"):
        response = post(boss, f"/admin/ma-structure/structure/{structure_a}/referent",
                        {"membre": member})
        assert response.status_code == 404
    response = post(boss, f"/admin/ma-structure/structure/{structure_a}/referent",
                    {"membre": "abc"})
    assert response.status_code == 302
    assert referent_of(app, structure_a) == referent
    assert referent_of(app, structure_b) == other_ref


# --- a référent's view of a plain member's dossiers ---------------------------------------------

def test_referent_sees_members_dossiers_a_plain_member_only_their_own(app, clean_outbox,
                                                                      dossiers):
    referent = make_user(app, "referent", EMPLOYEUR)
    structure_id, siret = make_structure(app, referent, origine=Structure.ORIGINE_CFA)
    etab_1, _ = etab_of(app, structure_id)
    etab_2 = add_etablissement(app, structure_id)
    members = [make_user(app, "membre", EMPLOYEUR), make_user(app, "membre2", EMPLOYEUR)]
    boss = client_for(app, referent)
    for person in members:
        join(client_for(app, person), siret)
        post(boss, f"/admin/ma-structure/membre/{membership(app, structure_id, person)['id']}"
             "/decision", {"decision": "approuver", "contact_employeur": "1"})
        row = membership(app, structure_id, person)
        assert row["status"] == "approuve" and row["contact"]
    assert referent_of(app, structure_id) == referent
    of_member = make_dossier(app, dossiers, etab_1, contact=members[0])
    of_member2 = make_dossier(app, dossiers, etab_2, contact=members[1])
    of_referent = make_dossier(app, dossiers, etab_1, contact=referent)
    # An outsider dossier of another structure stays out of everyone's view here.
    outside_structure, _ = make_structure(app, make_user(app, "ailleurs"))
    outside = make_dossier(app, dossiers, etab_of(app, outside_structure)[0])

    views = {referent: {of_member: True, of_member2: True, of_referent: True, outside: False},
             members[0]: {of_member: True, of_member2: False, of_referent: False,
                          outside: False},
             members[1]: {of_member: False, of_member2: True, of_referent: False,
                          outside: False}}
    for person, expected in views.items():
        client = client_for(app, person)
        seen = {d: sees(client, *d) for d in expected}
        assert seen == expected, person
