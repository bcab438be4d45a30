"""The dossier list's budget for every role (issue 16, part 1): at most 4 SQL statements (the
person with their roles, the count, the page, the filter menus; 3 with no search and no filter,
the count read with the menus) and 40 KiB for a page of 20,
the same number of statements for 100 rows (nothing per row), no delete form per row (the
confirmed bulk action « Supprimer » stays), and every row still linked to its dossier."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from portal.extensions import db

LIST = "/admin/dossier/"
MAX_STATEMENTS = 4
MAX_BYTES = 40 * 1024
ROLES = ["admin@sillon.demo", "conseil@sillon.demo", "resp.info@sillon.demo",
         "resp.droit@sillon.demo", "gest.info@sillon.demo", "rh@acme.sillon.demo",
         "rh@globex.sillon.demo", "alice@etu.sillon.demo", "bruno@etu.sillon.demo"]


def _measured(app, client, **query):
    """(statements, body) of one list request, the session already warm."""
    client.get(LIST, query_string=query)
    seen = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(LIST, query_string=query)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return seen, response.get_data(as_text=True)


@pytest.mark.parametrize("email", ROLES)
def test_a_page_costs_at_most_four_statements_and_40_kib(app, login, email):
    client = login(email)
    statements, page = _measured(app, client, page_size=20)
    # With no search and no filter the count is the first row of the filter menus' statement
    # (portal.dossiers.list_menus.count_with_menus): three statements.
    assert len(statements) <= MAX_STATEMENTS - 1, statements
    assert len(page.encode()) <= MAX_BYTES, len(page.encode())
    more, _ = _measured(app, client, page_size=100)
    assert len(more) == len(statements), "a statement per row"
    # count(*) with no bound '*' (SQLite's fast count), the user read with their roles.
    # An employer's dossiers are counted from the union of their ids (policy.count_statement);
    # on PostgreSQL the CFA's count of every dossier is the sum of the dossiers' tally.
    assert any(re.search(r"\bSELECT \S+ AS kind, \(SELECT (count\(\*\) AS count_1\s+FROM "
                         r"(dossiers\b|\(SELECT dossiers\.id)|CAST\(coalesce\(sum\("
                         r"dossier_tally\.delta\))", s) for s in statements), statements
    assert not any(s.lstrip().startswith("SELECT user_roles") for s in statements)
    # Searched or filtered: the count on its own, four statements.
    for query in ({"search": "Martin"}, {"flt0_0": "en_saisie"}):
        searched, page = _measured(app, client, page_size=20, **query)
        assert len(searched) <= MAX_STATEMENTS, (query, searched)
        assert len(page.encode()) <= MAX_BYTES, (query, len(page.encode()))
        assert any(re.match(r"SELECT count\(\*\) AS count_1\s+FROM", s) for s in searched), \
            searched


@pytest.mark.parametrize("email", ["admin@sillon.demo", "rh@acme.sillon.demo"])
def test_the_lean_rows_link_each_dossier_and_carry_no_form(app, login, email):
    client = login(email)
    _, page = _measured(app, client, page_size=20)
    start = page.index("</thead>", page.index("model-list"))
    body = page[start:page.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    assert rows
    for row in rows:
        pk = re.search(r'name="rowid" class="action-checkbox" value="(\d+)"', row).group(1)
        assert row.count(f'href="/admin/dossier/{pk}/base/"') == 2   # the pencil and the name
        assert "<form" not in row and "csrf_token" not in row
        assert re.search(r'aria-label="Sélectionner le dossier de [^"]+"', row)
    # French dates, no seconds.
    assert re.search(r'<td class="col-updated_at">\d\d/\d\d/\d{4} \d\d:\d\d</td>', body)


def test_deleting_is_the_confirmed_bulk_action(app, login):
    page = login("admin@sillon.demo").get(LIST).get_data(as_text=True)
    assert 'data-model-action="delete"' in page
    assert re.search(r'id="actions-confirmation-data"[^>]*>[^<]*"delete"', page)


def test_the_list_loads_no_relation_it_does_not_show(app, login):
    """The page's query reads the training and the employer it shows, not the advisor nor the
    training's managers and gestionnaires."""
    statements, _ = _measured(app, login("admin@sillon.demo"), page_size=20)
    (page_query,) = [s for s in statements if s.lstrip().startswith("SELECT dossiers.id")]
    read = set(re.findall(r"(?:FROM|JOIN) (\w+)", page_query))
    assert read == {"dossiers", "formations", "etablissements"}, read
