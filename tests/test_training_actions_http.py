"""The training actions through HTTP (issue 14, SPEC §6, seed 003): a beneficiary requests a
session from the catalogue → the référent accepts from the request's page → the CFA retains
on the session's selection screen; a refusal's reason next to its field (422); a cancellation
moving the waiting list up; a step from an older page (409); who sees which request (404 like a
missing row, 403 for those with no part); CSRF; the home page's block. Every POST is checked in
the database."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import (ActionFormation, Inscription, InscriptionHistory, OutboxEmail,
                           SessionFormation, Structure, User)
from portal.training_actions import service
from tests.support.training_world import monday_in_a_fortnight
from tests.support.web import csrf
from tests.test_training_actions_service import ALICE, CFA, REFERENT, RH_GLOBEX, world  # noqa

TRAINER = "resp.info@sillon.demo"
DETAILS = "/admin/inscription/details/?id={}"
STEP = "/admin/inscription/{}/etape/{}/"


@pytest.fixture()
def live(app, world):  # noqa: F811
    """The world's session on the Monday and Tuesday two to three weeks from today (the HTTP
    path uses today's date; a session's attendance is taken on weekdays only)."""
    today = date.today()
    monday = monday_in_a_fortnight(today)
    with app.app_context():
        session = db.session.get(SessionFormation, world["session"])
        session.date_debut, session.date_fin = monday, monday + timedelta(1)
        session.date_limite_inscription = today + timedelta(7)
        db.session.commit()
    return {**world, "start": monday}


def _text(response) -> str:
    return response.get_data(as_text=True).replace("&#39;", "'").replace("\xa0", " ")


def _post(client, url, **form):
    return client.post(url, data=dict(form, csrf_token=csrf(client)))


def _version(page: str, step: str) -> str:
    form = re.search(r'data-step="%s".*?</form>' % step, page, re.S).group(0)
    return re.search(r'name="_version" value="(\d+)"', form).group(1)


def _row(app, pk):
    with app.app_context():
        row = db.session.get(Inscription, pk)
        history = db.session.execute(
            sa.select(InscriptionHistory.from_state, InscriptionHistory.to_state,
                      InscriptionHistory.comment, User.email)
            .outerjoin(User, User.id == InscriptionHistory.user_id)
            .where(InscriptionHistory.inscription_id == pk)
            .order_by(InscriptionHistory.id)).all()
        return {"state": row.state, "version": row.version, "rank": row.waiting_rank,
                "employer_comment": row.employer_comment, "cfa_comment": row.cfa_comment,
                "history": [tuple(h) for h in history]}


def _requests(app, session_id) -> dict[str, int]:
    with app.app_context():
        return dict(db.session.execute(
            sa.select(User.email, Inscription.id).join(User, User.id == Inscription.user_id)
            .where(Inscription.session_id == session_id)).all())


def _ask(login, scene, who, motivation="Accueillir mon premier apprenti."):
    client = login(scene[who])
    response = _post(client, f"/admin/action-formation/session/{scene['session']}/demande/",
                     structure_id=str(scene["structure"]), motivation=motivation)
    return client, response


def _made(app, login, scene, who):
    """A request made through HTTP, accepted by nobody yet: its id."""
    _, response = _ask(login, scene, who)
    assert response.status_code == 303, _text(response)
    return _requests(app, scene["session"])[scene[who]]


def _by_service(app, scene, code, pk, email, comment=None):
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        service.run(code, db.session.get(Inscription, pk), by=user, comment=comment)


# --- the full cycle ---------------------------------------------------------------------------

def test_request_accept_retain_through_the_screens(app, login, live):
    scene = live
    benef = login(scene["benef"])
    action_page = _text(benef.get(f"/admin/action-formation/details/?id={scene['action']}"))
    assert "Demander une inscription" in action_page
    assert "3 places restantes sur 3" in action_page
    assert scene["start"].strftime("%d/%m/%Y") in action_page

    _, response = _ask(login, scene, "benef")
    assert response.status_code == 303
    pk = _requests(app, scene["session"])[scene["benef"]]
    assert response.headers["Location"].endswith(DETAILS.format(pk))
    assert _row(app, pk)["history"] == [(None, "demandee", "Demande d'inscription",
                                         scene["benef"])]
    with app.app_context():
        told = ",".join(db.session.execute(sa.select(OutboxEmail.recipients).where(
            OutboxEmail.subject.like("%demande à décider%"),
            OutboxEmail.body_text.like(f"%/admin/inscription/details/?id={pk}%"))).scalars())
    assert REFERENT in told and scene["benef"] not in told

    referent = login(REFERENT)
    page = _text(referent.get(DETAILS.format(pk)))
    assert "Accueillir mon premier apprenti." in page
    assert 'data-step="accepter"' in page and 'data-step="refuser"' in page
    assert 'data-step="retenir"' not in page  # the CFA's step
    response = _post(referent, STEP.format(pk, "accepter"), _version=_version(page, "accepter"),
                     comment="Bonne idée.")
    assert response.status_code == 303
    row = _row(app, pk)
    assert row["state"] == "acceptee_employeur" and row["employer_comment"] == "Bonne idée."
    assert row["history"][-1] == ("demandee", "acceptee_employeur", "Bonne idée.", REFERENT)

    cfa = login(CFA)
    selection = f"/admin/session-formation/{scene['session']}/selection/"
    page = _text(cfa.get(selection))
    block = re.search(r'id="group-acceptee_employeur".*?</section>', page, re.S).group(0)
    assert "Accueillir mon premier apprenti." in block and 'data-step="retenir"' in block
    assert "0 personne retenue sur 3 places" in page
    response = _post(cfa, STEP.format(pk, "retenir"), _version=_version(block, "retenir"),
                     retour="selection")
    assert response.status_code == 303 and response.headers["Location"].endswith(selection)
    row = _row(app, pk)
    assert row["state"] == "retenue"
    assert [(h[1], h[3]) for h in row["history"]] == [
        ("demandee", scene["benef"]), ("acceptee_employeur", REFERENT), ("retenue", CFA)]
    page = _text(cfa.get(selection))
    assert "1 personne retenue sur 3 places (2 places restantes sur 3)" in page
    assert "2 places restantes sur 3" in _text(benef.get("/admin/action-formation/"))
    home = _text(benef.get("/admin/"))
    assert 'id="dashboard-training"' in home and 'data-state="retenue"' in home
    # The request page shows the whole history to the beneficiary.
    page = _text(benef.get(DETAILS.format(pk)))
    assert page.count("<tr data-to=") == 3 and "Bonne idée." in page


def test_a_refusal_needs_its_reason_next_to_the_field(app, login, live):
    scene = live
    pk = _made(app, login, scene, "benef")
    referent = login(REFERENT)
    page = _text(referent.get(DETAILS.format(pk)))
    response = _post(referent, STEP.format(pk, "refuser"), _version=_version(page, "refuser"),
                     comment="  ")
    assert response.status_code == 422
    error = re.search(rf'id="err-{pk}-refuser-comment"[^>]*>([^<]+)<', _text(response))
    assert error and error.group(1) == "Motif du refus : ce champ est obligatoire."
    assert _row(app, pk)["state"] == "demandee" and len(_row(app, pk)["history"]) == 1
    response = _post(referent, STEP.format(pk, "refuser"), _version=_version(page, "refuser"),
                     comment="Pas cette année : période chargée.")
    assert response.status_code == 303
    row = _row(app, pk)
    assert row["state"] == "refusee_employeur"
    assert row["employer_comment"] == "Pas cette année : période chargée."
    page = _text(login(scene["benef"]).get(DETAILS.format(pk)))
    assert "Refusée par l'employeur" in page and "Pas cette année : période chargée." in page
    assert "step-form" not in page  # nothing left to do on a refused request


def test_request_errors_stay_next_to_their_field_and_nothing_is_written(app, login, live):
    scene = live
    client, response = _ask(login, scene, "benef", motivation="   ")
    assert response.status_code == 422
    key = f"session-{scene['session']}"
    assert re.search(rf'id="err-{key}-motivation"[^>]*>La motivation est obligatoire\.<',
                     _text(response))
    with app.app_context():
        globex = db.session.execute(sa.select(Structure.id).join(
            User, User.id == Structure.referent_id).where(User.email == RH_GLOBEX)).scalar()
    response = _post(client, f"/admin/action-formation/session/{scene['session']}/demande/",
                     structure_id=str(globex), motivation="Une autre structure.")
    assert response.status_code == 422
    assert re.search(rf'id="err-{key}-structure_id"[^>]*>Choisissez', _text(response))
    assert _requests(app, scene["session"]) == {}
    # A member without the beneficiary right is offered no form; posting anyway is refused.
    plain = login(scene["plain"])
    page = _text(plain.get(f"/admin/action-formation/details/?id={scene['action']}"))
    assert "Demander une inscription" not in page
    assert "demandez le droit « bénéficiaire des actions de formation »" in page
    response = _post(plain, f"/admin/action-formation/session/{scene['session']}/demande/",
                     structure_id=str(scene["structure"]), motivation="Moi aussi.")
    assert response.status_code == 422 and "pas le droit de demander" in _text(response)
    assert _requests(app, scene["session"]) == {}
    # One request per person and session: the second is a conflict.
    assert _made(app, login, scene, "benef")
    _, response = _ask(login, scene, "benef")
    assert response.status_code == 409 and "déjà demandé" in _text(response)
    assert len(_requests(app, scene["session"])) == 1


def test_quota_waiting_list_and_a_cancellation_moving_it_up(app, login, live):
    """Capacity 3, 2 people of one structure at most: ACME's third waits; the first cancels
    from their request's page; the waiting one is retained."""
    scene = live
    ids = [_made(app, login, scene, who) for who in ("benef", "benef2", "benef3")]
    for pk in ids:
        _by_service(app, scene, "accepter", pk, REFERENT)
    cfa = login(CFA)
    selection = f"/admin/session-formation/{scene['session']}/selection/"
    for pk in ids[:2]:
        page = _text(cfa.get(selection))
        row = re.search(rf'<tr data-inscription="{pk}">.*?</tr>', page, re.S).group(0)
        assert _post(cfa, STEP.format(pk, "retenir"), _version=_version(row, "retenir"),
                     retour="selection").status_code == 303
    page = _text(cfa.get(selection))
    third = re.search(rf'<tr data-inscription="{ids[2]}">.*?</tr>', page, re.S).group(0)
    assert "2 personnes de cette structure" in third  # "retenir" shown, not offered
    assert 'data-step="retenir"' in third and "disabled" in third
    version = re.search(r'name="_version" value="(\d+)"', third).group(1)
    response = _post(cfa, STEP.format(ids[2], "retenir"), _version=version, retour="selection")
    assert response.status_code == 422
    assert "2 personnes de cette structure" in _text(response)
    assert _row(app, ids[2])["state"] == "acceptee_employeur"
    response = _post(cfa, STEP.format(ids[2], "mettre_en_attente"), _version=version,
                     retour="selection")
    assert response.status_code == 303
    assert (_row(app, ids[2])["state"], _row(app, ids[2])["rank"]) == ("liste_attente", 1)
    assert re.search(r'id="group-liste_attente".*?data-inscription="%d"' % ids[2],
                     _text(cfa.get(selection)), re.S)

    benef = login(scene["benef"])
    page = _text(benef.get(DETAILS.format(ids[0])))
    response = _post(benef, STEP.format(ids[0], "annuler"), _version=_version(page, "annuler"),
                     comment="Empêchement.")
    assert response.status_code == 303
    assert _row(app, ids[0])["state"] == "annulee"
    assert _row(app, ids[0])["cfa_comment"] == "Empêchement."
    moved = _row(app, ids[2])
    assert moved["state"] == "retenue" and moved["rank"] is None
    # Sillon's own step: the person who cancelled is not named on the promoted request.
    assert moved["history"][-1][1:] == ("retenue", "Place libérée par une annulation.", None)


def test_a_step_from_an_older_page_is_a_conflict(app, login, live):
    scene = live
    pk = _made(app, login, scene, "benef")
    referent = login(REFERENT)
    page = _text(referent.get(DETAILS.format(pk)))
    _by_service(app, scene, "accepter", pk, scene["decider"])
    response = _post(referent, STEP.format(pk, "refuser"), _version=_version(page, "refuser"),
                     comment="Non.")
    assert response.status_code == 409
    assert "Revenir à la demande" in _text(response)
    row = _row(app, pk)
    assert row["state"] == "acceptee_employeur" and len(row["history"]) == 2
    # Two organisers: one puts the request on the waiting list while the other's page still
    # shows it accepted; the other's « Retenir » (allowed from both states) is refused.
    cfa = login(CFA)
    selection = f"/admin/session-formation/{scene['session']}/selection/"
    page = _text(cfa.get(selection))
    old = re.search(rf'<tr data-inscription="{pk}">.*?</tr>', page, re.S).group(0)
    _by_service(app, scene, "mettre_en_attente", pk, "admin@sillon.demo")
    response = _post(cfa, STEP.format(pk, "retenir"), _version=_version(old, "retenir"),
                     retour="selection")
    assert response.status_code == 409 and "Revenir à la sélection" in _text(response)
    assert _row(app, pk)["state"] == "liste_attente" and len(_row(app, pk)["history"]) == 3


# --- who sees what ----------------------------------------------------------------------------

def test_scope_of_the_requests(app, login, live):
    scene = live
    acme = _made(app, login, scene, "benef")
    with app.app_context():
        globex_user = db.session.execute(sa.select(User).where(User.email == RH_GLOBEX)
                                         ).scalar_one()
        structure = db.session.execute(sa.select(Structure).where(
            Structure.referent_id == globex_user.id)).scalars().first()
        session = db.session.get(SessionFormation, scene["session"])
        globex = service.request(session, by=globex_user, structure=structure,
                                 motivation="Former nos tuteurs.").id
    other = login(RH_GLOBEX)
    assert other.get(DETAILS.format(acme)).status_code == 404
    response = _post(other, STEP.format(acme, "refuser"), comment="Non.", _version="1")
    assert response.status_code == 404 and _row(app, acme)["state"] == "demandee"
    assert other.get(DETAILS.format(999_999_999)).status_code == 404

    def listed(client):
        page = _text(client.get("/admin/inscription/", query_string={"page_size": 100}))
        return {int(i) for i in re.findall(r"details/\?id=(\d+)", page)}
    assert acme in listed(login(REFERENT)) and globex not in listed(login(REFERENT))
    assert globex in listed(other) and acme not in listed(other)
    assert {acme, globex} <= listed(login(CFA))
    assert listed(login(scene["benef2"])) == set()  # a beneficiary sees their own only

    for email in (ALICE, TRAINER):
        client = login(email)
        for url in ("/admin/inscription/", DETAILS.format(acme), "/admin/action-formation/",
                    f"/admin/session-formation/{scene['session']}/selection/"):
            assert client.get(url).status_code == 403, (email, url)
        assert _post(client, STEP.format(acme, "accepter")).status_code == 403
    # The selection screen is the organiser's: a référent may see the session, not select.
    assert login(REFERENT).get(
        f"/admin/session-formation/{scene['session']}/selection/").status_code == 403
    # The beneficiary may not decide on their own request.
    benef = login(scene["benef"])
    page = _text(benef.get(DETAILS.format(acme)))
    assert 'data-step="accepter"' not in page and 'data-step="annuler"' in page
    response = _post(benef, STEP.format(acme, "accepter"), _version="1")
    assert response.status_code == 422 and "pas le droit" in _text(response)
    assert _row(app, acme)["state"] == "demandee"


def test_a_post_without_its_csrf_token_writes_nothing(app, login, live):
    scene = live
    benef = login(scene["benef"])
    response = benef.post(f"/admin/action-formation/session/{scene['session']}/demande/",
                          data={"structure_id": str(scene["structure"]), "motivation": "x"})
    assert response.status_code == 400
    assert _requests(app, scene["session"]) == {}
    pk = _made(app, login, scene, "benef")
    response = login(REFERENT).post(STEP.format(pk, "accepter"), data={"_version": "1"})
    assert response.status_code == 400
    assert _row(app, pk)["state"] == "demandee" and len(_row(app, pk)["history"]) == 1


# --- lists, exports, dashboard, sessions -----------------------------------------------------

def test_filters_export_and_the_home_page(app, login, live):
    scene = live
    pk = _made(app, login, scene, "benef")
    with app.app_context():  # another structure's request, to decide by its own référent
        globex_user = db.session.execute(sa.select(User).where(User.email == RH_GLOBEX)
                                         ).scalar_one()
        globex = db.session.execute(sa.select(Structure).where(
            Structure.referent_id == globex_user.id)).scalars().first()
        globex_name = globex.raison_sociale
        service.request(db.session.get(SessionFormation, scene["session"]), by=globex_user,
                        structure=globex, motivation="Former nos tuteurs.")
    referent = login(REFERENT)
    assert globex_name not in _text(referent.get("/admin/inscription/"))  # filter options
    assert globex_name in _text(login(CFA).get("/admin/inscription/"))
    home = _text(referent.get("/admin/"))
    block = re.search(r'id="training-to-decide" href="([^"]+)".*?<span class="h4 mb-0">(\d+)',
                      home, re.S)
    with app.app_context():
        waiting = db.session.execute(sa.select(sa.func.count(Inscription.id)).where(
            Inscription.state == "demandee", Inscription.structure_id == scene["structure"])
        ).scalar_one()
    assert int(block.group(2)) == waiting >= 1
    listed = _text(referent.get(block.group(1).replace("&amp;", "&")))
    assert f"details/?id={pk}" in listed
    assert f"details/?id={pk}" not in _text(referent.get(
        "/admin/inscription/", query_string={"flt0_0": "retenue"}))

    _by_service(app, scene, "accepter", pk, REFERENT)
    cfa = login(CFA)
    home = _text(cfa.get("/admin/"))
    assert f"/admin/session-formation/{scene['session']}/selection/" in home
    export = cfa.get("/admin/inscription/export/csv/",
                     query_string={"flt0_2": str(scene["session"])})
    assert export.status_code == 200
    body = export.get_data(as_text=True)
    assert "Personne" in body and scene["benef"] in body and "Acceptée par l'employeur" in body
    xlsx = cfa.get("/admin/inscription/export/xlsx/")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"  # a zip: the Excel workbook
    denied = referent.get("/admin/inscription/export/csv/")  # the CFA's export only
    assert denied.status_code == 302 and scene["benef"] not in denied.get_data(as_text=True)
    assert "Export" not in _text(referent.get("/admin/inscription/"))


def test_the_session_form_checks_its_dates_and_capacity(app, login, live):
    scene = live
    pk = _made(app, login, scene, "benef")
    _by_service(app, scene, "accepter", pk, REFERENT)
    _by_service(app, scene, "retenir", pk, CFA)
    cfa = login(CFA)
    url = f"/admin/session-formation/edit/?id={scene['session']}"
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        form = {"action": str(session.action_id), "date_debut": session.date_debut.isoformat(),
                "date_fin": (session.date_debut - timedelta(1)).isoformat(),
                "heure_debut": "09:00", "heure_fin": "17:00", "lieu": "Sète",
                "capacite": "0", "date_limite_inscription": session.date_debut.isoformat(),
                "organisateur": "__None", "version": str(session.version)}
        before = (session.date_fin, session.capacite, session.lieu)
    response = _post(cfa, url, **form)
    page = _text(response)
    assert response.status_code == 200
    assert "La fin de la session ne peut pas précéder son début." in page
    assert "Entre 1 et 1000 places." in page
    response = _post(cfa, url, **dict(form, date_fin=form["date_debut"], capacite="1",
                                      heure_fin="08:00"))
    assert "L'heure de fin doit suivre l'heure de début." in _text(response)
    saturday = session.date_debut - timedelta(2)  # the weekend before: no half-day
    response = _post(cfa, url, **dict(form, date_debut=saturday.isoformat(), capacite="1",
                                      date_fin=(saturday + timedelta(1)).isoformat(),
                                      date_limite_inscription=saturday.isoformat()))
    assert response.status_code == 200
    assert re.search(r'name="date_debut".{0,400}?Cette session ne compte aucune demi-journée '
                     r'du lundi au vendredi', _text(response), re.S)
    typo = session.date_debut + timedelta(days=180 * 365)  # 2207 typed for 2027
    for end in (typo, date.max):
        response = _post(cfa, url, **dict(form, date_fin=end.isoformat(), capacite="1"))
        assert response.status_code == 200
        assert re.search(r'name="date_fin".{0,400}?Une session dure au plus un an',
                         _text(response), re.S)
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        assert (session.date_fin, session.capacite, session.lieu) == before
    employer = login(REFERENT)
    assert employer.get(url).status_code in (302, 403)
    with app.app_context():
        assert db.session.get(ActionFormation, scene["action"]).active


def test_capacity_below_the_retained_and_a_late_deadline_are_refused(app, login, live):
    scene = live
    ids = [_made(app, login, scene, who) for who in ("benef", "benef2")]
    for pk in ids:
        _by_service(app, scene, "accepter", pk, REFERENT)
        _by_service(app, scene, "retenir", pk, CFA)
    cfa = login(CFA)
    url = f"/admin/session-formation/edit/?id={scene['session']}"
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        start, version = session.date_debut, session.version
        form = {"action": str(session.action_id), "date_debut": start.isoformat(),
                "date_fin": session.date_fin.isoformat(), "heure_debut": "09:00",
                "heure_fin": "17:00", "lieu": "Montpellier", "capacite": "1",
                "date_limite_inscription": (start + timedelta(1)).isoformat(),
                "organisateur": "__None"}
    page = _text(_post(cfa, url, **form))
    assert "2 personnes sont déjà retenues : la capacité ne peut pas être inférieure." in page
    assert "au plus tard le premier jour de la session" in page
    with app.app_context():
        assert db.session.get(SessionFormation, scene["session"]).capacite == 3
    # The same form, corrected, is saved.
    response = _post(cfa, url, **dict(form, capacite="4", lieu="Sète",
                                      date_limite_inscription=start.isoformat()))
    assert response.status_code == 302
    with app.app_context():
        session = db.session.get(SessionFormation, scene["session"])
        assert (session.capacite, session.lieu, session.version) == (4, "Sète", version + 1)
    assert "2 personnes retenues sur 4 places (2 places restantes sur 4)" in _text(
        cfa.get(f"/admin/session-formation/{scene['session']}/selection/"))


def test_the_catalogue_is_the_cfa_s_to_write_and_the_employers_to_read(app, login, live):
    scene = live
    cfa = login(CFA)
    with app.app_context():
        from portal.models import Cfa
        cfa_id = db.session.scalars(sa.select(Cfa.id)).first()
    title = f"Accueillir un apprenti {scene['session']}-{scene['action']}"
    response = _post(cfa, "/admin/action-formation/new/", cfa=str(cfa_id), intitule=title,
                     public_vise="Maîtres d'apprentissage", duree_heures="7", prix="120.50",
                     active="y")
    assert response.status_code == 302
    with app.app_context():
        made = db.session.execute(sa.select(ActionFormation).where(
            ActionFormation.intitule == title)).scalar_one()
        made_id = made.id
    try:
        link = f"/admin/action-formation/details/?id={made_id}"
        page = _text(cfa.get("/admin/action-formation/", query_string={"search": title}))
        assert link in page and "120,50 €" in page and "Aucune session à venir" in page
        employer = login(scene["benef"])
        assert link in _text(employer.get("/admin/action-formation/",
                                          query_string={"search": title}))
        response = _post(employer, "/admin/action-formation/new/", cfa=str(cfa_id),
                         intitule=title + " bis")
        assert response.status_code in (302, 403)
        response = _post(employer, f"/admin/action-formation/edit/?id={made_id}",
                         cfa=str(cfa_id), intitule="Changé par l'employeur")
        assert response.status_code in (302, 403)
        with app.app_context():
            assert db.session.get(ActionFormation, made_id).intitule == title
            assert db.session.execute(sa.select(sa.func.count(ActionFormation.id)).where(
                ActionFormation.intitule == title + " bis")).scalar_one() == 0
            db.session.get(ActionFormation, made_id).active = False
            db.session.commit()
        # An action no longer offered is gone for the employers, like a missing one.
        assert employer.get(f"/admin/action-formation/details/?id={made_id}").status_code == 404
        assert link not in _text(employer.get("/admin/action-formation/",
                                              query_string={"search": title}))
        assert cfa.get(f"/admin/action-formation/details/?id={made_id}").status_code == 200
    finally:
        with app.app_context():
            db.session.delete(db.session.get(ActionFormation, made_id))
            db.session.commit()


def test_doors_with_ids_no_row_has_and_the_generic_edit_page(app, login, live):
    scene = live
    pk = _made(app, login, scene, "benef")
    cfa = login(CFA)
    assert cfa.get(f"/admin/inscription/edit/?id={pk}").status_code == 404
    for bad in ("0", str(2**31), str(2**63)):
        assert cfa.get(f"/admin/session-formation/{bad}/selection/").status_code == 404
        assert _post(cfa, STEP.format(bad, "retenir")).status_code == 404
        assert _post(cfa, f"/admin/action-formation/session/{bad}/demande/").status_code == 404
        assert cfa.get(DETAILS.format(bad)).status_code == 404
    assert _post(cfa, STEP.format(pk, "promouvoir")).status_code == 404  # automatic row
    assert _post(cfa, STEP.format(pk, "inconnue")).status_code == 404
    assert _row(app, pk)["state"] == "demandee"
    # Only CFA staff come back to the selection screen after a refused step.
    response = _post(login(REFERENT), STEP.format(pk, "refuser"), comment="",
                     _version=str(_row(app, pk)["version"]), retour="selection")
    assert response.status_code == 422
    page = _text(response)
    assert "Sélection des participants" not in page and f"Demande d'inscription n° {pk}" in page


def test_the_pages_have_no_inline_script():
    from pathlib import Path
    folder = Path(__file__).resolve().parent.parent / "templates" / "admin" / "training"
    for template in folder.glob("*.html"):
        source = template.read_text()
        assert "<script" not in source and not re.search(r"\son\w+\s*=", source), template


@pytest.mark.parametrize("capacity, retained, expected", [
    (12, 9, "3 places restantes sur 12"), (12, 11, "1 place restante sur 12"),
    (12, 12, "complète"), (12, 13, "complète"), (1, 0, "1 place restante sur 1")])
def test_places_left(capacity, retained, expected):
    from portal.training_actions.overview import places_label
    assert places_label(capacity, retained) == expected


def test_durations_hours_and_the_session_form_checks():
    from datetime import time
    from decimal import Decimal

    from portal.rules.training_actions import session_problems
    from portal.training_actions.overview import duration_label, hours_label
    assert [duration_label(v) for v in (Decimal("14.00"), Decimal("3.5"), None)] == \
        ["14 h", "3,5 h", ""]
    assert hours_label(time(9), time(17, 30)) == "de 9 h 00 à 17 h 30"
    assert hours_label(None, None) == ""
    day1, day2 = date(2027, 3, 15), date(2027, 3, 16)
    ok = dict(start=day1, end=day2, start_time=time(9), end_time=time(17), deadline=day1,
              capacity=12, retained=12)
    assert session_problems(**ok) == {}
    assert set(session_problems(**dict(ok, end=day1 - timedelta(1)))) == {"date_fin"}
    assert set(session_problems(**dict(ok, deadline=day2))) == {"date_limite_inscription"}
    assert set(session_problems(**dict(ok, end=day1, end_time=time(9)))) == {"heure_fin"}
    assert session_problems(**dict(ok, end_time=time(8))) == {}  # two days: 8 h the next day
    assert set(session_problems(**dict(ok, capacity=11))) == {"capacite"}
    saturday, sunday = day1 - timedelta(2), day1 - timedelta(1)
    weekend = dict(ok, start=saturday, end=sunday, deadline=saturday)
    assert session_problems(**weekend) == {"date_debut": (
        "Cette session ne compte aucune demi-journée du lundi au vendredi : les présences ne "
        "pourraient pas être relevées.")}
    assert session_problems(**dict(weekend, end=day1)) == {}  # Saturday to Monday: Monday
    midday = dict(ok, end=day1, start_time=time(12), end_time=time(13))  # no half-day either
    assert set(session_problems(**midday)) == {"date_debut"}
    a_year_on = dict(ok, end=day1 + timedelta(366))
    assert session_problems(**a_year_on) == {}
    assert session_problems(**dict(a_year_on, end=day1 + timedelta(367))) == {"date_fin": (
        "Une session dure au plus un an : vérifiez l'année de la date de fin.")}
    assert set(session_problems(**dict(ok, end=date.max))) == {"date_fin"}
    last = dict(ok, start=date.max, end=date.max, deadline=None)  # a Friday: no overflow
    assert session_problems(**last) == {}
