"""Le contrat through HTTP: the grid pre-filled with the legal minimum (RULES §1–§2), raised rates
kept, a rate below the minimum refused naming the period (nothing saved), recomputation when the
dates change, the JSON grid endpoint, roles and entry level; Vie étudiante's aids."""
import re
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Dossier, Etablissement, Formation, PeriodeRemuneration, User
from tests.support.trainings import drop_training_copies, training_copy
from tests.support.web import csrf_from

ALICE, ACME, RESP = "alice@etu.sillon.demo", "rh@acme.sillon.demo", "resp.info@sillon.demo"
GLOBEX = "rh@globex.sillon.demo"


@pytest.fixture()
def make(app):
    created, copies = [], []

    def _make(*, birth=date(2006, 1, 10), start=date(2026, 9, 1), end=date(2027, 8, 31),
              dispositif="apprentissage", niveau="complete"):
        with app.app_context():
            def uid(email):
                return db.session.execute(sa.select(User.id).where(User.email == email)
                                          ).scalar_one()
            formation = training_copy(db.session.execute(
                sa.select(Formation).join(Formation.responsables).where(User.email == RESP)
                .where(Formation.mission_requise.is_(False))).scalars().first(), copies)
            etab = db.session.execute(
                sa.select(Etablissement)
                .join(Dossier, Dossier.etablissement_id == Etablissement.id)
                .where(Dossier.employer_contact_id == uid(ACME))).scalars().first()
            row = Dossier(formation=formation, apprentice_user_id=uid(ALICE),
                          employer_contact_id=uid(ACME), etablissement=etab,
                          apprenti_email=ALICE, apprenti_nom="Contrat", apprenti_prenom="Test",
                          apprenti_date_naissance=birth, state="en_saisie", dispositif=dispositif,
                          niveau_saisie=niveau, date_debut_contrat=start, date_fin_contrat=end,
                          employeur_siret=etab.siret)
            db.session.add(row)
            db.session.commit()
            created.append(row.id)
            return row.id

    yield _make
    with app.app_context():
        for pk in created:
            db.session.delete(db.session.get(Dossier, pk))
        db.session.commit()
    drop_training_copies(app, copies)


VALID = {"type_contrat": "11", "mode_contractuel": "1", "type_derogation": "",
         "date_conclusion": "2026-08-20", "date_debut_contrat": "2026-09-01",
         "date_debut_formation_pratique": "2026-09-01", "date_fin_contrat": "2027-08-31",
         "duree_hebdo_heures": "35", "duree_hebdo_minutes": "0",
         "caisse_retraite_complementaire": "Agirc-Arrco"}


def _page(client, pk):
    response = client.get(f"/admin/dossier/{pk}/contrat/")
    return response, response.get_data(as_text=True)


def _grid(html):
    """[(dates text, minimum text, percent value, amount value)] of the rendered grid."""
    rows = re.findall(r'<tr data-row="\d+".*?</tr>', html, re.S)
    out = []
    for row in rows:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        values = re.findall(r'name="remuneration-\d+-(?:percent|monthly_amount)" value="([^"]*)"',
                            row)
        minimum = re.sub(r"<[^>]+>", "", cells[3]).replace("\xa0", " ").replace("\u202f", " ")
        out.append((re.sub(r"<[^>]+>", "", cells[0]).strip(), minimum.strip(), values[0],
                    values[1]))
    return out


def _post(client, pk, data, grid=None):
    _, html = _page(client, pk)
    rows = _grid(html) if grid is None else grid
    payload = dict(data, csrf_token=csrf_from(html))
    payload["_version"] = re.search(r'name="_version" value="(\d+)"', html).group(1)
    for i, row in enumerate(rows):
        payload[f"remuneration-{i}-percent"] = row[2]
        payload[f"remuneration-{i}-monthly_amount"] = row[3]
    return client.post(f"/admin/dossier/{pk}/contrat/", data=payload)


def _periods(app, pk):
    with app.app_context():
        return [(p.rang, p.annee_contrat, p.date_debut, p.date_fin, p.pourcentage,
                 p.montant_mensuel, p.pourcentage_minimum, p.montant_minimum)
                for p in db.session.scalars(sa.select(PeriodeRemuneration)
                                            .where(PeriodeRemuneration.dossier_id == pk)
                                            .order_by(PeriodeRemuneration.rang))]


def test_grid_is_prefilled_with_the_legal_minimum_and_saved(app, login, make):
    pk = make(birth=date(2006, 1, 10))  # 20 at the start, 21 on 10/01/2027
    client = login(ACME)
    _, html = _page(client, pk)
    rows = _grid(html)
    # The 21–25 band applies from the first day of the month after the birthday (D6222-31).
    assert [r[0] for r in rows] == ["du 01/09/2026 au 31/01/2027", "du 01/02/2027 au 31/08/2027"]
    assert rows[0][1] == "43 % du SMIC = 783,90 €"  # RULES check values from 2026-01-01
    assert rows[1][1] == "53 % du SMIC = 966,21 €"
    assert (rows[0][2], rows[0][3]) == ("43", "783,90")
    response = _post(client, pk, VALID)
    assert response.status_code == 302, response.get_data(as_text=True)[-3000:]
    periods = _periods(app, pk)
    assert [(p[4], p[5]) for p in periods] == [(Decimal("43.00"), Decimal("783.90")),
                                               (Decimal("53.00"), Decimal("966.21"))]
    assert [(p[6], p[7]) for p in periods] == [(Decimal("43.00"), Decimal("783.90")),
                                               (Decimal("53.00"), Decimal("966.21"))]
    _, html = _page(client, pk)
    assert re.search(r'data-tab="contrat"[^>]*>\s*Le contrat <span class="tab-check"', html)


def test_a_contract_of_two_years_gets_a_row_per_year_and_band(app, login, make):
    pk = make(birth=date(2007, 3, 14), end=date(2028, 8, 31))  # 19, then 21 on 14/03/2028
    _, html = _page(login(ACME), pk)
    rows = _grid(html)
    assert [r[0] for r in rows] == ["du 01/09/2026 au 31/08/2027", "du 01/09/2027 au 31/03/2028",
                                    "du 01/04/2028 au 31/08/2028"]
    assert [r[1] for r in rows] == ["43 % du SMIC = 783,90 €", "51 % du SMIC = 929,75 €",
                                    "61 % du SMIC = 1 112,05 €"]


def test_raised_rate_is_kept_and_a_rate_below_the_minimum_is_refused(app, login, make):
    pk = make()
    client = login(ACME)
    _, html = _page(client, pk)
    rows = _grid(html)
    raised = [list(r) for r in rows]
    raised[0][2], raised[0][3] = "50", ""
    assert _post(client, pk, VALID, grid=raised).status_code == 302
    periods = _periods(app, pk)
    assert periods[0][4] == Decimal("50.00") and periods[0][5] == Decimal("911.52")
    before = _periods(app, pk)
    lowered = [list(r) for r in _grid(_page(client, pk)[1])]
    lowered[1][2], lowered[1][3] = "40", "729.21"
    response = _post(client, pk, VALID, grid=lowered)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    message = re.search(r'id="field-remuneration_2".*?finding-error">([^<]+)<', html, re.S)
    assert message
    assert "Période 2" in message.group(1) and "53" in message.group(1)
    assert _periods(app, pk) == before


def test_changing_the_dates_recomputes_the_grid(app, login, make):
    pk = make()
    client = login(ACME)
    assert _post(client, pk, VALID).status_code == 302
    assert len(_periods(app, pk)) == 2
    later = dict(VALID, date_debut_contrat="2026-10-01", date_debut_formation_pratique="2026-10-01")
    response = _post(client, pk, later)
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    periods = _periods(app, pk)
    assert [(p[2], p[3]) for p in periods] == [(date(2026, 10, 1), date(2027, 1, 31)),
                                               (date(2027, 2, 1), date(2027, 8, 31))]


def test_a_change_that_brings_an_anomaly_is_refused(app, login, make):
    """Moving the start after the practical start breaks C7: this page's change caused it."""
    pk = make()
    client = login(ACME)
    assert _post(client, pk, VALID).status_code == 302
    before = _periods(app, pk)
    response = _post(client, pk, dict(VALID, date_debut_contrat="2026-10-01"))
    assert response.status_code == 422
    assert "formation pratique" in response.get_data(as_text=True)
    assert _periods(app, pk) == before


def test_professionalisation_uses_its_grid(app, login, make):
    pk = make(dispositif="professionnalisation", birth=date(2004, 5, 2),
              end=date(2027, 8, 31))  # 22 at the start: 70 % of the SMIC
    _, html = _page(login(ACME), pk)
    assert _grid(html)[0][1] == "70 % du SMIC = 1 276,12 €"


def test_grid_endpoint(app, login, make):
    pk = make()
    client = login(ACME)
    response = client.get(f"/admin/dossier/{pk}/remuneration-minimum/",
                          query_string={"start": "2026-09-01", "end": "2027-08-31"})
    assert response.status_code == 200
    body = response.get_json()
    assert [(p["percent"], p["monthly_amount"]) for p in body["periods"]] == [
        ("43", "783.90"), ("53", "966.21")]
    for bad in ({"start": "demain", "end": "2027-08-31"}, {"start": "2026-09-01", "end": ""},
                {"start": "2027-09-01", "end": "2026-08-31"},
                {"start": "2026-09-01", "end": "2027-08-31", "smc": "NaN"},
                {"start": "0001-01-01", "end": "9999-12-31"}):
        response = client.get(f"/admin/dossier/{pk}/remuneration-minimum/", query_string=bad)
        assert response.status_code == 400 and response.get_json()["message"]
    assert login(GLOBEX).get(f"/admin/dossier/{pk}/remuneration-minimum/",
                             query_string={"start": "2026-09-01", "end": "2027-08-31"}
                             ).status_code == 404


@pytest.mark.parametrize("account", [ALICE, RESP])
def test_other_roles_cannot_post_le_contrat(app, login, make, account):
    pk = make()
    client = login(account)
    response = _post(client, pk, VALID)
    assert response.status_code == 303
    assert _periods(app, pk) == []


def test_simple_entry_level_has_no_contract_tab(app, login, make):
    pk = make(niveau="simple")
    assert login(ACME).get(f"/admin/dossier/{pk}/contrat/").status_code == 404


def test_vie_etudiante_shows_the_aids_for_the_apprentice_age(app, login, make):
    adult = make(birth=date(2005, 1, 10))
    minor = make(birth=date(2010, 12, 1), end=date(2027, 8, 31))
    client = login(ALICE)
    html = client.get(f"/admin/dossier/{adult}/vie/").get_data(as_text=True)
    permis = re.search(r'<tr class="([^"]+)">\s*<td>[^<]*permis[^<]*</td>', html, re.I)
    assert permis and permis.group(1) == "aid-eligible"
    html = client.get(f"/admin/dossier/{minor}/vie/").get_data(as_text=True)
    permis = re.search(r'<tr class="([^"]+)">\s*<td>[^<]*permis[^<]*</td>', html, re.I)
    assert permis and permis.group(1).startswith("aid-not-eligible")
    assert "Contacts utiles" in html

