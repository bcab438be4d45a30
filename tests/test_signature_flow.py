"""The built-in electronic signature through HTTP, with a real SMTP server and worker (issue 17):
the CFA sends the CERFA and the convention for signature; each signer reads their personal link
and their one-time code from the e-mails they receive, and signs in order (employer, apprentice,
the CFA's visa last); the sealed PDFs validate and move the dossier on as the paper return
does. Out of order, expired, reused, forged or another signer's link, a wrong code five times,
a missing « Lu et approuvé »: refused, nothing signed. A refusal sends the dossier back for
correction with its reason; the CFA cancels and starts again; reminders after three days."""
from __future__ import annotations

import html as h
import json
import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
import time_machine

from portal.extensions import db
from portal.models import Dossier, DossierHistory, RepresentantLegal
from portal.models.signatures import SignatureEvent, SignatureRequest, Signer
from tests.support.web import csrf_from
from tests.test_accounts import link_path
from tests.test_dossier_lifecycle import (ACME, ALICE, CONSEIL, MANUAL, _act, _fill,  # noqa: F401
                                          _state, world)

EMPLOYER = "p.garnier@ateliers.sillon.demo"  # « le responsable » of L'employeur (_employeur)
SIGNERS = (EMPLOYER, ALICE, CONSEIL)


@pytest.fixture()
def validated(app, login, world):  # noqa: F811
    """A dossier at « Éléments économiques validés », as the workflow brings it there."""
    pk, siret = world(MANUAL)
    alice, _ = _fill(login, pk, siret, "2027-08-31")
    _act(alice, pk, "demander_validation")
    _act(login(MANUAL[0]), pk, "valider_formation")
    _act(login(CONSEIL), pk, "valider_economie")
    assert _state(app, pk) == "economie_validee"
    return pk


def _start(login, pk, who=CONSEIL) -> str:
    client = login(who)
    page = client.get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True)
    response = client.post(f"/admin/dossier/{pk}/signature/lancer/",
                           data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    return h.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _mails(smtp, address, part, document="CERFA"):
    return [m for rcpts, m in smtp.messages if address in rcpts and part in m["Subject"]
            and (document is None or m["Subject"].startswith(f"[Sillon] {document}"))]


def _link(smtp, address, document="CERFA") -> str:
    """The personal link of ``address`` for ``document``, from the e-mail they received."""
    found = _mails(smtp, address, "", document)
    assert found, [m["Subject"] for _, m in smtp.messages]
    return link_path(smtp, found[-1], "/signature/")


def _code(smtp, address) -> str:
    codes = [m for rcpts, m in smtp.messages
             if address in rcpts and m["Subject"].startswith("[Sillon] Votre code")]
    assert codes, [m["Subject"] for r, m in smtp.messages if address in r]
    return re.search(r"(\d{6})", codes[-1]["Subject"]).group(1)


def _form(client, link):
    page = client.get(link)
    return page, h.unescape(page.get_data(as_text=True))


def _ask_code(client, link):
    _, page = _form(client, link)
    response = client.post(link + "/code", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    return h.unescape(client.get(response.headers["Location"]).get_data(as_text=True))


def _sign(client, link, code, approved=True):
    _, page = _form(client, link)
    data = {"csrf_token": csrf_from(page), "code": code}
    if approved:
        data["lu_et_approuve"] = "1"
    response = client.post(link + "/signer", data=data, follow_redirects=True)
    return response.status_code, h.unescape(response.get_data(as_text=True))


def _signers(app, pk, document="cerfa"):
    with app.app_context():
        request = db.session.scalars(sa.select(SignatureRequest).where(
            SignatureRequest.dossier_id == pk, SignatureRequest.document == document)
            .order_by(SignatureRequest.id.desc())).first()
        return [(s.role, s.email, s.status) for s in request.signers]


def _sign_in_turn(app, smtp, pk, document):
    for address in SIGNERS:
        client = app.test_client()
        link = _link(smtp, address, document)
        _ask_code(client, link)
        status, page = _sign(client, link, _code(smtp, address))
        assert status == 200 and "Merci, votre signature est enregistrée" in page, page[-800:]


def test_each_signer_signs_in_order_and_the_sealed_documents_move_the_dossier_on(
        app, login, validated, smtp):
    pk = validated
    page = _start(login, pk)
    assert "Signature électronique lancée (CERFA et Convention de formation)" in page
    assert _signers(app, pk) == [("employeur", EMPLOYER, "a_signer"), ("alternant", ALICE,
                                 "attente"), ("cfa", CONSEIL, "attente")]
    # Every signer is invited for both documents; only the employer is asked to sign now.
    assert len(_mails(smtp, EMPLOYER, "à signer", None)) == 2
    assert len(_mails(smtp, ALICE, "signature électronique", None)) == 2

    # The apprentice, out of order: reads, but can neither get a code nor sign.
    alice = app.test_client()
    alice_link = _link(smtp, ALICE)
    _, page = _form(alice, alice_link)
    assert "Ce n'est pas encore votre tour : l'employeur (Philippe Garnier) doit signer " \
           "avant vous." in page
    assert alice.get(alice_link + "/document.pdf").data[:5] == b"%PDF-"
    page = h.unescape(alice.post(alice_link + "/code", data={"csrf_token": csrf_from(page)},
                                 follow_redirects=True).get_data(as_text=True))
    assert "Ce n'est pas encore votre tour" in page
    status, page = _sign(alice, alice_link, "123456")
    assert "Ce n'est pas encore votre tour" in page
    assert _signers(app, pk)[1][2] == "attente" and not _codes_sent(app, ALICE)

    # The employer: the document in the page, a code by e-mail, « Lu et approuvé », signed.
    employer = app.test_client()
    link = _link(smtp, EMPLOYER)
    response, page = _form(employer, link)
    assert response.status_code == 200 and 'id="document-frame"' in page
    pdf = employer.get(link + "/document.pdf")
    assert pdf.data[:5] == b"%PDF-" and "SAMEORIGIN" == pdf.headers["X-Frame-Options"]
    assert "frame-ancestors 'self'" in pdf.headers["Content-Security-Policy"]
    _ask_code(employer, link)
    code = _code(smtp, EMPLOYER)
    status, page = _sign(employer, link, code, approved=False)
    assert status == 422 and "Cochez « Lu et approuvé » pour signer." in page
    form_token = csrf_from(_form(employer, link)[1])
    status, page = _sign(employer, link, code)
    assert status == 200 and "Merci, votre signature est enregistrée" in page
    # Single use: the same link (and code) no longer opens anything.
    response = employer.get(link)
    assert response.status_code == 410 and "Vous avez signé ce document le" in \
        h.unescape(response.get_data(as_text=True))
    assert employer.post(link + "/signer", data={"csrf_token": form_token, "code": code,
                                                 "lu_et_approuve": "1"}).status_code == 410
    # Now the apprentice's turn: told by e-mail, with the same link.
    assert _mails(smtp, ALICE, "à vous de signer")
    assert _link(smtp, ALICE) == alice_link
    _ask_code(alice, alice_link)
    status, page = _sign(alice, alice_link, _code(smtp, ALICE))
    assert status == 200
    # The CFA's visa last: the CERFA is sealed and kept as the signed CERFA.
    cfa = app.test_client()
    cfa_link = _link(smtp, CONSEIL)
    _ask_code(cfa, cfa_link)
    status, page = _sign(cfa, cfa_link, _code(smtp, CONSEIL))
    assert status == 200 and "Vous étiez le dernier signataire" in page
    assert _state(app, pk) == "economie_validee"  # the convention is not signed yet
    _sign_in_turn(app, smtp, pk, "Convention")
    assert _state(app, pk) == "documents_retournes"

    with app.app_context():
        requests = db.session.scalars(sa.select(SignatureRequest).where(
            SignatureRequest.dossier_id == pk)).all()
        assert {(r.document, r.status) for r in requests} == {("cerfa", "signee"),
                                                              ("convention", "signee")}
        sealed = {r.document: bytes(r.signed_document.data) for r in requests}
        kinds = {r.signed_document.kind for r in requests}
        comments = [c for c, in db.session.execute(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == pk))]
    assert kinds == {"cerfa_signe", "convention_signee"}
    assert any("scellé au terme de la signature électronique" in (c or "") for c in comments)
    # Everyone is told each document is signed.
    assert len(_mails(smtp, ALICE, "signé par tous", None)) == 2

    # The sealed PDF validates; one byte changed and it does not.
    from portal.signatures.certificate import sealing_identity
    from portal.signatures.seal import check
    with app.app_context():
        identity = sealing_identity(app)
    result = check(sealed["cerfa"], identity)
    assert result.intact and result.valid and result.trusted and result.covers_whole_file
    from pypdf import PdfReader
    import io
    text = PdfReader(io.BytesIO(sealed["cerfa"])).pages[-1].extract_text()
    assert "Philippe Garnier" in text and "Alice Perrin" in text and "CFA (visa)" in text
    at = sealed["cerfa"].index(b"stream", len(sealed["cerfa"]) // 3) + 20
    tampered = sealed["cerfa"][:at] + bytes([sealed["cerfa"][at] ^ 0x01]) + \
        sealed["cerfa"][at + 1:]
    broken = check(tampered, identity)
    assert not (broken.intact and broken.valid)

    # Suivi – Info: each signer's status, the signed PDF and the evidence file.
    page = h.unescape(login(ALICE).get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True))
    assert "Signé électroniquement" in page and "signé électroniquement (PDF scellé)" in page
    assert "Dossier de preuve" in page
    cfa_user = login(CONSEIL)
    request_id = int(re.search(r'data-signature-request="(\d+)" data-document="cerfa"',
                               page).group(1))
    evidence = cfa_user.get(f"/admin/dossier/{pk}/signature/{request_id}/preuve.json")
    assert evidence.status_code == 200
    data = json.loads(evidence.data)
    kinds = [e["kind"] for e in data["events"]]
    assert kinds[0] == "demande_creee" and kinds[-1] == "scellement"
    assert kinds.count("signature") == 3
    signed = [e for e in data["events"] if e["kind"] == "signature"]
    assert all(e["ip"] and e["user_agent"] and e["document_sha256"] == data["source_sha256"]
               for e in signed)
    assert [s["status"] for s in data["signers"]] == ["signe"] * 3
    evidence_pdf = cfa_user.get(f"/admin/dossier/{pk}/signature/{request_id}/preuve.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(evidence_pdf.data)).pages)
    assert "DOSSIER DE PREUVE" in text and data["source_sha256"][:16] in text.replace("\n", "")


def _codes_sent(app, address) -> int:
    with app.app_context():
        return sum(s.codes_sent for s in db.session.scalars(
            sa.select(Signer).where(Signer.email == address)))


def test_a_wrong_code_five_times_blocks_it_and_nothing_is_signed(app, login, validated, smtp):
    pk = validated
    _start(login, pk)
    employer = app.test_client()
    link = _link(smtp, EMPLOYER)
    _ask_code(employer, link)
    good = _code(smtp, EMPLOYER)
    wrong = f"{(int(good) + 1) % 10 ** 6:06d}"
    for left in (4, 3, 2, 1):
        status, page = _sign(employer, link, wrong)
        assert status == 422 and f"Code erroné : il vous reste {left} essai" in page
    status, page = _sign(employer, link, wrong)
    assert "Ce code est maintenant bloqué" in page
    status, page = _sign(employer, link, good)
    assert status == 422 and "Ce code est bloqué après trop d'essais" in page
    assert _signers(app, pk)[0][2] == "a_signer"
    with app.app_context():
        kinds = [k for k, in db.session.execute(sa.select(SignatureEvent.kind).join(
            SignatureRequest).where(SignatureRequest.dossier_id == pk)
            .order_by(SignatureEvent.id))]
    assert kinds.count("code_refuse") == 4 and kinds.count("code_bloque") == 1
    assert "signature" not in kinds
    # A new code works.
    _ask_code(employer, link)
    status, page = _sign(employer, link, _code(smtp, EMPLOYER))
    assert status == 200 and _signers(app, pk)[0][2] == "signe"


def test_expired_forged_and_other_signers_links_open_nothing(app, login, validated, smtp):
    pk = validated
    _start(login, pk)
    link = _link(smtp, EMPLOYER)
    client = app.test_client()
    token = link.rsplit("/", 1)[-1]
    signer_id, mac = token.split(".")
    # Another signer's id with this signer's proof, a changed proof, no proof: not valid.
    assert client.get("/signature/../../etc/passwd").status_code == 404
    # An id past an INTEGER column's range (PostgreSQL would refuse to bind it): not valid.
    for huge in ("9999999999", "2147483648", "0"):
        assert client.get(f"/signature/{huge}.{mac}").status_code == 404, huge
    for forged in (f"{int(signer_id) + 1}.{mac}", f"{signer_id}.{'0' * 64}", signer_id,
                   f"{signer_id}.{mac[:-1]}", f"{signer_id}.{mac.upper()}"):
        response = client.get(f"/signature/{forged}")
        assert response.status_code == 404, forged
        assert "Ce lien de signature n'est pas valable." in h.unescape(
            response.get_data(as_text=True))
        assert client.post(f"/signature/{forged}/code").status_code in (400, 404)
    # Past its expiry (30 days), the link opens nothing.
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=31)):
        response = client.get(link)
        assert response.status_code == 410
        assert "Ce lien a expiré le" in h.unescape(response.get_data(as_text=True))
    assert _signers(app, pk)[0][2] == "a_signer"


def test_a_refusal_sends_the_dossier_back_for_correction_with_its_reason(
        app, login, validated, smtp):
    pk = validated
    _start(login, pk)
    client = app.test_client()
    link = _link(smtp, EMPLOYER)
    _, page = _form(client, link)
    response = client.post(link + "/refuser", data={"csrf_token": csrf_from(page), "motif": ""})
    assert response.status_code == 422 and "Indiquez pourquoi vous refusez de signer." in \
        h.unescape(response.get_data(as_text=True))
    assert _state(app, pk) == "economie_validee"
    response = client.post(link + "/refuser", data={
        "csrf_token": csrf_from(page), "motif": "La date de début du contrat est fausse."})
    assert response.status_code == 200 and "Votre refus est enregistré" in \
        h.unescape(response.get_data(as_text=True))
    assert _state(app, pk) == "a_corriger"
    with app.app_context():
        statuses = {r.document: r.status for r in db.session.scalars(
            sa.select(SignatureRequest).where(SignatureRequest.dossier_id == pk))}
        history = [c for c, in db.session.execute(sa.select(DossierHistory.comment).where(
            DossierHistory.dossier_id == pk, DossierHistory.kind == "transition")
            .order_by(DossierHistory.id))]
    assert statuses == {"cerfa": "refusee", "convention": "annulee"}
    assert "La date de début du contrat est fausse." in history[-1]
    # Suivi – Info says what to correct, as after a manager's « Renvoyer pour correction ».
    page = h.unescape(login(ALICE).get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True))
    assert re.search(r'id="correction-comment"><strong>À corriger :</strong> Refus de signer '
                     r"le CERFA par Philippe Garnier – Employeur \(signataire\) : La date de "
                     r"début du contrat est fausse\.", page), page[:3000]
    for address in (ALICE, ACME, CONSEIL, MANUAL[0]):
        found = _mails(smtp, address, "signature refusée", None)
        assert found and "La date de début du contrat est fausse." in smtp.text_of(found[-1])
    # Every link of both requests is dead.
    assert app.test_client().get(_link(smtp, ALICE, "Convention")).status_code == 410


def test_the_cfa_cancels_and_starts_again(app, login, validated, smtp):
    pk = validated
    _start(login, pk)
    old = _link(smtp, EMPLOYER)
    client = login(CONSEIL)
    page = client.get(f"/admin/dossier/{pk}/suivi/").get_data(as_text=True)
    response = client.post(f"/admin/dossier/{pk}/signature/annuler/",
                           data={"csrf_token": csrf_from(page), "motif": ""}, follow_redirects=True)
    assert "Indiquez pourquoi vous annulez la signature." in h.unescape(
        response.get_data(as_text=True))
    response = client.post(f"/admin/dossier/{pk}/signature/annuler/", data={
        "csrf_token": csrf_from(page), "motif": "Adresse du responsable erronée"},
        follow_redirects=True)
    assert "Signature électronique annulée" in h.unescape(response.get_data(as_text=True))
    assert app.test_client().get(old).status_code == 410
    assert _mails(smtp, EMPLOYER, "annulée", None)
    page = _start(login, pk)
    assert "Signature électronique lancée" in page
    assert _link(smtp, EMPLOYER) != old and _state(app, pk) == "economie_validee"
    # Twice at once is one request per document.
    page = _start(login, pk)
    assert "La signature électronique de ce dossier est déjà en cours." in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignatureRequest)
                                 .where(SignatureRequest.dossier_id == pk,
                                        SignatureRequest.status == "en_cours")) == 2


def test_a_minors_legal_representative_signs_third_and_the_cfa_last(app, login, validated,
                                                                    smtp):
    pk = validated
    with app.app_context():
        dossier = db.session.get(Dossier, pk)
        dossier.apprenti_date_naissance = date(2010, 3, 14)  # 16 at the contract's conclusion
        db.session.add(RepresentantLegal(dossier=dossier, nom="Perrin", prenom="Marc",
                                         lien="père", email="marc.perrin@exemple.fr"))
        db.session.commit()
    _start(login, pk)
    assert [role for role, _, _ in _signers(app, pk)] == ["employeur", "alternant",
                                                          "representant_legal", "cfa"]
    assert _mails(smtp, "marc.perrin@exemple.fr", "signature électronique", None)
    text = smtp.text_of(_mails(smtp, "marc.perrin@exemple.fr", "", "CERFA")[-1])
    assert "Vous signerez après l'employeur puis l'alternant·e" in text


def test_who_may_start_the_signature_and_when(app, login, validated, smtp):
    pk = validated
    for account in (ALICE, ACME, MANUAL[0]):
        page = _start(login, pk, who=account)
        assert "Seul le CFA envoie les documents en signature électronique." in page
    with app.app_context():
        db.session.get(Dossier, pk).state = "valide_formation"
        db.session.commit()
    page = _start(login, pk)
    assert "La signature électronique se lance une fois les éléments économiques validés" \
        in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SignatureRequest)
                                 .where(SignatureRequest.dossier_id == pk)) == 0


def test_a_signer_who_has_not_signed_is_reminded_after_three_days(app, login, validated, smtp):
    from portal.signatures.service import remind_due
    pk = validated
    _start(login, pk)
    with app.app_context():
        remind_due()
        assert _reminded(app, pk) == []
        later = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(days=3, minutes=1)
        remind_due(later)
        assert _reminded(app, pk) == [EMPLOYER, EMPLOYER]  # for each document
        remind_due(later)
        assert len(_reminded(app, pk)) == 2  # once every three days
    reminders = _mails(smtp, EMPLOYER, f"du dossier n° {pk} ", None)
    reminders = [m for m in reminders if "rappel, à signer" in m["Subject"]]
    assert len(reminders) == 2 and "attend votre signature depuis le" in \
        smtp.text_of(reminders[0])


def _reminded(app, pk) -> list[str]:
    with app.app_context():
        return [e for e, in db.session.execute(
            sa.select(Signer.email).join(SignatureEvent, SignatureEvent.signer_id == Signer.id)
            .join(SignatureRequest, SignatureRequest.id == SignatureEvent.request_id)
            .where(SignatureRequest.dossier_id == pk, SignatureEvent.kind == "rappel"))]


def test_the_workers_daily_task_sends_the_signature_reminders(app, login, validated, smtp):
    pk = validated
    _start(login, pk)
    tasks = app.extensions["sillon_tasks"]
    with time_machine.travel(datetime.now(timezone.utc) + timedelta(days=3, hours=1)):
        tasks.daily_reminders()
        smtp.worker.drain()
    assert _reminded(app, pk) == [EMPLOYER, EMPLOYER]
    ours = [m for m in _mails(smtp, EMPLOYER, "rappel, à signer", None)
            if f"du dossier n° {pk} " in m["Subject"]]
    assert len(ours) == 2


def test_a_dossier_leaving_the_signing_state_ends_its_signatures(app, login, validated, smtp):
    """Sent back for correction by its manager while being signed: the requests end, the
    links open nothing, the signers are told; a signature started again later is new."""
    pk = validated
    _start(login, pk)
    link = _link(smtp, EMPLOYER)
    _act(login(MANUAL[0]), pk, "renvoyer_correction", comment="Le salaire est à revoir.")
    assert _state(app, pk) == "a_corriger"
    with app.app_context():
        assert {r.status for r in db.session.scalars(sa.select(SignatureRequest).where(
            SignatureRequest.dossier_id == pk))} == {"annulee"}
    response = app.test_client().get(link)
    assert response.status_code == 410
    told = _mails(smtp, ALICE, "annulée : le dossier a changé", None)
    assert len(told) == 2 and "« Retour pour correction »" in smtp.text_of(told[0])


def test_the_paper_return_while_signing_ends_the_signatures(app, login, validated, smtp):
    from tests.test_dossier_lifecycle import _pdf, _upload
    pk = validated
    _start(login, pk)
    acme = login(ACME)
    _upload(acme, pk, "cerfa_signe", _pdf("CERFA signé à la main"), "cerfa.pdf")
    assert _state(app, pk) == "economie_validee"
    with app.app_context():  # the CERFA's signature ends, the convention's goes on
        assert {r.document: r.status for r in db.session.scalars(sa.select(SignatureRequest)
                .where(SignatureRequest.dossier_id == pk))} == {"cerfa": "annulee",
                                                                "convention": "en_cours"}
    _upload(acme, pk, "convention_signee", _pdf("Convention signée"), "convention.pdf")
    assert _state(app, pk) == "documents_retournes"
    with app.app_context():
        assert {r.status for r in db.session.scalars(sa.select(SignatureRequest).where(
            SignatureRequest.dossier_id == pk))} == {"annulee"}


def test_another_dossiers_link_and_code_sign_nothing(app, login, world, smtp):  # noqa: F811
    """Two dossiers sent for signature, the same employer signatory: each link opens its own
    dossier's document only, and the code received for one signs nothing on the other."""
    from tests.test_dossier_lifecycle import AUTOMATIC
    pks = []
    for training, end in ((MANUAL, date(2027, 8, 31)), (AUTOMATIC, date(2028, 7, 31))):
        pk, siret = world(training, end=end)  # one open dossier per training: two trainings
        alice, _ = _fill(login, pk, siret, end.isoformat())
        _act(alice, pk, "demander_validation")
        if _state(app, pk) == "validation_demandee":
            _act(login(training[0]), pk, "valider_formation")
        _act(login(CONSEIL), pk, "valider_economie")
        assert _state(app, pk) == "economie_validee"
        _start(login, pk)
        pks.append(pk)
    first, second = pks
    links = {pk: link_path(smtp, next(
        m for rcpts, m in reversed(smtp.messages) if EMPLOYER in rcpts
        and m["Subject"].startswith(f"[Sillon] CERFA du dossier n° {pk} ")), "/signature/")
        for pk in pks}
    assert links[first] != links[second]
    client = app.test_client()
    _, page = _form(client, links[second])
    assert f"dossier n° {second}" in page and f"dossier n° {first}" not in page
    _ask_code(client, links[first])
    code = _code(smtp, EMPLOYER)
    _ask_code(client, links[second])  # the second's own code exists, but is another
    status, page = _sign(client, links[second], code)
    assert status == 422 and "Code erroné" in page
    assert _signers(app, second)[0][2] == "a_signer" and _signers(app, first)[0][2] == \
        "a_signer"
