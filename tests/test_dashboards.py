"""Each role lands on its dashboard (SPEC §7; portal/dashboards/): every count — cards, the
charts' bars, the trainings' lines — is a link to the dossier list, which shows as many dossiers
as the count says, in the reader's own scope; the apprentice sees their dossier's card; the
gestionnaire is told what they may do."""
import html as html_lib
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

ALICE = "alice@etu.sillon.demo"
ACME = "rh@acme.sillon.demo"
GEST = "gest.info@sillon.demo"
RESP = "resp.info@sillon.demo"

# The training actions' block (issue 14) is the CFA's and the companies' staff's.
ACCOUNTS = {
    "admin@sillon.demo": {"dashboard-cfa", "dashboard-training", "dashboard-states"},
    "conseil@sillon.demo": {"dashboard-cfa", "dashboard-training", "dashboard-states"},
    RESP: {"dashboard-formation", "dashboard-states"},
    GEST: {"dashboard-formation", "dashboard-gestionnaire", "dashboard-states"},
    ACME: {"dashboard-own", "dashboard-training"},
    ALICE: {"dashboard-own"},
}
COUNT_LINK = re.compile(r'<a [^>]*href="([^"]+)"[^>]*data-count="(\d+)"')


def _user(email):
    from portal.extensions import db
    from portal.models import User
    return db.session.execute(sa.select(User).where(User.email == email)).scalar_one()


def _list_total(client, url):
    page = client.get(url)
    assert page.status_code == 200, url
    # Flask-Admin's list tab: "Liste (N)", or "Liste" alone when nothing matches.
    match = re.search(r'class="nav-link active">Liste(?: \((\d+)\))?</a>',
                      page.get_data(as_text=True))
    assert match, f"not the dossier list: {url}"
    return int(match.group(1) or 0)


def _charts(page):
    return [json.loads(html_lib.unescape(raw))
            for raw in re.findall(r'<canvas data-chart="([^"]+)"', page)]


@pytest.mark.parametrize("account,sections", ACCOUNTS.items())
def test_each_count_is_a_link_to_as_many_dossiers(login, account, sections):
    client = login(account)
    page = client.get("/admin/").get_data(as_text=True)
    assert set(re.findall(r'<section id="(dashboard-[a-z]+)"', page)) == sections
    links = [(html_lib.unescape(href), int(n)) for href, n in COUNT_LINK.findall(page)]
    for chart in _charts(page):
        for dataset in chart["datasets"]:
            assert len(dataset["links"]) == len(dataset["data"]) == len(chart["labels"])
            links += list(zip(dataset["links"], dataset["data"]))
    if "dashboard-own" in sections:  # the parties' cards: their dossier and its next action
        cards = "".join(re.findall(r'<article class="card h-100 dossier-card".*?</article>',
                                   page, re.S))
        links += [(html_lib.unescape(h), None) for h in re.findall(r'href="(/[^"]+)"', cards)]
    assert links, "no count on the dashboard"
    for href, count in set(links):
        if count is not None and href.startswith("/admin/dossier/"):
            assert _list_total(client, href) == count, href
        else:
            assert client.get(href).status_code == 200, href


def test_staff_counts_are_read_in_their_scope(app, login):
    """The states chart of a training's staff adds up to the dossiers the policy lets them
    see, fewer than the CFA's."""
    from portal import policy
    from portal.extensions import db
    from portal.models import Dossier
    totals = {}
    for email in ("admin@sillon.demo", RESP, GEST):
        with app.app_context():
            expected = db.session.execute(sa.select(sa.func.count(Dossier.id)).where(
                policy.row_filter(Dossier, _user(email)))).scalar_one()
        page = login(email).get("/admin/").get_data(as_text=True)
        states = next(c for c in _charts(page) if c["title"] == "Dossiers par état")
        assert sum(states["datasets"][0]["data"]) == expected
        assert f"{expected} dossiers dans votre périmètre" in page
        totals[email] = expected
    assert totals[RESP] < totals["admin@sillon.demo"]
    assert totals[GEST] < totals["admin@sillon.demo"]


def test_apprentice_sees_their_dossier_card(app, login):
    from portal.dossiers.deadlines import dossier_deadlines
    from portal.dossiers.workflow import STATES
    from portal.extensions import db
    from portal.models import Dossier
    from portal.policy import row_filter
    from portal.rules.formatting import day
    with app.app_context():
        dossier = db.session.scalars(sa.select(Dossier).where(
            row_filter(Dossier, _user(ALICE)))).one()
        state = STATES[dossier.state]
        contact = dossier.cfa_conseiller
        deadlines = dossier_deadlines(dossier)
        dossier_id = dossier.id
    client = login(ALICE)
    page = client.get("/admin/").get_data(as_text=True)
    assert 'id="state-counts"' not in page and "dashboard-states" not in page  # no zeros
    cards = re.findall(r'<article class="card h-100 dossier-card" data-dossier="(\d+)"(.*?)'
                       r'</article>', page, re.S)
    assert [int(i) for i, _ in cards] == [dossier_id]
    card = cards[0][1]
    assert f'<span class="badge badge-secondary dossier-state">{state.label}</span>' in card
    next_action = re.search(r'<dd class="dossier-next"><a href="([^"]+)">([^<]+)</a>', card)
    assert next_action and html_lib.unescape(next_action.group(2)) == state.next_action
    assert "alternant" in state.actors and "(à vous)" in card
    assert next_action.group(1) == f"/admin/dossier/{dossier_id}/alternant/"
    assert client.get(next_action.group(1)).status_code == 200
    assert '<dd class="dossier-who">Alternant·e, Employeur</dd>' in card
    assert contact is not None and contact.full_name in card and contact.email in card
    for deadline in deadlines:
        assert day(deadline.due) in card, deadline.label


def test_opco_deposit_shows_its_date(app, login):
    """The employer's cards: « Dépôt à l'OPCO » with the date it is due by, or the date it was
    declared sent."""
    from portal.dossiers.deadlines import CLOSED
    from portal.extensions import db
    from portal.models import Dossier
    from portal.policy import row_filter
    from portal.rules.contract import opco_deadline
    from portal.rules.formatting import day
    with app.app_context():
        rows = db.session.scalars(sa.select(Dossier).where(row_filter(Dossier, _user(ACME)))).all()
        expected = {}
        for d in rows:
            if d.envoye_opco_at is not None:
                expected[d.id] = f"Envoyé à l'OPCO le {day(d.envoye_opco_at.date())}"
            elif d.state not in CLOSED and d.date_debut_contrat:
                expected[d.id] = f"au plus tard le {day(opco_deadline(d.date_debut_contrat))}"
    assert any(t.startswith("Envoyé") for t in expected.values())
    assert any(t.startswith("au plus tard") for t in expected.values())
    page = login(ACME).get("/admin/").get_data(as_text=True)
    cards = dict(re.findall(r'data-dossier="(\d+)"(.*?)</article>', page, re.S))
    assert {int(i) for i in cards} == {d.id for d in rows}
    for dossier_id, text in expected.items():
        opco = re.search(r'<div class="dossier-opco[^"]*">(.*?)</div>', cards[str(dossier_id)])
        assert opco and text in html_lib.unescape(opco.group(1)), dossier_id


def test_gestionnaire_is_told_what_they_may_do(login):
    client = login(GEST)
    page = client.get("/admin/").get_data(as_text=True)
    block = re.search(r'<section id="dashboard-gestionnaire".*?</section>', page, re.S).group(0)
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", block))
    assert "Ce que vous pouvez faire" in text
    assert "créer un dossier" in text and "importer les alternant·es" in text
    assert ("La validation des dossiers, leur renvoi pour correction, leur annulation et la "
            "configuration de la formation reviennent au ou à la responsable") in text
    hrefs = [html_lib.unescape(h) for h in re.findall(r'href="([^"]+)"', block)]
    assert any(h.endswith("/import/") for h in hrefs)
    for href in hrefs:
        assert client.get(href).status_code == 200, href
    # A manager validates: the block is not theirs.
    assert "dashboard-gestionnaire" not in login(RESP).get("/admin/").get_data(as_text=True)


def test_formation_dashboard_charts_each_training(login):
    page = login(RESP).get("/admin/").get_data(as_text=True)
    trainings = re.findall(r'<div class="mb-2 training" data-formation="(\d+)">', page)
    assert len(trainings) == 2  # resp.info manages two trainings
    promotions = next(c for c in _charts(page) if c.get("stacked"))
    assert len(promotions["labels"]) == 2
    per_training = [sum(ds["data"][i] for ds in promotions["datasets"]) for i in range(2)]
    totals = [int(n) for n in re.findall(
        r'data-count="(\d+)">Tous les dossiers : \d+</a>', page)]
    assert per_training == totals


def test_opco_deposits_by_week_match_the_list(app, login):
    """The weeks ahead, seen from a day before the demo's contract starts (they are all late
    today): each week's count is the list its bar links to, and a dossier due that week is in
    it."""
    from portal.dashboards.queues import opco_deposits_by_week
    from portal.dossiers.deadlines import CLOSED, OPCO_SENT
    from portal.extensions import db
    from portal.models import Dossier
    from portal.rules.contract import opco_deadline
    with app.test_request_context():
        admin = _user("admin@sillon.demo")
        dossier = db.session.scalars(sa.select(Dossier).where(
            Dossier.state.notin_(CLOSED + OPCO_SENT), Dossier.date_debut_contrat.isnot(None))
            .order_by(Dossier.id)).first()
        start = dossier.date_debut_contrat
        weeks = opco_deposits_by_week(admin, today=start - timedelta(days=10))
        due = opco_deadline(start)
        bucket = next(w for w in weeks[1:] if _in_week(w["label"], due))
        dossier_id = dossier.id
    assert bucket["count"] >= 1
    client = login("admin@sillon.demo")
    for week in weeks[1:]:
        assert _list_total(client, week["url"]) == week["count"], week
    listed = client.get(bucket["url"] + "&page_size=100").get_data(as_text=True)
    assert f'/admin/dossier/{dossier_id}/' in listed


def _in_week(label, day):
    from datetime import datetime
    monday = datetime.strptime(label.rsplit(" ", 1)[1], "%d/%m/%Y").date()
    return monday <= day <= monday + timedelta(days=6)
