"""The life of a dossier through HTTP as the successive roles: the apprentice and the employer
fill their tabs, the dossier becomes complete by itself, validation is requested, the formation
validates (manually, or at once in automatic mode), the CFA validates the economics; a return
for correction on the way; cancellation and rupture as side exits."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (Dossier, DossierHistory, Etablissement, Formation, OutboxEmail,
                           Structure, User)
from tests.support.web import csrf, csrf_from

ALICE, ACME, CONSEIL = "alice@etu.sillon.demo", "rh@acme.sillon.demo", "conseil@sillon.demo"
MANUAL = ("resp.info@sillon.demo", "Licence professionnelle Métiers de l'informatique")
AUTOMATIC = ("resp.commerce@sillon.demo", "BTS Management commercial opérationnel")


def _luhn_ok(number: str) -> bool:
    total = 0
    for i, digit in enumerate(reversed(number)):
        n = int(digit) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _fresh_siret(app) -> str:
    """A SIRET (valid SIREN and SIRET keys) no structure of the database uses."""
    with app.app_context():
        used = set(db.session.scalars(sa.select(Structure.siren)))
    for base in range(73_000_000, 73_100_000):
        siren = next((f"{base}{k}" for k in range(10) if _luhn_ok(f"{base}{k}")), None)
        if siren is None or siren in used:
            continue
        siret = next((f"{siren}0001{k}" for k in range(10) if _luhn_ok(f"{siren}0001{k}")), None)
        if siret:
            return siret
    raise AssertionError("no free SIRET")


@pytest.fixture()
def world(app):
    created, sirets = [], []

    def make(training, *, end=date(2027, 8, 31)):
        manager, title = training
        with app.app_context():
            def uid(email):
                return db.session.execute(sa.select(User.id).where(User.email == email)
                                          ).scalar_one()
            formation = db.session.execute(sa.select(Formation).where(
                Formation.intitule == title)).scalars().first()
            siret = _fresh_siret(app)
            sirets.append(siret)
            row = Dossier(formation=formation, apprentice_user_id=uid(ALICE),
                          employer_contact_id=uid(ACME), apprenti_email=ALICE,
                          apprenti_nom="Perrin", apprenti_prenom="Alice",
                          apprenti_date_naissance=date(2004, 3, 14), state="initialise",
                          niveau_saisie="complete", dispositif="apprentissage",
                          employeur_siret=siret, date_debut_contrat=date(2026, 9, 1),
                          date_fin_contrat=end, created_by_id=uid(manager),
                          cfa_conseiller_id=uid(CONSEIL))
            db.session.add(row)
            db.session.commit()
            created.append(row.id)
            return row.id, siret

    yield make
    with app.app_context():
        for pk in created:
            db.session.execute(sa.delete(OutboxEmail).where(OutboxEmail.dossier_id == pk))
            db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()
        for siret in sirets:
            etab = db.session.execute(sa.select(Etablissement).where(
                Etablissement.siret == siret)).scalar_one_or_none()
            if etab is not None:
                structure = etab.structure
                db.session.delete(etab)
                db.session.flush()
                if structure is not None and not structure.etablissements:
                    db.session.delete(structure)
        db.session.commit()


def _nir(body):
    return body + f"{97 - int(body) % 97:02d}"


ALTERNANT = {
    "apprenti_nom": "Perrin", "apprenti_prenom": "Alice", "sexe": "F",
    "apprenti_date_naissance": "2004-03-14", "commune_naissance": "Nantes",
    "departement_naissance": "44", "nationalite": "1", "nir": _nir("2040344109012"),
    "adresse_numero": "12", "adresse_voie": "rue des Lilas", "code_postal": "34000",
    "commune": "Montpellier", "apprenti_email": ALICE, "regime_social": "2",
    "situation_avant_contrat": "3", "diplome_plus_eleve": "54", "dernier_diplome_prepare": "54",
    "derniere_classe": "01", "intitule_dernier_diplome": "BTS SIO",
}


def _employeur(siret):
    return {
        "employeur_siret": siret, "employeur_denomination": "Ateliers Sillon – Lattes",
        "employeur_adresse_numero": "7", "employeur_adresse_voie": "avenue des Prés",
        "employeur_code_postal": "34970", "employeur_commune": "Lattes",
        "employeur_telephone": "0465710902", "employeur_email": "accueil@ateliers.sillon.demo",
        "type_employeur": "12", "employeur_specifique": "0", "naf": "62.01Z",
        "employeur_effectif": "120", "idcc": "1486",
        "responsable_nom": "Garnier", "responsable_prenom": "Philippe",
        "responsable_fonction": "DRH", "responsable_email": "p.garnier@ateliers.sillon.demo",
        "maitre_1_nom": "Delmas", "maitre_1_prenom": "Hélène",
        "maitre_1_date_naissance": "1980-05-12", "maitre_1_courriel": "h.delmas@ateliers.sillon.demo",
        "maitre_1_emploi": "Responsable des développements",
        "maitre_1_diplome": "Master Informatique", "maitre_1_niveau_diplome": "7",
        "maitre_1_annees_experience": "12", "employeur_attestation_maitre": "y",
    }


def _contrat(end):
    return {"type_contrat": "11", "mode_contractuel": "1", "date_conclusion": "2026-08-20",
            "date_debut_contrat": "2026-09-01", "date_debut_formation_pratique": "2026-09-01",
            "date_fin_contrat": end, "duree_hebdo_heures": "35", "duree_hebdo_minutes": "0",
            "caisse_retraite_complementaire": "Agirc-Arrco"}


def _save(client, pk, tab, data):
    page = client.get(f"/admin/dossier/{pk}/{tab}/").get_data(as_text=True)
    payload = dict(data, csrf_token=csrf_from(page))
    payload["_version"] = re.search(r'name="_version" value="(\d+)"', page).group(1)
    for i, (pct, amount) in enumerate(re.findall(
            r'name="remuneration-\d+-percent" value="([^"]*)".*?'
            r'name="remuneration-\d+-monthly_amount" value="([^"]*)"', page, re.S)):
        payload[f"remuneration-{i}-percent"] = pct
        payload[f"remuneration-{i}-monthly_amount"] = amount
    response = client.post(f"/admin/dossier/{pk}/{tab}/", data=payload)
    assert response.status_code == 302, (tab, re.findall(r'finding-error">([^<]+)<',
                                                         response.get_data(as_text=True)))


def _act(client, pk, code, **form):
    # The person confirms what cannot be undone (the check box of irreversible rows).
    response = client.post(f"/admin/dossier/{pk}/transition/{code}/",
                           data=dict(form, csrf_token=csrf(client), confirmation="oui"))
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _state(app, pk):
    with app.app_context():
        return db.session.get(Dossier, pk).state


def _mails_to(app, pk, address):
    with app.app_context():
        return [s for r, s in db.session.execute(
            sa.select(OutboxEmail.recipients, OutboxEmail.subject)
            .where(OutboxEmail.dossier_id == pk)).all() if address in r.split(",")]


def _fill(login, pk, siret, end):
    alice, acme = login(ALICE), login(ACME)
    _save(alice, pk, "alternant", ALTERNANT)
    _save(acme, pk, "employeur", _employeur(siret))
    _save(acme, pk, "contrat", _contrat(end))
    return alice, acme


def _pdf(text="Signé") -> bytes:
    import io

    from pypdf import PdfWriter
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload(client, pk, kind, data, name):
    import io
    response = client.post(f"/admin/dossier/{pk}/retour/{kind}/", data={
        "csrf_token": csrf(client), "fichier": (io.BytesIO(data), name)},
        content_type="multipart/form-data")
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_manual_validation_from_initialise_to_envoye_opco(app, login, world):
    pk, siret = world(MANUAL)
    alice, acme = _fill(login, pk, siret, "2027-08-31")
    assert _state(app, pk) == "saisie_complete"
    page = alice.get(f"/admin/dossier/{pk}/resume/").get_data(as_text=True)
    assert "Aucune anomalie bloquante" in page
    _act(alice, pk, "demander_validation")
    assert _state(app, pk) == "validation_demandee"
    assert any("validation demandée" in s for s in _mails_to(app, pk, MANUAL[0]))
    # Frozen for the parties now.
    page = alice.get(f"/admin/dossier/{pk}/alternant/").get_data(as_text=True)
    assert "La validation a été demandée" in page
    # The manager sends it back with a comment; the parties edit again and ask again.
    manager = login(MANUAL[0])
    _act(manager, pk, "renvoyer_correction", comment="Précisez le numéro de voie.")
    assert _state(app, pk) == "a_corriger"
    assert any("à corriger" in s for s in _mails_to(app, pk, ALICE))
    _save(alice, pk, "alternant", dict(ALTERNANT, adresse_numero="12 bis"))
    _act(alice, pk, "demander_validation")
    assert _state(app, pk) == "validation_demandee"
    _act(manager, pk, "valider_formation")
    assert _state(app, pk) == "valide_formation"
    assert any("éléments économiques" in s for s in _mails_to(app, pk, CONSEIL))
    _act(login(CONSEIL), pk, "valider_economie")
    assert _state(app, pk) == "economie_validee"
    assert any("documents à signer" in s for s in _mails_to(app, pk, ACME))
    # The employer returns both signed documents; the CFA is told and validates them.
    cerfa, convention = _pdf("CERFA signé"), _pdf("Convention signée")
    _upload(acme, pk, "cerfa_signe", cerfa, "cerfa signé.pdf")
    assert _state(app, pk) == "economie_validee"
    _upload(acme, pk, "convention_signee", convention, "convention.pdf")
    assert _state(app, pk) == "documents_retournes"
    assert any("documents signés à vérifier" in s for s in _mails_to(app, pk, CONSEIL))
    with app.app_context():
        from portal.models import Document
        stored = db.session.scalars(sa.select(Document).where(Document.dossier_id == pk)
                                    .order_by(Document.id)).all()
        assert [(d.kind, d.data) for d in stored] == [("cerfa_signe", cerfa),
                                                      ("convention_signee", convention)]
    _act(login(CONSEIL), pk, "valider_documents")
    assert _state(app, pk) == "documents_valides"
    assert any("CERFA visé" in s for s in _mails_to(app, pk, ACME))
    _act(acme, pk, "declarer_envoi_opco", numero_opco="DECA-2026-0042",
         date_depot=date.today().isoformat())
    assert _state(app, pk) == "envoye_opco"
    with app.app_context():
        path = [(h.from_state, h.to_state) for h in db.session.scalars(
            sa.select(DossierHistory).where(DossierHistory.dossier_id == pk,
                                            DossierHistory.kind == "transition")
            .order_by(DossierHistory.id))]
    assert path == [("initialise", "en_saisie"), ("en_saisie", "saisie_complete"),
                    ("saisie_complete", "validation_demandee"),
                    ("validation_demandee", "a_corriger"),
                    ("a_corriger", "validation_demandee"),
                    ("validation_demandee", "valide_formation"),
                    ("valide_formation", "economie_validee"),
                    ("economie_validee", "documents_retournes"),
                    ("documents_retournes", "documents_valides"),
                    ("documents_valides", "envoye_opco")]
    # Suivi – Info shows the history newest first.
    page = alice.get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True)
    first = page.index("Envoyé à l&#39;OPCO") if "Envoyé à l&#39;OPCO" in page else \
        page.index("Envoyé à l'OPCO")
    assert first < page.index("Initialisé → Saisie en cours")


def test_automatic_validation_mode_validates_at_once(app, login, world):
    pk, siret = world(AUTOMATIC, end=date(2028, 7, 31))
    alice, _ = _fill(login, pk, siret, "2028-07-31")
    assert _state(app, pk) == "saisie_complete"
    _act(alice, pk, "demander_validation")
    assert _state(app, pk) == "valide_formation"
    with app.app_context():
        row = db.session.get(Dossier, pk)
        assert row.formation_validee_at is not None
        assert row.history[0].comment == "Validation automatique de la formation"
    # The rest of the path is the same as in manual mode.
    acme, conseil = login(ACME), login(CONSEIL)
    _act(conseil, pk, "valider_economie")
    _upload(acme, pk, "cerfa_signe", _pdf(), "cerfa.pdf")
    _upload(acme, pk, "convention_signee", _pdf(), "convention.pdf")
    _act(conseil, pk, "valider_documents")
    _act(acme, pk, "declarer_envoi_opco", numero_opco="DECA-2026-0042",
         date_depot=date.today().isoformat())
    assert _state(app, pk) == "envoye_opco"


def test_cancel_and_rupture_side_exits(app, login, world):
    cancelled, _ = world(MANUAL)
    _act(login(MANUAL[0]), cancelled, "annuler", comment="L'apprentie a choisi une autre voie.")
    assert _state(app, cancelled) == "annule"
    broken, siret = world(MANUAL)
    _fill(login, broken, siret, "2027-08-31")
    with app.app_context():
        db.session.get(Dossier, broken).state = "envoye_opco"
        db.session.commit()
    _act(login(ACME), broken, "rompre", comment="Rupture à l'initiative de l'apprentie",
         rupture_date="2026-11-02")
    with app.app_context():
        row = db.session.get(Dossier, broken)
        assert (row.state, row.rupture_date) == ("rompu", date(2026, 11, 2))
    # A closed dossier no longer changes.
    page = login(ALICE).get(f"/admin/dossier/{broken}/alternant/").get_data(as_text=True)
    assert "verrouillé" in page


def test_signed_returns_are_checked(app, login, world):
    pk, siret = world(MANUAL)
    _fill(login, pk, siret, "2027-08-31")
    acme = login(ACME)
    # Too early: the economics are not validated.
    page = _upload(acme, pk, "cerfa_signe", _pdf(), "cerfa.pdf")
    assert "une fois les éléments économiques validés" in page
    with app.app_context():
        db.session.get(Dossier, pk).state = "economie_validee"
        db.session.commit()
    for data, name in ((b"MZ\x90\x00 not a pdf", "cerfa.pdf"), (b"<html>x</html>", "cerfa.pdf"),
                       (_pdf(), "cerfa.exe"), (b"%PDF-1.4 garbage", "cerfa.pdf"),
                       (b"%PDF-" + b"0" * (10 * 1024 * 1024), "gros.pdf")):
        page = _upload(acme, pk, "cerfa_signe", data, name)
        if name == "cerfa.exe":
            assert "déposé" in page  # the content decides, not the name: stored as .pdf
        else:
            assert "PDF" in page or "10 Mo" in page
    for account in (ALICE, CONSEIL, MANUAL[0]):
        page = _upload(login(account), pk, "convention_signee", _pdf(), "c.pdf")
        assert "Seul l&#39;employeur" in page or "Seul l'employeur" in page
    other = login("rh@globex.sillon.demo")
    import io
    assert other.post(f"/admin/dossier/{pk}/retour/cerfa_signe/", data={
        "csrf_token": csrf(other), "fichier": (io.BytesIO(_pdf()), "x.pdf")},
        content_type="multipart/form-data").status_code == 404
    with app.app_context():
        from portal.models import Document
        kinds = db.session.execute(sa.select(Document.kind, Document.filename, Document.version)
                                   .where(Document.dossier_id == pk)).all()
        assert kinds == [("cerfa_signe", f"dossier-{pk}-cerfa.exe.pdf", 1)]
        assert db.session.get(Dossier, pk).state == "economie_validee"


def test_transition_emails_reach_smtp_and_survive_an_outage(app, login, world, smtp,
                                                            clean_outbox):
    """Right recipients, subject and link, sent right after the request; with the server down
    they stay in the outbox and leave once it is back, exactly once."""
    from portal.mail.outbox import send_pending
    pk, siret = world(MANUAL)
    alice, _ = _fill(login, pk, siret, "2027-08-31")
    _act(alice, pk, "demander_validation")
    to_manager = [m for rcpt, m in smtp.messages if rcpt == [MANUAL[0]]]
    assert len(to_manager) == 1
    assert to_manager[0]["Subject"] == (f"[Sillon] Dossier n° {pk} – PERRIN Alice : "
                                        "validation demandée")
    assert f"/admin/dossier/{pk}/suivi/" in smtp.text_of(to_manager[0])
    # SMTP down: the manager's validation still succeeds, its e-mails wait in the outbox.
    port = smtp.port
    smtp.stop()
    _act(login(MANUAL[0]), pk, "valider_formation")
    assert _state(app, pk) == "valide_formation"
    with app.app_context():
        waiting = db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.dossier_id == pk, OutboxEmail.sent_at.is_(None))).scalars().all()
        assert waiting and all(r for r in waiting)
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.sent_at.is_(None))
                           .values(next_attempt_at=OutboxEmail.created_at))
        db.session.commit()
    from tests.support.smtp import SmtpServer
    back = SmtpServer(port).start()
    try:
        with app.app_context():
            sent, failed = send_pending()
            assert (sent, failed) == (len(waiting), 0)
            assert send_pending() == (0, 0)  # no duplicates
        recipients = sorted(r for rcpt, _ in back.messages for r in rcpt)
        assert CONSEIL in recipients and ALICE in recipients
        assert len(back.messages) == len(waiting)
    finally:
        back.stop()
