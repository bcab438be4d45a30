"""Structures and their référent (seed 003, SPEC §4): joining a structure, the référent's
decisions and rights, handing the role over, structures requested then created by the CFA, and
the public page /inscription/structure.

Every test builds its own structures (fresh SIRENs) and people: the database is shared by the
whole session. E-mails are read from a real SMTP server (the `smtp` fixture).
"""
from __future__ import annotations

import html
import random
import re
import uuid

import pytest
import sqlalchemy as sa
from stdnum import luhn

from portal.accounts import structure_requests as requests_
from portal.accounts import structures as access
from portal.extensions import db
from portal.models import (EMPLOYEUR, Etablissement, Structure, StructureMembership,
                           StructureRequest, User, UserRole, utcnow)
from portal.mail.outbox import send_pending
from portal.rules.identifiers import is_valid_siret
from tests.support.web import csrf_from
from tests.support.web import login as web_login

PASSWORD = "sillon-demo"
ADMIN = "admin@sillon.demo"
CONSEIL = "conseil@sillon.demo"
_rng = random.Random()
_used_sirens: set[str] = set()


# --- helpers --------------------------------------------------------------------------------------

def new_siret() -> str:
    """A valid SIRET (Luhn keys on the SIREN and on the 14 digits) of a SIREN unknown here."""
    while True:
        body = f"{_rng.randrange(10 ** 7, 10 ** 8)}"
        siren = body + luhn.calc_check_digit(body)
        head = siren + f"{_rng.randrange(1, 10 ** 4):04d}"
        siret = head + luhn.calc_check_digit(head)
        if siren in _used_sirens or not is_valid_siret(siret):
            continue
        if db.session.execute(sa.select(Structure.id).where(Structure.siren == siren)).first():
            continue
        _used_sirens.add(siren)
        return siret


def make_user(app, label: str, *roles: str, first_name: str = "Camille") -> str:
    """A fresh active account with the demo password and the terms accepted; returns e-mail."""
    email = f"{label}-{uuid.uuid4().hex[:8]}@test.sillon.demo"
    with app.app_context():
        user = User(email=email, first_name=first_name, last_name=label.capitalize(),
                    active=True, rgpd_version=app.config["RGPD_TERMS_VERSION"],
                    rgpd_accepted_at=utcnow())
        user.set_password(PASSWORD)
        user.roles = [UserRole(role=r) for r in roles]
        db.session.add(user)
        db.session.commit()
    return email


def make_structure(app, referent_email: str | None = None, *,
                   origine: str = Structure.ORIGINE_SAISIE) -> tuple[int, str]:
    """A structure with one establishment and no dossier; its référent (approved, both
    rights) if given. By default a structure new to Sillon (created by a dossier's entry);
    ``origine=Structure.ORIGINE_CFA`` for one the CFA registered."""
    with app.app_context():
        siret = new_siret()
        structure = Structure(siren=siret[:9], raison_sociale=f"Test {siret[:9]} SARL",
                              origine=origine)
        db.session.add(structure)
        db.session.add(Etablissement(structure=structure, siret=siret,
                                     denomination=structure.raison_sociale))
        if referent_email:
            referent = user_by_email(referent_email)
            structure.referent = referent
            db.session.add(StructureMembership(
                structure=structure, user=referent, status=StructureMembership.APPROUVE,
                droit_contact_employeur=True, droit_beneficiaire=True))
            if EMPLOYEUR not in referent.role_codes:
                referent.roles.append(UserRole(role=EMPLOYEUR))
        db.session.commit()
        return structure.id, siret


def user_by_email(email: str) -> User:
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def membership(app, structure_id: int, email: str) -> dict | None:
    with app.app_context():
        db.session.expire_all()
        row = db.session.execute(sa.select(StructureMembership).join(
            User, User.id == StructureMembership.user_id).where(
            StructureMembership.structure_id == structure_id,
            User.email == email)).scalar_one_or_none()
        if row is None:
            return None
        return dict(id=row.id, status=row.status, contact=row.droit_contact_employeur,
                    beneficiaire=row.droit_beneficiaire, decided_by=(
                        row.decided_by.email if row.decided_by else None),
                    decided_at=row.decided_at)


def referent_of(app, structure_id: int) -> str | None:
    with app.app_context():
        db.session.expire_all()
        structure = db.session.get(Structure, structure_id)
        return structure.referent.email if structure.referent else None


def roles_of(app, email: str) -> set[str]:
    with app.app_context():
        db.session.expire_all()
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one_or_none()
        return set(user.role_codes) if user else set()


def client_for(app, email: str):
    client = app.test_client()
    response = web_login(client, email, PASSWORD)
    assert response.status_code == 302, f"login failed for {email}"
    return client


def page_token(client, url="/admin/ma-structure/") -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return csrf_from(response.get_data(as_text=True))


def post(client, url, data, token_from="/admin/ma-structure/"):
    return client.post(url, data={"csrf_token": page_token(client, token_from), **data})


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def flashes(client) -> str:
    return text(client.get("/admin/ma-structure/"))


def mails_to(smtp, email: str, subject: str | None = None):
    found = []
    for recipients, message in smtp.messages:
        if email.lower() in [r.lower() for r in recipients]:
            if subject is None or message["Subject"] == subject:
                found.append(message)
    return found


def join(client, siret):
    return post(client, "/admin/ma-structure/rejoindre", {"siret": siret})


# --- joining a structure ----------------------------------------------------------------------

def test_first_user_of_a_structure_new_to_sillon_becomes_referent(app, clean_outbox):
    """Created by a dossier's entry, no dossier on it, nobody attached: the first account is
    its référent at once (the CFA-registered case is in test_structure_referent.py)."""
    structure_id, siret = make_structure(app)
    person = make_user(app, "premier")
    client = client_for(app, person)
    # Typed with spaces, and the establishment found through a SIRET of the same SIREN.
    response = join(client, f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}")
    assert response.status_code == 302
    assert "vous en êtes le référent" in flashes(client)
    assert referent_of(app, structure_id) == person
    row = membership(app, structure_id, person)
    assert row["status"] == "approuve" and row["contact"] and row["beneficiaire"]
    assert EMPLOYEUR in roles_of(app, person)
    page = client.get("/admin/ma-structure/").get_data(as_text=True)
    assert "vous êtes le référent" in page and "Transmettre le rôle de référent" in page


def test_structure_found_by_siren_when_the_siret_is_not_registered(app):
    structure_id, siret = make_structure(app)
    head = siret[:9] + "9876"
    other_site = head + luhn.calc_check_digit(head)
    person = make_user(app, "siren")
    with app.app_context():
        result = access.request_access(user_by_email(person), other_site)
        assert result.became_referent and result.membership.structure_id == structure_id
        db.session.rollback()


def test_request_is_sent_to_the_referent_then_approved_with_rights(app, smtp, clean_outbox):
    referent = make_user(app, "referent")
    structure_id, siret = make_structure(app, referent)
    person = make_user(app, "salarie", first_name="Inès")
    client = client_for(app, person)
    assert join(client, siret).status_code == 302
    assert "est envoyée. Vous serez prévenu·e par e-mail de la réponse" in flashes(client)
    row = membership(app, structure_id, person)
    assert row["status"] == "demande" and not row["contact"]
    mails = mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure")
    assert len(mails) == 1
    assert person in smtp.text_of(mails[0]) and "/admin/ma-structure/" in smtp.text_of(mails[0])

    # A second request while the first is pending is not duplicated (nor re-mailed).
    join(client, siret)
    assert "déjà en attente" in flashes(client)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(StructureMembership)
                                  .where(StructureMembership.structure_id == structure_id)
                                  ).scalar_one() == 2
    assert len(mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure")) == 1

    boss = client_for(app, referent)
    page = boss.get("/admin/ma-structure/").get_data(as_text=True)
    assert person in page and "Approuver" in page and "Refuser" in page
    assert "Contact alternance (employeur)" in page
    assert "Bénéficiaire des actions de formation" in page
    response = post(boss, f"/admin/ma-structure/membre/{row['id']}/decision",
                    {"decision": "approuver", "contact_employeur": "1", "beneficiaire": "1"})
    assert response.status_code == 302
    after = membership(app, structure_id, person)
    assert after["status"] == "approuve" and after["contact"] and after["beneficiaire"]
    assert after["decided_by"] == referent and after["decided_at"] is not None
    assert EMPLOYEUR in roles_of(app, person)
    accepted = mails_to(smtp, person, "Votre demande d'accès a été acceptée")
    assert len(accepted) == 1
    text = smtp.text_of(accepted[0])
    assert "Contact alternance (employeur) : oui" in text
    assert "Bénéficiaire des actions de formation : oui" in text
    # The member now sees the structure and their rights.
    mine = client.get("/admin/ma-structure/").get_data(as_text=True)
    assert "Approuvé" in mine and "Contact alternance (employeur)" in mine


def test_refusal_is_mailed_to_the_requester(app, smtp, clean_outbox):
    referent = make_user(app, "referent")
    structure_id, siret = make_structure(app, referent)
    person = make_user(app, "refuse")
    join(client_for(app, person), siret)
    row = membership(app, structure_id, person)
    boss = client_for(app, referent)
    response = post(boss, f"/admin/ma-structure/membre/{row['id']}/decision",
                    {"decision": "refuser", "contact_employeur": "1"})
    assert response.status_code == 302
    after = membership(app, structure_id, person)
    assert after["status"] == "refuse" and not after["contact"]
    assert EMPLOYEUR not in roles_of(app, person)
    refused = mails_to(smtp, person, "Votre demande d'accès a été refusée")
    assert len(refused) == 1 and "refusée" in smtp.text_of(refused[0])
    # Deciding twice is refused with a French message and changes nothing.
    post(boss, f"/admin/ma-structure/membre/{row['id']}/decision", {"decision": "approuver"})
    assert "déjà été traitée" in flashes(boss)
    assert membership(app, structure_id, person)["status"] == "refuse"


def test_referent_changes_rights_and_the_employer_role_follows(app, clean_outbox):
    referent = make_user(app, "referent")
    structure_id, siret = make_structure(app, referent)
    person = make_user(app, "droits")
    join(client_for(app, person), siret)
    row = membership(app, structure_id, person)
    boss = client_for(app, referent)
    post(boss, f"/admin/ma-structure/membre/{row['id']}/decision",
         {"decision": "approuver", "beneficiaire": "1"})
    after = membership(app, structure_id, person)
    assert after["status"] == "approuve" and not after["contact"] and after["beneficiaire"]
    assert EMPLOYEUR not in roles_of(app, person)

    url = f"/admin/ma-structure/membre/{row['id']}/droits"
    assert post(boss, url, {"contact_employeur": "1"}).status_code == 302
    after = membership(app, structure_id, person)
    assert after["contact"] and not after["beneficiaire"]
    assert EMPLOYEUR in roles_of(app, person)

    post(boss, url, {"beneficiaire": "1"})
    after = membership(app, structure_id, person)
    assert not after["contact"] and after["beneficiaire"]
    assert EMPLOYEUR not in roles_of(app, person)  # employer contact nowhere any more

    # The référent keeps the employer right while they are référent.
    own = membership(app, structure_id, referent)
    post(boss, f"/admin/ma-structure/membre/{own['id']}/droits", {"beneficiaire": "1"})
    assert "Le référent garde le droit de contact alternance" in flashes(boss)
    assert membership(app, structure_id, referent)["contact"]


def test_hand_over_the_referent_role(app, smtp, clean_outbox):
    referent = make_user(app, "ancien")
    structure_id, siret = make_structure(app, referent)
    successor = make_user(app, "nouveau", first_name="Hugo")
    join(client_for(app, successor), siret)
    row = membership(app, structure_id, successor)
    boss = client_for(app, referent)
    post(boss, f"/admin/ma-structure/membre/{row['id']}/decision",
         {"decision": "approuver", "beneficiaire": "1"})

    response = post(boss, f"/admin/ma-structure/structure/{structure_id}/referent",
                    {"membre": str(row["id"])})
    assert response.status_code == 302
    assert referent_of(app, structure_id) == successor
    assert membership(app, structure_id, successor)["contact"]
    assert EMPLOYEUR in roles_of(app, successor)
    old = membership(app, structure_id, referent)
    assert old["status"] == "approuve" and old["contact"]
    assert EMPLOYEUR in roles_of(app, referent)
    mails = mails_to(smtp, successor)
    assert any("référent" in m["Subject"] for m in mails)
    assert any("vous a transmis le rôle de référent" in smtp.text_of(m) for m in mails)

    # The former référent can no longer decide: a new request is not theirs to approve.
    late = make_user(app, "tardif")
    before = len(mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure"))
    join(client_for(app, late), siret)
    assert len(mails_to(smtp, successor, "Nouvelle demande d'accès à votre structure")) == 1
    assert len(mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure")) == before
    pending = membership(app, structure_id, late)
    response = post(boss, f"/admin/ma-structure/membre/{pending['id']}/decision",
                    {"decision": "approuver", "contact_employeur": "1"})
    assert response.status_code == 404
    assert membership(app, structure_id, late) == pending
    response = post(boss, f"/admin/ma-structure/structure/{structure_id}/referent",
                    {"membre": str(old["id"])})
    assert response.status_code == 404
    assert referent_of(app, structure_id) == successor
    # … and the new one can.
    heir = client_for(app, successor)
    post(heir, f"/admin/ma-structure/membre/{pending['id']}/decision",
         {"decision": "approuver", "beneficiaire": "1"})
    assert membership(app, structure_id, late)["status"] == "approuve"


def test_referent_cannot_act_on_another_structure(app, smtp, clean_outbox):
    referent_a = make_user(app, "refa")
    structure_a, siret_a = make_structure(app, referent_a)
    referent_b = make_user(app, "refb")
    structure_b, _ = make_structure(app, referent_b)
    person = make_user(app, "candidat")
    join(client_for(app, person), siret_a)
    pending = membership(app, structure_a, person)
    member_a = membership(app, structure_a, referent_a)

    intruder = client_for(app, referent_b)
    doors = [
        (f"/admin/ma-structure/membre/{pending['id']}/decision",
         {"decision": "approuver", "contact_employeur": "1", "beneficiaire": "1"}),
        (f"/admin/ma-structure/membre/{member_a['id']}/droits", {"beneficiaire": "1"}),
        (f"/admin/ma-structure/structure/{structure_a}/referent", {"membre": str(pending["id"])}),
        ("/admin/ma-structure/membre/999999999/decision", {"decision": "approuver"}),
    ]
    for url, data in doors:
        assert post(intruder, url, data).status_code == 404, url
    # A demo référent of another company (ACME's HR) is refused just the same.
    acme = client_for(app, "rh@acme.sillon.demo")
    assert post(acme, doors[0][0], doors[0][1]).status_code == 404
    assert membership(app, structure_a, person) == pending
    assert membership(app, structure_a, referent_a) == member_a
    assert referent_of(app, structure_a) == referent_a
    assert mails_to(smtp, person) == []
    # The service refuses too, in French, whatever the door.
    with app.app_context():
        row = db.session.get(StructureMembership, pending["id"])
        with pytest.raises(access.StructureAccessRefused, match="Seul le référent"):
            access.decide(user_by_email(referent_b), row, True, contact_employeur=True)
        with pytest.raises(access.StructureAccessRefused):
            access.set_rights(user_by_email(referent_b),
                              db.session.get(StructureMembership, member_a["id"]), False, False)
        with pytest.raises(access.StructureAccessRefused):
            access.hand_over(user_by_email(referent_b), db.session.get(Structure, structure_a),
                             user_by_email(referent_b))
        db.session.rollback()
    assert membership(app, structure_a, person) == pending
    assert referent_of(app, structure_a) == referent_a
    # Nor is the référent's own page showing the other structure's requests.
    page = intruder.get("/admin/ma-structure/").get_data(as_text=True)
    assert person not in page


def test_join_with_a_wrong_or_unknown_siret_is_explained(app):
    client = client_for(app, make_user(app, "perdu"))
    join(client, "12345678901234")
    assert "clé de contrôle" in flashes(client)
    with app.app_context():
        unknown = new_siret()
    join(client, unknown)
    page = flashes(client)
    assert "Aucune structure n'est enregistrée sur Sillon avec ce SIRET" in page
    assert "Ma structure n'est pas dans la liste" in page


def test_csrf_is_required(app):
    referent = make_user(app, "csrf")
    structure_id, siret = make_structure(app)
    client = client_for(app, referent)
    response = client.post("/admin/ma-structure/rejoindre", data={"siret": siret})
    assert response.status_code == 400
    assert referent_of(app, structure_id) is None


# --- structures unknown to Sillon -------------------------------------------------------------

def test_unknown_structure_is_requested_then_created_by_the_cfa(app, smtp, clean_outbox):
    person = make_user(app, "createur", first_name="Léa")
    client = client_for(app, person)
    form_url = "/admin/ma-structure/nouvelle-structure"
    page = client.get("/admin/ma-structure/").get_data(as_text=True)
    assert "Ma structure n'est pas dans la liste" in page
    with app.app_context():
        siret = new_siret()

    bad = post(client, form_url, {"siret": siret[:13] + str((int(siret[13]) + 1) % 10),
                                  "raison_sociale": "", "naf": "62A", "adresse": "",
                                  "code_postal": "99999", "commune": ""}, token_from=form_url)
    assert bad.status_code == 400
    page = text(bad)
    for field, message in [("siret", "clé de contrôle"),
                           ("raison_sociale", "Saisissez la raison sociale"),
                           ("naf", "4 chiffres et d'une lettre"),
                           ("adresse", "Saisissez l'adresse"),
                           ("code_postal", "département français"),
                           ("commune", "Saisissez la commune")]:
        match = re.search(rf'data-field="{field}">([^<]*)<', page)
        assert match and message in match.group(1), field
    with app.app_context():
        assert db.session.execute(sa.select(StructureRequest.id).where(
            StructureRequest.siret == siret)).first() is None

    good = {"siret": siret, "raison_sociale": "Boulangerie du Test", "naf": "1071c",
            "adresse": "12 bis rue des Essais", "code_postal": "34000",
            "commune": "Montpellier"}
    assert post(client, form_url, good, token_from=form_url).status_code == 302
    assert "envoyée à l'équipe du CFA" in flashes(client)
    with app.app_context():
        request_row = db.session.execute(sa.select(StructureRequest).where(
            StructureRequest.siret == siret)).scalar_one()
        request_id = request_row.id
        assert request_row.status == "en_attente" and request_row.naf == "10.71C"
        assert request_row.requested_by.email == person
    for staff in (ADMIN, CONSEIL):
        mails = mails_to(smtp, staff, "[Sillon] Demande de création de structure")
        assert len(mails) == 1 and siret in smtp.text_of(mails[0])
    # The same request twice is refused.
    again = post(client, form_url, good, token_from=form_url)
    assert again.status_code == 400 and "déjà demandé la création" in text(again)

    # An employer does not open the CFA queue.
    assert client.get("/admin/demandes-structures/").status_code == 403

    cfa = client_for(app, ADMIN)
    queue_url = "/admin/demandes-structures/"
    page = cfa.get(queue_url).get_data(as_text=True)
    assert f'data-request="{request_id}"' in page and person in page and siret in page
    # A wrong correction is refused next to the field; nothing is created.
    response = post(cfa, f"{queue_url}{request_id}/creer",
                    dict(good, code_postal="1234"), token_from=queue_url)
    assert response.status_code == 400
    assert re.search(r'data-field="code_postal">[^<]*5 chiffres', response.get_data(as_text=True))
    response = post(cfa, f"{queue_url}{request_id}/creer",
                    dict(good, raison_sociale="Boulangerie du Test SARL"), token_from=queue_url)
    assert response.status_code == 302
    with app.app_context():
        row = db.session.get(StructureRequest, request_id)
        assert row.status == "creee" and row.handled_by.email == ADMIN and row.handled_at
        structure = db.session.execute(sa.select(Structure).where(
            Structure.siren == siret[:9])).scalar_one()
        structure_id = structure.id
        assert structure.raison_sociale == "Boulangerie du Test SARL"
        etablissement = db.session.get(Etablissement, row.etablissement_id)
        assert etablissement.siret == siret and etablissement.structure_id == structure.id
        assert etablissement.naf == "10.71C" and not etablissement.en_attente
        assert (etablissement.adresse_numero, etablissement.adresse_voie) == (
            "12 bis", "rue des Essais")
        assert (etablissement.code_postal, etablissement.commune) == ("34000", "Montpellier")
    assert referent_of(app, structure_id) == person
    assert membership(app, structure_id, person)["status"] == "approuve"
    assert EMPLOYEUR in roles_of(app, person)
    created = mails_to(smtp, person, "Votre structure est enregistrée sur Sillon")
    assert len(created) == 1 and "référent" in smtp.text_of(created[0])
    assert "Demandes traitées" in cfa.get(queue_url).get_data(as_text=True)
    # Handling it again is refused.
    post(cfa, f"{queue_url}{request_id}/refuser", {"motif": "Doublon"}, token_from=queue_url)
    with app.app_context():
        assert db.session.get(StructureRequest, request_id).status == "creee"
    # Requesting a structure whose SIREN exists now sends the person to "Rejoindre".
    other = client_for(app, make_user(app, "tard"))
    assert "déjà enregistrée sur Sillon" in text(post(other, form_url, good,
                                                         token_from=form_url))


def test_cfa_refuses_a_structure_request_with_a_reason(app, smtp, clean_outbox):
    person = make_user(app, "refusee")
    with app.app_context():
        siret = new_siret()
        request_row = requests_.request_structure(user_by_email(person), siret, "Fantôme SAS",
                                               "62.01Z", "1 rue Nulle Part", "75001", "Paris")
        db.session.commit()
        request_id = request_row.id
    cfa = client_for(app, CONSEIL)
    queue_url = "/admin/demandes-structures/"
    post(cfa, f"{queue_url}{request_id}/refuser", {"motif": ""}, token_from=queue_url)
    assert "Indiquez le motif du refus" in cfa.get(queue_url).get_data(as_text=True)
    post(cfa, f"{queue_url}{request_id}/refuser",
         {"motif": "Ce SIRET correspond à un établissement fermé."}, token_from=queue_url)
    with app.app_context():
        row = db.session.get(StructureRequest, request_id)
        assert row.status == "refusee" and row.handled_by.email == CONSEIL
        assert db.session.execute(sa.select(Structure.id).where(
            Structure.siren == siret[:9])).first() is None
    mails = mails_to(smtp, person, "Votre demande de création de structure a été refusée")
    assert len(mails) == 1 and "établissement fermé" in smtp.text_of(mails[0])
    # Unknown request id: 404; an employer cannot refuse through the service either.
    assert post(cfa, f"{queue_url}999999999/refuser", {"motif": "x"},
                token_from=queue_url).status_code == 404
    with app.app_context():
        with pytest.raises(access.StructureAccessRefused, match="équipe du CFA"):
            requests_.create_from_request(user_by_email("rh@acme.sillon.demo"),
                                       db.session.get(StructureRequest, request_id))
        db.session.rollback()


def test_service_emails_are_delivered_after_commit(app, smtp, clean_outbox):
    """Without a request around: the service queues, the caller commits, the outbox sends."""
    referent = make_user(app, "service")
    structure_id, siret = make_structure(app, referent)
    person = make_user(app, "svc")
    with app.app_context():
        result = access.request_access(user_by_email(person), siret)
        assert not result.became_referent
        db.session.commit()
        send_pending()
    assert len(mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure")) == 1


# --- the public page ------------------------------------------------------------------------------

def _signup(client, **data):
    page = client.get("/inscription/structure")
    assert page.status_code == 200
    return client.post("/inscription/structure", data={
        "csrf_token": csrf_from(page.get_data(as_text=True)), **data})


def _anonymous(app):
    ip = f"10.{_rng.randrange(256)}.{_rng.randrange(256)}.{_rng.randrange(1, 255)}"
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def _without_token(html: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*value="[^"]*"|value="[^"]*"[^>]*name="csrf_token"',
                  "", html)


def test_public_signup_answers_the_same_for_known_and_unknown_addresses(app, smtp,
                                                                         clean_outbox):
    referent = make_user(app, "pubref")
    structure_id, siret = make_structure(app, referent)
    known = make_user(app, "connu")
    unknown = f"inconnu-{uuid.uuid4().hex[:8]}@test.sillon.demo"

    answers = []
    for email in (known, unknown):
        response = _signup(_anonymous(app), prenom="Noé", nom="Martin", email=email,
                           siret=siret)
        answers.append((response.status_code, _without_token(response.get_data(as_text=True))))
    assert answers[0] == answers[1]
    assert answers[0][0] == 200
    assert "Si les informations sont correctes, vous allez recevoir un e-mail" in answers[0][1]

    # The unknown address got an account (employer role, temporary password) and a pending
    # request that the référent was told about.
    with app.app_context():
        created = db.session.execute(sa.select(User).where(User.email == unknown)).scalar_one()
        assert created.first_name == "Noé" and created.must_change_password
        assert EMPLOYEUR in created.role_codes
    assert membership(app, structure_id, unknown)["status"] == "demande"
    assert len(mails_to(smtp, unknown, "Bienvenue sur Sillon")) == 1
    assert len(mails_to(smtp, referent, "Nouvelle demande d'accès à votre structure")) == 1
    # The existing account was not acted on from an anonymous page: its owner is told.
    assert membership(app, structure_id, known) is None
    assert mails_to(smtp, known, "Bienvenue sur Sillon") == []
    assert len(mails_to(smtp, known, "[Sillon] Demande d'accès à une structure")) == 1

    # A structure new to Sillon without référent: the new account becomes its référent.
    lone_id, lone_siret = make_structure(app)
    first = f"premier-{uuid.uuid4().hex[:8]}@test.sillon.demo"
    _signup(_anonymous(app), prenom="Eva", nom="Roux", email=first, siret=lone_siret)
    assert referent_of(app, lone_id) == first
    # An unknown SIRET: the account is created and told how to request the structure.
    with app.app_context():
        nowhere = new_siret()
    lost = f"perdu-{uuid.uuid4().hex[:8]}@test.sillon.demo"
    response = _signup(_anonymous(app), prenom="Léo", nom="Petit", email=lost, siret=nowhere)
    assert "Si les informations sont correctes" in response.get_data(as_text=True)
    assert len(mails_to(smtp, lost, "[Sillon] Structure introuvable")) == 1


def test_public_signup_checks_fields_and_needs_no_login(app):
    client = _anonymous(app)
    assert client.get("/inscription/structure").status_code == 200
    response = _signup(client, prenom="", nom="X", email="pas-une-adresse", siret="123")
    assert response.status_code == 400
    page = text(response)
    assert "Saisissez votre prénom." in page
    assert "Cette adresse e-mail n'est pas valide." in page
    assert "Ce numéro SIRET n'est pas valide" in page
    # Without CSRF token: refused.
    assert client.post("/inscription/structure", data={
        "prenom": "A", "nom": "B", "email": "a@b.fr", "siret": "73282932000074"}
    ).status_code == 400
    # The logged-in pages stay behind the login.
    response = client.get("/admin/ma-structure/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    response = client.get("/admin/demandes-structures/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_public_signup_is_throttled_per_ip(app, clean_outbox):
    _, siret = make_structure(app, make_user(app, "throttle"))
    client = _anonymous(app)
    for i in range(10):
        response = _signup(client, prenom="Robot", nom="Test", siret=siret,
                           email=f"robot{i}-{uuid.uuid4().hex[:6]}@test.sillon.demo")
        assert response.status_code == 200, i
    blocked = f"robot-bloque-{uuid.uuid4().hex[:6]}@test.sillon.demo"
    response = _signup(client, prenom="Robot", nom="Test", email=blocked, siret=siret)
    assert response.status_code == 429
    assert "Trop de demandes" in response.get_data(as_text=True)
    assert roles_of(app, blocked) == set()  # no account created
    # Another address (IP) is not blocked.
    assert _signup(_anonymous(app), prenom="Vraie", nom="Personne", siret=siret,
                   email=f"vraie-{uuid.uuid4().hex[:6]}@test.sillon.demo").status_code == 200


def test_requests_of_a_structure_whose_referent_left_go_to_the_cfa(app, smtp, clean_outbox):
    referent = make_user(app, "parti")
    structure_id, siret = make_structure(app, referent)
    with app.app_context():
        user_by_email(referent).active = False
        db.session.commit()
    person = make_user(app, "orphelin")
    join(client_for(app, person), siret)
    assert membership(app, structure_id, person)["status"] == "demande"
    assert mails_to(smtp, referent) == []
    staff_mail = mails_to(smtp, ADMIN, "Nouvelle demande d'accès à votre structure")
    assert len(staff_mail) == 1 and "/admin/demandes-structures/" in smtp.text_of(staff_mail[0])

    cfa = client_for(app, ADMIN)
    queue_url = "/admin/demandes-structures/"
    row = membership(app, structure_id, person)
    assert f'data-membership="{row["id"]}"' in cfa.get(queue_url).get_data(as_text=True)
    response = post(cfa, f"/admin/ma-structure/membre/{row['id']}/decision",
                    {"decision": "approuver", "beneficiaire": "1", "retour": "demandes"},
                    token_from=queue_url)
    assert response.status_code == 302 and response.headers["Location"].endswith(queue_url)
    after = membership(app, structure_id, person)
    assert after["status"] == "approuve" and after["decided_by"] == ADMIN
    assert len(mails_to(smtp, person, "Votre demande d'accès a été acceptée")) == 1


# --- dashboards -----------------------------------------------------------------------------------

def test_dashboards_show_what_waits_for_the_referent_and_the_cfa(app, login, clean_outbox):
    referent = make_user(app, "ref-dash", EMPLOYEUR)
    structure_id, siret = make_structure(app, referent)
    assert 'id="dashboard-referent"' not in text(client_for(app, referent).get("/admin/"))
    join(client_for(app, make_user(app, "demandeur-dash")), siret)
    page = text(client_for(app, referent).get("/admin/"))
    alert = re.search(r'<div[^>]*id="dashboard-referent">(.*?)</div>', page, re.S)
    assert alert and 'href="/admin/ma-structure/"' in alert.group(1)
    assert ("1 demande d'accès à votre structure attend votre décision"
            in " ".join(re.sub(r"<[^>]+>", "", alert.group(1)).split()))

    cfa = login("conseil@sillon.demo")
    with app.app_context():
        pending = db.session.execute(sa.select(sa.func.count()).select_from(StructureRequest)
                                     .where(StructureRequest.status == "en_attente")).scalar_one()
    page = text(cfa.get("/admin/"))
    card = re.search(r'href="/admin/demandes-structures/"[^>]*>\s*<span class="h4 mb-0">(\d+)</span>'
                     r'<span class="small">Structures demandées à créer', page)
    assert card and int(card.group(1)) == pending
