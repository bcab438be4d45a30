"""Each role lands on its dashboard; every count links to the filtered list showing as many
dossiers as the count says."""
import html as html_lib
import re

import pytest

# The training actions' block (issue 14) is the CFA's and the companies' staff's.
ACCOUNTS = {
    "admin@sillon.demo": {"dashboard-cfa", "dashboard-training"},
    "conseil@sillon.demo": {"dashboard-cfa", "dashboard-training"},
    "resp.info@sillon.demo": {"dashboard-formation"},
    "gest.info@sillon.demo": {"dashboard-formation"},
    "rh@acme.sillon.demo": {"dashboard-own", "dashboard-training"},
    "alice@etu.sillon.demo": {"dashboard-own"},
}


def _list_total(client, url):
    page = client.get(url)
    assert page.status_code == 200, url
    match = re.search(r"Liste \((\d+)\)", page.get_data(as_text=True))
    return int(match.group(1)) if match else 0


@pytest.mark.parametrize("account,sections", ACCOUNTS.items())
def test_dashboard_sections_and_links(login, account, sections):
    client = login(account)
    page = client.get("/admin/").get_data(as_text=True)
    shown = set(re.findall(r'<section id="(dashboard-[a-z]+)"', page)) - {"dashboard-states"}
    assert shown == sections
    links = re.findall(r'<a class="[^"]*card[^"]*" href="([^"]+)"[^>]*>\s*<span class="h4 mb-0">'
                       r'(\d+)</span>', page)
    links += [(href, count) for href, count in re.findall(
        r'<a class="mr-2" href="([^"]+)">[^<:]+ : (\d+)</a>', page)]
    links += re.findall(r'<td class="text-right">\s*<a href="([^"]+)">(\d+)</a>', page)
    assert links, "no count on the dashboard"
    for href, count in links:
        assert _list_total(client, html_lib.unescape(href)) == int(count), href


def test_apprentice_sees_state_next_action_and_who_acts(login):
    page = login("alice@etu.sillon.demo").get("/admin/").get_data(as_text=True)
    rows = re.findall(r'<tr data-dossier="(\d+)">(.*?)</tr>', page, re.S)
    assert len(rows) == 1
    assert "badge" in rows[0][1] and "<td>" in rows[0][1]


def test_formation_dashboard_has_a_progress_bar_per_training(login):
    page = login("resp.info@sillon.demo").get("/admin/").get_data(as_text=True)
    trainings = re.findall(r'<div class="mb-3 training" data-formation="(\d+)">', page)
    assert len(trainings) == 2  # resp.info manages two trainings
    assert page.count('class="sillon-bar my-1"') == 2


def test_employer_sees_all_their_apprentices(app, login):
    import sqlalchemy as sa

    from portal import policy
    from portal.extensions import db
    from portal.models import Dossier, User
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == "rh@acme.sillon.demo")
                                  ).scalar_one()
        expected = db.session.execute(sa.select(sa.func.count(Dossier.id)).where(
            policy.row_filter(Dossier, user))).scalar_one()
    page = login("rh@acme.sillon.demo").get("/admin/").get_data(as_text=True)
    assert len(re.findall(r'<tr data-dossier="\d+">', page)) == expected
