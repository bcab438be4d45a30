"""The dossier list (issue 15 §3) through HTTP, as each role: French dates, the search across
apprentice, employer, SIRET and OPCO number, every filter, French page sizes, CSV (';', BOM) and
XLSX exports, and the pencil / « Créer » opening Sillon's own screens — all within the person's
scope. Expectations are computed here from the database (the policy's scope, then plain Python
over the rows), never from the list's own SQL (portal/dossiers/listing.py)."""
from __future__ import annotations

import csv
import html
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal import policy
from portal.dossiers.deadlines import dossier_deadlines
from portal.dossiers.workflow import STATES
from portal.extensions import db
from portal.models import Dossier, PriseEnCharge, User
from portal.rules.search import fold

ROLES = {
    "cfa_admin": "admin@sillon.demo",
    "conseil": "conseil@sillon.demo",
    "manager": "resp.info@sillon.demo",
    "employer": "rh@acme.sillon.demo",
    "apprentice": "alice@etu.sillon.demo",
}
LIST = "/admin/dossier/"
PARIS = ZoneInfo("Europe/Paris")
# Filter URL arguments: flt<position>_<index of DossierView.column_filters>.
FLT = {"state": 0, "formation": 1, "start": 3, "late": 5, "promotion": 6, "employer": 7,
       "employer_siren": 7, "advisor": 8, "actor": 9}
EXPORT_HEADER = ["N°", "Alternant·e", "Formation", "Promotion", "Employeur",
                 "SIRET de l'établissement employeur", "État", "Qui doit agir", "Dispositif",
                 "E-mail de l'alternant·e", "Contact au CFA", "Début du contrat",
                 "Fin du contrat", "Créé le", "Modifié le"]

pytestmark = pytest.mark.parametrize("role", list(ROLES))


@dataclass
class Row:
    id: int
    state: str
    nom: str
    prenom: str
    email: str
    siret: str
    formation_id: int
    year: int
    etablissement_id: int | None
    denomination: str
    etab_siret: str
    raison_sociale: str
    advisor_id: int | None
    opco: str | None      # the OPCO number, when the person may see the prise en charge
    late_opco: bool
    updated_at: datetime
    debut: date | None


_CACHE: dict[str, dict[int, Row]] = {}


@pytest.fixture(scope="module", autouse=True)
def _fresh_rows():
    """The rows are read once per module (no test here writes a dossier)."""
    _CACHE.clear()
    yield
    _CACHE.clear()


def _rows(app, email) -> dict[int, Row]:
    if email not in _CACHE:
        _CACHE[email] = _read_rows(app, email)
    return _CACHE[email]


def _read_rows(app, email) -> dict[int, Row]:
    """The dossiers the person may see (portal.policy), as plain values."""
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == email)).scalar_one()
        visible_pec = set(db.session.scalars(sa.select(PriseEnCharge.id).where(
            policy.row_filter(PriseEnCharge, user))))
        out = {}
        for d in db.session.scalars(sa.select(Dossier).where(policy.row_filter(Dossier, user))):
            etab, pec = d.etablissement, d.prise_en_charge
            out[d.id] = Row(
                d.id, d.state, d.apprenti_nom or "", d.apprenti_prenom or "", d.apprenti_email,
                d.employeur_siret or "", d.formation_id, d.formation.annee_campagne,
                d.etablissement_id, etab.denomination if etab else "",
                etab.siret if etab else "", etab.structure.raison_sociale if etab else "",
                d.cfa_conseiller_id,
                pec.numero_opco if pec is not None and pec.id in visible_pec else None,
                any(x.code == "opco" and x.late for x in dossier_deadlines(d)),
                d.updated_at, d.date_debut_contrat)
        return out


def _all_rows(app) -> dict[int, Row]:
    return _rows(app, ROLES["cfa_admin"])


@pytest.fixture(scope="module")
def clients(app):
    """One logged-in client per role for the module (a login costs a password hash)."""
    from tests.support.web import login as log_in
    out = {}
    for role, email in ROLES.items():
        client = app.test_client()
        assert log_in(client, email).status_code == 302
        out[email] = client
    return out


@pytest.fixture()
def login(clients):
    return lambda email: clients[email]


def _count(page: str) -> int:
    match = re.search(r"Liste \((\d+)\)", page)
    return int(match.group(1)) if match else 0


def listed(client, **args) -> tuple[set[int], str]:
    """Every id the list shows for these arguments (all pages), and the first page."""
    ids, first, page_no = set(), None, 0
    while True:
        response = client.get(LIST, query_string={**args, "page_size": 100, "page": page_no})
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        first = first or page
        found = {int(i) for i in re.findall(r'<td class="col-id">(\d+)</td>', page)}
        if not found - ids:
            break
        ids |= found
        if len(ids) >= _count(page):
            break
        page_no += 1
    assert len(ids) == _count(first), "the count and the rows agree"
    return ids, first


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def _cells(page: str, column: str) -> list[str]:
    return [html.unescape(c) for c in re.findall(rf'<td class="col-{column}">(.*?)</td>', page,
                                                 re.S)]


# --- French dates -------------------------------------------------------------------------------

def test_dates_are_french_with_no_seconds(app, login, role):
    rows = _rows(app, ROLES[role])
    ids, page = listed(login(ROLES[role]))
    assert ids == set(rows)
    table = page[page.index('class="table'):page.index("</table>")]
    assert not re.search(r"\d{4}-\d\d-\d\d", table), "no ISO date in the table"
    assert not re.search(r"\d\d:\d\d:\d\d", table), "no seconds, no microseconds"
    updated = _cells(page, "updated_at")
    assert updated and all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", c) for c in updated)
    starts = _cells(page, "date_debut_contrat")
    assert all(re.fullmatch(r"(\d\d/\d\d/\d{4})?", c) for c in starts)
    first = int(re.search(r'<td class="col-id">(\d+)</td>', page).group(1))
    moment = rows[first].updated_at.replace(tzinfo=timezone.utc).astimezone(PARIS)
    assert updated[0] == moment.strftime("%d/%m/%Y %H:%M")
    if rows[first].debut:
        assert starts[0] == rows[first].debut.strftime("%d/%m/%Y")


# --- search -------------------------------------------------------------------------------------

def _matches(row: Row, term: str) -> bool:
    """Accents and case ignored (issue 16 §2: portal.rules.search.fold, tested on its own)."""
    term = fold(term)
    fields = [row.nom, row.prenom, row.email, row.siret, row.denomination, row.etab_siret,
              row.raison_sociale, row.opco or ""]
    return any(term in fold(f) for f in fields)


SEARCH_KEYS = {
    "nom": lambda r: r.nom,
    "prénom": lambda r: r.prenom,
    "e-mail": lambda r: r.email,
    "employeur": lambda r: r.denomination.split(" – ")[-1] if r.denomination else "",
    "raison sociale": lambda r: r.raison_sociale,
    "SIRET": lambda r: r.etab_siret,
    "SIREN espacé": lambda r: " ".join([r.etab_siret[:3], r.etab_siret[3:6],
                                        r.etab_siret[6:9]]) if r.etab_siret else "",
    "n° OPCO": lambda r: r.opco or "",
}


@pytest.mark.parametrize("key", list(SEARCH_KEYS))
def test_each_search_key_finds_its_dossier_and_only_in_scope(app, login, role, key):
    rows = _rows(app, ROLES[role])
    value_of = SEARCH_KEYS[key]
    targets = [r for r in rows.values() if value_of(r)]
    if key == "n° OPCO" and role in ("manager", "apprentice"):
        # The prise en charge is the CFA's and the employer's (portal.policy): its number
        # finds nothing for a training manager or an apprentice.
        assert not targets
        numbers = [r.opco for r in _all_rows(app).values() if r.opco]
        mine = [r.opco for i, r in _all_rows(app).items() if r.opco and i in rows]
        assert numbers
        ids, _ = listed(login(ROLES[role]), search=(mine or numbers)[0])
        assert ids == set()
        return
    assert targets, f"the demo has a dossier with a {key} in the scope of {role}"
    target = targets[len(targets) // 2]
    term = value_of(target)
    client = login(ROLES[role])
    ids, _ = listed(client, search=term)
    assert target.id in ids
    words = [w for w in term.replace(" ", "") .split()] if key == "SIREN espacé" else term.split()
    expected = {r.id for r in rows.values() if all(_matches(r, w) for w in words)}
    assert ids == expected


@pytest.mark.parametrize("key", ["e-mail", "SIRET", "n° OPCO", "employeur"])
def test_a_search_never_reaches_beyond_the_scope(app, login, role, key):
    rows = _rows(app, ROLES[role])
    outside = [r for r in _all_rows(app).values() if r.id not in rows and SEARCH_KEYS[key](r)
               and not any(SEARCH_KEYS[key](r) == SEARCH_KEYS[key](mine) for mine in
                           rows.values())]
    if role in ("cfa_admin", "conseil"):
        assert not outside  # CFA staff see every dossier
        return
    assert outside, f"a dossier outside the scope of {role} to look for"
    row = outside[0]
    ids, page = listed(login(ROLES[role]), search=SEARCH_KEYS[key](row))
    assert ids <= set(rows) and row.id not in ids
    table = page[page.index('class="table'):page.index("</table>")]
    assert row.email not in table and row.denomination not in _text(table)


def test_two_words_and_the_export_of_their_search_find_the_same_dossiers(app, login, role):
    """Each word narrows the search (on SQLite, for a partial scope, the establishment and
    the prise en charge joined once for all words: portal.dossiers.listing.SearchSources),
    and the CSV export of the searched list holds exactly its dossiers."""
    rows = _rows(app, ROLES[role])
    target = next(r for r in sorted(rows.values(), key=lambda r: r.id)
                  if r.nom and r.denomination)
    term = f"{target.nom} {target.denomination.split(' – ')[-1].split()[0]}"
    expected = {r.id for r in rows.values() if all(_matches(r, w) for w in term.split())}
    client = login(ROLES[role])
    ids, _ = listed(client, search=term)
    assert target.id in ids and ids == expected
    response = client.get(f"{LIST}export/csv/", query_string={"search": term})
    assert response.status_code == 200
    lines = list(csv.reader(io.StringIO(response.data[3:].decode("utf-8")), delimiter=";"))
    assert {int(line[0]) for line in lines[1:]} == expected


# --- filters ------------------------------------------------------------------------------------

def _pick(values):
    values = sorted(v for v in values if v is not None)
    return values[len(values) // 2] if values else None


FILTERS = {
    "state": (lambda rows: _pick({r.state for r in rows.values()}),
              lambda r, v: r.state == v),
    "formation": (lambda rows: _pick({r.formation_id for r in rows.values()}),
                  lambda r, v: r.formation_id == v),
    "promotion": (lambda rows: _pick({r.year for r in rows.values()}),
                  lambda r, v: r.year == v),
    # The employer by a typed name (the establishment's or its structure's, any case) or the
    # start of a SIRET: no menu of every employer.
    "employer": (lambda rows: (_pick({r.denomination for r in rows.values()
                                      if r.etablissement_id}) or "").upper(),
                 lambda r, v: r.etablissement_id is not None and (
                     v.lower() in r.denomination.lower()
                     or v.lower() in (r.raison_sociale or "").lower())),
    "employer_siren": (lambda rows: (_pick({r.etab_siret for r in rows.values()
                                            if r.etablissement_id}) or "")[:9],
                       lambda r, v: r.etablissement_id is not None
                       and r.etab_siret.startswith(v)),
    "advisor": (lambda rows: _pick({r.advisor_id for r in rows.values()}),
                lambda r, v: r.advisor_id == v),
    "late": (lambda rows: "opco", lambda r, v: r.late_opco),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_filter_shows_exactly_its_dossiers(app, login, role, name):
    rows = _rows(app, ROLES[role])
    choose, keep = FILTERS[name]
    value = choose(rows)
    assert value is not None, f"the demo gives {role} something to filter by {name}"
    ids, _ = listed(login(ROLES[role]), **{f"flt0_{FLT[name]}": value})
    assert ids == {r.id for r in rows.values() if keep(r, value)}
    if name != "late":
        assert ids, "the value was taken from the person's own dossiers"


@pytest.mark.parametrize("actor", ["alternant", "employeur", "formation_responsable",
                                   "cfa_conseiller"])
def test_qui_doit_agir_follows_the_workflow_table(app, login, role, actor):
    rows = _rows(app, ROLES[role])
    ids, page = listed(login(ROLES[role]), **{f"flt0_{FLT['actor']}": actor})
    assert ids == {r.id for r in rows.values() if actor in STATES[r.state].actors}
    for cell in _cells(page, "next_actor"):
        assert cell.strip() and cell.strip() != "—"


def test_the_start_date_filter_reads_french_dates(app, login, role):
    rows = _rows(app, ROLES[role])
    starts = sorted(r.debut for r in rows.values() if r.debut)
    assert starts
    low, high = starts[0], starts[len(starts) // 2]
    typed = f"{low:%d/%m/%Y} au {high:%d/%m/%Y}"
    ids, page = listed(login(ROLES[role]), **{f"flt0_{FLT['start']}": typed})
    assert ids == {r.id for r in rows.values() if r.debut and low <= r.debut <= high}
    [start] = _filter_groups(page)["Début du contrat"]
    assert start["type"] is None, "a text box, not the English date-range picker"
    assert start["operation"] == "du … au … (jj/mm/aaaa)"
    ids, _ = listed(login(ROLES[role]), **{f"flt0_{FLT['start']}": f"{high:%d/%m/%Y}"})
    assert ids == {r.id for r in rows.values() if r.debut and r.debut >= high}
    response = login(ROLES[role]).get(LIST, query_string={f"flt0_{FLT['start']}": "31/02/2026"})
    assert response.status_code == 200
    assert "Filtre ignoré" in response.get_data(as_text=True)


def _filter_groups(page: str) -> dict:
    data = re.search(r'<div id="filter-groups-data" class="d-none">(.*?)</div>', page, re.S)
    return json.loads(html.unescape(data.group(1)))


def _filter_menus(page: str) -> dict:
    return {name: dict(groups[0]["options"] or []) for name, groups in
            _filter_groups(page).items()}


def test_filter_menus_name_only_what_the_person_sees(app, login, role):
    rows = _rows(app, ROLES[role])
    _, page = listed(login(ROLES[role]))
    menus = _filter_menus(page)
    mine = {str(r.etablissement_id) for r in rows.values() if r.etablissement_id}
    assert "Employeur (nom ou SIRET)" in menus and not menus["Employeur (nom ou SIRET)"]
    assert set(menus["Conseiller·ère du CFA"]) == {str(r.advisor_id) for r in rows.values()
                                                   if r.advisor_id}
    assert {str(r.formation_id) for r in rows.values()} <= set(menus["Formation"])
    assert set(menus["Promotion"]) >= {str(r.year) for r in rows.values()}
    others = {r.denomination for r in _all_rows(app).values()
              if r.etablissement_id and str(r.etablissement_id) not in mine}
    text = _text(page)
    for name in others:
        assert name not in text, f"{role} reads another employer's name: {name}"


def test_a_filter_value_outside_the_scope_shows_nothing_of_it(app, login, role):
    rows = _rows(app, ROLES[role])
    outside = {r.etablissement_id for r in _all_rows(app).values()
               if r.etablissement_id and r.id not in rows} - {r.etablissement_id
                                                              for r in rows.values()}
    if not outside:
        assert role in ("cfa_admin", "conseil")
        return
    name = next(r.denomination for r in _all_rows(app).values()
                if r.etablissement_id == min(outside))
    ids, page = listed(login(ROLES[role]), **{f"flt0_{FLT['employer']}": name})
    assert not ids & {r.id for r in _all_rows(app).values() if r.id not in rows}


# --- pages and order ---------------------------------------------------------------------------

def _page_ids(client, **args) -> list[int]:
    response = client.get(LIST, query_string=args)
    assert response.status_code == 200
    return [int(i) for i in re.findall(r'<td class="col-id">(\d+)</td>',
                                        response.get_data(as_text=True))]


def _paged(client, **args) -> list[int]:
    """Every id of the list in its order, page after page of 20."""
    ids, page_no = [], 0
    while True:
        found = _page_ids(client, page=page_no, **args)
        if not found or found[0] in ids:
            return ids
        ids += found
        page_no += 1


def test_each_page_of_the_list_follows_the_last_in_its_order(app, login, role):
    """The list with no search and no filter (admin_views/dossiers.DossierView._bare_page:
    one statement per order, its offset a parameter): page after page, every dossier of the
    person once, newest first; sorted by name (the column's header is a sort link), by state
    or by start date, in both directions, as the database orders them, equal values in the
    order of their numbers (ListDoorMixin._apply_sorting); a page beyond the last shows the
    last."""
    rows = _rows(app, ROLES[role])
    client = login(ROLES[role])
    if role == "cfa_admin":
        assert len(rows) > 40, "the CFA's list has at least three pages of 20"
    assert _paged(client) == sorted(rows, reverse=True)
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == ROLES[role])
                                  ).scalar_one()
        orders = {0: (Dossier.apprenti_nom, Dossier.apprenti_prenom),  # column_list positions
                  2: (Dossier.state,), 6: (Dossier.date_debut_contrat,)}
        for sort, columns in orders.items():
            for desc in (False, True):
                order = [c.desc() if desc else c.asc() for c in (*columns, Dossier.id)]
                expected = list(db.session.scalars(sa.select(Dossier.id).where(
                    policy.row_filter(Dossier, user)).order_by(*order)))
                args = {"sort": sort, "desc": 1} if desc else {"sort": sort}
                assert _paged(client, **args) == expected, (sort, desc)
    page = client.get(LIST).get_data(as_text=True)
    assert 'title="Trier par Alternant·e"' in page
    last = (len(rows) - 1) // 20
    assert _page_ids(client, page=10**6) == _page_ids(client, page=last)
    if last:
        assert _page_ids(client, page=last) != _page_ids(client, page=0)


# --- page size, exports -------------------------------------------------------------------------

def test_page_size_labels_are_french(login, role):
    page = login(ROLES[role]).get(LIST).get_data(as_text=True)
    assert "20 par page" in page
    for size in (20, 50, 100):
        assert f">{size} lignes par page</a>" in page
    assert not re.search(r"\d+ items?\b", page)


def test_csv_export_is_french_excel(app, login, role):
    rows = _rows(app, ROLES[role])
    response = login(ROLES[role]).get(f"{LIST}export/csv/")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    text = response.data[3:].decode("utf-8")
    assert text.splitlines()[0] == ";".join(EXPORT_HEADER)
    header, *table = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert header == EXPORT_HEADER
    assert {int(r[0]) for r in table} == set(rows)
    at = header.index("Modifié le")
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", r[at]) for r in table)
    by_id = {int(r[0]): r for r in table}
    some = next(iter(rows.values()))
    assert by_id[some.id][header.index("Qui doit agir")]
    assert by_id[some.id][header.index("E-mail de l'alternant·e")] == some.email


def test_xlsx_export_opens_with_french_headers(app, login, role):
    from openpyxl import load_workbook
    rows = _rows(app, ROLES[role])
    response = login(ROLES[role]).get(f"{LIST}export/xlsx/")
    assert response.status_code == 200
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == EXPORT_HEADER
    assert {r[0] for r in values[1:]} == set(rows)
    at = EXPORT_HEADER.index("Modifié le")
    assert all(isinstance(r[at], datetime) for r in values[1:])


def test_the_list_menu_offers_both_exports_in_french(login, role):
    page = login(ROLES[role]).get(LIST).get_data(as_text=True)
    assert ">Exporter</a>" in page
    assert "CSV (Excel, séparateur ;)" in page and "Excel (XLSX)" in page


# --- Sillon's own screens, never Flask-Admin's generic ones -----------------------------------

GENERIC = ("admin-form", "__None", "Failed to save record", "Editer", "Save and Continue")


def test_the_pencil_opens_the_dossier_tabs(app, login, role):
    rows = _rows(app, ROLES[role])
    client = login(ROLES[role])
    _, page = listed(client)
    pencils = dict((int(i), href) for href, i in re.findall(
        r'<a class="icon sillon-open-row" href="(/admin/dossier/(\d+)/base/)"', page))
    shown = {int(i) for i in re.findall(r'<td class="col-id">(\d+)</td>', page)}
    assert shown and set(pencils) == shown
    assert "/admin/dossier/edit/" not in page and "/admin/dossier/details/" not in page
    labels = re.findall(r'name="rowid" class="action-checkbox" value="(\d+)" aria-label="([^"]+)"',
                        page)
    if 'name="rowtoggle"' in page:  # the person has list actions: a check box per row
        assert {int(i) for i, _ in labels} == shown
    for row_id, label in labels:
        row = rows[int(row_id)]
        expected = " ".join(p for p in (row.nom.upper(), row.prenom) if p) or row.email
        assert html.unescape(label) == f"Sélectionner le dossier de {expected}"
    tab = client.get(next(iter(pencils.values())))
    assert tab.status_code == 200
    assert not any(word in tab.get_data(as_text=True) for word in GENERIC)


def test_the_generic_edit_and_details_screens_are_never_shown(app, login, role):
    rows = _rows(app, ROLES[role])
    client = login(ROLES[role])
    row = max(rows)
    for url in (f"{LIST}edit/?id={row}", f"{LIST}details/?id={row}"):
        response = client.get(url)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/admin/dossier/{row}/base/")
    with app.app_context():
        before = db.session.get(Dossier, row).version
    from tests.support.web import csrf
    posted = client.post(f"{LIST}edit/?id={row}", data={"csrf_token": csrf(client),
                                                       "apprenti_nom": "Écrasé"})
    assert posted.status_code == 303
    with app.app_context():
        assert db.session.get(Dossier, row).version == before
    outside = [i for i in _all_rows(app) if i not in rows]
    if outside:
        assert client.get(f"{LIST}edit/?id={outside[0]}").status_code == 404
        assert client.get(f"{LIST}details/?id={outside[0]}").status_code == 404


def test_creer_opens_sillon_creation_form(app, login, role):
    client = login(ROLES[role])
    page = client.get(LIST).get_data(as_text=True)
    with app.app_context():
        user = db.session.execute(sa.select(User).where(User.email == ROLES[role])).scalar_one()
        may_create = policy.may_create(user, Dossier)
    link = re.search(r'<a href="(/admin/dossier/new/[^"]*)"[^>]*>Créer</a>', page)
    assert bool(link) is may_create
    response = client.get(html.unescape(link.group(1)) if link else f"{LIST}new/")
    if not may_create:
        assert response.status_code == 302
        return
    form = response.get_data(as_text=True)
    assert response.status_code == 200 and 'id="dossier-create-form"' in form
    assert "Créer le dossier" in form
    assert not any(word in form for word in GENERIC)


# --- cost ---------------------------------------------------------------------------------------

BASELINE_STATEMENTS = 9  # measured on the list before issue 15 (every role, 20 or 100 rows)


def test_the_list_costs_no_more_statements_than_before(app, login, role):
    client = login(ROLES[role])
    counts = {}
    with app.app_context():
        engine = db.engine
    seen = []

    def count(*args, **kwargs):
        seen.append(1)
    for size in (20, 100):
        client.get(LIST, query_string={"page_size": size})  # warm the session
        sa.event.listen(engine, "before_cursor_execute", count)
        try:
            seen.clear()
            assert client.get(LIST, query_string={"page_size": size}).status_code == 200
            counts[size] = len(seen)
        finally:
            sa.event.remove(engine, "before_cursor_execute", count)
    assert counts[20] == counts[100], "no statement per row"
    assert counts[20] <= BASELINE_STATEMENTS
