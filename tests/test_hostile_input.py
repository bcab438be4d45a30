"""Hostile input (issue 12 §7), the reported cases replayed deterministically: page numbers and
sizes, sorts and filters out of range on every list, ids out of range on every door and custom
route, the référent hand-over's member id, the zip-bomb XLSX (time and memory measured in a
subprocess) and the CSV limits. Nothing answers 500; refusals are in French."""
from __future__ import annotations

import codecs
import html
import io
import json
import re
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal.dossiers import import_files
from portal.extensions import db
from portal.models import Dossier, Formation, ImportBatch, Structure, StructureMembership, User
from portal.rules.imports import ImportFileError
from tests.support.web import csrf, csrf_from

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin@sillon.demo"
RESP_INFO = "resp.info@sillon.demo"
RH_ACME = "rh@acme.sillon.demo"
HUGE = "99999999999999999999"
HOSTILE_PAGES = [HUGE, str(2**63), str(2**31), "-5", "-99999999999999999999", "abc", "1e9",
                 "", "٣", "0x10", "\x00"]


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _list_urls(app) -> list[str]:
    """Every Flask-Admin list (index view of a model view) and Sillon's own list pages."""
    urls = sorted(str(r) for r in app.url_map.iter_rules()
                  if r.endpoint.endswith(".index_view") and "GET" in r.methods)
    return urls + ["/admin/ma-structure/", "/admin/demandes-structures/"]


def _row_ids(page: str) -> list[str]:
    return re.findall(r'name="rowid"[^>]*value="([^"]+)"', page)


def _assert_no_500(response, what):
    assert response.status_code < 500, (what, response.status_code,
                                        response.get_data(as_text=True)[-1500:])


# --- 1. lists: page, page_size, sort, desc, search ----------------------------------------------

def test_every_list_survives_hostile_pages_sizes_and_sorts(app, login):
    client = login(ADMIN)
    for url in _list_urls(app):
        for value in HOSTILE_PAGES:
            query = {"page": value, "page_size": value, "sort": value, "desc": value}
            response = client.get(url, query_string=query)
            assert response.status_code == 200, (url, value, response.status_code)


def test_the_reported_urls_answer_the_list(app, login):
    """`?page=99999999999999999999` on every list (and `page=-5`, PostgreSQL's OFFSET error)."""
    client = login(ADMIN)
    for url in _list_urls(app):
        for query in (f"page={HUGE}", "page=-5"):
            response = client.get(f"{url}?{query}")
            assert response.status_code == 200, (url, query)


def _dossier_count(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(Dossier.id))).scalar_one()


def test_a_page_beyond_the_last_shows_the_last_page(app, login):
    client = login(ADMIN)
    count = _dossier_count(app)
    last = (count - 1) // 20
    expected = _row_ids(_text(client.get(f"/admin/dossier/?page={last}")))
    assert expected, "the last page of the dossier list shows rows"
    for value in (str(last + 1), "1000", HUGE, str(2**63)):
        page = _text(client.get("/admin/dossier/", query_string={"page": value}))
        assert _row_ids(page) == expected, value
        # The pager shows the last page as the current one.
        assert re.search(r'class="page-item active">\s*<a[^>]*>%d</a>' % (last + 1), page), value
    first = _row_ids(_text(client.get("/admin/dossier/")))
    assert _row_ids(_text(client.get("/admin/dossier/?page=-5"))) == first


def test_page_size_only_among_the_offered_sizes(app, login):
    client = login(ADMIN)
    for value, rows in ((HUGE, 20), ("-1", 20), ("0", 20), ("7", 20), ("50", 50), ("100", 100)):
        page = _text(client.get("/admin/dossier/", query_string={"page_size": value}))
        assert len(_row_ids(page)) == min(rows, _dossier_count(app)), value


@pytest.mark.parametrize("term", ["\x00", "=\\", "a\\", "\\", "^\\", "x" * 10_000,
                                  "% _ \\% ' \" ; --", "é" * 300, " ".join(["a"] * 500)])
def test_hostile_searches_on_every_searchable_list(app, login, term):
    client = login(ADMIN)
    for url in _list_urls(app):
        response = client.get(url, query_string={"search": term})
        assert response.status_code == 200, (url, term[:20])


def test_a_search_still_finds_after_cleaning(app, login):
    client = login(ADMIN)
    with app.app_context():
        name = db.session.execute(sa.select(Dossier.apprenti_nom).order_by(Dossier.id)
                                  ).scalars().first()
    page = _text(client.get("/admin/dossier/", query_string={"search": name + "\x00"}))
    assert name.upper() in page


# --- 2. filters ------------------------------------------------------------------------------

FILTER_VALUES = [HUGE, "-" + HUGE, str(2**31), "abc", "\x00", "x" * 5000, "2026-13-45",
                 "2026-01-01 to 2025-01-01", "1e999", "nan", "inf", "1,2,99999999999999999999",
                 "\\", "=\\", "'; DROP TABLE dossiers; --", "٣"]


@pytest.fixture(scope="module")
def filtered_lists(app):
    found = []
    for view in app.extensions["admin"][0]._views:
        filters = getattr(view, "_filters", None)
        if filters:
            found.append((view.url, len(filters)))
    assert found, "no list has filters"
    return found


def test_every_filter_of_every_list_survives_hostile_values(login, filtered_lists):
    """Each value on every filter of the list at once (each filter is checked on its own)."""
    client = login(ADMIN)
    for url, count in filtered_lists:
        for value in FILTER_VALUES:
            query = {f"flt{index}_{index}": value for index in range(count)}
            response = client.get(url + "/", query_string=query)
            assert response.status_code == 200, (url, value[:30])
        # Unknown filter indexes, many filters at once, odd argument names.
        response = client.get(url + "/", query_string={
            "flt0_99999999999999999999": "1", "flt_": "1", "flt": "1", "flt0_-1": "1",
            **{f"flt{i}_0": HUGE for i in range(50)}})
        assert response.status_code == 200, url


def test_an_invalid_filter_value_is_dropped_with_a_french_notice(app, login):
    client = login(ADMIN)
    with app.app_context():
        formation_id = db.session.execute(sa.select(Formation.id).order_by(Formation.id)
                                          ).scalars().first()
        own = set(db.session.execute(sa.select(Dossier.id).where(
            Dossier.formation_id == formation_id)).scalars())
    # flt0_1 is "Formation" (ScopedFilterEqual on the integer key).
    page = _text(client.get("/admin/dossier/", query_string={
        "flt0_1": str(formation_id), "page_size": 100}))
    assert {int(i) for i in _row_ids(page)} == own
    response = client.get("/admin/dossier/", query_string={"flt0_1": HUGE, "page_size": 100})
    page = _text(response)
    assert "Filtre ignoré, sa valeur n'est pas valide" in page
    assert len(_row_ids(page)) == min(100, _dossier_count(app))


def test_every_filter_still_applies_a_valid_value(app, login):
    """The checks drop only what does not fit: each filter of the dossier list, given a value a
    person would pick, is applied (no notice) — Sillon's own « Échéance » filter included, whose
    values are names, not dates of its column."""
    with app.app_context():
        formation_id = db.session.execute(sa.select(Formation.id)).scalars().first()
    client = login(ADMIN)
    for index, value in enumerate(["en_saisie", str(formation_id), "apprentissage",
                                   "2026-01-01 to 2026-12-31", "a", "opco", "2026"]):
        response = client.get("/admin/dossier/", query_string={f"flt0_{index}": value})
        assert response.status_code == 200, index
        assert "Filtre ignoré" not in _text(response), (index, value)


def test_at_most_twenty_filters_at_once(login):
    """1 500 valid "Nom contient" filters would be 3 000 LIKE conditions (list and count):
    past SQLite's expression depth. The first 20 apply, the others are ignored, said in French."""
    client = login(ADMIN)
    query = "&".join(f"flt{i}_4=a" for i in range(1500))
    response = client.get("/admin/dossier/?" + query)
    assert response.status_code == 200
    assert "Au plus 20 filtres à la fois : 1480 filtres ignorés." in _text(response)


def test_a_text_filter_on_a_number_column_is_refused_at_start_up():
    """FilterEqual on an INTEGER column binds the text as VARCHAR: `integer = varchar` has no
    operator on PostgreSQL, so every value would answer 500. The base view refuses to start."""
    from flask_admin.contrib.sqla.filters import FilterEqual, FilterLike, IntEqualFilter

    from admin_views.list_door import check_filter_declaration
    with pytest.raises(TypeError, match="compares a int column with text"):
        check_filter_declaration("Vue", FilterEqual(Formation.annee_campagne, "Promotion"))
    with pytest.raises(TypeError, match="compares a date column with text"):
        check_filter_declaration("Vue", FilterLike(Dossier.date_debut_contrat, "Début"))
    check_filter_declaration("Vue", IntEqualFilter(Formation.annee_campagne, "Promotion"))
    check_filter_declaration("Vue", FilterLike(Dossier.apprenti_nom, "Nom"))


# --- 3. ids on every door and custom route ------------------------------------------------------

BAD_IDS = [HUGE, str(2**63), str(2**31), "-1", "abc\x00", "9" * 5000]


def test_model_doors_with_ids_out_of_range(app, login):
    """details / edit / delete / action / ajax on every model view: an id no row can have
    answers like a missing row (Flask-Admin's French "n'existe pas" back on the list, 404 on
    Sillon's own doors), never a 500, and deletes nothing."""
    client = login(ADMIN)
    token = csrf(client)
    before = _dossier_count(app)
    for view in app.extensions["admin"][0]._views:
        if not hasattr(view, "get_one"):
            continue
        base = view.url + "/"
        for pk in BAD_IDS:
            for method, path, data in (
                    ("get", "details/", None), ("get", "edit/", None),
                    ("post", "edit/", {"csrf_token": token}),
                    ("post", "delete/", {"csrf_token": token, "id": pk}),
                    ("post", "action/", {"csrf_token": token, "action": "delete",
                                         "rowid": [pk, pk]}),
                    ("post", "ajax/update/", {"csrf_token": token, "list_form_pk": pk}),
                    ("get", "ajax/lookup/", None)):
                query = {"id": pk, "name": "referent", "query": pk, "offset": pk, "limit": pk}
                response = getattr(client, method)(base + path, query_string=query, data=data)
                _assert_no_500(response, (base, path, pk[:20]))
                if method == "get" and path in ("details/", "edit/"):
                    assert response.status_code in (302, 303, 404), (base, path)
                    if response.status_code == 302:
                        assert "n'existe" in _text(client.get(response.headers["Location"]))
    assert _dossier_count(app) == before


def test_action_with_too_many_ids_is_refused_in_french(app, login):
    client = login(ADMIN)
    before = _dossier_count(app)
    response = client.post("/admin/dossier/action/", data={
        "csrf_token": csrf(client), "action": "delete",
        "rowid": [str(i) for i in range(1, 40_001)]})
    assert response.status_code == 302
    assert "Sélectionnez au plus 1000 lignes" in _text(client.get(response.headers["Location"]))
    assert _dossier_count(app) == before


def test_ajax_lookup_offsets_and_limits(login):
    client = login(ADMIN)
    for offset, limit in ((HUGE, HUGE), ("-5", "-5"), ("abc", "0"), ("0", "99999")):
        response = client.get("/admin/structure/ajax/lookup/", query_string={
            "name": "referent", "query": "a\x00\\", "offset": offset, "limit": limit})
        assert response.status_code == 200, (offset, limit)
        assert len(json.loads(response.data)) <= 100


def test_an_ajax_reference_posted_back_with_an_id_out_of_range(app, login):
    """The structure form's référent (form_ajax_refs): the posted id goes to the scoped
    loader's get_one, bounded like every id."""
    from tests.test_fuzz_routes import form_defaults
    with app.app_context():
        structure = db.session.execute(sa.select(Structure).where(
            Structure.referent_id.is_not(None)).order_by(Structure.id)).scalars().first()
        structure_id, referent_id = structure.id, structure.referent_id
    client = login(ADMIN)
    url = f"/admin/structure/edit/?id={structure_id}"
    body = form_defaults(client.get(url).get_data(as_text=True))
    assert body.get("referent") == str(referent_id)
    for value in (HUGE, str(2**31), "-1", "abc", "999999"):
        response = client.post(url, data={**body, "referent": value, "csrf_token": csrf(client)})
        assert response.status_code == 200, value
        assert "Choix invalide : cet élément n'existe pas." in _text(response)
    with app.app_context():
        assert db.session.get(Structure, structure_id).referent_id == referent_id


def _int_routes(app):
    """Every rule with an <int:…> part, its other parts filled with a plausible value."""
    fill = {"tab_code": "base", "kind": "cerfa", "code": "soumettre", "action_code": "soumettre",
            "ext": "csv", "export_type": "csv"}
    for rule in app.url_map.iter_rules():
        ints = [name for name, conv in rule._converters.items()
                if type(conv).__name__ == "IntegerConverter"]
        if not ints:
            continue
        method = "GET" if "GET" in rule.methods else "POST"
        yield rule, ints, {k: v for k, v in fill.items() if k in rule.arguments}, method


@pytest.mark.parametrize("pk", [HUGE, str(2**63), str(2**63 - 1), str(2**31), "0"])
def test_custom_routes_with_ids_out_of_range_answer_404(app, login, pk):
    client = login(ADMIN)
    token = csrf(client)
    routes = list(_int_routes(app))
    assert len(routes) >= 15
    for rule, ints, others, method in routes:
        path = str(rule)
        for name, value in others.items():
            path = re.sub(r"<(?:[^:<>]+:)?%s>" % name, value, path)
        path = re.sub(r"<int:[^>]+>", pk, path)
        response = (client.get(path) if method == "GET"
                    else client.post(path, data={"csrf_token": token}))
        assert response.status_code == 404, (path, response.status_code)


def test_a_number_too_big_for_its_column_is_a_french_field_error(app, login):
    """Flask-Admin's integer fields are bounded like the INTEGER columns they fill (a bigger
    number is refused by PostgreSQL, and SQLite cannot even bind one past 2**63)."""
    from tests.test_fuzz_routes import form_defaults
    with app.app_context():
        formation = db.session.execute(sa.select(Formation).order_by(Formation.id)
                                       ).scalars().first()
        formation_id, year = formation.id, formation.annee_campagne
    client = login(ADMIN)
    url = f"/admin/formation/edit/?id={formation_id}"
    body = form_defaults(client.get(url).get_data(as_text=True))
    assert body["annee_campagne"] == str(year)
    for value in (HUGE, str(2**31), "-" + HUGE):
        response = client.post(url, data={**body, "annee_campagne": value,
                                          "csrf_token": csrf(client)})
        assert response.status_code == 200, value
        assert "Ce nombre est trop grand." in _text(response)
    with app.app_context():
        assert db.session.get(Formation, formation_id).annee_campagne == year


def test_a_nul_byte_posted_is_refused_before_any_view(app, login):
    """PostgreSQL refuses NUL in every text column: found by the fuzz as a 500 on
    « Annuler le dossier » with such a comment. Every model view and Sillon's structure pages
    answer 400 (the French error page) before the view runs; nothing changes."""
    with app.app_context():
        dossier = db.session.execute(sa.select(Dossier).where(
            Dossier.state == "en_saisie").order_by(Dossier.id)).scalars().first()
        dossier_id, state, version = dossier.id, dossier.state, dossier.version
    client = login(ADMIN)
    token = csrf(client)
    for url, data in (
            (f"/admin/dossier/{dossier_id}/transition/annuler/",
             {"comment": "motif\x00", "csrf_token": token}),
            (f"/admin/dossier/{dossier_id}/base/", {"apprenti_nom": "A\x00B", "csrf_token": token}),
            ("/admin/opco/new/", {"code": "X\x00", "nom": "Y", "csrf_token": token}),
            ("/admin/demandes-structures/999/refuser", {"motif": "\x00", "csrf_token": token}),
            (f"/admin/formation/{_resp_info_training(app)}/import/",
             {"csrf_token": token, "fichier": (io.BytesIO(b"Nom;Pr\xc3\xa9nom;E-mail\r\n"),
                                               "liste\x00.csv")})):
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert "Requête invalide" in _text(response), url
    employer = login(RH_ACME)
    response = employer.post("/admin/ma-structure/nouvelle-structure", data={
        "raison_sociale": "\x00", "csrf_token": csrf(employer)})
    assert response.status_code == 400 and "Requête invalide" in _text(response)
    visitor = app.test_client()
    token = csrf_from(visitor.get("/inscription/structure").get_data(as_text=True))
    response = visitor.post("/inscription/structure", data={"nom": "\x00", "csrf_token": token})
    assert response.status_code == 400 and "Requête invalide" in _text(response)
    with app.app_context():
        after = db.session.get(Dossier, dossier_id)
        assert (after.state, after.version) == (state, version)


# --- 4. the référent hand-over's member id -----------------------------------------------------

def test_hand_over_with_a_hostile_member_id(app, login):
    with app.app_context():
        referent = db.session.execute(sa.select(User).filter_by(email=RH_ACME)).scalar_one()
        structure = db.session.execute(sa.select(Structure).filter_by(
            referent_id=referent.id)).scalars().first()
        structure_id, referent_id = structure.id, referent.id
    client = login(RH_ACME)
    url = f"/admin/ma-structure/structure/{structure_id}/referent"
    for member in (HUGE, str(2**63), str(2**31), "²", "٣", "9" * 5000):
        response = client.post(url, data={"csrf_token": csrf(client), "membre": member})
        assert response.status_code == 404, member
    for member in ("abc", "-1", "", "1 OR 1=1"):
        response = client.post(url, data={"csrf_token": csrf(client), "membre": member})
        assert response.status_code == 302, member
        assert "Choisissez un membre approuvé" in _text(client.get(response.headers["Location"]))
    response = client.post(url, data={"csrf_token": csrf(client), "membre": "1\x00"})
    assert response.status_code == 400  # a NUL byte, refused before the view
    with app.app_context():
        assert db.session.get(Structure, structure_id).referent_id == referent_id
        assert db.session.execute(sa.select(sa.func.count(StructureMembership.id)).where(
            StructureMembership.structure_id == structure_id)).scalar_one() > 0


# --- 5. the zip-bomb XLSX ------------------------------------------------------------------------

def _header_workbook() -> bytes:
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(["Nom", "Prénom", "E-mail"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


SHEET = "xl/worksheets/sheet1.xml"
SHEET_HEAD = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns='
              b'"http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
              b'<dimension ref="A1:C2"/><sheetData>'
              b'<row r="1"><c r="A1" t="inlineStr"><is><t>Nom</t></is></c><c r="B1" '
              b't="inlineStr"><is><t>Pr\xc3\xa9nom</t></is></c><c r="C1" t="inlineStr"><is>'
              b'<t>E-mail</t></is></c></row><row r="2">')
SHEET_TAIL = b"</row></sheetData></worksheet>"


def _zip(members: list[tuple[str, bytes, bytes, int, int]]) -> bytes:
    """A zip from (name, raw deflate data, crc, uncompressed size) — written by hand so that a
    1 GB member costs only its compressed bytes."""
    out, central = io.BytesIO(), io.BytesIO()
    for name, data, crc, size, _ in members:
        offset = out.tell()
        encoded = name.encode()
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc,
                              len(data), size, len(encoded), 0) + encoded + data)
        central.write(struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0x21,
                                  crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, offset)
                      + encoded)
    start = out.tell()
    out.write(central.getvalue())
    out.write(struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members),
                          len(central.getvalue()), start, 0))
    return out.getvalue()


def build_bomb(blocks: int) -> bytes:
    """A valid XLSX whose sheet holds one row of `blocks` MiB of empty cells (`<c/>`). The
    deflate stream of one block is computed once and repeated: each block ends with a full
    flush, so the compressor's state is the same at the start of every block."""
    template = zipfile.ZipFile(io.BytesIO(_header_workbook()))
    members = []
    for info in template.infolist():
        raw = template.read(info.filename)
        if info.filename == SHEET:
            continue
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        members.append((info.filename, packer.compress(raw) + packer.flush(), zlib.crc32(raw),
                        len(raw), 0))
    block = b"<c/>" * (256 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = packer.compress(SHEET_HEAD) + packer.flush(zlib.Z_FULL_FLUSH)
    one = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    assert packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH) == one
    tail = packer.compress(SHEET_TAIL) + packer.flush()
    crc = zlib.crc32(SHEET_HEAD)
    for _ in range(blocks):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(SHEET_TAIL, crc)
    size = len(SHEET_HEAD) + blocks * len(block) + len(SHEET_TAIL)
    members.append((SHEET, head + one * blocks + tail, crc, size, 0))
    return _zip(members)


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bombe.xlsx"
    path.write_bytes(build_bomb(1100))  # 1.15 GB of XML
    return path


def test_the_bomb_is_a_real_workbook_that_inflates_past_a_gigabyte(bomb):
    data = bomb.read_bytes()
    assert 0.5e6 < len(data) < 2e6
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.getinfo(SHEET).file_size > 1e9
    with archive.open(SHEET) as sheet:  # the start inflates to the expected XML
        assert sheet.read(len(SHEET_HEAD) + 64) == SHEET_HEAD + b"<c/>" * 16
    # The same construction, small: openpyxl reads it as a workbook with our header.
    from openpyxl import load_workbook
    small = load_workbook(io.BytesIO(build_bomb(2)), read_only=True)
    rows = small.worksheets[0].iter_rows(values_only=True, max_col=3)
    assert list(next(rows)) == ["Nom", "Prénom", "E-mail"]
    small.close()


MEASURE = r"""
import json, resource, sys, time, tracemalloc
from portal.dossiers.import_files import parse
from portal.rules.imports import ImportFileError
content = open(sys.argv[1], "rb").read()
def attempt():
    try:
        parse(content, "bombe.xlsx")
    except ImportFileError as exc:
        return str(exc)
    return None
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
message = attempt()
elapsed = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss
tracemalloc.start()
attempt()
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"message": message, "ms": elapsed * 1000, "rss_mb": grown / 1024,
                  "traced_mb": peak / 2**20}))
"""


def measure_refusal(path: Path) -> dict:
    """Refuse the file in a fresh interpreter (memory capped at 2 GiB, 60 s at most): time,
    growth of the peak RSS and peak of Python allocations while refusing."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
    done = subprocess.run([sys.executable, "-c", limit + MEASURE, str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_bomb_is_refused_in_french_fast_and_with_little_memory(bomb):
    measured = measure_refusal(bomb)
    print("zip bomb refusal:", measured)
    assert measured["message"] and "trop volumineux une fois décompressé" in measured["message"]
    assert measured["ms"] < 300
    assert measured["rss_mb"] < 30 and measured["traced_mb"] < 10


def _resp_info_training(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(Formation.id).filter_by(
            access_code="LPINFO-26")).scalar_one()


def _upload(client, formation_id, data: bytes, name: str):
    url = f"/admin/formation/{formation_id}/import/"
    return client.post(url, data={"csrf_token": csrf(client),
                                  "fichier": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _batches(app, formation_id) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(ImportBatch.id)).where(
            ImportBatch.formation_id == formation_id)).scalar_one()


def test_the_bomb_uploaded_on_the_import_page(app, login, bomb):
    formation_id = _resp_info_training(app)
    client = login(RESP_INFO)
    before = _batches(app, formation_id)
    data = bomb.read_bytes()
    start = time.perf_counter()
    response = _upload(client, formation_id, data, "bombe.xlsx")
    elapsed = time.perf_counter() - start
    assert response.status_code == 302 and elapsed < 1.0, elapsed
    page = _text(client.get(response.headers["Location"]))
    assert "trop volumineux une fois décompressé" in page and 'id="fichier"' in page
    assert _batches(app, formation_id) == before


# --- 6. the other XLSX limits, one guard each ------------------------------------------------

def _rezip(replace: dict[str, bytes], *, extra: int = 0, level: int = 6) -> bytes:
    template = zipfile.ZipFile(io.BytesIO(_header_workbook()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for info in template.infolist():
            archive.writestr(info.filename, replace.get(info.filename,
                                                         template.read(info.filename)))
        for name in sorted(set(replace) - set(template.namelist())):
            archive.writestr(name, replace[name])
        for i in range(extra):
            archive.writestr(f"customXml/item{i}.xml", b"<a/>")
    return out.getvalue()


def _refusal(content: bytes) -> str:
    with pytest.raises(ImportFileError) as caught:
        import_files.parse(content, "classeur.xlsx")
    return str(caught.value)


def _sheet(body: bytes) -> bytes:
    return SHEET_HEAD + body + SHEET_TAIL


def test_xlsx_with_too_many_members():
    message = _refusal(_rezip({}, extra=500))  # 509 members
    assert "plus de 500 éléments" in message


def test_xlsx_too_big_in_total():
    """Members just under 1 MiB each, past the total (no ratio check, no count: nothing but
    zeros). The limits are the module's, sized for 20 000 rows (issue 16)."""
    MiB = 1024 * 1024
    count = import_files.XLSX_MAX_TOTAL // MiB + 10
    filler = {f"xl/media/image{i}.bin": b"\0" * (MiB - 1) for i in range(count)}
    expected = f"{count} Mo pour {import_files.XLSX_MAX_TOTAL // MiB} Mo au plus"
    assert expected in _refusal(_rezip(filler))


def test_xlsx_with_a_member_too_big():
    MiB = 1024 * 1024
    size = import_files.XLSX_MAX_MEMBER + 4 * MiB
    body = b"<c/>" * (size // 4)
    expected = (f"une partie de {size // MiB} Mo pour "
                f"{import_files.XLSX_MAX_MEMBER // MiB} Mo au plus")
    assert expected in _refusal(_rezip({SHEET: _sheet(body)}, level=1))


def test_xlsx_with_a_member_compressed_too_much():
    body = b"<c/>" * (2 * 1024 * 1024 // 4)  # 2 MB of empty cells, ~1 000 times smaller
    assert "compressée plus de 100 fois" in _refusal(_rezip({SHEET: _sheet(body)}))


def test_xlsx_with_too_many_elements():
    import random
    rng = random.Random(12)
    # Random styles keep the ratio low (~10) while the row holds more cells than the limit.
    cells = import_files.XLSX_MAX_ELEMENTS + 100_000
    body = b"".join(b'<c s="%d"/>' % rng.randrange(1000) for _ in range(cells))
    content = _rezip({SHEET: _sheet(body)})
    info = zipfile.ZipFile(io.BytesIO(content)).getinfo(SHEET)
    assert info.file_size < import_files.XLSX_MAX_MEMBER
    assert info.file_size < 100 * info.compress_size
    assert len(content) <= import_files.MAX_BYTES
    assert f"plus de {import_files.XLSX_MAX_ELEMENTS} cellules ou éléments" in \
        _refusal(content)


def test_xlsx_member_that_lies_about_its_size():
    """Declared 300 KiB (counted, under every limit) but holding 8 MB: zipfile stops at the
    declared size and the CRC fails: a French refusal, nothing inflated past the declaration."""
    body = b"<c/>" * (2 * 1024 * 1024)
    content = bytearray(_rezip({SHEET: _sheet(body)}, level=9))
    entry = content.find(b"PK\x01\x02")
    while entry != -1:
        name_len = struct.unpack_from("<H", content, entry + 28)[0]
        if bytes(content[entry + 46:entry + 46 + name_len]) == SHEET.encode():
            struct.pack_into("<I", content, entry + 24, 300 * 1024)
            break
        entry = content.find(b"PK\x01\x02", entry + 4)
    assert entry != -1
    assert "ne peut pas être lu" in _refusal(bytes(content))


def test_xlsx_header_with_too_many_columns():
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(["Nom", "Prénom", "E-mail"] + [f"Colonne {i}" for i in range(60)])
    out = io.BytesIO()
    book.save(out)
    assert "plus de 60 colonnes" in _refusal(out.getvalue())


def test_a_normal_workbook_still_reads():
    from openpyxl import Workbook
    book = Workbook()
    book.active.append(["Nom", "Prénom", "E-mail"])
    for i in range(2000):
        book.active.append([f"Nom{i}", f"Prénom{i}", f"a{i}@example.com"])
    out = io.BytesIO()
    book.save(out)
    rows = import_files.parse(out.getvalue(), "liste.xlsx")
    assert len(rows) == 2000 and rows[0][1]["email"] == "a0@example.com"


# --- 7. CSV limits -------------------------------------------------------------------------------

HEADER = "Nom;Prénom;E-mail\r\n"


def _csv_refusal(data: bytes) -> str:
    with pytest.raises(ImportFileError) as caught:
        import_files.parse(data, "liste.csv")
    return str(caught.value)


def test_csv_with_too_many_lines():
    data = (HEADER + "a;b;c\r\n" * 100_000).encode()
    assert "plus de 100000 lignes" in _csv_refusal(data)


def test_csv_with_a_line_too_long():
    data = (HEADER + "a;b;" + "c" * 65_537 + "\r\n").encode()
    assert "Une ligne du fichier dépasse 65536 caractères" in _csv_refusal(data)


def test_csv_with_a_cell_too_big():
    # A quoted cell over many short lines: only csv's field limit sees it.
    data = (HEADER + 'a;b;"' + "c\r\n" * 70_000 + '"\r\n').encode()
    assert "Une cellule du fichier dépasse 131072 caractères" in _csv_refusal(data)


def test_csv_header_with_too_many_columns():
    data = ("Nom;Prénom;E-mail;" + ";".join(f"C{i}" for i in range(60)) + "\r\na;b;c\r\n"
            ).encode()
    assert "plus de 60 colonnes" in _csv_refusal(data)
    # Empty cells past the 60th column (a spreadsheet's trailing separators) are fine.
    data = ("Nom;Prénom;E-mail" + ";" * 200 + "\r\nA;B;a@example.com\r\n").encode()
    assert import_files.parse(data, "liste.csv")[0][1]["email"] == "a@example.com"


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF16_LE + "Nom;Prénom;E-mail\r\n".encode("utf-16-le")[:-1],
    "Nom;Prénom;E-mail\r\n".encode() + b"\x81\x8d\x8f\x90\x9d;\xff\xfe;x\r\n"])
def test_csv_in_an_encoding_that_cannot_be_read(data):
    assert "ne peuvent pas être lus" in _csv_refusal(data)


def test_csv_limits_through_the_import_page(app, login):
    formation_id = _resp_info_training(app)
    client = login(RESP_INFO)
    before = _batches(app, formation_id)
    for data, words in (((HEADER + "a;b;c\r\n" * 100_000).encode(), "lignes"),
                        (("Nom;Prénom;E-mail\r\n").encode() + b"\x81\x8d;\x90;\x9d\r\n",
                         "ne peuvent pas être lus")):
        start = time.perf_counter()
        response = _upload(client, formation_id, data, "liste.csv")
        assert response.status_code == 302 and time.perf_counter() - start < 2.0
        assert words in _text(client.get(response.headers["Location"]))
    assert _batches(app, formation_id) == before
